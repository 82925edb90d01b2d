"""The OpenCompass adapter: score one model and write summary.json (run it with the opencompass
environment's python; scripts/evaluate.py is its entry point).

Runs `python -m opencompass.cli.main <config> -w <work-dir> --max-num-workers N` offline (with
N = 1, its tasks run one after the other inside that process: `--debug`), streams its output and
its task logs, then reads the summary CSV. OpenCompass exits 0 even when a task
failed, so a benchmark without a score raises EvalError with the failing task logs named.
A rerun after a kill goes on in the same run folder (`--reuse <timestamp>`): the benchmarks
whose predictions and results are on disk are not run again (see reusable_run).
summary.json = {"model", "abbr", "scores", "mean", "n_items", "items", "backend", "likelihood",
"server_start_s", "runs", "work_dir", "run_dir", "summary_csv", "settings", "vllm", "provenance"
(per benchmark: backend, dataset config, shots, subsets, why it is not comparable with the paper),
"versions" (packages that scored), "seconds"}, written atomically.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from ..core.envs import OFFLINE_ENV
from ..core.io import write_json, write_text_atomic
from ..core.paths import with_src
from ..core.provenance import code_version, model_fingerprint
from .items import ItemError, benchmark_items, check_item_scores
from .measured import package_versions, provenance, staged_report
from .registry import (
    BENCHMARKS,
    SERVER_GROUPS,
    BenchmarkError,
    backend_of,
    check_benchmark_data,
    data_fingerprint,
    dataset_abbrs_of,
    resolve_benchmarks,
)
from .render import merged_settings, merged_vllm, render_eval_config
from .summary import MissingBenchmarksError, find_summary_csv, parse_summary_csv, require_scores
from .task_logs import LogTailer, failed_task_logs, phases
from .vllm_server import API_KEY_ENV, serving, terminate_on_signals

_EXP_FOLDER = re.compile(r"Current exp folder:\s*(\S+)")


def log(msg: str) -> None:
    print(f"[evaluate] {msg}", flush=True)


class EvalError(RuntimeError):
    """An evaluation that cannot run or produced no score; the message says where to look."""


def fail(msg: str) -> None:
    raise EvalError(msg)


def child_env(work_dir: Path, settings: dict) -> dict:
    """The environment for OpenCompass: offline, caches out of $HOME, our package importable."""
    env = {**os.environ, **OFFLINE_ENV, "PYTHONUNBUFFERED": "1"}
    cache = work_dir / ".cache"
    env.setdefault("HF_HOME", str(cache / "hf"))
    env.setdefault("XDG_CACHE_HOME", str(cache / "xdg"))
    env.setdefault("MPLCONFIGDIR", str(cache / "matplotlib"))
    # OpenCompass imports our model class and postprocessor by dotted path, in its task processes
    # too: lancekit (src/) must be on their path
    env["PYTHONPATH"] = with_src(env.get("PYTHONPATH"))
    if settings.get("num_threads"):
        n = str(int(settings["num_threads"]))
        env.update(OMP_NUM_THREADS=n, MKL_NUM_THREADS=n)
    return env


def count_items(run_dir: Path, abbr: str, spec: dict) -> int:
    """Predictions written for one benchmark (summed over subsets and split shards)."""
    pred_dir = run_dir / "predictions" / abbr
    if not pred_dir.is_dir():
        return 0
    bench = BENCHMARKS[spec.get("benchmark", spec["name"])]
    if bench.kind == "opencompass":
        prefix = bench.prefix or bench.row
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


def checked_request(model: Path, abbr: str, benchmarks: list, settings: dict) -> tuple[dict, list[dict]]:
    """(settings with defaults, dataset specs), or EvalError before anything runs."""
    if not (model / "config.json").is_file():
        fail(f"model directory {model} has no config.json")
    if not re.fullmatch(r"[A-Za-z0-9._+-]+", abbr):
        fail(f"abbr {abbr!r}: use letters, digits and . _ + - only (it names folders)")
    try:
        settings, specs = merged_settings(settings), resolve_benchmarks(benchmarks)
    except BenchmarkError as e:
        fail(str(e))
    problems = check_benchmark_data(specs, os.environ.get("COMPASS_DATA_CACHE"))
    if problems:
        fail("cannot evaluate offline:\n  " + "\n  ".join(problems))
    return settings, specs


RUN_FOLDER = re.compile(r"\d{8}_\d{6}")
EVAL_STAMP = "lance_eval.fingerprint"


def reusable_run(work_dir: Path, config_text: str, model: str) -> Path | None:
    """The run folder an evaluation goes on in: the newest one when the work folder belongs to
    the same model (its files' names, sizes, times) and the same config; otherwise None, and the
    run folders of another model or config are removed so none is ever reused."""
    fingerprint = hashlib.sha256(f"{model_fingerprint(model)}\n{config_text}".encode()).hexdigest()
    stamp = work_dir / EVAL_STAMP
    runs = sorted(d for d in work_dir.iterdir() if d.is_dir() and RUN_FOLDER.fullmatch(d.name))
    if runs and stamp.is_file() and stamp.read_text().strip() == fingerprint:
        return runs[-1]
    for d in runs:
        shutil.rmtree(d)
    write_text_atomic(stamp, fingerprint + "\n")
    return None


def run_opencompass(argv: list[str], work_dir: Path, env: dict, log_path: Path,
                    reuse: Path | None = None) -> tuple[int, Path | None]:
    """Run OpenCompass, echo its output and its task logs to stdout and `log_path`; returns its
    exit status and the timestamped run folder it made (or went on in: `reuse`)."""
    before = {d.name for d in work_dir.iterdir()} - ({reuse.name} if reuse else set())
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
        proc = subprocess.Popen(argv, cwd=work_dir, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, errors="replace", bufsize=1,
                                start_new_session=True)
        try:
            for line in proc.stdout:
                m = _EXP_FOLDER.search(line)
                if m:
                    run_dir = Path(m.group(1)) if Path(m.group(1)).is_absolute() else work_dir / m.group(1)
                sink(line.rstrip("\n"))
            rc = proc.wait()
        except BaseException:  # Ctrl-C, SIGTERM (terminate_on_signals), anything: stop its task processes too
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.killpg(proc.pid, sig)
                except (ProcessLookupError, PermissionError):
                    pass
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    pass
            raise
        finally:
            tailer.stop.set()
            tailer.join()
    return rc, run_dir or tailer.run_dir


def read_scores(run_dir: Path | None, rc: int, abbr: str, names: list[str], work_dir: Path,
                log_path: Path) -> tuple[dict, Path]:
    """Every benchmark's score from the summary CSV, or EvalError naming the task logs to read
    (OpenCompass exits 0 even when a task failed)."""
    if run_dir is None:
        fail(f"OpenCompass (exit {rc}) made no run folder under {work_dir}; see {log_path}")
    try:
        csv_path = find_summary_csv(run_dir)
        scores = require_scores(parse_summary_csv(csv_path, abbr), names, csv_path)
    except (FileNotFoundError, ValueError, MissingBenchmarksError) as e:
        logs = failed_task_logs(run_dir, names)
        fail(f"{e}\n  OpenCompass exit status {rc}; task logs to read:\n    " + "\n    ".join(str(p) for p in logs))
    if rc != 0:
        fail(f"OpenCompass exited with status {rc} although every benchmark has a score; see {log_path}")
    return scores, csv_path


def _render(group: str, specs: list[dict], model: Path, abbr: str, settings: dict, vllm: dict,
            trust_remote_code: bool, api_base: str | None) -> str:
    concurrency = int(vllm["max_num_seqs"]) if group in SERVER_GROUPS else None
    return render_eval_config(str(model), abbr, specs, settings, trust_remote_code, backend=group,
                              api_base=api_base, concurrency=concurrency)


def reuse_text(group: str, specs: list[dict], model: Path, abbr: str, settings: dict, vllm: dict,
               trust_remote_code: bool) -> str:
    """What a finished run folder of one backend group must match to be gone on in (with the
    model's files, reusable_run): the rendered config, the server's settings, the benchmark files
    and the evaluation's code (a fix or an edited file must never bring back old scores); not the
    server's port, which changes from run to run."""
    api_base = "http://127.0.0.1:PORT/v1" if group in SERVER_GROUPS else None
    return (_render(group, specs, model, abbr, settings, vllm, trust_remote_code, api_base)
            + (repr(sorted(vllm.items())) if group in SERVER_GROUPS else "")
            + f"\ndata {data_fingerprint(specs, os.environ.get('COMPASS_DATA_CACHE'))}"
            + f"\ncode {code_version('evaluate')}")


def plan_groups(model: Path, abbr: str, benchmarks: list, settings: dict, backend: str,
                vllm: dict | None, likelihood: str = "hf") -> tuple[dict, dict, list[dict], dict[str, list[dict]]]:
    """(settings, vLLM settings, dataset specs in the benchmarks' order, {backend group: its
    specs}) of one evaluation, or EvalError before anything runs."""
    settings, specs = checked_request(model, abbr, benchmarks, settings)
    try:
        vllm = merged_vllm(vllm)
        groups: dict[str, list[dict]] = {}
        for spec in specs:
            groups.setdefault(backend_of(spec.get("benchmark", spec["name"]), backend, likelihood), []).append(spec)
    except BenchmarkError as e:
        fail(str(e))
    return settings, vllm, specs, groups


def group_dir(work_dir: Path, group: str, groups: dict) -> Path:
    """Each group is its own OpenCompass run: in the work folder itself when there is one."""
    return work_dir if len(groups) == 1 else work_dir / group


def group_reuse(group: str, specs: list[dict], model: Path, abbr: str, settings: dict, vllm: dict,
                work_dir: Path, trust_remote_code: bool) -> Path | None:
    """The run folder of a killed evaluation of this group that the next run goes on in, if any."""
    return reusable_run(work_dir, reuse_text(group, specs, model, abbr, settings, vllm, trust_remote_code),
                        str(model))


def run_group(group: str, specs: list[dict], model: Path, abbr: str, settings: dict, vllm: dict,
              work_dir: Path, trust_remote_code: bool, api_base: str | None = None,
              api_key: str | None = None, reuse: Path | None = None) -> tuple[dict, dict, Path, Path, dict]:
    """One OpenCompass run for the benchmarks of one backend group ("vllm", "hf", "ppl" or
    "vllm-ppl": the server groups talk to the evaluation's server at `api_base`), going on in
    `reuse` (group_reuse's answer, asked once by the caller) if given; returns (scores, parsed
    summary rows, run folder, summary CSV, where its time went: task_logs.phases)."""
    work_dir.mkdir(parents=True, exist_ok=True)
    config_path = work_dir / f"eval_{abbr}.py"
    log_path = work_dir / f"opencompass_{abbr}.log"
    env = child_env(work_dir, settings)
    env.update(NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost")
    if api_key:  # the server's key for this run only, in the environment of both ends
        env[API_KEY_ENV] = api_key
    write_text_atomic(config_path, _render(group, specs, model, abbr, settings, vllm, trust_remote_code, api_base))
    argv = [sys.executable, "-m", "opencompass.cli.main", str(config_path), "-w", str(work_dir),
            "--max-num-workers", str(int(settings["max_num_workers"])), "--dump-eval-details", "true"]
    if int(settings["max_num_workers"]) == 1:
        # one task at a time anyway: run them in this OpenCompass process (its --debug mode)
        # instead of a new Python per task, each importing OpenCompass again (~10 s a task here)
        argv.append("--debug")
    if reuse is not None:  # a killed evaluation of the same model and config: its finished parts stay
        argv += ["--reuse", reuse.name]
        log(f"[{group}] reusing the finished predictions and results of {reuse}")
    log(f"[{group}] config {config_path}")
    log(f"[{group}] running: " + " ".join(argv))
    offset, launched = (log_path.stat().st_size if log_path.exists() else 0), time.time()
    rc, run_dir = run_opencompass(argv, work_dir, env, log_path, reuse)
    try:
        with open(log_path, encoding="utf-8", errors="replace") as f:
            f.seek(offset)
            timing = phases(f.read(), launched, time.time())
    except OSError:
        timing = {}
    scores, csv_path = read_scores(run_dir, rc, abbr, [s["name"] for s in specs], work_dir, log_path)
    return scores, parse_summary_csv(csv_path, abbr), run_dir, csv_path, timing


def all_results_on_disk(run_dir: Path, abbr: str, specs: list[dict]) -> bool:
    """Whether a run folder holds the results of every benchmark of a group (benchmarks of one
    OpenCompass dataset only: for the others the number of datasets is not known here)."""
    for spec in specs:
        bench = BENCHMARKS[spec.get("benchmark", spec["name"])]
        if bench.multi:
            return False
        name = bench.row if bench.kind == "opencompass" else spec["name"]
        if not (run_dir / "results" / abbr / f"{name}.json").is_file():
            return False
    return True


def read_items(run_dir: Path, abbr: str, spec: dict, parsed: dict) -> dict:
    """Per-item scores of one benchmark, checked against the summary: each dataset's score is
    100 x the mean of its items' scores (EvalError otherwise)."""
    res_dir = run_dir / "results" / abbr
    files = [p.stem for p in res_dir.glob("*.json")] if res_dir.is_dir() else []
    try:
        items = benchmark_items(run_dir, abbr, dataset_abbrs_of(spec, files))
    except ItemError as e:
        fail(f"benchmark {spec['name']}: no per-item scores: {e}")
    problems = check_item_scores(items, parsed)
    if problems:
        fail(f"benchmark {spec['name']}: per-item scores disagree with the summary: " + "; ".join(problems))
    return items


def evaluate(model: str, abbr: str, benchmarks: list, settings: dict, work_dir: str, out: str,
             trust_remote_code: bool = False, backend: str = "hf", vllm: dict | None = None,
             likelihood: str = "hf") -> dict:
    """Score `model` on `benchmarks` (names, or {"name", "path"} for the embedded jsonl ones).

    Generation benchmarks run on `backend` ("vllm": a local vLLM server behind OpenCompass's
    OpenAI-API model; "hf": transformers), likelihood (ppl) benchmarks on `likelihood` ("hf": a
    transformers forward pass; "vllm": the server's prompt log-probabilities). One vLLM server
    serves every group that needs it. Each group is its own OpenCompass run: in `work_dir` itself
    when there is one group, else in `work_dir/<group>`."""
    t0 = time.time()
    work_dir, model = Path(work_dir).resolve(), Path(model).resolve()
    work_dir.mkdir(parents=True, exist_ok=True)
    settings, vllm, specs, groups = plan_groups(model, abbr, benchmarks, settings, backend, vllm, likelihood)
    scores, items, n_items, runs = {}, {}, {}, {}
    # the run folder each group goes on in (a killed evaluation's), asked once: group_reuse
    # writes the stamp and removes the run folders of another model or config
    reuses = {}
    for group, group_specs in groups.items():
        gdir = group_dir(work_dir, group, groups)
        gdir.mkdir(parents=True, exist_ok=True)
        reuses[group] = group_reuse(group, group_specs, model, abbr, settings, vllm, gdir, trust_remote_code)
    # a server unless every server group's results are on disk from a killed run
    need = any(group in SERVER_GROUPS and not (reuses[group] is not None and
                                               all_results_on_disk(reuses[group], abbr, group_specs))
               for group, group_specs in groups.items())
    with terminate_on_signals(), serving(need, model, abbr, settings, vllm, work_dir, trust_remote_code,
                                         log, fail) as (api, key, started):
        for group, group_specs in groups.items():
            gdir = group_dir(work_dir, group, groups)
            g0 = time.time()
            served = group in SERVER_GROUPS
            gscores, parsed, run_dir, csv_path, timing = run_group(
                group, group_specs, model, abbr, settings, vllm, gdir, trust_remote_code,
                api if served else None, key if served else None, reuses[group])
            scores.update(gscores)
            for spec in group_specs:
                items[spec["name"]] = read_items(run_dir, abbr, spec, parsed)
                n_items[spec["name"]] = count_items(run_dir, abbr, spec)
            runs[group] = {"benchmarks": [s["name"] for s in group_specs], "run_dir": str(run_dir),
                           "summary_csv": str(csv_path), "seconds": round(time.time() - g0, 1), **timing}
    order = [s["name"] for s in specs]
    scores = {k: scores[k] for k in order}
    first = next(iter(runs.values()))
    summary = {"model": str(model), "abbr": abbr, "scores": scores,
               "mean": round(sum(scores.values()) / len(scores), 4),
               "n_items": {k: n_items[k] for k in order},
               "items": {k: items[k] for k in order},
               "backend": backend, "runs": runs,
               "work_dir": str(work_dir), "run_dir": first["run_dir"], "summary_csv": first["summary_csv"],
               "likelihood": likelihood, "server_start_s": started,
               "settings": settings, "vllm": vllm if set(groups) & set(SERVER_GROUPS) else None,
               "provenance": {s["name"]: provenance(s, backend, settings, staged_report(), likelihood) for s in specs},
               "versions": package_versions(bool(set(groups) & set(SERVER_GROUPS))),
               "seconds": round(time.time() - t0, 1)}
    write_json(out, summary)
    log(f"scores {scores} mean {summary['mean']} n_items {summary['n_items']} ({summary['seconds']} s) -> {out}")
    return summary
