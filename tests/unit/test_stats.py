import math

import numpy as np
import pytest

from lancekit.core import stats as st
from lancekit.data.review import label_separation
from lancekit.report import words


def binary(n: int, k: int) -> np.ndarray:
    x = np.zeros(n)
    x[:k] = 1.0
    return x


def exact_two_sided(k: int, m: int) -> float:
    """By hand: P(|K - m/2| >= |k - m/2|), K ~ Binomial(m, 1/2)."""
    return min(1.0, sum(math.comb(m, j) for j in range(m + 1) if abs(j - m / 2) >= abs(k - m / 2)) / 2 ** m)


# ----------------------------------------------------------------------------- intervals


def test_score_interval_is_reproducible_and_about_the_normal_width():
    rng = np.random.default_rng(3)
    x = (rng.random(400) < 0.5).astype(float)
    a = st.score_interval(x, key="mc")
    assert a == st.score_interval(x, key="mc")
    assert a["low"] < a["score"] < a["high"] and a["n"] == 400
    normal = 2 * st.half_width(400, x.mean())
    assert a["high"] - a["low"] == pytest.approx(normal, rel=0.12)
    assert st.score_interval([1.0])["low"] is None and st.score_interval([])["n"] == 0


def test_score_interval_is_centred_on_the_reported_score():
    x = binary(100, 40)
    plain, moved = st.score_interval(x, key="b"), st.score_interval(x, key="b", score=42.0)
    assert moved["score"] == 42.0
    assert moved["low"] == pytest.approx(plain["low"] + 2.0) and moved["high"] == pytest.approx(plain["high"] + 2.0)


def test_bootstrap_of_few_values_has_the_resampling_distribution():
    """0/1 items are resampled as counts per value: same mean and spread as resampling items."""
    x = binary(400, 100)
    fast = st.boot_means(x, key="b", n_boot=4000)
    slow = st.boot_means(x + 1e-9 * np.arange(400), key="b", n_boot=4000)  # all distinct: items resampled
    assert fast.mean() == pytest.approx(0.25, abs=0.002) and slow.mean() == pytest.approx(0.25, abs=0.002)
    assert fast.std() == pytest.approx(math.sqrt(0.25 * 0.75 / 400), rel=0.06)
    assert slow.std() == pytest.approx(fast.std(), rel=0.08)
    assert np.array_equal(fast, st.boot_means(x, key="b", n_boot=4000))  # fixed seed
    assert not np.array_equal(fast, st.boot_means(x, key="c", n_boot=4000))


def test_average_interval_is_stratified():
    a, b = binary(200, 100), binary(800, 200)
    avg = st.average_interval({"a": a, "b": b})
    assert avg["score"] == pytest.approx((50 + 25) / 2) and avg["n"] == 1000
    # var of the average = (p(1-p)/n_a + p(1-p)/n_b) / 4
    se = 100 * math.sqrt(0.25 / 200 + 0.1875 / 800) / 2
    assert avg["high"] - avg["low"] == pytest.approx(2 * 1.96 * se, rel=0.12)
    assert st.average_interval({"a": a, "b": b}, scores={"a": 52.0, "b": 25.0})["score"] == pytest.approx(38.5)
    assert st.average_interval({"a": a, "b": np.array([1.0])})["low"] is None


# ----------------------------------------------------------------------------- paired tests


def test_exact_sign_test_by_hand():
    assert st._binom_two_sided(2, 10) == pytest.approx(112 / 1024)  # 2 * (1 + 10 + 45) / 1024
    assert st._binom_two_sided(0, 6) == pytest.approx(2 / 64)
    assert st._binom_two_sided(5, 10) == pytest.approx(1.0) and st._binom_two_sided(0, 0) == 1.0
    for k, m in ((3, 17), (40, 60), (12, 12), (1, 2)):
        assert st._binom_two_sided(k, m) == pytest.approx(exact_two_sided(k, m), rel=1e-9)


def test_binary_items_get_the_exact_mcnemar_p():
    # 300 items: M_0 solves 90 (0.3), the model 180 (0.6); discordant: model-only 100, M_0-only 10
    m0 = np.r_[np.ones(80), np.ones(10), np.zeros(100), np.zeros(110)]
    model = np.r_[np.ones(80), np.zeros(10), np.ones(100), np.zeros(110)]
    assert m0.mean() == pytest.approx(0.3) and model.mean() == pytest.approx(0.6)
    r = st.paired_test(model, m0, key="x")
    assert r["how"] == "exact" and r["delta"] == pytest.approx(30.0)
    assert r["p"] == pytest.approx(exact_two_sided(100, 110), rel=1e-9) and r["p"] < 1e-15
    assert 20 < r["low"] < 30 < r["high"] < 40
    assert r["discordant"] == pytest.approx(110 / 300)
    assert words.marker(r["p"]) == "†"


def test_a_small_difference_is_not_significant():
    # 300 items: 0.50 vs 0.52, discordant 20 vs 26
    m0 = np.r_[np.ones(130), np.ones(20), np.zeros(26), np.zeros(124)]
    model = np.r_[np.ones(130), np.zeros(20), np.ones(26), np.zeros(124)]
    r = st.paired_test(model, m0, key="x")
    assert r["delta"] == pytest.approx(2.0)
    assert r["p"] == pytest.approx(exact_two_sided(26, 46), rel=1e-9) and r["p"] > 0.4
    assert r["low"] < 0 < r["high"] and words.marker(r["p"]) == ""


def test_exact_p_matches_scipy():
    import scipy.stats as scipy_stats  # in the main environment: this check runs in every suite

    for k, m in ((100, 110), (26, 46), (2, 10), (7, 7), (300, 640)):
        assert st._binom_two_sided(k, m) == pytest.approx(scipy_stats.binomtest(k, m, 0.5).pvalue, rel=1e-7)


