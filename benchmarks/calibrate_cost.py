"""calibrate_cost: the cost model's throughput entry for this machine, from a finished run's job
times (Snakemake benchmark TSVs, results/benchmarks/**/*.tsv, column s) and what its jobs did
(results/**/stats/*.json: requests sent, generated tokens; the training sets' sizes):

    python benchmarks/calibrate_cost.py RUN_DIR [--configfile RUN_DIR/bench.yaml] [--device cpu-here]

Generation: s = start + requests x request_s + tokens / tokens_per_s, fitted over the review and
generate jobs (least squares, a negative term dropped); training: s = start + examples x epochs /
rate over the training jobs (all time taken as rate when the fit cannot part them); evaluation: every model's items / its job time (no start time: each
job evaluates the same items). Prints the entry, to paste into config/cost/throughput.yaml (whose
comments say where each entry comes from: so it is not rewritten here).
"""

import argparse
import csv
import sys
from pathlib import Path

import numpy as np
import yaml

from lancekit.core.io import read_json
from lancekit.pipeline import plan

ENGINE_STAGES = ("review_seed", "generate", "review_new")


def job_seconds(tsv: Path) -> float:
    with open(tsv) as f:
        return float(next(csv.DictReader(f, delimiter="\t"))["s"])


def fit(rows: list[list[float]], seconds: list[float]) -> list[float]:
    """Non-negative least squares by dropping: fit, zero the most negative term, refit."""
    a, y = np.array(rows, dtype=float), np.array(seconds, dtype=float)
    keep = list(range(a.shape[1]))
    while True:
        coef = np.zeros(a.shape[1])
        coef[keep] = np.linalg.lstsq(a[:, keep], y, rcond=None)[0]
        if (coef >= 0).all():
            return coef.tolist()
        keep.remove(int(np.argmin(coef)))


def _round(x: float) -> float:
    return float(f"{x:.3g}")


def calibrate(run: Path, config: dict) -> dict:
    """The throughput entry (generation, training, evaluation) from one finished run folder."""
    bench, results = run / "results" / "benchmarks", run / "results"
    gen_rows, gen_s, train_rows, train_s, eval_s = [], [], [], [], []
    for tsv in sorted(bench.rglob("*.tsv")):
        rel = tsv.relative_to(bench)
        stage = tsv.name.split(".")[0]
        seconds = job_seconds(tsv)
        if stage in ENGINE_STAGES:
            stats = read_json(results / rel.parent / "stats" / f"{stage}.json")
            shards = stats.get("shards", 1)
            gen_rows.append([1.0, stats["requests"]["requests_sent"] / shards, stats["generated_tokens"] / shards])
            gen_s.append(seconds)
        elif stage in ("train_sft", "train_dpo"):
            name = "m0" if rel.parts[0] == "iter0" else rel.parts[0]
            if name == "m0":
                examples = read_json(results / "iter0" / "stats" / "seed.json")["kept"]
            else:
                annotate = read_json(results / rel.parent / "stats" / "annotate.json")
                examples = annotate["sft_total" if stage == "train_sft" else "dpo_total"]
            train_rows.append([1.0, examples * plan._epochs(config, stage, name)])
            train_s.append(seconds)
        elif stage == "evaluate":
            eval_s.append(seconds)
    if not (gen_rows and train_rows and eval_s):
        raise SystemExit(f"calibrate_cost: {bench} lacks generation, training or evaluation job times")
    start, per_request, per_token = fit(gen_rows, gen_s)
    t_start, per_example = fit(train_rows, train_s)
    if not per_example:  # too few or too alike jobs to part start from rate: all time is rate
        t_start, per_example = 0.0, sum(train_s) / sum(r[1] for r in train_rows)
    items = plan.eval_items(config)
    return {"generation": {"start_s": _round(start), "request_s": _round(per_request),
                           "output_tokens_per_s": _round(1 / per_token) if per_token else 1e9},
            "training": {"start_s": _round(t_start), "samples_per_s_per_gpu": _round(1 / per_example) if per_example else 1e9},
            "evaluation": {"start_s": 0.0, "items_per_s_per_gpu": _round(items * len(eval_s) / sum(eval_s))}}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", type=Path, help="a finished run's folder (holds results/)")
    ap.add_argument("--configfile", nargs="*", default=[], help="the run's config files over config/config.yaml")
    ap.add_argument("--device", default="cpu-here")
    args = ap.parse_args(argv)
    entry = calibrate(args.run, plan.load_config(args.configfile))
    print(yaml.safe_dump({args.device: entry}, sort_keys=False), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
