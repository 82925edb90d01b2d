"""The evaluation on the same model and items, two ways, one after the other in one run: the HF
backend (OpenCompass's transformers chat model) and the vLLM backend (a local `vllm serve` behind
OpenCompass's OpenAI-API model), both greedy, same chat template, same prompts and scoring.
Prints seconds, per-benchmark scores, the speed ratio and how many items score differently, then
where each way's time went: the server's start, OpenCompass's start (imports, config and, for HF,
loading the model), inference and evaluation (summary.json's runs, from OpenCompass's own log
lines), and for the server its engine's own statistics (every 10 s: requests running and
waiting, KV cache use, tokens per second), to tell batching and cache limits from compute.

    PYTHONPATH=src $(PYTHONPATH=src python3 scripts/setup_env.py opencompass) benchmarks/bench_eval.py \\
        results/base_model [--arith results/benchmarks/arith.jsonl] [--limit 100]

Each way runs in its own fresh work folder under --work (default /tmp/lance_bench_eval), the whole
evaluation as the pipeline runs it (OpenCompass start-up, server start-up and scoring included).
`--vllm-bf16` adds a third way: the vLLM server in bfloat16 (eval.vllm.dtype), faster on CPUs with
AVX-512 BF16, compared item by item with the same float32 HF run.
"""

import argparse
import json
import re
import shutil
import time
from pathlib import Path

from lancekit.evaluation.opencompass import evaluate

ROOT = Path(__file__).resolve().parents[1]
# vLLM's engine statistics line (vllm/v1/metrics/loggers.py), one every 10 s while it works
ENGINE_LINE = re.compile(r"Avg prompt throughput: ([\d.]+) tokens/s, Avg generation throughput: ([\d.]+) tokens/s, "
                         r"Running: (\d+) reqs, Waiting: (\d+) reqs, \w+ KV cache usage: ([\d.]+)%")
KV_SIZE = re.compile(r"KV cache size: ([\d,]+) tokens")


def run(way, args, benchmarks):
    work = Path(args.work) / way
    shutil.rmtree(work, ignore_errors=True)
    settings = {"limit": args.limit, "max_out_len": args.max_out_len, "batch_size": args.batch_size}
    backend, vllm = (way, None)
    if way == "vllm-bf16":
        backend, vllm = "vllm", {"dtype": "bfloat16"}
    elif way.startswith("vllm-kv"):  # vllm-kv<GiB>: a bigger KV cache (eval.vllm.kvcache_gib)
        backend, vllm = "vllm", {"kvcache_gib": float(way[len("vllm-kv"):])}
    t0 = time.time()
    summary = evaluate(args.model, "bench", benchmarks, settings, str(work), str(work / "summary.json"),
                       backend=backend, vllm=vllm)
    return summary, time.time() - t0


def parts(summary: dict, seconds: float) -> dict:
    """Where one evaluation's seconds went: server start, then over its OpenCompass runs: start,
    inference, evaluation; the rest (reading results, stopping the server) as other."""
    out = {"server_start_s": summary.get("server_start_s") or 0.0, "start_s": 0.0, "inference_s": 0.0,
           "evaluation_s": 0.0}
    for run in summary["runs"].values():
        for key in ("start_s", "inference_s", "evaluation_s"):
            out[key] += run.get(key, 0.0)
    out["other_s"] = seconds - sum(out.values())
    return out


def parts_table(rows: dict[str, dict]) -> str:
    head = "| way | total s | server start | OpenCompass start | inference | evaluation | other |\n|---|---|---|---|---|---|---|"
    lines = [head]
    for way, (p, total) in rows.items():
        lines.append(f"| {way} | {total:.1f} | {p['server_start_s']:.1f} | {p['start_s']:.1f} | "
                     f"{p['inference_s']:.1f} | {p['evaluation_s']:.1f} | {p['other_s']:.1f} |")
    return "\n".join(lines)


