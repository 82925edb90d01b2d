"""Statistics, the one place that draws bootstraps and permutations (numpy only: every environment
has it): the uncertainty of benchmark scores and of differences between models, and the judge's
separation of labelled seed records (ROC AUC).

Every evaluated model is scored on the same items of each benchmark (same ids, same order), so:

- **Score interval** (``score_interval``): 95 % percentile bootstrap of the item mean (resample the
  benchmark's items with replacement). Scores are in points (0-100); items in 0..1.
- **Average interval** (``average_interval``): the average over benchmarks is resampled stratified:
  the items of each benchmark are resampled within that benchmark (each benchmark keeps its size)
  and replicate *b* of the average is the mean of the benchmarks' replicates *b*.
- **Paired difference vs M_0** (``paired_test``, ``paired_average_test``): on per-item differences
  ``d_i = model_i - m0_i``.

  * interval: paired percentile bootstrap of the mean difference (resampling items, stratified
    per benchmark for the average). It keeps the pairing, so items both models solve or both
    fail cost nothing: a paired interval is much narrower than two overlapping score intervals.
  * p-value: a **sign-flip permutation test** (randomisation test). Under H0 ("the two models are
    exchangeable on each item") every ``d_i`` is equally likely to have either sign, so the
    statistic ``sum_i w_i d_i`` is compared with its distribution under random sign flips
    (``w_i = 1/n_b`` / number of benchmarks, so the average is tested exactly as it is reported).
    Why this and not a bootstrap p-value: it needs no normality or shift assumption, is valid at
    any n (also a few items), and for 0/1 items on one benchmark it *is* the exact McNemar test
    (only discordant items carry a sign; their count of "wins" is Binomial(m, 1/2)). Whenever all
    non-zero ``|w_i d_i|`` are equal (0/1 items of one benchmark, or of benchmarks of equal size)
    the p-value is computed exactly from that binomial, two-sided (= scipy.stats.binomtest(k, m,
    0.5).pvalue); otherwise by Monte Carlo with ``n_perm`` flips and the usual (1 + hits) /
    (1 + n_perm) so that p is never 0.
- Fixed seeds: the resamples of a benchmark depend only on the seed, the benchmark's name, its
  size and the item scores, so a rerun gives the same intervals. Items with few distinct values
  (0/1 items and their differences) are resampled as multinomial counts per value, the same
  distribution as resampling items, and the sign flips of terms with few distinct magnitudes as
  binomial counts per magnitude: fast at MMLU size (14k items, every model, every iteration).
- **Macro-averaged benchmarks** (MMLU: the mean over subjects, MGSM: over languages; ``groups``
  names each item's subset): the score weights item i of subset g by ``1 / (G n_g)`` (G subsets),
  not 1/n, and so do the interval and the test. The bootstrap is stratified: items are resampled
  within each subset and replicate *b* is the mean of the subsets' replicates *b*; the sign flips
  act on ``w_i d_i`` with those weights. One subset (or no labels): the plain item mean.
- The interval is shifted by (reported score - weighted item mean) where the two differ (the
  summary rounds to 2 decimals): same width, centred on what the table shows.

- **The judge's separation of good and mediocre seed records** (``auc``, ``auc_with_interval``):
  the ROC AUC, P(a random positive scores above a random negative), ties counting one half (the
  Mann-Whitney U statistic / (n1 n2)), with a 95 % percentile bootstrap interval resampling each
  group on its own, from ``default_rng(seed)``.

- **Several comparisons** (``holm``): Holm's step-down adjustment, which keeps the chance of any
  false "significant" in a family at alpha: sort the m p-values, multiply the k-th smallest by
  (m - k + 1), carry the running maximum, cap at 1. Every other p is per comparison (the report
  says which are adjusted). How the numbers are written (signs, p, sentences) is the report's
  (lancekit.report.words).
"""

from __future__ import annotations

import math
import zlib

import numpy as np

ALPHA = 0.05
N_BOOT = 2000
N_PERM = 10000
_CHUNK = 4_000_000  # elements per resampling block (bounded memory on MMLU-size benchmarks)
_FEW = 32  # at most this many distinct values: resample counts per value instead of items


