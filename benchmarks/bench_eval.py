"""The evaluation on the same model and items, two ways, one after the other in one run: the HF
backend (OpenCompass's transformers chat model) and the vLLM backend (a local `vllm serve` behind
OpenCompass's OpenAI-API model), both greedy, same chat template, same prompts and scoring.
Prints seconds, per-benchmark scores, the speed ratio and how many items score differently.

    PYTHONPATH=src $(PYTHONPATH=src python3 scripts/setup_env.py opencompass) benchmarks/bench_eval.py \\
        results/base_model [--arith results/benchmarks/arith.jsonl] [--limit 100]

Each way runs in its own fresh work folder under --work (default /tmp/lance_bench_eval), the whole
evaluation as the pipeline runs it (OpenCompass start-up, server start-up and scoring included).
"""

import argparse
import json
import shutil
import time
from pathlib import Path

from lancekit.oc_run import evaluate

ROOT = Path(__file__).resolve().parents[1]


def run(backend, args, benchmarks):
    work = Path(args.work) / backend
    shutil.rmtree(work, ignore_errors=True)
    settings = {"limit": args.limit, "max_out_len": args.max_out_len, "batch_size": args.batch_size}
    t0 = time.time()
    summary = evaluate(args.model, "bench", benchmarks, settings, str(work), str(work / "summary.json"),
                       backend=backend)
    return summary, time.time() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("--arith", default=str(ROOT / "results/benchmarks/arith.jsonl"))
    ap.add_argument("--mc", default=str(ROOT / "data/benchmarks/lance_mc.jsonl"))
    ap.add_argument("--limit", type=int, default=100, help="first N items of each benchmark")
    ap.add_argument("--max-out-len", type=int, default=128, help="as config/config.yaml")
    ap.add_argument("--batch-size", type=int, default=16, help="HF batch, as config/config.yaml")
    ap.add_argument("--work", default="/tmp/lance_bench_eval")
    ap.add_argument("--json", help="also write the table here")
    args = ap.parse_args()
    benchmarks = [{"name": "arith", "path": args.arith}, {"name": "lance_mc", "path": args.mc}]
    results = {}
    for backend in ("hf", "vllm"):
        results[backend] = run(backend, args, benchmarks)
    names = [b["name"] for b in benchmarks]
    (hf, t_hf), (vl, t_vl) = results["hf"], results["vllm"]
    counts = ", ".join(f"{n} {hf['n_items'][n]}" for n in names)
    print(f"\nmodel {args.model}, items: {counts}, max_out_len {args.max_out_len}, greedy\n")
    print("| backend | seconds | " + " | ".join(names) + " |")
    print("|---|---|" + "---|" * len(names))
    for backend, (s, t) in results.items():
        print(f"| {backend} | {t:.1f} | " + " | ".join(f"{s['scores'][n]:.2f}" for n in names) + " |")
    rows = {}
    for n in names:
        a, b = hf["items"][n], vl["items"][n]
        assert a["ids"] == b["ids"], f"{n}: item ids differ between backends"
        flips = sum(1 for x, y in zip(a["scores"], b["scores"]) if x != y)
        net = sum(b["scores"]) - sum(a["scores"])
        rows[n] = {"items differing": flips, "net items (vllm - hf)": net}
    print(f"\nspeed: vllm is {t_hf / t_vl:.2f}x the speed of hf ({t_hf:.1f} s vs {t_vl:.1f} s)")
    for n, r in rows.items():
        print(f"{n}: {r['items differing']} of {len(hf['items'][n]['ids'])} items score differently; "
              f"net {r['net items (vllm - hf)']:+g} items (vllm - hf)")
    if args.json:
        Path(args.json).write_text(json.dumps({"seconds": {"hf": t_hf, "vllm": t_vl},
                                               "scores": {"hf": hf["scores"], "vllm": vl["scores"]},
                                               "items": rows}, indent=1))


if __name__ == "__main__":
    main()
