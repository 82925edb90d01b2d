"""The statistics that answer the paper's question: the headline at a pre-set iteration, the
best-of view with Holm-adjusted p, LANCE against each method on the same items, and macro-averaged
benchmarks weighted in the interval and the test as in the score."""

import itertools
import math

import numpy as np
import polars as pl
import pytest
import yaml

from lance_testing import ROOT
from lancekit.core import stats as st
from lancekit.report import compare, scores


def exact_two_sided(k: int, m: int) -> float:
    return min(1.0, sum(math.comb(m, j) for j in range(m + 1) if abs(j - m / 2) >= abs(k - m / 2)) / 2 ** m)


def solved(n: int, which) -> list[float]:
    x = np.zeros(n)
    x[list(which)] = 1.0
    return x.tolist()


def summary(items: dict[str, list[float]], datasets: dict[str, dict[str, int]] | None = None,
            scores_: dict[str, float] | None = None) -> dict:
    """A summary.json with per-item scores (ids "<bench>-<i>"), scored as the item mean unless
    ``scores_`` says otherwise; ``datasets``: the subsets' item counts (a macro-averaged benchmark)."""
    s = {"scores": {}, "n_items": {}, "items": {}}
    for b, x in items.items():
        s["scores"][b] = (scores_ or {}).get(b, 100 * float(np.mean(x)))
        s["n_items"][b] = len(x)
        s["items"][b] = {"ids": [f"{b}-{i}" for i in range(len(x))], "scores": list(x),
                         "datasets": (datasets or {}).get(b, {b: len(x)})}
    return s


# ----------------------------------------------------------------------------- Holm


def test_holm_by_hand():
    # sorted 0.01, 0.03, 0.04: x3 = 0.03, x2 = 0.06, x1 = 0.04 -> running max 0.06
    assert st.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert st.holm([0.02, None, 0.04]) == [pytest.approx(0.04), None, pytest.approx(0.04)]  # None: not counted
    assert st.holm([0.6, 0.7]) == [1.0, 1.0] and st.holm([0.3]) == [0.3] and st.holm([None]) == [None]
    rng = np.random.default_rng(1)
    ps = rng.random(7).tolist()
    adj = st.holm(ps)
    assert all(p <= a <= min(1.0, 7 * p) + 1e-12 for p, a in zip(ps, adj))  # between raw and Bonferroni
    order = np.argsort(ps)
    assert all(adj[i] <= adj[j] + 1e-12 for i, j in zip(order, order[1:]))  # keeps the order of the raw p


# ----------------------------------------------------------------------------- headline and best-of


def canned_ev(avg: dict[str, tuple[float, float]]) -> pl.DataFrame:
    """An evaluation frame of averages only: {run: (score, p vs M_0)}."""
    rows = [{"run": r, "method": r.split("/")[0], "iteration": int(r.split("iter")[1]), "benchmark": "avg",
             "score": s, "delta_vs_m0": s - 50.0, "p": p} for r, (s, p) in avg.items()]
    return pl.DataFrame(rows, schema=scores.EVAL_SCHEMA)


EV = canned_ev({"iter0": (50.0, None), "lance/iter1": (50.0, 0.005), "lance/iter2": (58.0, 0.012),
                "lance/iter3": (52.0, 0.3), "lance/iter4": (55.0, 0.02), "self_instruct/iter1": (51.0, 0.4)})
ITERS = {"lance": 4, "self_instruct": 1}


