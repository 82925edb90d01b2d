"""OpenCompass's task logs (<run_dir>/logs/**/*.out): echoed while it runs, named when a task
failed."""

from __future__ import annotations

import re
import threading
from pathlib import Path


class LogTailer(threading.Thread):
    """Echo new lines of the task logs (<run_dir>/logs/**/*.out) while OpenCompass runs."""

    def __init__(self, work_dir: Path, before: set[str], sink):
        super().__init__(daemon=True)
        self.work_dir, self.before, self.sink = work_dir, before, sink
        self.run_dir: Path | None = None
        self.offsets: dict[Path, int] = {}
        self.stop = threading.Event()

    def _find_run_dir(self) -> Path | None:
        if self.run_dir is None:
            new = [d for d in self.work_dir.iterdir() if d.is_dir() and d.name not in self.before
                   and re.fullmatch(r"\d{8}_\d{6}", d.name)]
            if new:
                self.run_dir = sorted(new)[-1]
        return self.run_dir

    def poll(self) -> None:
        run_dir = self._find_run_dir()
        if run_dir is None or not (run_dir / "logs").is_dir():
            return
        for path in sorted((run_dir / "logs").rglob("*.out")):
            start = self.offsets.get(path, 0)
            try:
                with open(path, "rb") as f:
                    f.seek(start)
                    chunk = f.read()
            except OSError:
                continue
            if not chunk:
                continue
            # keep a trailing partial line for the next poll
            cut = max(chunk.rfind(b"\n"), chunk.rfind(b"\r"))
            if cut < 0:
                continue
            self.offsets[path] = start + cut + 1
            task = f"{path.parent.parent.name}/{path.parent.name}/{path.stem}"
            for line in re.split(r"[\r\n]+", chunk[:cut].decode("utf-8", "replace")):
                if line.strip():
                    self.sink(f"  [{task}] {line.rstrip()}")

    def run(self) -> None:
        while not self.stop.wait(2.0):
            self.poll()
        self.poll()


def failed_task_logs(run_dir: Path, names: list[str]) -> list[Path]:
    logs = []
    for p in sorted((run_dir / "logs").rglob("*.out")) if (run_dir / "logs").is_dir() else []:
        text = p.read_text(encoding="utf-8", errors="replace")
        if "Traceback" in text or "Error" in text or any(p.stem.startswith(n) for n in names):
            logs.append(p)
    return logs


_STAMP = re.compile(r"^(\d\d)/(\d\d) (\d\d):(\d\d):(\d\d) - OpenCompass - \w+ - (.*)$")


def phases(log_text: str, launched: float, ended: float) -> dict[str, float]:
    """Where one OpenCompass run's time went, from the timestamps of its own log lines (local
    time, to the second): ``start_s`` from the launch to its first "Start inferencing" (imports,
    config, partitioning and, for the transformers backends, loading the model), ``inference_s``
    from there to its first "Running 0-th replica of evaluation", ``evaluation_s`` the rest until
    ``ended``. {} when the log has no inference (a run that only summarized)."""
    import datetime as dt

    year = dt.datetime.fromtimestamp(launched).year
    first_infer = first_eval = None
    for line in log_text.splitlines():
        m = _STAMP.match(line)
        if not m:
            continue
        month, day, hour, minute, second = (int(g) for g in m.groups()[:5])
        try:
            at = dt.datetime(year, month, day, hour, minute, second).timestamp()
        except ValueError:
            continue
        text = m.group(6)
        if first_infer is None and text.startswith("Start inferencing"):
            first_infer = at
        elif first_eval is None and first_infer is not None and text.startswith("Running 0-th replica of evaluation"):
            first_eval = at
    if first_infer is None:
        return {}
    first_eval = first_eval if first_eval is not None else ended
    return {"start_s": round(max(first_infer - launched, 0.0), 1),
            "inference_s": round(max(first_eval - first_infer, 0.0), 1),
            "evaluation_s": round(max(ended - first_eval, 0.0), 1)}