def _rng(seed: int, key: str) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(key.encode())])


def boot_means(x, *, n_boot: int = N_BOOT, seed: int = 0, key: str = "") -> np.ndarray:
    """``n_boot`` bootstrap replicates of the mean of ``x`` (items resampled with replacement)."""
    x = np.asarray(x, dtype=float)
    n = len(x)
    rng = _rng(seed, f"{key}/{n}")
    vals, counts = np.unique(x, return_counts=True)
    if len(vals) <= _FEW:  # 0/1 items (or their differences): how often each value is drawn is
        # multinomial, the same distribution as resampling the items, without drawing n indices
        return rng.multinomial(n, counts / n, size=n_boot) @ vals / n
    out = np.empty(n_boot)
    step = max(1, _CHUNK // max(n, 1))
    for lo in range(0, n_boot, step):
        hi = min(n_boot, lo + step)
        out[lo:hi] = x[rng.integers(0, n, size=(hi - lo, n))].mean(axis=1)
    return out


def _strata(groups, n: int) -> list[tuple[str, np.ndarray]] | None:
    """(subset, its item indices) in order of first appearance; None for one subset or no labels."""
    if groups is None:
        return None
    if len(groups) != n:
        raise ValueError(f"{len(groups)} subset labels for {n} items")
    labels, first, inverse = np.unique(np.asarray(groups, dtype=str), return_index=True, return_inverse=True)
    if len(labels) < 2:
        return None
    return [(str(labels[k]), np.flatnonzero(inverse == k)) for k in np.argsort(first)]


def subset_weights(groups, n: int) -> np.ndarray | None:
    """Each item's weight in a macro mean over subsets, 1 / (subsets x items of its subset) (they
    sum to 1); None for one subset (the plain mean, weight 1/n)."""
    strata = _strata(groups, n)
    if strata is None:
        return None
    w = np.empty(n)
    for _, idx in strata:
        w[idx] = 1.0 / (len(strata) * len(idx))
    return w


def macro_mean(x, groups=None) -> float:
    """The item mean (0..1), weighted per subset as the score is (``subset_weights``)."""
    x = np.asarray(x, dtype=float)
    w = subset_weights(groups, len(x))
    return float(x.mean()) if w is None else float(w @ x)


def boot_macro(x, groups=None, *, n_boot: int = N_BOOT, seed: int = 0, key: str = "") -> np.ndarray:
    """Bootstrap replicates of ``macro_mean``: items resampled within each subset, replicate b the
    mean of the subsets' replicates b (stratified); ``boot_means`` with one subset."""
    x = np.asarray(x, dtype=float)
    strata = _strata(groups, len(x))
    if strata is None:
        return boot_means(x, n_boot=n_boot, seed=seed, key=key)
    return np.mean([boot_means(x[idx], n_boot=n_boot, seed=seed, key=f"{key}/{g}") for g, idx in strata], axis=0)


def _percentiles(reps: np.ndarray, level: float) -> tuple[float, float]:
    tail = (1 - level) / 2 * 100
    lo, hi = np.percentile(reps, [tail, 100 - tail])
    return float(lo), float(hi)


def score_interval(items, *, score: float | None = None, key: str = "", groups=None, n_boot: int = N_BOOT,
                   level: float = 0.95, seed: int = 0) -> dict:
    """{"score", "low", "high", "n"} in points. ``score``: the reported score (default: 100 x the
    item mean, per subset when ``groups`` labels each item's subset); the interval is shifted onto
    it when it differs from that mean."""
    x = np.asarray(items, dtype=float)
    if len(x) == 0:
        return {"score": score, "low": None, "high": None, "n": 0}
    mean = 100 * macro_mean(x, groups)
    score = mean if score is None else float(score)
    if len(x) < 2:
        return {"score": score, "low": None, "high": None, "n": len(x)}
    lo, hi = _percentiles(100 * boot_macro(x, groups, n_boot=n_boot, seed=seed, key=key), level)
    shift = score - mean
    return {"score": score, "low": lo + shift, "high": hi + shift, "n": len(x)}


def average_interval(items: dict[str, np.ndarray], *, scores: dict[str, float] | None = None,
                     groups: dict[str, list | None] | None = None, n_boot: int = N_BOOT, level: float = 0.95,
                     seed: int = 0) -> dict:
    """Interval of the unweighted mean over benchmarks ({bench: items}), resampling items within
    each benchmark (and within each subset: ``groups`` = {bench: subset labels}). ``scores``: the
    reported scores per benchmark (to centre, as above)."""
    benches, groups = sorted(items), groups or {}
    if not benches or any(len(items[b]) < 2 for b in benches):
        return {"score": None, "low": None, "high": None, "n": sum(len(v) for v in items.values())}
    reps = np.mean([100 * boot_macro(items[b], groups.get(b), n_boot=n_boot, seed=seed, key=b) for b in benches],
                   axis=0)
    mean = float(np.mean([100 * macro_mean(items[b], groups.get(b)) for b in benches]))
    score = mean if scores is None else float(np.mean([scores[b] for b in benches]))
    lo, hi = _percentiles(reps, level)
    return {"score": score, "low": lo + score - mean, "high": hi + score - mean,
            "n": sum(len(items[b]) for b in benches)}


# ----------------------------------------------------------------------------- paired test


def _binom_two_sided(k: int, m: int) -> float:
    """P(|K - m/2| >= |k - m/2|) for K ~ Binomial(m, 1/2): the exact McNemar / sign test."""
    if m == 0:
        return 1.0
    j = np.arange(m + 1)
    logpmf = (math.lgamma(m + 1) - np.array([math.lgamma(i + 1) + math.lgamma(m - i + 1) for i in j])
              - m * math.log(2))
    dev = abs(k - m / 2)
    return float(min(1.0, np.exp(logpmf[np.abs(j - m / 2) >= dev - 1e-9]).sum()))


def sign_flip_p(contrib, *, n_perm: int = N_PERM, seed: int = 0, key: str = "") -> tuple[float, str]:
    """Two-sided p of ``sum(contrib)`` under random sign flips of each term; (p, how)."""
    c = np.asarray(contrib, dtype=float)
    c = c[np.abs(c) > 1e-12]
    m = len(c)
    if m == 0:
        return 1.0, "exact"
    mags = np.abs(c)
    if np.allclose(mags, mags[0], rtol=1e-9, atol=0):  # one magnitude: K wins of m is Binomial(m, 1/2)
        return _binom_two_sided(int((c > 0).sum()), m), "exact"
    obs = abs(c.sum()) - 1e-12 * mags.sum()
    rng = _rng(seed, f"flip/{key}/{m}")
    levels, sizes = np.unique(mags, return_counts=True)
    if len(levels) <= _FEW:  # few magnitudes (0/1 items of a few benchmarks): the flipped terms of
        # one magnitude sum to magnitude x (2 K - size), K ~ Binomial(size, 1/2)
        ks = rng.binomial(sizes, 0.5, size=(n_perm, len(sizes)))
        return (1 + int((np.abs((2 * ks - sizes) @ levels) >= obs).sum())) / (1 + n_perm), "monte_carlo"
    hits, step = 0, max(1, _CHUNK // m)
    for lo in range(0, n_perm, step):
        k = min(n_perm, lo + step) - lo
        signs = rng.integers(0, 2, size=(k, m), dtype=np.int8) * 2 - 1
        hits += int((np.abs(signs @ c) >= obs).sum())
    return (1 + hits) / (1 + n_perm), "monte_carlo"


def _pair(a, b) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"paired items differ in number: {a.shape} vs {b.shape}")
    return a, b


def paired_test(model, m0, *, delta: float | None = None, key: str = "", groups=None, n_boot: int = N_BOOT,
                n_perm: int = N_PERM, level: float = 0.95, seed: int = 0) -> dict:
    """The model against M_0 (or any other model) on the same items of one benchmark.

    {"delta", "low", "high", "p", "n", "discordant", "how"}: delta and interval in points
    (model - M_0), ``discordant`` the share of items where the two differ, ``how`` exact | monte_carlo.
    ``delta``: the reported score difference, to centre the interval on (default: item means).
    ``groups``: each item's subset, for a score that is a mean over subsets (weights as the score's)."""
    a, b = _pair(model, m0)
    d = a - b
    n = len(d)
    w = subset_weights(groups, n) if n else None
    mean = 100 * macro_mean(d, groups) if n else 0.0
    delta = mean if delta is None else float(delta)
    out = {"delta": delta, "low": None, "high": None, "p": None, "n": n,
           "discordant": float(np.mean(np.abs(d) > 1e-12)) if n else None, "how": None}
    if n < 2:
        return out
    lo, hi = _percentiles(100 * boot_macro(d, groups, n_boot=n_boot, seed=seed, key=key), level)
    out["low"], out["high"] = lo + delta - mean, hi + delta - mean
    out["p"], out["how"] = sign_flip_p(d if w is None else w * d, n_perm=n_perm, seed=seed, key=key)
    return out


def paired_average_test(pairs: dict[str, tuple], *, delta: float | None = None,
                        groups: dict[str, list | None] | None = None, n_boot: int = N_BOOT,
                        n_perm: int = N_PERM, level: float = 0.95, seed: int = 0) -> dict:
    """The same for the unweighted average over benchmarks ({bench: (model items, m0 items)}):
    bootstrap stratified per benchmark (and per subset: ``groups`` = {bench: subset labels}), sign
    flips with each item weighted as in the average: 1 / (n_b x benchmarks), or its subset weight
    / benchmarks."""
    benches, groups = sorted(pairs), groups or {}
    ds = {b: np.subtract(*_pair(*pairs[b])) for b in benches}
    n = sum(len(v) for v in ds.values())
    out = {"delta": delta, "low": None, "high": None, "p": None, "n": n,
           "discordant": float(np.mean(np.abs(np.concatenate(list(ds.values()))) > 1e-12)) if n else None,
           "how": None}
    if not benches or any(len(v) < 2 for v in ds.values()):
        return out
    mean = float(np.mean([100 * macro_mean(ds[b], groups.get(b)) for b in benches]))
    delta = mean if delta is None else float(delta)
    reps = np.mean([100 * boot_macro(ds[b], groups.get(b), n_boot=n_boot, seed=seed, key=b) for b in benches],
                   axis=0)
    lo, hi = _percentiles(reps, level)
    ws = {b: subset_weights(groups.get(b), len(ds[b])) for b in benches}
    contrib = np.concatenate([(ds[b] / len(ds[b]) if ws[b] is None else ws[b] * ds[b]) / len(benches)
                              for b in benches])
    p, how = sign_flip_p(contrib, n_perm=n_perm, seed=seed, key="avg/" + "+".join(benches))
    out.update(delta=delta, low=lo + delta - mean, high=hi + delta - mean, p=p, how=how)
    return out


def holm(ps: list[float | None]) -> list[float | None]:
    """Holm's step-down adjusted p-values of one family of comparisons, in the order given; a None
    (no test) stays None and does not count in the family."""
    out: list[float | None] = [None] * len(ps)
    where = [i for i, p in enumerate(ps) if p is not None]
    if not where:
        return out
    p = np.array([ps[i] for i in where], dtype=float)
    order = np.argsort(p, kind="stable")
    m = len(p)
    adjusted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    for k, j in enumerate(order):
        out[where[j]] = float(adjusted[k])
    return out


# ----------------------------------------------------------------------------- resolution


Z95 = 1.959963984540054


def half_width(n: int, score: float = 0.5, z: float = Z95) -> float | None:
    """Half-width in points of the 95 % interval of a score near ``score`` (0..1) on n items
    (normal approximation: what n items can resolve; 50 % is the widest)."""
    if not n:
        return None
    return 100 * z * math.sqrt(score * (1 - score) / n)


def detectable_difference(n: int, discordant: float | None = None, z: float = Z95) -> float | None:
    """Smallest difference (points) a paired test on n items tells from 0 at about alpha 0.05:
    z * sqrt(q / n), q the share of items where the two models disagree (0/1 items; the worst
    case q = 1 with no agreement, the typical case much less). Without q: two independent 50 %
    scores, z * sqrt(0.5 / n)."""
    if not n:
        return None
    q = 0.5 if discordant is None else max(discordant, 1.0 / n)
    return 100 * z * math.sqrt(q / n)


# ----------------------------------------------------------------------------- the judge's AUC


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
