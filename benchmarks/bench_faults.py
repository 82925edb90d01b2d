"""Fault injection: a tiny real run killed with kill -9 at K random moments, resumed each time
with ./lance, then compared with the same run uninterrupted. Not part of the test suite.

    python3 benchmarks/bench_faults.py [--kills 5] [--seed 1] [--workdir DIR] [--methods lance]
    python3 benchmarks/bench_faults.py --finish [--workdir DIR]   (after a failed last attempt)

Both runs use the integration tests' tiny settings (tests/integration/e2e.yaml: one iteration,
10 seed records, a checkpoint every optimizer step, a saved chunk every 2 requests), for the
methods given. The uninterrupted run goes first and gives the time T; then the faulted run is
started and killed (its whole process group, as a lost node) after a random time in
[10 s, 2T/K] each, K times, and finished by one more ./lance.

Printed:
- kills done (a kill that would come after the run's end is not made) and whether the run then
  finished;
- records lost and duplicated: every JSON record file of the run (its "id"s, Seed_0 to the
  training sets), compared with the uninterrupted run's and checked for an id twice;
- work redone: engine requests finished more than once (LANCE_TRACE_REQUESTS logs each finished
  request), against the requests of the run; training steps done past the last checkpoint at each
  kill (trained again after the resume); and the jobs started again;
- the target: 0 lost, 0 duplicated, at most one chunk (vllm.chunk_size) of requests and one
  checkpoint interval (train.save_steps) of steps redone per kill.
"""

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "integration"))
from workflow import CONFIG, SIDE_BY_SIDE, lance_argv  # noqa: E402  (the integration tests' runner)


def write_config(workdir: Path, methods: list[str]) -> Path:
    cfg = yaml.safe_load(CONFIG.read_text())
    cfg["methods"] = methods
    path = workdir / "bench.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def env(trace: Path) -> dict:
    e = {k: v for k, v in os.environ.items() if not k.startswith("LANCE_PY_")}
    return e | SIDE_BY_SIDE | {"PYTHONUNBUFFERED": "1", "LANCE_TRACE_REQUESTS": str(trace)}


