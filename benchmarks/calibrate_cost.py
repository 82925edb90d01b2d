"""calibrate_cost: the cost model's throughput entry for this machine, from a finished run's job
times (Snakemake benchmark TSVs, results/benchmarks/**/*.tsv, column s) and what its jobs did
(results/**/stats/*.json: requests sent, generated tokens; the training sets' sizes; each
evaluation's summary.json: where its time went); then, with --check, the plan's job times beside
the measured ones per stage (the report's table, lancekit.report.stages.cost_table):

    python benchmarks/calibrate_cost.py RUN_DIR [--configfile CONFIG ...] [--device cpu-here]
        [--runs base iter0 lance/iter1] [--check]

Generation: s = start + requests x request_s + tokens / tokens_per_s, fitted over the review and
generate jobs (least squares, a negative term dropped); training: s = start + examples x epochs /
rate, SFT and DPO (pairs) apart (all time taken as rate when the fit cannot part them: one job,
or jobs of one size); the shares of generated candidates that survive clean and reach the SFT
and DPO sets (LANCE's stage statistics); evaluation:
start = the mean of each job's time outside inference (server and OpenCompass start, evaluation:
summary.json's parts), rate = items / inference seconds. --runs fits on those run folders only,
so that --check on the others is out of sample. Prints the entry, to paste into
config/cost/throughput.yaml (whose comments say where each entry comes from: so it is not
rewritten here).
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


def run_of(rel: Path) -> str:
    """The run folder of a benchmark file's path under results/benchmarks (base, iter0, lance/iter1)."""
    return str(rel.parent)


def calibrate(run: Path, config: dict, runs: list[str] | None = None) -> dict:
    """The throughput entry (generation, training, evaluation) from one finished run folder (its
    jobs under the run folders ``runs`` only, when given)."""
    bench, results = run / "results" / "benchmarks", run / "results"
    gen_rows, gen_s, eval_fixed, eval_items, eval_infer = [], [], [], 0, 0.0
    train = {"train_sft": ([], []), "train_dpo": ([], [])}  # (rows, seconds) of each kind
    kept = {"sft": [0, 0], "dpo": [0, 0], "clean": [0, 0]}   # [kept, candidates] over the fit's iterations
    for tsv in sorted(bench.rglob("*.tsv")):
        rel = tsv.relative_to(bench)
        if runs is not None and run_of(rel) not in runs:
            continue
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
            train[stage][0].append([1.0, examples * plan._epochs(config, stage, name)])
            train[stage][1].append(seconds)
        elif stage == "evaluate":
            summary = read_json(results / rel.parent / "eval" / "summary.json")
            inference = sum(r.get("inference_s", 0.0) for r in summary["runs"].values())
            if not inference:  # a summary from before the parts were kept: all time is rate
                inference = seconds
            eval_fixed.append(seconds - inference)
            eval_items += sum(summary["n_items"].values())
            eval_infer += inference
    # the shares that reach review_new and the training sets (LANCE's stage statistics)
    for folder in sorted({run_of(t.relative_to(bench)) for t in bench.rglob("generate.*.tsv")}):
        if runs is not None and folder not in runs:
            continue
        stats = {st: read_json(results / folder / "stats" / f"{st}.json") for st in ("generate", "annotate", "review_new")
                 if (results / folder / "stats" / f"{st}.json").is_file()}
        gen, ann = stats.get("generate", {}), stats.get("annotate", {})
        if {"instruction_samples", "negative_samples", "responses"} <= set(gen) and {"sft_new", "dpo_new"} <= set(ann):
            kept["sft"][0] += ann["sft_new"]
            kept["sft"][1] += gen["instruction_samples"]
            kept["dpo"][0] += ann["dpo_new"]
            kept["dpo"][1] += gen["negative_samples"]
            kept["clean"][0] += stats.get("review_new", {}).get("records_in", 0)
            kept["clean"][1] += gen["responses"] + gen["negative_samples"]
    if not (gen_rows and train["train_sft"][0] and eval_fixed):
        raise SystemExit(f"calibrate_cost: {bench} lacks generation, training or evaluation job times")
    start, per_request, per_token = fit(gen_rows, gen_s)
    training = {}
    for stage, (start_key, rate_key) in (("train_sft", ("start_s", "samples_per_s_per_gpu")),
                                         ("train_dpo", ("dpo_start_s", "pairs_per_s_per_gpu"))):
        rows, seconds = train[stage]
        if not rows:
            continue
        t_start, per_example = fit(rows, seconds) if len({r[1] for r in rows}) > 1 else (0.0, 0.0)
        if not per_example:  # too few or too alike jobs to part start from rate: all time is rate
            t_start, per_example = 0.0, sum(seconds) / sum(r[1] for r in rows)
        training.update({start_key: _round(t_start), rate_key: _round(1 / per_example) if per_example else 1e9})
    out = {"generation": {"start_s": _round(start), "request_s": _round(per_request),
                           "output_tokens_per_s": _round(1 / per_token) if per_token else 1e9},
            "training": training,
            "evaluation": {"start_s": _round(sum(eval_fixed) / len(eval_fixed)),
                           "items_per_s_per_gpu": _round(eval_items / eval_infer)}}
    if all(n for _, n in kept.values()):
        out["shares"] = {k: _round(a / n) for k, (a, n) in kept.items()}
    return out


def check(run: Path, config: dict, entry: dict, runs: list[str] | None = None) -> str:
    """The plan on ``entry`` beside the run's measured job times (of ``runs`` only, when given),
    per stage (markdown)."""
    from lancekit.report.load import read_times
    from lancekit.report.markdown import to_markdown
    from lancekit.report.stages import cost_table

    bench = run / "results" / "benchmarks"
    times = {}
    for tsv in bench.rglob("*.tsv"):
        rel = tsv.relative_to(bench)
        if runs is not None and run_of(rel) not in runs:
            continue
        times.setdefault(run_of(rel), {}).setdefault(tsv.name.split(".")[0], []).append(str(tsv))
    rows = plan.counts(config, plan.seed_size(config)[0], entry.get("shares"))
    predicted = plan.job_seconds(plan.timed(config, rows, entry))
    return to_markdown(cost_table(read_times(times), predicted), 2)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", type=Path, help="a finished run's folder (holds results/)")
    ap.add_argument("--configfile", nargs="*", default=[], help="the run's config files over config/config.yaml")
    ap.add_argument("--device", default="cpu-here")
    ap.add_argument("--runs", nargs="+", help="fit on these run folders only (base, iter0, lance/iter1, ...)")
    ap.add_argument("--check", action="store_true", help="then the plan beside the measured times, per stage")
    ap.add_argument("--check-runs", nargs="+", help="with --check: these run folders only (default: all)")
    args = ap.parse_args(argv)
    config = plan.load_config(args.configfile)
    entry = calibrate(args.run, config, args.runs)
    print(yaml.safe_dump({args.device: entry}, sort_keys=False), end="")
    if args.check:
        print(check(args.run, config, entry, args.check_runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