def test_the_headline_is_the_preset_iteration_not_the_best():
    assert scores.best_iteration(EV, "lance", 4) == 2  # M_2 has the higher Avg ...
    rows = scores.headline_rows(EV, ["lance", "self_instruct"], ITERS, at=4)
    assert rows == [("SFT (M_0)", "iter0"), ("LANCE (M_4)", "lance/iter4"),  # ... the headline is M_4
                    ("Self-Instruct (M_1)", "self_instruct/iter1")]  # one round: its last
    assert scores.headline_rows(EV, ["lance"], ITERS, at=3)[1] == ("LANCE (M_3)", "lance/iter3")
    assert scores.headline_iteration(1, 4) == 1 and scores.headline_iteration(0, 4) == 0
    note = scores.headline_note(["lance", "self_instruct"], ITERS, 4)
    assert "Each method at iteration 4 (`report.headline_iteration`" in note
    assert "Self-Instruct at M_1, its last (it runs 1)" in note and "LANCE at" not in note


def test_best_of_view_has_holm_adjusted_p():
    best = compare.best_of(EV, ["lance", "self_instruct"], ITERS)
    lance = best.row(0, named=True)
    assert (lance["best"], lance["searched"], lance["score"]) == (2, 4, 58.0)
    # the 4 iterations' p sorted: 0.005 x4 = 0.02, 0.012 x3 = 0.036 (M_2), 0.02 x2 = 0.04, 0.3
    assert lance["p"] == 0.012 and lance["p_holm"] == pytest.approx(0.036) and lance["p_holm"] >= lance["p"]
    si = best.row(1, named=True)
    assert si["searched"] == 1 and si["p_holm"] == si["p"] == 0.4  # one iteration: nothing to adjust
    t = compare.best_of_table(best)
    assert t.row(0) == ("LANCE", "M_2", "4", "58.00", "+8.00†", "0.036")


# ----------------------------------------------------------------------------- LANCE against each method


def versus_summaries() -> dict[str, dict]:
    """100 items of x and y. On x LANCE solves 0..59; SPIN 0..39 and 60..64 (LANCE alone on 20 items,
    SPIN alone on 5); Self-Instruct 0..54 (LANCE alone on 5)."""
    y = solved(100, range(50))
    return {"iter0": summary({"x": solved(100, range(30)), "y": y}),
            "lance/iter4": summary({"x": solved(100, range(60)), "y": y}),
            "lance/iter2": summary({"x": solved(100, range(70)), "y": y}),
            "spin/iter4": summary({"x": solved(100, [*range(40), *range(60, 65)]), "y": y}),
            "self_instruct/iter1": summary({"x": solved(100, range(55)), "y": y})}


def test_lance_against_each_method_on_the_same_items():
    import scipy.stats as scipy_stats

    s = versus_summaries()
    iters = {"lance": 4, "spin": 4, "self_instruct": 1}
    ev = scores.evaluation(s, averages={"avg": ["x", "y"]}, n_boot=400, n_perm=400)
    vs = compare.versus(ev, s, ["lance", "spin", "self_instruct"], iters, at=4, columns=["x", "y", "avg"],
                        averages={"avg": ["x", "y"]}, n_boot=400)
    r = {(row["other"], row["benchmark"]): row for row in vs.iter_rows(named=True)}
    spin, si = r[("spin", "x")], r[("self_instruct", "x")]
    assert spin["run"] == "spin/iter4" and si["run"] == "self_instruct/iter1"  # the headline rows, not LANCE's M_2
    assert spin["delta"] == pytest.approx(60 - 45) and si["delta"] == pytest.approx(60 - 55)
    assert spin["p"] == pytest.approx(scipy_stats.binomtest(20, 25, 0.5).pvalue, rel=1e-9)  # exact McNemar
    assert si["p"] == pytest.approx(exact_two_sided(5, 5)) == 0.0625
    # Holm over the two methods: the smaller p doubled, the larger one max(itself, that)
    assert spin["p_holm"] == pytest.approx(2 * spin["p"]) and si["p_holm"] == pytest.approx(0.0625)
    assert spin["low"] < 15 < spin["high"]
    assert r[("spin", "y")]["p"] == 1.0 and r[("spin", "avg")]["delta"] == pytest.approx(7.5)
    # the same comparison with SPIN's items in another order: matched by id
    shuffled = {k: dict(v) for k, v in s.items()}
    it = s["spin/iter4"]["items"]["x"]
    shuffled["spin/iter4"] = {**s["spin/iter4"], "items": {**s["spin/iter4"]["items"], "x": {
        "ids": it["ids"][::-1], "scores": it["scores"][::-1], "datasets": it["datasets"]}}}
    vs2 = compare.versus(ev, shuffled, ["lance", "spin"], iters, at=4, columns=["x"], averages={}, n_boot=400)
    assert vs2.row(0, named=True)["p"] == spin["p"] and vs2.row(0, named=True)["low"] == spin["low"]
    table = compare.versus_table(vs, iters, at=4)
    assert table.columns == ["benchmark", "SPIN (M_4)", "Self-Instruct (M_1)"]
    assert table.row(0)[1].startswith("+15.00 [+") and table.row(0)[1].endswith(f"p = {2 * spin['p']:.3f}†")
    assert "Holm-adjusted over the 2 methods" in compare.versus_legend(vs, "LANCE (M_4)")
    # only when LANCE ran (and its headline model was evaluated)
    assert compare.versus(ev, s, ["spin", "self_instruct"], iters, at=4, columns=["x"], averages={}).is_empty()
    assert compare.versus(ev, s, ["lance", "spin"], {"lance": 3, "spin": 4}, at=4, columns=["x"],
                          averages={}).is_empty()


