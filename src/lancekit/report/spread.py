"""Training-seed spread (train.seeds; pure: summaries in, a polars table out).

A replicate is M_0 or M_t trained again from the same start model on the same data with another
LLaMA-Factory seed (run key <run>/seed<s>, lancekit.methods.runs). Per model of the headline table
and per benchmark and average: the main model's score, each replicate's, and their mean, standard
deviation (n - 1) and range over all of them, the main model included. The items' bootstrap
intervals do not cover this: they hold the model fixed and resample the test items.
"""

from __future__ import annotations

import statistics

import polars as pl

from .names import bench_name


def summary_score(summary: dict | None, bench: str, averages: dict[str, list[str]]) -> float | None:
    """A summary's score on one benchmark, or an average's (the unweighted mean of its benchmarks,
    None when one is missing)."""
    scores = (summary or {}).get("scores") or {}
    if bench in averages:
        members = [scores.get(b) for b in averages[bench]]
        return sum(members) / len(members) if members and None not in members else None
    return scores.get(bench)


def spread(values: list[float | None]) -> dict:
    """{"n", "mean", "sd", "range"} of the scores given (None left out); SD and range need two."""
    v = [x for x in values if x is not None]
    two = len(v) >= 2
    return {"n": len(v), "mean": statistics.fmean(v) if v else None, "sd": statistics.stdev(v) if two else None,
            "range": max(v) - min(v) if two else None}


def spread_table(summaries: dict[str, dict], replicates: dict[str, dict[int, dict]], rows: list[tuple[str, str]],
                 columns: list[str], averages: dict[str, list[str]], digits: int = 2) -> pl.DataFrame:
    """One row per model of ``rows`` ((label, run), those with replicates) and benchmark or average of
    ``columns``: "main" (the main chain's model), "seed <s>" per replicate seed, then "mean", "SD",
    "range" and "n" (models scored) over all of them."""
    seeds = sorted({int(s) for by in replicates.values() for s in by})
    out = []
    for label, run in rows:
        if run not in replicates:
            continue
        reps = {int(s): v for s, v in replicates[run].items()}
        for c in columns:
            main = summary_score(summaries.get(run), c, averages)
            each = {s: summary_score(reps.get(s), c, averages) for s in seeds}
            if main is None and all(v is None for v in each.values()):
                continue
            sp = spread([main, *each.values()])
            row = {"model": label, "benchmark": bench_name(c), "main": main,
                   **{f"seed {s}": v for s, v in each.items()},
                   "mean": sp["mean"], "SD": sp["sd"], "range": sp["range"], "n": sp["n"]}
            out.append({k: (round(v, digits) if isinstance(v, float) else v) for k, v in row.items()})
    schema = {"model": pl.Utf8, "benchmark": pl.Utf8, "main": pl.Float64,
              **{f"seed {s}": pl.Float64 for s in seeds},
              "mean": pl.Float64, "SD": pl.Float64, "range": pl.Float64, "n": pl.Int64}
    return pl.DataFrame(out, schema=schema)
