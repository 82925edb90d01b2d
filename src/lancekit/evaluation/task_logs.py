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