# ----------------------------------------------------------------------------- macro weights


def unbalanced() -> tuple[np.ndarray, list[str]]:
    """Subset a: 90 items, 81 solved (0.9); subset b: 10 items, 5 solved (0.5). Macro mean 0.7,
    micro (pooled) 0.86."""
    x = np.r_[np.ones(81), np.zeros(9), np.ones(5), np.zeros(5)]
    return x, ["a"] * 90 + ["b"] * 10


def test_macro_interval_is_stratified_and_centred_on_the_macro_score():
    x, g = unbalanced()
    assert st.macro_mean(x, g) == pytest.approx(0.7) and st.macro_mean(x) == pytest.approx(0.86)
    w = st.subset_weights(g, 100)
    assert w[0] == pytest.approx(1 / 180) and w[-1] == pytest.approx(1 / 20) and w.sum() == pytest.approx(1.0)
    assert st.subset_weights(["a"] * 5, 5) is None
    macro = st.score_interval(x, key="mmlu", groups=g, n_boot=4000)
    micro = st.score_interval(x, key="mmlu", n_boot=4000)
    assert macro["score"] == pytest.approx(70.0) and micro["score"] == pytest.approx(86.0)
    assert (macro["low"] + macro["high"]) / 2 == pytest.approx(70.0, abs=1.5)
    # var of the macro mean = (0.9 x 0.1 / 90 + 0.5 x 0.5 / 10) / 4; pooled: 0.86 x 0.14 / 100
    se_macro, se_micro = 100 * math.sqrt((0.09 / 90 + 0.25 / 10) / 4), 100 * math.sqrt(0.86 * 0.14 / 100)
    assert macro["high"] - macro["low"] == pytest.approx(2 * 1.96 * se_macro, rel=0.12)
    assert micro["high"] - micro["low"] == pytest.approx(2 * 1.96 * se_micro, rel=0.12)
    assert macro["high"] - macro["low"] > 1.8 * (micro["high"] - micro["low"])
    # shifted onto a micro score it is still the macro width: the old way was the micro width
    assert st.score_interval(x, key="mmlu", score=70.0, n_boot=4000)["high"] < 80 < macro["high"]