def attempt(workdir: Path, cfg: Path, log: str, kill_after: float | None) -> tuple[bool, float]:
    """One ./lance; killed (whole group) after `kill_after` s unless it ends first. (ended, seconds)."""
    t0 = time.time()
    with open(workdir / log, "w") as out:
        proc = subprocess.Popen(lance_argv(workdir, configfile=cfg), cwd=ROOT, env=env(workdir / "trace.tsv"),
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            proc.wait(timeout=kill_after)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            time.sleep(1)  # what is left of the group
            return False, time.time() - t0
    if proc.returncode != 0:
        raise SystemExit(f"./lance failed in {workdir} ({proc.returncode}): see {workdir / log}")
    return True, time.time() - t0


def steps_past_checkpoint(results: Path) -> int:
    """Optimizer steps a training in flight had logged beyond its last complete checkpoint."""
    lost = 0
    for log in results.rglob("*.work/output/trainer_log.jsonl"):
        steps = [json.loads(line).get("current_steps", 0) for line in log.read_text().splitlines() if line.strip()]
        ckpts = [int(p.parent.name.split("-")[1]) for p in log.parent.glob("checkpoint-*/trainer_state.json")]
        if steps:
            lost += max(0, max(steps) - max(ckpts, default=0))
    return lost


def record_ids(results: Path) -> dict[str, list[str]]:
    """{file: ids} of every JSON list of records under results/ (not shards, evaluations or stats)."""
    out = {}
    for f in sorted(results.rglob("*.json")):
        rel = f.relative_to(results).as_posix()
        if any(part in rel for part in ("/shards/", "/eval/", "/stats/", "benchmarks/", ".work/", "model/")):
            continue
        try:
            data = json.loads(f.read_text())
        except (ValueError, UnicodeDecodeError):
            continue
        if isinstance(data, list) and data and all(isinstance(r, dict) and "id" in r for r in data):
            out[rel] = [r["id"] for r in data]
    return out


def requests_traced(trace: Path) -> tuple[int, int]:
    """(requests finished, of them finished again) from the trace of finished requests."""
    lines = trace.read_text().splitlines() if trace.exists() else []
    return len(lines), len(lines) - len(set(lines))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kills", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/lance-bench-faults"))
    ap.add_argument("--methods", nargs="+", default=["lance"])
    ap.add_argument("--finish", action="store_true", help="only the last attempt and the comparison")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    ref, faulted = args.workdir / "uninterrupted", args.workdir / "faulted"
    state_file = args.workdir / "state.json"  # what the kills left, for --finish
    if not args.finish:
        shutil.rmtree(args.workdir, ignore_errors=True)
        for d in (ref, faulted):
            d.mkdir(parents=True)
        _, t_ref = attempt(ref, write_config(ref, args.methods), "run.out", None)
        print(f"uninterrupted run: {t_ref:.0f} s", flush=True)
        state = {"t_ref": t_ref, "kills": 0, "steps_lost": [], "seconds": 0.0, "ended": False}
        cfg = write_config(faulted, args.methods)
        for k in range(args.kills):
            wait = rng.uniform(10, max(20.0, 2 * t_ref / args.kills))
            state["ended"], dt = attempt(faulted, cfg, f"attempt{k + 1}.out", wait)
            state["seconds"] += dt
            if state["ended"]:
                break
            state["kills"] += 1
            state["steps_lost"].append(steps_past_checkpoint(faulted / "results"))
            state_file.write_text(json.dumps(state))
            print(f"kill {state['kills']} after {dt:.0f} s; training steps past the last checkpoint: "
                  f"{state['steps_lost'][-1]}", flush=True)
    state = json.loads(state_file.read_text()) if args.finish else state
    if not state["ended"]:
        _, dt = attempt(faulted, faulted / "bench.yaml", "final.out", None)
        state["seconds"] += dt
    t_ref, kills, steps_lost, seconds = state["t_ref"], state["kills"], state["steps_lost"], state["seconds"]

    a, b = record_ids(ref / "results"), record_ids(faulted / "results")
    lost = sum(len(set(ids) - set(b.get(f, []))) for f, ids in a.items())
    extra = sum(len(set(ids) - set(a.get(f, []))) for f, ids in b.items())
    dup = sum(len(ids) - len(set(ids)) for ids in b.values())
    n_ref, _ = requests_traced(ref / "trace.tsv")
    n_faulted, again = requests_traced(faulted / "trace.tsv")
    e2e = yaml.safe_load(CONFIG.read_text())
    chunk, every = e2e["vllm"]["chunk_size"], e2e["train"]["save_steps"]
    rows = [
        ("kills survived", f"{kills} of {kills}" + ("" if (faulted / "results/report/report.md").is_file()
                                                     else " (the run did NOT finish)")),
        ("record files compared", f"{len(a)} (uninterrupted) / {len(b)} (faulted)"),
        ("records lost", f"{lost} (ids of the uninterrupted run missing from the faulted one)"),
        ("records not in the uninterrupted run", str(extra)),
        ("records duplicated", str(dup)),
        ("engine requests finished", f"{n_ref} (uninterrupted) / {n_faulted} (faulted)"),
        ("engine requests finished twice", f"{again} = {again / max(kills, 1):.1f} per kill "
                                           f"(chunk: {chunk}); {again / max(n_ref, 1):.1%} of the run's"),
        ("training steps redone", f"{sum(steps_lost)} = {sum(steps_lost) / max(kills, 1):.1f} per kill "
                                  f"(checkpoint every {every} step)"),
        ("wall time", f"{t_ref:.0f} s uninterrupted; {seconds:.0f} s over {kills + 1} attempts "
                      f"(+{(seconds - t_ref) / max(kills, 1):.0f} s per kill: engine and Python starts)"),
    ]
    width = max(len(r[0]) for r in rows)
    print("\n| what | measured |\n| --- | --- |")
    for name, value in rows:
        print(f"| {name.ljust(width)} | {value} |")
    ok = lost == 0 and dup == 0 and again <= chunk * kills and sum(steps_lost) <= every * kills
    print(f"\ntarget (0 lost, 0 duplicated, <= 1 chunk and 1 checkpoint interval redone per kill): "
          f"{'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