def test_monte_carlo_sign_flips_agree_with_the_exact_p():
    c = np.r_[np.ones(8), -np.ones(2)] * (1 + 1e-6 * np.arange(10))  # unequal: forces Monte Carlo
    p, how = st.sign_flip_p(c, n_perm=40000, key="t")
    assert how == "monte_carlo" and p == pytest.approx(112 / 1024, abs=0.006)
    assert st.sign_flip_p(np.zeros(5)) == (1.0, "exact")


def test_continuous_items_are_tested_by_sign_flips():
    rng = np.random.default_rng(0)
    base = rng.random(200)
    r = st.paired_test(base + 0.1 + 0.05 * rng.standard_normal(200), base, key="c", n_perm=2000)
    assert r["how"] == "monte_carlo" and r["p"] == pytest.approx(1 / 2001) and r["low"] > 8
    same = st.paired_test(base + 0.05 * rng.standard_normal(200), base, key="c", n_perm=2000)
    assert same["p"] > 0.05 and same["low"] < 0 < same["high"]


def test_paired_average_test():
    m0 = {"a": binary(100, 30), "b": binary(300, 150)}
    model = {"a": binary(100, 60), "b": binary(300, 160)}
    r = st.paired_average_test({b: (model[b], m0[b]) for b in m0})
    assert r["delta"] == pytest.approx((30 + 10 / 3) / 2) and r["n"] == 400
    assert r["how"] == "monte_carlo" and r["p"] < 0.001 and r["low"] > 5
    # equal sizes and 0/1 items: one magnitude, the exact test over both benchmarks
    e = st.paired_average_test({"a": (binary(50, 30), binary(50, 25)), "b": (binary(50, 20), binary(50, 20))})
    assert e["how"] == "exact" and e["p"] == pytest.approx(exact_two_sided(5, 5))
    assert st.paired_average_test({"a": (binary(50, 30), binary(50, 25))}, delta=4.0)["delta"] == 4.0
    with pytest.raises(ValueError):
        st.paired_test(binary(3, 1), binary(4, 1))


# ----------------------------------------------------------------------------- words


def test_p_and_number_formats():
    assert words.format_p(0.4) == "p = 0.40" and words.format_p(0.012) == "p = 0.012"
    assert words.format_p(0.0004) == "p < 0.001" and words.format_p(None) == "p = –"
    assert words.p_text(0.0496) == "0.0496" and words.p_text(0.04996) == "0.04996"  # never shown as 0.050
    assert words.signed(1.7) == "+1.7" and words.signed(-0.94) == "\u22120.9" and words.signed(0.01) == "0.0"
    assert words.marker(0.049) == "†" and words.marker(0.05) == "" and words.marker(None) == ""


def test_sentence():
    r = {"delta": 1.7, "low": -0.9, "high": 4.3, "p": 0.4}
    assert words.sentence("LANCE", 3, r) == "LANCE M_3 vs M_0: +1.7 points [\u22120.9, +4.3], not significant (p = 0.40)"
    r = {"delta": 3.64, "low": 1.2, "high": 6.0, "p": 0.0031}
    assert words.sentence("SPIN", 1, r, what="Avg") == "SPIN M_1 vs M_0 (Avg): +3.6 points [+1.2, +6.0], significant (p = 0.003)"
    assert words.sentence("SPIN", 1, {"delta": -2.0, "low": None, "high": None, "p": None}) == (
        "SPIN M_1 vs M_0: \u22122.0 points (no per-item scores: no interval, no test)")


def test_what_n_items_resolve():
    assert st.half_width(100) == pytest.approx(9.8, abs=0.01)
    assert st.half_width(1319) == pytest.approx(2.70, abs=0.01)  # GSM8K
    assert st.detectable_difference(100) == pytest.approx(100 * 1.96 * math.sqrt(0.5 / 100), rel=1e-3)
    assert st.detectable_difference(1000, 0.1) == pytest.approx(1.96, rel=1e-3)
    assert st.half_width(0) is None and st.detectable_difference(0) is None


# --- the judge's AUC (good vs mediocre seed records)


def test_auc_counts_pairs_and_half_ties():
    assert st.auc([3, 4], [1, 2]) == 1.0
    assert st.auc([1, 2], [3, 4]) == 0.0
    # pairs (pos > neg): 5>1, 5>3, 3>1, 3=3 (half): 3.5 of 4
    assert st.auc([5, 3], [1, 3]) == pytest.approx(3.5 / 4)
    assert st.auc([], [1]) is None


def test_interval_brackets_the_auc_and_is_reproducible():
    good, bad = [8, 7, 9, 6, 7, 8, 5, 9], [5, 6, 4, 7, 5, 3, 6, 6]
    a = st.auc_with_interval(good, bad)
    assert a == st.auc_with_interval(good, bad)
    assert a["low"] <= a["auc"] <= a["high"] and 0.5 < a["auc"] < 1.0
    assert a["high"] - a["low"] > 0.05  # 8 per group cannot pin the AUC down
    assert st.auc_with_interval([7], [5])["low"] is None


def test_label_separation_in_review_stats():
    recs = [{"meta": {"quality": q}, "review": {"score": s}}
            for q, s in [("good", 8.0), ("good", 9.0), ("good", None), ("mediocre", 4.0), ("mediocre", 8.5)]]
    sep = label_separation(recs)
    assert sep["labels"]["good"] == {"records": 3, "scored": 2, "mean_score": 8.5}
    assert sep["labels"]["mediocre"]["mean_score"] == 6.25
    assert sep["auc_good_vs_mediocre"]["auc"] == pytest.approx(0.75)
    assert label_separation([{"review": {"score": 3.0}}]) is None
