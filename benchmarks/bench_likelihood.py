"""The likelihood benchmarks on the same model and items, two ways, one after the other in one run:
transformers (`eval.likelihood: hf`, a forward pass per batch in the OpenCompass task) and a local
vLLM server's prompt log-probabilities (`eval.likelihood: vllm`, lancekit's LanceVLLMScorer), both
float32, same tokens, same scores (lancekit.evaluation.likelihood). Prints each way's seconds
(the whole evaluation, and its parts: the server's start, the OpenCompass run), the speed ratio,
and every item compared: its choice (the option with the lowest perplexity, MMLU; the highest
log-likelihood, TruthfulQA and the others) and the largest difference of any option's number;
then where each way's time went (bench_eval.parts: server start, OpenCompass start, inference,
evaluation).

    PYTHONPATH=src $(PYTHONPATH=src python3 scripts/setup_env.py --print-path opencompass) \\
        benchmarks/bench_likelihood.py results/base_model --data results/benchmark_data \\
        [--benchmarks mmlu truthfulqa] [--subjects 4] [--limit 50]

--data is a folder holding data/ as the stage_benchmarks job lays it out (COMPASS_DATA_CACHE).
Each way runs in its own fresh work folder under --work.
"""

import argparse
import json
import os
import shutil
import time
from pathlib import Path

from bench_eval import parts, parts_table

from lancekit.evaluation.opencompass import evaluate
from lancekit.evaluation.registry import BENCHMARKS


def run(way: str, args, benchmarks: list) -> tuple[dict, float]:
    work = Path(args.work) / way
    shutil.rmtree(work, ignore_errors=True)
    settings = {"limit": args.limit, "batch_size": args.batch_size, "dtype": "float32"}
    t0 = time.time()
    summary = evaluate(args.model, "bench", benchmarks, settings, str(work), str(work / "summary.json"),
                       backend="vllm", likelihood=way, vllm={"max_num_seqs": args.concurrency})
    return summary, time.time() - t0


def predictions(summary: dict) -> dict[str, list[dict]]:
    """{dataset: [item record, ...]} from the OpenCompass predictions files of one evaluation."""
    out = {}
    for run in summary["runs"].values():
        folder = Path(run["run_dir"]) / "predictions" / summary["abbr"]
        for path in sorted(folder.glob("*.json")):
            records = json.loads(path.read_text())
            out[path.stem] = [records[k] for k in sorted(records, key=int)]
    return out


def numbers(record: dict) -> list[float]:
    """The per-option numbers of one item: OpenCompass PPL records ("label: X": {"PPL"}), ours
    ("logprobs")."""
    if "logprobs" in record:
        return [float(x) for x in record["logprobs"]]
    return [float(v["PPL"]) for k, v in sorted(record.items()) if k.startswith("label:")]


def choice(record: dict) -> int:
    values = numbers(record)
    best = min(values) if "logprobs" not in record else max(values)
    return values.index(best)


def compare(a: dict[str, list[dict]], b: dict[str, list[dict]]) -> dict:
    if sorted(a) != sorted(b):
        raise SystemExit(f"the two ways ran different datasets: {sorted(a)} vs {sorted(b)}")
    items = differing = 0
    largest = 0.0
    for name in a:
        if len(a[name]) != len(b[name]):
            raise SystemExit(f"{name}: {len(a[name])} items vs {len(b[name])}")
        for x, y in zip(a[name], b[name]):
            items += 1
            differing += choice(x) != choice(y)
            largest = max([largest, *(abs(p - q) for p, q in zip(numbers(x), numbers(y), strict=True))])
    return {"items": items, "differing": differing, "largest_difference": largest}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("--data", required=True, help="the folder holding data/ (COMPASS_DATA_CACHE)")
    ap.add_argument("--benchmarks", nargs="+", default=["mmlu", "truthfulqa"])
    ap.add_argument("--subjects", type=int, default=4, help="MMLU: the first N subjects (0: all 57)")
    ap.add_argument("--limit", type=int, default=50, help="first N items of each dataset (0: all)")
    ap.add_argument("--batch-size", type=int, default=8, help="the HF way's batch (eval.settings.batch_size)")
    ap.add_argument("--concurrency", type=int, default=256, help="the vLLM way's prompts in flight (max_num_seqs)")
    ap.add_argument("--work", default="/tmp/lance_bench_likelihood")
    ap.add_argument("--json", help="also write the table here")
    args = ap.parse_args()
    args.limit = args.limit or None
    os.environ["COMPASS_DATA_CACHE"] = str(Path(args.data).resolve())
    benchmarks = []
    for name in args.benchmarks:
        if BENCHMARKS[name].scoring != "ppl":
            raise SystemExit(f"{name} is not a likelihood benchmark")
        subsets = BENCHMARKS[name].all_subsets
        benchmarks.append({"name": name, "subsets": list(subsets[:args.subjects])} if subsets and args.subjects
                          else name)
    results = {way: run(way, args, benchmarks) for way in ("hf", "vllm")}
    (hf, t_hf), (vl, _) = results["hf"], results["vllm"]
    diff = compare(predictions(hf), predictions(vl))
    names = [b if isinstance(b, str) else b["name"] for b in benchmarks]
    counts = ", ".join(f"{n} {hf['n_items'][n]}" for n in names)
    print(f"\nmodel {args.model}, items: {counts}; float32 both ways\n")
    print("| way | seconds | speed vs hf | " + " | ".join(names) + " |")
    print("|---|---|---|" + "---|" * len(names))
    table = {}
    for way, (s, t) in results.items():
        table[way] = {"seconds": t, "speed": t_hf / t, "scores": s["scores"], "parts": parts(s, t)}
        print(f"| {way} | {t:.1f} | {t_hf / t:.2f}x | " + " | ".join(f"{s['scores'][n]:.2f}" for n in names) + " |")
    print("\nwhere the time went (s):\n")
    print(parts_table({w: (r["parts"], r["seconds"]) for w, r in table.items()}))
    inference = table["hf"]["parts"]["inference_s"] / max(table["vllm"]["parts"]["inference_s"], 0.1)
    print(f"\ninference alone (scoring every item): {inference:.2f}x")
    print(f"items whose choice differs: {diff['differing']} of {diff['items']}; largest difference of an "
          f"option's number (perplexity or log-likelihood): {diff['largest_difference']:.2e}")
    if args.json:
        Path(args.json).write_text(json.dumps({"ways": table, "compare": diff, "inference_ratio": inference},
                                              indent=1))

if __name__ == "__main__":
    main()