def engine_stats(server_log: Path, max_num_seqs: int) -> dict:
    """The server's 10-second statistics over its working lines: time with the batch full,
    with requests waiting for KV cache while fewer than max_num_seqs run (preempted or not yet
    admitted), and with less than a quarter of max_num_seqs running (a batch's tail); mean
    generation and prompt tokens per second over the working lines."""
    text = server_log.read_text(errors="replace")
    rows = [tuple(float(x) for x in m.groups()) for m in ENGINE_LINE.finditer(text)]
    rows = [r for r in rows if r[0] or r[1] or r[2]]
    kv = KV_SIZE.search(text)
    return {"lines": len(rows), "kv_cache_tokens": int(kv.group(1).replace(",", "")) if kv else None,
            "full_s": 10 * sum(1 for r in rows if r[2] >= max_num_seqs),
            "kv_limited_s": 10 * sum(1 for r in rows if r[3] > 0 and r[2] < max_num_seqs),
            "tail_s": 10 * sum(1 for r in rows if r[2] < max_num_seqs / 4 and r[3] == 0),
            "gen_tokens_per_s": sum(r[1] for r in rows) / len(rows) if rows else 0.0,
            "prompt_tokens_per_s": sum(r[0] for r in rows) / len(rows) if rows else 0.0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("--arith", default=str(ROOT / "results/benchmarks/arith.jsonl"))
    ap.add_argument("--mc", default=str(ROOT / "data/benchmarks/lance_mc.jsonl"))
    ap.add_argument("--limit", type=int, default=100, help="first N items of each benchmark (0: all)")
    ap.add_argument("--max-out-len", type=int, default=128, help="as config/config.yaml")
    ap.add_argument("--batch-size", type=int, default=16, help="HF batch, as config/config.yaml")
    ap.add_argument("--work", default="/tmp/lance_bench_eval")
    ap.add_argument("--json", help="also write the table here")
    ap.add_argument("--vllm-bf16", action="store_true", help="also the vLLM server in bfloat16")
    ap.add_argument("--vllm-kvcache", type=float, metavar="GIB",
                    help="also the vLLM server with this KV cache (eval.vllm.kvcache_gib; default 2)")
    args = ap.parse_args()
    args.limit = args.limit or None
    benchmarks = [{"name": "arith", "path": args.arith}, {"name": "lance_mc", "path": args.mc}]
    results = {}
    ways = ["hf", "vllm"] + (["vllm-bf16"] if args.vllm_bf16 else [])
    ways += [f"vllm-kv{args.vllm_kvcache:g}"] if args.vllm_kvcache else []
    for way in ways:
        results[way] = run(way, args, benchmarks)
    names = [b["name"] for b in benchmarks]
    hf, t_hf = results["hf"]
    counts = ", ".join(f"{n} {hf['n_items'][n]}" for n in names)
    print(f"\nmodel {args.model}, items: {counts}, max_out_len {args.max_out_len}, greedy; HF in float32\n")
    print("| way | seconds | speed vs hf | " + " | ".join(names) + " | items differing from hf |")
    print("|---|---|---|" + "---|" * len(names) + "---|")
    table = {}
    for way, (s, t) in results.items():
        diff = {}
        for n in names:
            a, b = hf["items"][n], s["items"][n]
            assert a["ids"] == b["ids"], f"{n}: item ids differ between {way} and hf"
            diff[n] = {"differing": sum(1 for x, y in zip(a["scores"], b["scores"]) if x != y),
                       "net": sum(b["scores"]) - sum(a["scores"])}
        table[way] = {"seconds": t, "speed": t_hf / t, "scores": s["scores"], "items": diff,
                      "parts": parts(s, t)}
        flips = ", ".join(f"{n} {d['differing']} (net {d['net']:+g})" for n, d in diff.items())
        print(f"| {way} | {t:.1f} | {t_hf / t:.2f}x | " + " | ".join(f"{s['scores'][n]:.2f}" for n in names)
              + f" | {flips} |")
    print("\nwhere the time went (s):\n")
    print(parts_table({w: (r["parts"], r["seconds"]) for w, r in table.items()}))
    inf = {w: r["parts"]["inference_s"] for w, r in table.items()}
    print("\ninference alone, speed vs hf: " + ", ".join(f"{w} {inf['hf'] / v:.2f}x" for w, v in inf.items() if v))
    for way, (s, _) in results.items():
        if s.get("vllm"):
            log = Path(s["work_dir"]) / f"vllm_server_{s['abbr']}.log"
            stats = engine_stats(log, int(s["vllm"]["max_num_seqs"]))
            table[way]["engine"] = stats
            print(f"\n{way} engine ({stats['lines']} ten-second lines; KV cache {stats['kv_cache_tokens']} tokens): "
                  f"batch full {stats['full_s']} s, requests waiting for KV cache {stats['kv_limited_s']} s, "
                  f"under a quarter of the batch running {stats['tail_s']} s; "
                  f"{stats['gen_tokens_per_s']:.0f} generated and {stats['prompt_tokens_per_s']:.0f} prompt tokens/s")
    if args.json:
        Path(args.json).write_text(json.dumps(table, indent=1))


if __name__ == "__main__":
    main()
