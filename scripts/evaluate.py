"""evaluate: score one model with OpenCompass and write summary.json (run with the opencompass env's python).

    evaluate.py --model DIR --abbr NAME --benchmarks '["arith","lance_mc"]' \
        --settings '{"limit": 20}' --work-dir DIR --out summary.json

--benchmarks: JSON list of names from lancekit.oc_config.BENCHMARKS, or dicts
{"name": ..., "path": ...} for the embedded jsonl benchmarks. `arith` without a path is generated
(300 items, seed 1234) into <work-dir>/benchmarks/arith.jsonl; `lance_mc` defaults to
data/benchmarks/lance_mc.jsonl. --settings: JSON overriding lancekit.oc_config.DEFAULT_SETTINGS.

Runs `python -m opencompass.cli.main <config> -w <work-dir> --max-num-workers N` offline
(HF_HUB_OFFLINE=1 etc.), streams its output and its task logs, then reads the summary CSV.
OpenCompass exits 0 even when a task failed, so a benchmark without a score makes this exit 1
with the failing task logs named. summary.json = {"model", "abbr", "scores", "mean", "n_items",
"work_dir", "run_dir", "summary_csv", "settings", "seconds"}, written atomically.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parent
sys.path.insert(0, str(SCRIPTS))

from lancekit.io import write_json, write_text_atomic  # noqa: E402
from lancekit.oc_config import (BENCHMARKS, BenchmarkError, MissingBenchmarksError,  # noqa: E402
                                check_benchmark_data, find_summary_csv, merged_settings,
                                parse_summary_csv, render_eval_config, require_scores,
                                resolve_benchmarks)

DEFAULT_ARITH = {"n": 300, "seed": 1234}
_EXP_FOLDER = re.compile(r"Current exp folder:\s*(\S+)")


def log(msg: str) -> None:
    print(f"[evaluate] {msg}", flush=True)


def fail(msg: str, code: int = 1) -> None:
    print(f"[evaluate] ERROR: {msg}", file=sys.stderr, flush=True)
    sys.exit(code)


def child_env(work_dir: Path, settings: dict) -> dict:
    """The environment for OpenCompass: offline, caches out of $HOME, our package importable."""
    env = dict(os.environ)
    env.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               HF_EVALUATE_OFFLINE="1", TOKENIZERS_PARALLELISM="false", PYTHONUNBUFFERED="1")
    cache = work_dir / ".cache"
    env.setdefault("HF_HOME", str(cache / "hf"))
    env.setdefault("XDG_CACHE_HOME", str(cache / "xdg"))
    env.setdefault("MPLCONFIGDIR", str(cache / "matplotlib"))
    # Only `lancekit` goes on the path, through a folder holding a link to it: putting scripts/
    # itself there lets scripts/evaluate.py shadow HF's `evaluate` package (AccEvaluator then
    # fails with "module 'evaluate' has no attribute 'load'"), and likewise for train/report/...
    pkg_dir = cache / "pythonpath"
    pkg_dir.mkdir(parents=True, exist_ok=True)
    link = pkg_dir / "lancekit"
    if not (link.is_symlink() and link.resolve() == (SCRIPTS / "lancekit").resolve()):
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(SCRIPTS / "lancekit", target_is_directory=True)
    env["PYTHONPATH"] = os.pathsep.join([str(pkg_dir)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep)
                                                          if p and Path(p).resolve() != SCRIPTS])
    if settings.get("num_threads"):
        n = str(int(settings["num_threads"]))
        env.update(OMP_NUM_THREADS=n, MKL_NUM_THREADS=n)
    return env


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


def count_items(run_dir: Path, abbr: str, spec: dict) -> int:
    """Predictions written for one benchmark (summed over subsets and split shards)."""
    pred_dir = run_dir / "predictions" / abbr
    if not pred_dir.is_dir():
        return 0
    bench = BENCHMARKS[spec.get("benchmark", spec["name"])]
    if bench.kind == "opencompass":
        prefix = bench.dataset_prefix
        files = [p for p in pred_dir.glob("*.json") if p.stem.startswith(prefix)]
    else:
        files = [p for p in pred_dir.glob("*.json")
                 if p.stem == spec["name"] or re.fullmatch(re.escape(spec["name"]) + r"_\d+", p.stem)]
    total = 0
    for p in files:
        try:
            total += len(json.loads(p.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            pass
    return total


def failed_task_logs(run_dir: Path, names: list[str]) -> list[Path]:
    logs = []
    for p in sorted((run_dir / "logs").rglob("*.out")) if (run_dir / "logs").is_dir() else []:
        text = p.read_text(encoding="utf-8", errors="replace")
        if "Traceback" in text or "Error" in text or any(p.stem.startswith(n) for n in names):
            logs.append(p)
    return logs


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="HF model directory (config.json, tokenizer, chat template)")
    ap.add_argument("--abbr", required=True, help="model name in OpenCompass's tables")
    ap.add_argument("--benchmarks", required=True, type=json.loads, help="JSON list (see above)")
    ap.add_argument("--settings", default={}, type=json.loads, help="JSON dict of eval settings")
    ap.add_argument("--work-dir", required=True, help="OpenCompass work dir (a timestamped run folder goes inside)")
    ap.add_argument("--out", required=True, help="summary.json to write")
    args = ap.parse_args(argv)
    t0 = time.time()

    work_dir = Path(args.work_dir).resolve()
    work_dir.mkdir(parents=True, exist_ok=True)
    model = Path(args.model).resolve()
    if not (model / "config.json").is_file():
        fail(f"model directory {model} has no config.json", 2)
    if not re.fullmatch(r"[A-Za-z0-9._+-]+", args.abbr):
        fail(f"--abbr {args.abbr!r}: use letters, digits and . _ + - only (it names folders)", 2)

    try:
        settings = merged_settings(args.settings)
        arith_default = work_dir / "benchmarks" / "arith.jsonl"
        specs = resolve_benchmarks(args.benchmarks, default_paths={"arith": str(arith_default)})
    except BenchmarkError as e:
        fail(str(e), 2)
    for spec in specs:
        if spec["benchmark"] == "arith" and Path(spec["path"]) == arith_default and not arith_default.exists():
            from lancekit.arith_bench import make_arith_items
            items = make_arith_items(**DEFAULT_ARITH)
            write_text_atomic(arith_default, "".join(
                json.dumps({"question": it["question"], "answer": it["answer"]}) + "\n" for it in items))
            log(f"generated {len(items)} arithmetic problems {DEFAULT_ARITH} into {arith_default}")
    problems = check_benchmark_data(specs, os.environ.get("COMPASS_DATA_CACHE"))
    if problems:
        fail("cannot evaluate offline:\n  " + "\n  ".join(problems), 2)

    config_path = work_dir / f"eval_{args.abbr}.py"
    write_text_atomic(config_path, render_eval_config(str(model), args.abbr, specs, settings))
    argv_oc = [sys.executable, "-m", "opencompass.cli.main", str(config_path), "-w", str(work_dir),
               "--max-num-workers", str(int(settings["max_num_workers"]))]
    log(f"config {config_path}")
    log("running: " + " ".join(argv_oc))

    env = child_env(work_dir, settings)
    before = {d.name for d in work_dir.iterdir()}
    log_path = work_dir / f"opencompass_{args.abbr}.log"
    run_dir = None
    with open(log_path, "a", encoding="utf-8") as logf:
        lock = threading.Lock()

        def sink(line: str) -> None:
            with lock:
                print(line, flush=True)
                logf.write(line + "\n")
                logf.flush()

        tailer = LogTailer(work_dir, before, sink)
        tailer.start()
        proc = subprocess.Popen(argv_oc, cwd=work_dir, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, errors="replace", bufsize=1)
        try:
            for line in proc.stdout:
                m = _EXP_FOLDER.search(line)
                if m:
                    run_dir = Path(m.group(1))
                    if not run_dir.is_absolute():
                        run_dir = work_dir / run_dir
                sink(line.rstrip("\n"))
            rc = proc.wait()
        except KeyboardInterrupt:
            proc.terminate()
            proc.wait()
            raise
        finally:
            tailer.stop.set()
            tailer.join()
    run_dir = run_dir or tailer.run_dir
    if run_dir is None:
        fail(f"OpenCompass (exit {rc}) made no run folder under {work_dir}; see {log_path}")
    names = [s["name"] for s in specs]
    try:
        csv_path = find_summary_csv(run_dir)
        scores = require_scores(parse_summary_csv(csv_path, args.abbr), names, csv_path)
    except (FileNotFoundError, ValueError, MissingBenchmarksError) as e:
        logs = failed_task_logs(run_dir, names)
        fail(f"{e}\n  OpenCompass exit status {rc}; task logs to read:\n    "
             + "\n    ".join(str(p) for p in logs))
    if rc != 0:
        fail(f"OpenCompass exited with status {rc} although every benchmark has a score; see {log_path}")

    summary = {
        "model": str(model),
        "abbr": args.abbr,
        "scores": scores,
        "mean": round(sum(scores.values()) / len(scores), 4),
        "n_items": {s["name"]: count_items(run_dir, args.abbr, s) for s in specs},
        "work_dir": str(work_dir),
        "run_dir": str(run_dir),
        "summary_csv": str(csv_path),
        "settings": settings,
        "seconds": round(time.time() - t0, 1),
    }
    write_json(args.out, summary)
    log(f"scores {scores} mean {summary['mean']} n_items {summary['n_items']} "
        f"({summary['seconds']} s) -> {args.out}")


if __name__ == "__main__":
    main()