def test_macro_paired_test_weights_items_as_the_score():
    """Subset a (90 items): the model solves 9 more (+10 points); subset b (10 items): 2 fewer (-20).
    Macro: (10 - 20) / 2 = -5 points; pooled it would read +7."""
    ref = np.r_[np.zeros(90), np.ones(10)]
    model = np.r_[np.ones(9), np.zeros(81), np.zeros(2), np.ones(8)]
    g = ["a"] * 90 + ["b"] * 10
    r = st.paired_test(model, ref, key="mgsm", groups=g, n_perm=20000)
    assert r["delta"] == pytest.approx(-5.0) and st.paired_test(model, ref, key="mgsm")["delta"] == pytest.approx(7.0)
    # sign flips of w_i d_i (9 terms of 1/180, 2 of -1/20), enumerated: p = 1/2 + 1/512 (by hand: |S| >= 0.05
    # whenever both b-terms agree, and otherwise only when all 9 a-terms do)
    terms = np.r_[np.full(9, 1 / 180), np.full(2, -1 / 20)]
    flips = np.array(list(itertools.product((1, -1), repeat=11)))
    exact = float(np.mean(np.abs(flips @ terms) >= abs(terms.sum()) - 1e-12))
    assert exact == pytest.approx(0.5 + 1 / 512)
    assert r["how"] == "monte_carlo" and r["p"] == pytest.approx(exact, abs=0.012)
    assert st.paired_test(model, ref, key="mgsm")["p"] == pytest.approx(exact_two_sided(9, 11))  # pooled: 0.065
    assert r["low"] < -5 < r["high"]
    # in an average over benchmarks: each benchmark's own weights, then 1 / benchmarks
    other = (np.r_[np.ones(30), np.zeros(70)], np.r_[np.ones(20), np.zeros(80)])  # +10 points
    avg = st.paired_average_test({"mgsm": (model, ref), "z": other}, groups={"mgsm": g}, n_perm=2000)
    assert avg["delta"] == pytest.approx((-5.0 + 10.0) / 2)


def test_the_report_weights_subsets_from_the_items_datasets():
    x, _ = unbalanced()
    ds = {"mmlu": {"lukaemon_mmlu_a": 90, "lukaemon_mmlu_b": 10}}
    s = {"iter0": summary({"mmlu": x.tolist()}, ds, {"mmlu": 70.0}),
         "lance/iter1": summary({"mmlu": x.tolist()}, {"mmlu": {"mmlu": 100}}, {"mmlu": 70.0})}  # one dataset
    ev = scores.evaluation(s, averages={"avg": ["mmlu"]}, n_boot=4000, n_perm=200)
    macro, micro = scores.cell(ev, "iter0", "mmlu"), scores.cell(ev, "lance/iter1", "mmlu")
    assert (macro["low"] + macro["high"]) / 2 == pytest.approx(70.0, abs=1.5)
    assert macro["high"] - macro["low"] > 1.8 * (micro["high"] - micro["low"])
    avg = scores.cell(ev, "iter0", "avg")
    assert (avg["low"], avg["high"]) == pytest.approx((macro["low"], macro["high"]))
    assert scores.paired_items(s["iter0"], s["lance/iter1"], "mmlu").groups[89:91] == ["lukaemon_mmlu_a",
                                                                                       "lukaemon_mmlu_b"]
    with pytest.raises(ValueError, match="datasets count"):
        scores.subsets({"datasets": {"a": 3, "b": 3}}, 5)


def test_the_config_reaches_the_report_layout():
    from snakemake.utils import validate

    from lancekit.pipeline import layout

    schema = yaml.safe_load((ROOT / "config" / "config.schema.yaml").read_text())
    assert schema["properties"]["report"]["properties"]["headline_iteration"]["default"] == 4
    for name, want in (("config.yaml", 4), ("paper.yaml", 4)):
        config = yaml.safe_load((ROOT / "config" / name).read_text())
        validate(config, str(ROOT / "config" / "config.schema.yaml"))
        assert layout.report_layout(config)["headline_iteration"] == want
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    config.setdefault("report", {})["headline_iteration"] = 0
    with pytest.raises(Exception, match="headline_iteration|minimum"):
        validate(config, str(ROOT / "config" / "config.schema.yaml"))
