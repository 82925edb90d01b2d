"""The paper's benchmarks on their real, upstream data: staged from a folder of upstream files
(`eval.data`'s layout, docs/evaluation.md), then scored by the pipeline's own evaluation
(OpenCompass; generation on a vLLM server, likelihood on transformers), one group of benchmarks
after the other. Prints a table: items scored (and of how many), score, 95 % bootstrap interval
over items, seconds.

    PYTHONPATH=src $(PYTHONPATH=src python3 scripts/setup_env.py opencompass) benchmarks/bench_real_data.py \\
        results/base_model /path/to/upstream \\
        --group gsm8k,truthfulqa:0 --group mmlu:10 --group mgsm,math500,minerva_math,olympiadbench:100

`--group NAMES:LIMIT` runs NAMES in one evaluation with the first LIMIT items of each dataset (0:
every item; for MMLU and MGSM that is per subject / language). Every group stages into its own
COMPASS_DATA_CACHE under --work, so each score carries the staging report in its provenance.
"""

import argparse
import json
import os
import shutil
import time
from pathlib import Path

from lancekit.core.stats import score_interval
from lancekit.evaluation.staging import stage


def run_group(args, names: list[str], limit: int | None) -> tuple[dict, float]:
    from lancekit.evaluation.opencompass import evaluate

    tag = "_".join(names) + f"_limit{limit or 'all'}"
    work = Path(args.work) / tag
    shutil.rmtree(work, ignore_errors=True)
    cache = work / "cache"
    report = stage(args.source, cache, names)
    (cache / "lance_staging.json").write_text(json.dumps({"benchmarks": report}))
    os.environ["COMPASS_DATA_CACHE"] = str(cache)
    settings = {"limit": limit, "max_out_len": args.max_out_len, "batch_size": args.batch_size}
    vllm = {"dtype": args.vllm_dtype, "in_process": True}
    t0 = time.time()
    summary = evaluate(args.model, "real", names, settings, str(work / "eval"), str(work / "summary.json"),
                       backend="vllm", vllm=vllm)
    return summary, time.time() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("source", help="folder of the upstream benchmark files")
    ap.add_argument("--group", action="append", required=True, help="NAMES:LIMIT, e.g. gsm8k,truthfulqa:0")
    ap.add_argument("--max-out-len", type=int, default=512)
    ap.add_argument("--batch-size", type=int, default=16, help="HF batch (likelihood benchmarks)")
    ap.add_argument("--vllm-dtype", default="float32", help="the vLLM server's dtype (generation)")
    ap.add_argument("--work", default="/tmp/lance_bench_real")
    ap.add_argument("--json", help="also write the table here")
    args = ap.parse_args()
    rows = []
    for group in args.group:
        names, _, limit = group.partition(":")
        summary, seconds = run_group(args, names.split(","), int(limit or 0) or None)
        for name in names.split(","):
            items = summary["items"][name]["scores"]
            ci = score_interval(items, score=summary["scores"][name], key=name)
            prov = summary["provenance"][name]
            rows.append({"benchmark": name, "items": len(items), "limit": summary["settings"].get("limit"),
                         "score": ci["score"], "low": ci["low"], "high": ci["high"], "shots": prov["shots"],
                         "backend": prov["backend"], "seconds_group": round(seconds, 1),
                         "not_comparable": prov["not_comparable"]})
        print(f"group {names}: {seconds:.0f} s, versions {summary['versions']}", flush=True)
    print(f"\nmodel {args.model}; generation on vLLM ({args.vllm_dtype}), max_out_len {args.max_out_len}, greedy\n")
    print("| benchmark | items scored | first N per dataset | score | 95 % interval | shots | group seconds |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['benchmark']} | {r['items']} | {r['limit'] or 'all'} | {r['score']:.2f} | "
              f"[{r['low']:.2f}, {r['high']:.2f}] | {r['shots']} | {r['seconds_group']} |")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
