"""How far the judge can be trusted beyond the seed's AUC: the measures of a judge evaluation
(AlpacaEval's evaluator table: agreement, variance, preference for longer answers), per review
stage and iteration, since a judge trained on its own labels can drift.

- length bias: Spearman's ρ of a record's score with its response length in characters;
- vote consistency: the spread of a record's valid votes (SD with n − 1, and max − min) and the
  share of records whose votes fall on both sides of the split threshold (``score > V`` is high);
- agreement with a gold set: the seed's good/mediocre AUC (review stats' ``by_label``) and,
  with ``report.judge_gold``, Spearman's ρ and the mean absolute difference against a user's scores.

Pure: the review gather writes `record_summary` (lancekit.data.review) of the reviewed records into the stage's stats
(``judge_records``: the report reads stats files, not records); numbers and one table come out.
A measure that is undefined (under 3 records, constant input, no votes) is None, never NaN.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl
from scipy.stats import spearmanr

STAGES = ("review_seed", "review_new")
MIN_RECORDS = 3
COLUMNS = ("iter", "stage", "n", "length ρ", "vote SD mean", "vote range max", "across threshold",
           "AUC (seed)", "gold n", "gold ρ", "gold mean abs. diff.")
MEASURES = ("length ρ", "vote SD mean", "across threshold", "AUC (seed)", "gold ρ")  # plotted


def _r(v: float | None) -> float | None:
    return round(float(v), 4) if v is not None and math.isfinite(v) else None


def spearman(x: list, y: list) -> float | None:
    """Spearman's ρ over the pairs where both are numbers (ties: average ranks); None under
    `MIN_RECORDS` pairs or when either side is constant (ρ is undefined there)."""
    pairs = [(a, b) for a, b in zip(x, y, strict=True) if a is not None and b is not None]
    if len(pairs) < MIN_RECORDS:
        return None
    a, b = np.array(pairs, dtype=float).T
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return None
    return _r(spearmanr(a, b).statistic)


def length_bias(summary: dict) -> dict:
    """ρ(score, response characters) and n, the records with a score. ρ > 0: longer scores higher."""
    scores, chars = summary["scores"], summary["chars"]
    return {"n": sum(1 for s in scores if s is not None), "rho": spearman(scores, chars)}


def vote_consistency(summary: dict, threshold: float | None) -> dict:
    """Over the records with at least two valid votes (``multi``): the mean and largest per-record
    SD (n − 1), the largest max − min, and the share whose votes straddle ``threshold`` (some
    above it, some not; None without a threshold)."""
    multi = [np.asarray(v, dtype=float) for v in summary["votes"] if len(v) >= 2]
    if not multi:
        return {"multi": 0, "sd_mean": None, "sd_max": None, "range_max": None, "across": None}
    sds = [float(np.std(v, ddof=1)) for v in multi]
    across = None
    if threshold is not None:
        across = _r(sum(1 for v in multi if (v > threshold).any() and (v <= threshold).any()) / len(multi))
    return {"multi": len(multi), "sd_mean": _r(float(np.mean(sds))), "sd_max": _r(max(sds)),
            "range_max": _r(max(float(np.ptp(v)) for v in multi)), "across": across}


def gold_agreement(summary: dict, gold: dict[str, float]) -> dict:
    """Against a gold set ({id: score}): the records it scores that the judge scored too (n),
    Spearman's ρ and the mean absolute difference (None without a matched record)."""
    pairs = [(s, gold[i]) for i, s in zip(summary["ids"], summary["scores"], strict=True)
             if s is not None and i in gold]
    if not pairs:
        return {"n": 0, "rho": None, "mad": None}
    judge, ref = zip(*pairs)
    return {"n": len(pairs), "rho": spearman(list(judge), list(ref)),
            "mad": _r(float(np.mean(np.abs(np.subtract(judge, ref)))))}


def bias_table(stats: dict[int, dict[str, dict]], gold: dict[str, float] | None = None) -> pl.DataFrame:
    """One row per iteration × review stage of one method (``stats``: {t: {stage: stats}}): the
    measures above. The threshold is the one generate split that iteration's seed by
    (``generate.split.threshold``); stats without ``judge_records`` (older runs) give the AUC only."""
    rows = []
    for t, s in sorted(stats.items()):
        threshold = ((s.get("generate") or {}).get("split") or {}).get("threshold")
        for stage in STAGES:
            r = s.get(stage) or {}
            if not r:
                continue
            summary = r.get("judge_records")
            auc = ((r.get("by_label") or {}).get("auc_good_vs_mediocre") or {}).get("auc")
            row = dict.fromkeys(COLUMNS)
            row.update({"iter": t, "stage": stage + (" (stored scores)" if r.get("reused_scores") else ""),
                        "AUC (seed)": _r(auc) if auc is not None else None})
            if summary:
                lb, vc = length_bias(summary), vote_consistency(summary, threshold)
                row.update({"n": lb["n"], "length ρ": lb["rho"], "vote SD mean": vc["sd_mean"],
                            "vote range max": vc["range_max"], "across threshold": vc["across"]})
                if gold:
                    g = gold_agreement(summary, gold)
                    row.update({"gold n": g["n"], "gold ρ": g["rho"], "gold mean abs. diff.": g["mad"]})
            rows.append(row)
    schema = {c: (pl.Int64 if c in ("iter", "n", "gold n") else pl.Utf8 if c == "stage" else pl.Float64)
              for c in COLUMNS}
    df = pl.DataFrame(rows, schema=schema)
    return df if gold else df.drop("gold n", "gold ρ", "gold mean abs. diff.")
