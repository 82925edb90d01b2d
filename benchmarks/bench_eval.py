"""The evaluation on the same model and items, two ways, one after the other in one run: the HF
backend (OpenCompass's transformers chat model) and the vLLM backend (a local `vllm serve` behind
OpenCompass's OpenAI-API model), both greedy, same chat template, same prompts and scoring.
Prints seconds, per-benchmark scores, the speed ratio and how many items score differently.

    PYTHONPATH=src $(PYTHONPATH=src python3 scripts/setup_env.py opencompass) benchmarks/bench_eval.py \\
        results/base_model [--arith results/benchmarks/arith.jsonl] [--limit 100]

Each way runs in its own fresh work folder under --work (default /tmp/lance_bench_eval), the whole
evaluation as the pipeline runs it (OpenCompass start-up, server start-up and scoring included).
`--vllm-bf16` adds a third way: the vLLM server in bfloat16 (eval.vllm.dtype), faster on CPUs with
AVX-512 BF16, compared item by item with the same float32 HF run.
"""

import argparse
import json
import shutil
import time
from pathlib import Path

from lancekit.evaluation.opencompass import evaluate

ROOT = Path(__file__).resolve().parents[1]


def run(way, args, benchmarks):
    work = Path(args.work) / way
    shutil.rmtree(work, ignore_errors=True)
    settings = {"limit": args.limit, "max_out_len": args.max_out_len, "batch_size": args.batch_size}
    backend, vllm = ("vllm", {"dtype": "bfloat16"}) if way == "vllm-bf16" else (way, None)
    t0 = time.time()
    summary = evaluate(args.model, "bench", benchmarks, settings, str(work), str(work / "summary.json"),
                       backend=backend, vllm=vllm)
    return summary, time.time() - t0


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
    args = ap.parse_args()
    args.limit = args.limit or None
    benchmarks = [{"name": "arith", "path": args.arith}, {"name": "lance_mc", "path": args.mc}]
    results = {}
    ways = ("hf", "vllm", "vllm-bf16") if args.vllm_bf16 else ("hf", "vllm")
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
        table[way] = {"seconds": t, "speed": t_hf / t, "scores": s["scores"], "items": diff}
        flips = ", ".join(f"{n} {d['differing']} (net {d['net']:+g})" for n, d in diff.items())
        print(f"| {way} | {t:.1f} | {t_hf / t:.2f}x | " + " | ".join(f"{s['scores'][n]:.2f}" for n in names)
              + f" | {flips} |")
    if args.json:
        Path(args.json).write_text(json.dumps(table, indent=1))


if __name__ == "__main__":
    main()
