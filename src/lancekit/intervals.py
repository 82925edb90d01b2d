"""Small statistics for the stages' reports (numpy only: every environment has it).

- ``auc``: the ROC AUC of two score samples, i.e. P(a random "positive" scores above a random
  "negative"), ties counting one half (the Mann-Whitney U statistic divided by n1 * n2).
- ``auc_with_interval``: that AUC with a 95 % percentile bootstrap interval, resampling each
  group on its own (stratified), with a fixed seed so the same scores give the same interval.
"""

from __future__ import annotations

import numpy as np


def mean_or_none(values: list[float]) -> float | None:
    return round(float(np.mean(values)), 4) if len(values) else None


def _average_ranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks with ties given their average rank (as scipy.stats.rankdata does)."""
    order = np.argsort(x, kind="mergesort")
    sorted_x = x[order]
    ranks = np.empty(len(x), dtype=float)
    _, first, counts = np.unique(sorted_x, return_index=True, return_counts=True)
    avg = first + (counts + 1) / 2.0
    ranks[order] = np.repeat(avg, counts)
    return ranks


def auc(pos: list[float] | np.ndarray, neg: list[float] | np.ndarray) -> float | None:
    pos, neg = np.asarray(pos, dtype=float), np.asarray(neg, dtype=float)
    n1, n2 = len(pos), len(neg)
    if n1 == 0 or n2 == 0:
        return None
    ranks = _average_ranks(np.concatenate([pos, neg]))
    u = ranks[:n1].sum() - n1 * (n1 + 1) / 2.0
    return float(u / (n1 * n2))


def auc_with_interval(pos: list[float], neg: list[float], *, n_boot: int = 2000,
                      level: float = 0.95, seed: int = 0) -> dict:
    """{"auc", "low", "high", "n_pos", "n_neg"}; the interval is None with fewer than 2 per group."""
    pos_a, neg_a = np.asarray(pos, dtype=float), np.asarray(neg, dtype=float)
    out = {"auc": auc(pos_a, neg_a), "low": None, "high": None, "n_pos": len(pos_a), "n_neg": len(neg_a),
           "level": level}
    if out["auc"] is None or len(pos_a) < 2 or len(neg_a) < 2:
        return out
    rng = np.random.default_rng(seed)
    boots = np.array([auc(rng.choice(pos_a, len(pos_a)), rng.choice(neg_a, len(neg_a)))
                      for _ in range(n_boot)])
    tail = (1 - level) / 2 * 100
    out["low"], out["high"] = (round(float(v), 4) for v in np.percentile(boots, [tail, 100 - tail]))
    out["auc"] = round(out["auc"], 4)
    return out
