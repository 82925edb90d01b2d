"""Sharding and chunked progress of an engine stage, measured in one run on the same inputs.

    PYTHONPATH=src $(PYTHONPATH=src python3 scripts/setup_env.py vllm) benchmarks/bench_shards.py \\
        MODEL_DIR REVIEWED_SEED.json [-k 16] [--chunk 16] [--rounds 2]

1. Chunked progress vs the unchunked call: ONE engine runs generate's requests (new
   instructions and negatives, then the responses) for the first K reviewed seeds, in alternating
   rounds: the plain batched call (results at the end, nothing saved), then the pipeline's way,
   every --chunk finished requests appended to a progress file and fsynced as they finish (a
   fresh file each round, so nothing is resumed).
   Prints the mean seconds of each and the overhead in percent of stage time.
2. Stage time with 1 shard vs 2: scripts/generate.py as the workflow runs it, on the same K seeds,
   as one job on every core, then as two shard jobs side by side with one core each (on a
   cluster each shard has a GPU of its own), plus the gather (scripts/gather.py). Engine loads
   are included: they are part of what a shard costs.
Part 1 runs in a process of its own, so that its engine is gone before part 2 starts. Run it
alone: two cores are easily saturated, and a second process skews both numbers.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from lancekit.core.io import read_json, write_json
from lancekit.core.settings import asdict as settings_json
from lancekit.data import generate, judge
from lancekit.data.prompts import Prompts
from lancekit.generation import shards
from lancekit.generation.progress import Progress
from lancekit.generation.run import batches, open_engine, run_requests
from lancekit.generation.settings import GenerationSettings, Sampling, VLLMArgs
from lancekit.methods import lance

ROOT = Path(__file__).resolve().parents[1]
SAMPLING = Sampling(temperature=0.7, top_p=0.9)
GEN = lance.NewData(instructions_per_seed=4, responses_per_instruction=2, negatives_per_seed=4,
                    response_prefix="Final Answer:", instruction_stop=("\n",))
GENERATION = GenerationSettings(VLLMArgs(max_model_len=2048), SAMPLING, 1234, base_model="bench")
PROMPTS = {k: ROOT / "config/prompts" / f"{k}.txt" for k in ("system", "new_instruction", "negative")}


def plain_requests(engine, requests, sampling, max_tokens, desc, *_):
    """The unchunked call: one engine.chat per batch group, results at the end, nothing saved."""
    out = [None] * len(requests)
    for (n, stop, choice, own_max), idx in batches(requests).items():
        res = engine.chat([requests[i]["messages"] for i in idx], n=n, temperature=sampling.temperature,
                          top_p=sampling.top_p, max_tokens=own_max or max_tokens,
                          seeds=[requests[i]["seed"] for i in idx], desc=desc, stop=list(stop) or None,
                          choice=list(choice) or None)
        for i, comps in zip(idx, res, strict=True):
            out[i] = [asdict(c) for c in comps]
    return out


def generate_once(engine, seeds, prompts, max_tokens, progress, chunk):
    """generate's two passes; with a progress file through run_requests (chunks saved as they
    finish), without one through the plain call."""
    send = run_requests if progress is not None else plain_requests
    low, high = judge.split(seeds, 7.0)
    first = lance.first_requests(low, high, prompts, GEN, 1234)
    t0 = time.time()
    comps = send(engine, first, SAMPLING, max_tokens, "first", progress, chunk)
    groups = lance.build_groups(low, high, comps, 1, "bench", GEN.response_prefix)
    second = generate.response_requests(groups, prompts, GEN.responses_per_instruction, 1234)
    send(engine, second, SAMPLING, max_tokens, "responses", progress, chunk)
    return time.time() - t0, len(first) + len(second)


def chunk_overhead(args, seeds):
    engine = open_engine(args.model, GENERATION)
    prompts = Prompts.load(PROMPTS)
    generate_once(engine, seeds[:2], prompts, args.max_tokens, None, 0)  # warm-up
    times = {"unchunked": [], "chunked": []}
    for _ in range(args.rounds):
        for way in times:
            with tempfile.TemporaryDirectory() as tmp:
                progress = Progress(Path(tmp) / "p.jsonl", args.model) if way == "chunked" else None
                dt, n = generate_once(engine, seeds, prompts, args.max_tokens, progress,
                                      args.chunk if way == "chunked" else 0)
            times[way].append(dt)
    engine.close()
    return {w: sum(v) / len(v) for w, v in times.items()}, n, times


def shard_job(args, seed_file, out_dir, shard, n, cpus):
    job = {"input": {"records": str(seed_file), **{k: str(v) for k, v in PROMPTS.items()}},
           "output": {"shard": str(out_dir / f"{shards.shard_name(shard, n)}.json")},
           "wildcards": {"t": "1", "shard": str(shard), "n": str(n), "method": "lance"},
           "params": {"model": args.model, "chunk": args.chunk}}
    settings = {"max_tokens": args.max_tokens, "generation": settings_json(GENERATION),
                "method": settings_json(lance.GenerateSettings(7.0, GEN))}
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    env.pop("VLLM_CPU_OMP_THREADS_BIND", None)
    argv = [sys.executable, str(ROOT / "scripts/generate.py"), json.dumps(job), json.dumps(settings)]
    return subprocess.Popen(["taskset", "-c", cpus, *argv], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.STDOUT)


def stage_time(args, seed_file, n):
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        cpus = sorted(os.sched_getaffinity(0))
        groups = [",".join(map(str, cpus))] if n == 1 else [str(cpus[i % len(cpus)]) for i in range(n)]
        t0 = time.time()
        procs = [shard_job(args, seed_file, out, i, n, groups[i]) for i in range(n)]
        if any(p.wait() != 0 for p in procs):
            raise SystemExit(f"a shard job failed (n={n})")
        job = {"input": {"records": str(seed_file)}, "output": {"merged": str(out / "raw.json"),
                                                                "stats": str(out / "stats.json")},
               "params": {"shards": n, "shard_dir": str(out)}, "wildcards": {"t": "1", "method": "lance"}}
        main_py = subprocess.run([sys.executable, str(ROOT / "scripts/setup_env.py"), "--print-path", "main"],
                                 capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT / "src")),
                                 check=True).stdout.strip()
        subprocess.run([main_py, str(ROOT / "scripts/gather.py"), json.dumps(job),
                        json.dumps({"stage": "generate", "split_threshold": 7.0})], check=True,
                       env=dict(os.environ, PYTHONPATH=str(ROOT / "src")))
        dt = time.time() - t0
        raw = read_json(out / "raw.json")
    return dt, [g["seed_id"] for g in raw]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("reviewed_seed")
    ap.add_argument("-k", type=int, default=16)
    ap.add_argument("--chunk", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--max-tokens", type=int, default=192)
    ap.add_argument("--only-chunks", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    seeds = read_json(args.reviewed_seed)[:args.k]
    if args.only_chunks:  # part 1 in a process of its own: its engine is gone before part 2
        means, n_req, times = chunk_overhead(args, seeds)
        print("RESULT " + json.dumps({"means": means, "n_req": n_req, "times": times}), flush=True)
        os._exit(0)
    part1 = subprocess.run([sys.executable, *sys.argv, "--only-chunks"], stdout=subprocess.PIPE, text=True,
                           env=dict(os.environ, PYTHONPATH=str(ROOT / "src")), timeout=3600)
    found = [line for line in part1.stdout.splitlines() if line.startswith("RESULT ")]
    if not found:
        raise SystemExit(f"part 1 failed:\n{part1.stdout[-3000:]}")
    res = json.loads(found[-1][7:])
    means, n_req, times = res["means"], res["n_req"], res["times"]
    with tempfile.TemporaryDirectory() as tmp:
        seed_file = Path(tmp) / "reviewed_seed.json"
        write_json(seed_file, seeds)
        one, ids1 = stage_time(args, seed_file, 1)
        two, ids2 = stage_time(args, seed_file, 2)
    over = 100 * (means["chunked"] - means["unchunked"]) / means["unchunked"]
    print(f"\n{len(seeds)} reviewed seeds, {n_req} generate requests, model {args.model}\n")
    print("| measurement | seconds | ratio |")
    print("|---|---|---|")
    print(f"| generate requests, unchunked, no progress file (mean of {args.rounds}) | {means['unchunked']:.1f} | 1.00 |")
    print(f"| same, chunks of {args.chunk} requests, each fsynced to a progress file | {means['chunked']:.1f} | "
          f"{means['chunked'] / means['unchunked']:.3f} ({over:+.1f} %) |")
    print(f"| generate stage, 1 shard on {len(os.sched_getaffinity(0))} cores (engine load + gather) | {one:.1f} | 1.00 |")
    print(f"| generate stage, 2 shards side by side, 1 core each | {two:.1f} | {two / one:.2f} |")
    print(f"\nrounds: {json.dumps({k: [round(x, 1) for x in v] for k, v in times.items()})}")
    print(f"merged seed order identical for 1 and 2 shards: {ids1 == ids2}")


if __name__ == "__main__":
    main()
