import pytest

from lancekit import stages
from lancekit.intervals import auc, auc_with_interval


def test_auc_counts_pairs_and_half_ties():
    assert auc([3, 4], [1, 2]) == 1.0
    assert auc([1, 2], [3, 4]) == 0.0
    # pairs (pos > neg): 5>1, 5>3, 3>1, 3=3 (half): 3.5 of 4
    assert auc([5, 3], [1, 3]) == pytest.approx(3.5 / 4)
    assert auc([], [1]) is None


def test_interval_brackets_the_auc_and_is_reproducible():
    good, bad = [8, 7, 9, 6, 7, 8, 5, 9], [5, 6, 4, 7, 5, 3, 6, 6]
    a = auc_with_interval(good, bad)
    assert a == auc_with_interval(good, bad)
    assert a["low"] <= a["auc"] <= a["high"] and 0.5 < a["auc"] < 1.0
    assert a["high"] - a["low"] > 0.05  # 8 per group cannot pin the AUC down
    assert auc_with_interval([7], [5])["low"] is None


def test_label_separation_in_review_stats():
    recs = [{"meta": {"quality": q}, "review": {"score": s}}
            for q, s in [("good", 8.0), ("good", 9.0), ("good", None), ("mediocre", 4.0), ("mediocre", 8.5)]]
    sep = stages.label_separation(recs)
    assert sep["labels"]["good"] == {"records": 3, "scored": 2, "mean_score": 8.5}
    assert sep["labels"]["mediocre"]["mean_score"] == 6.25
    assert sep["auc_good_vs_mediocre"]["auc"] == pytest.approx(0.75)
    assert stages.label_separation([{"review": {"score": 3.0}}]) is None
