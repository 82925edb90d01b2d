import base64
import json
import os
import re
import subprocess
import sys

import numpy as np
import polars as pl
import pytest

from lance_testing import ROOT
from lancekit.core.io import InputError
from lancekit.evaluation.contamination import overlaps
from lancekit.methods import runs
from lancekit.report import load as rload
from lancekit.report import markdown, names, scores, stages
from lancekit.report import paper as paper_tables

LB = ("arc_c", "hellaswag", "mmlu", "truthfulqa", "gsm8k", "winogrande")


# ----------------------------------------------------------------------------- fixture builder


def fake_summary(acc: dict[str, float], n: int | dict[str, int] = 200, *, items: bool = True,
                 seed: int = 7, noise: float = 0.08) -> dict:
    """A summary.json as evaluate writes it: 0/1 items per benchmark. Every model sees the same
    item difficulties u_i (seeded by the benchmark only) and solves item i when u_i < its accuracy,
    so models agree on most items, as real ones do; then ``noise`` x n solved and as many unsolved
    items swap (a model's own luck, seeded by its accuracy: equal accuracies give the same model).
    The score is exactly the accuracy (rounded to items)."""
    s = {"scores": {}, "n_items": {}, "items": {}}
    for b, p in acc.items():
        k = n[b] if isinstance(n, dict) else n
        u = (np.arange(k) + 0.5) / k
        np.random.default_rng([seed, len(b), k]).shuffle(u)
        x = (u < p).astype(float)
        rng = np.random.default_rng([seed, len(b), k, round(p * 1000)])
        ones, zeros = np.flatnonzero(x == 1), np.flatnonzero(x == 0)
        m = min(int(noise * k), len(ones), len(zeros))
        x[rng.choice(ones, m, replace=False)], x[rng.choice(zeros, m, replace=False)] = 0.0, 1.0
        s["scores"][b] = 100 * float(x.mean())
        s["n_items"][b] = k
        s["items"][b] = {"ids": [f"{b}-{i}" for i in range(k)], "scores": x.tolist()}
    s["mean"] = sum(s["scores"].values()) / len(acc)
    if not items:
        del s["items"]
    return s


def fake_summaries(benches=("arith", "lance_mc"), n=200, items=True) -> dict[str, dict]:
    """base < M_0; LANCE improves over 3 iterations (best at M_2), SPIN barely moves, Self-Instruct
    one round."""
    def acc(p):
        return {b: p + 0.01 * k for k, b in enumerate(benches)}
    runs = {"base": 0.30, "iter0": 0.40, "lance/iter1": 0.45, "lance/iter2": 0.60, "lance/iter3": 0.55,
            "spin/iter1": 0.41, "spin/iter2": 0.39, "spin/iter3": 0.40, "self_instruct/iter1": 0.42}
    return {r: fake_summary(acc(p), n, items=items) for r, p in runs.items()}


def write_fake_run(root, summaries, *, methods=("lance", "spin", "self_instruct"), paper=None) -> dict:
    """Files of a finished run under root/results and the report layout pointing at them."""
    res = root / "results"
    iters = {m: max(int(r.split("iter")[1]) for r in summaries if r.startswith(m + "/")) for m in methods}
    lay = {"methods": list(methods), "iters": iters, "summaries": {}, "stats": {}, "train": {"": {}}, "times": {},
           "paper": paper, "paper_backbone": "Qwen2-7B", "headline_iteration": 4}
    for r, s in summaries.items():
        p = res / r / "eval" / "summary.json"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps(s))
        lay["summaries"][r] = str(p)
        bdir = res / "benchmarks" / r
        bdir.mkdir(parents=True, exist_ok=True)
        (bdir / "evaluate.tsv").write_text("s\th:m:s\n12.5\t0:00:12\n")
        lay["times"][r] = {"evaluate": [str(bdir / "evaluate.tsv")]}
    m0 = res / "iter0" / "sft_model"
    m0.mkdir(parents=True, exist_ok=True)
    (m0 / "trainer_log.jsonl").write_text('{"current_steps": 1, "loss": 2.5}\n{"current_steps": 2, "loss": 2.1}\n')
    (m0 / "lance_train.json").write_text(json.dumps({"skipped": False, "n_examples": 32, "steps": 2,
                                                     "first_loss": 2.5, "final_loss": 2.1}))
    lay["train"][""]["0/SFT"] = str(m0)
    for m in methods:
        lay["stats"][m], lay["train"][m] = {}, {}
        stages = (("review_seed", "generate", "clean", "review_new", "annotate") if m.startswith("lance")
                  else ("generate", "annotate"))
        for t in range(1, iters[m] + 1):
            sd = res / m / f"iter{t}" / "stats"
            sd.mkdir(parents=True, exist_ok=True)
            lay["stats"][m][str(t)] = {st: str(sd / f"{st}.json") for st in stages}
            (sd / "generate.json").write_text(json.dumps({"instruction_samples": 24, "responses": 40,
                                                          "negative_samples": 16, "split": {"low": 6, "high": 4}}))
            (sd / "annotate.json").write_text(json.dumps({"sft_new": 2 * t, "dpo_new": t, "sft_total": 10 + 2 * t,
                                                          "dpo_total": t, "next_seed": 29,
                                                          "next_seed_base_share": 0.34}))
            if "review_seed" in stages and t == 1:  # the other stats files are missing on purpose
                (sd / "review_seed.json").write_text(json.dumps({
                    "votes": 96, "parse_failure_rate": 0.0, "records_without_score": 0, "mean_score": 6.7,
                    "records_in": 32, "score_histogram": {"5": 3, "6": 10, "7": 12, "8": 7},
                    "by_label": {"labels": {"good": {"mean_score": 6.9}, "mediocre": {"mean_score": 6.0}},
                                 "auc_good_vs_mediocre": {"auc": 0.61, "low": 0.37, "high": 0.82}},
                    # what the review gather writes for the judge bias table (lancekit.report.judge_bias)
                    "judge_records": {"ids": ["s-1", "s-2", "s-3", "s-4"], "scores": [5.0, 6.5, 7.0, 8.0],
                                      "chars": [40, 90, 95, 400], "votes": [[5, 5], [6, 7], [7, 7], [8, 8]]}}))
            md = res / m / f"iter{t}" / "model"
            md.mkdir(parents=True, exist_ok=True)
            (md / "trainer_log.jsonl").write_text('{"current_steps": 1, "loss": 0.69}\n{"current_steps": 2, "loss": 0.5}\n')
            (md / "lance_train.json").write_text(json.dumps({"n_examples": 5, "steps": 2, "first_loss": 0.69,
                                                             "final_loss": 0.5}))
            lay["train"][m][f"{t}/DPO"] = str(md)
            (res / "benchmarks" / m / f"iter{t}" / "generate.0-of-1.tsv").write_text("s\n3.0\n")
            (res / "benchmarks" / m / f"iter{t}" / "generate.0-of-2.tsv").write_text("s\n99.0\n")  # stale shards
            lay["times"].setdefault(f"{m}/iter{t}", {})["generate"] = [str(res / "benchmarks" / m / f"iter{t}" / "generate.0-of-1.tsv")]
    return lay


# ----------------------------------------------------------------------------- evaluation tables


@pytest.fixture(scope="module")
def ev():
    return scores.evaluation(fake_summaries(), n_boot=500, n_perm=2000)


def test_parse_run_and_labels():
    assert runs.parse_run("base") == ("base", None) and runs.parse_run("iter0") == ("m0", 0)
    assert runs.parse_run("lance_sft_only/iter3") == ("lance_sft_only", 3)
    for bad in ("iter2", "lance/iter0", "lance/x"):  # no bare iteration: every M_t belongs to a method
        with pytest.raises(ValueError, match="run key"):
            runs.parse_run(bad)
    assert runs.run_key("spin", 2) == "spin/iter2" and runs.run_key("spin", 0) == "iter0"
    assert names.model_label("lance", 4) == "LANCE (M_4)" and names.model_label("m0", 0) == "SFT (M_0)"
    assert names.model_label("lance_dpo_only", 1) == "LANCE (DPO data only) (M_1)"
    assert names.run_label("i_sheep/iter2") == "M_2"


def test_main_and_maths_benchmark_sets():
    assert scores.main_benchmarks(["arith", "lance_mc"]) == ["arith", "lance_mc"]
    assert scores.main_benchmarks(["gsm8k", *reversed(LB), "math"]) == list(LB)  # the paper's order
    assert scores.main_benchmarks(["gsm8k", "mmlu"]) == ["gsm8k", "mmlu"]
    assert scores.maths_benchmarks(["gsm8k", "mmlu"]) == []  # GSM8K alone is no maths table
    assert scores.maths_benchmarks(["math", "gsm8k"]) == ["gsm8k", "math"]


def test_evaluation_rows_intervals_and_deltas(ev):
    c = scores.cell(ev, "lance/iter2", "arith")
    assert c["score"] == pytest.approx(60.0) and c["n"] == 200
    assert c["low"] < 60.0 < c["high"] and 8 < c["high"] - c["low"] < 20  # about ±6.8 at n=200
    assert c["delta_vs_m0"] == pytest.approx(20.0) and c["p"] < 0.001 and c["delta_low"] > 10
    avg = scores.cell(ev, "lance/iter2", "avg")
    assert avg["score"] == pytest.approx((60.0 + 61.0) / 2) and avg["n"] == 400
    assert avg["high"] - avg["low"] < c["high"] - c["low"]  # twice the items
    m0 = scores.cell(ev, "iter0", "avg")
    assert m0["delta_vs_m0"] == 0 and m0["p"] is None
    spin = scores.cell(ev, "spin/iter1", "avg")
    assert spin["p"] > 0.05 and spin["delta_low"] < 0 < spin["delta_high"]
    assert scores.cell(ev, "base", "avg")["delta_vs_m0"] == pytest.approx(-10.0)
    # identical models: difference 0, p 1
    assert scores.cell(ev, "spin/iter3", "arith")["p"] == 1.0


def test_evaluation_without_items_has_scores_but_no_intervals():
    ev = scores.evaluation(fake_summaries(items=False), n_boot=200, n_perm=200)
    c = scores.cell(ev, "lance/iter2", "avg")
    assert c["score"] == pytest.approx(60.5) and c["low"] is None and c["p"] is None
    assert c["delta_vs_m0"] == pytest.approx(20.0)
    assert scores.cell(ev, "lance/iter2", "arith")["n"] == 200  # from n_items
    t = scores.score_table(ev, scores.headline_rows(ev, ["lance"], {"lance": 3}, at=4), ["arith", "lance_mc"])
    assert "†" not in "".join(str(v) for v in t.row(2))
    text = scores.intervals_paragraph(ev, ["arith"])
    assert text.startswith("The summaries carry no per-item scores")
    assert "- arith: 200 items" in text and "two independent scores must differ by about 9.8 points" in text
    s = scores.sentences(ev, ["lance"], {"lance": 1})
    assert s == ["LANCE M_1 vs M_0: +5.0 points (no per-item scores: no interval, no test)."]


def test_items_aligned_by_id_when_the_order_differs():
    a = fake_summary({"x": 0.6}, 50)
    b = fake_summary({"x": 0.4}, 50)
    shuffled = json.loads(json.dumps(a))
    order = list(reversed(range(50)))
    shuffled["items"]["x"] = {k: [a["items"]["x"][k][i] for i in order] for k in ("ids", "scores")}
    x1, y1, g1 = scores.paired_items(a, b, "x")
    x2, y2, g2 = scores.paired_items(shuffled, b, "x")
    assert x1 == x2 and y1 == y2 and g1 is g2 is None


def test_best_iteration_and_headline_rows(ev):
    assert scores.best_iteration(ev, "lance", 3) == 2
    assert scores.best_iteration(ev, "spin", 3) == 1
    assert scores.best_iteration(ev, "i_sheep", 2) == 2  # nothing evaluated: the last
    iters = {"lance": 3, "spin": 3, "self_instruct": 1}
    # the pre-set iteration, not the best: LANCE at M_3 although M_2 has the higher Avg
    rows = scores.headline_rows(ev, ["lance", "spin", "self_instruct"], iters, at=3)
    assert rows == [("base", "base"), ("SFT (M_0)", "iter0"), ("LANCE (M_3)", "lance/iter3"),
                    ("SPIN (M_3)", "spin/iter3"), ("Self-Instruct (M_1)", "self_instruct/iter1")]
    assert scores.headline_rows(ev, ["lance"], iters, at=2)[2] == ("LANCE (M_2)", "lance/iter2")


def test_rank_marks_bold_best_underline_second_ties_share():
    assert scores.rank_marks([1.0, 3.0, 2.0, None]) == ["", "best", "second", ""]
    assert scores.rank_marks([3.0, 3.001, 2.0]) == ["best", "best", "second"]  # equal as shown
    assert scores.rank_marks([5.0]) == ["best"]


def test_score_table_paper_layout(ev):
    rows = scores.headline_rows(ev, ["lance", "spin", "self_instruct"], {"lance": 3, "spin": 3, "self_instruct": 1},
                                at=2)
    t = scores.score_table(ev, rows, ["arith", "lance_mc"])
    assert t.columns == ["model", "arith", "lance_mc", "Avg", "Δ Avg vs M_0", "p"]
    r = {row["model"]: row for row in t.iter_rows(named=True)}
    assert r["LANCE (M_2)"]["arith"] == "**60.00**†" and r["LANCE (M_2)"]["Avg"] == "**60.50**†"
    assert r["Self-Instruct (M_1)"]["Avg"] == "<u>42.50</u>"  # second best, not significant
    assert r["SPIN (M_2)"]["Avg"] == "39.50" and r["SFT (M_0)"]["Avg"] == "40.50"
    assert r["base"]["Avg"] == "30.50†" and r["base"]["Δ Avg vs M_0"] == "\u221210.00†"
    assert r["LANCE (M_2)"]["Δ Avg vs M_0"] == "+20.00†" and r["LANCE (M_2)"]["p"] == "< 0.001"
    assert r["SFT (M_0)"]["Δ Avg vs M_0"] == "0.00" and r["SFT (M_0)"]["p"] is None
    iv = scores.interval_table(ev, rows, ["arith", "lance_mc"])
    lo, hi = (float(v) for v in iv.row(2, named=True)["Avg"].strip("[]").split(", "))
    assert lo < 60.5 < hi
    assert iv.row(1, named=True)["Δ Avg vs M_0"] is None  # M_0 vs itself


def test_iteration_table_and_sentences(ev):
    t = scores.iteration_table(ev, "lance", 3, ["arith", "lance_mc"])
    assert t["model"].to_list() == ["M_0", "M_1", "M_2", "M_3"] and set(t["method"]) == {"LANCE"}
    assert t.row(0, named=True)["Δ vs M_0"] is None and t.row(2, named=True)["Δ vs M_0"] == "+20.00†"
    md = markdown.to_markdown(t)
    assert "| LANCE | M_1 |" in md
    si = scores.iteration_table(ev, "self_instruct", 1, ["arith", "lance_mc"])
    assert si["model"].to_list() == ["M_0", "M_1"]
    words = scores.sentences(ev, ["lance", "spin"], {"lance": 3, "spin": 3}, n_benches=2)
    assert len(words) == 6
    assert words[1].startswith("LANCE M_2 vs M_0 (Avg of 2 benchmarks): +20.0 points [+")
    assert "], significant (p < 0.001); significantly different on arith (+20.0), lance_mc (+20.0)." in words[1]
    assert "not significant (p = " in words[3] and words[3].startswith("SPIN M_1 vs M_0")


def test_intervals_paragraph(ev):
    text = scores.intervals_paragraph(ev, ["arith", "lance_mc"])
    assert "- arith: 200 items, one item = 0.50 points; a score near 50 % is known to ±6.9 points (95 %)" in text
    assert "a paired difference vs M_0 of about" in text and "- Avg: M_0's 95 % interval is ±" in text


def test_maths_average_from_groups():
    acc = {b: 0.5 for b in (*LB, "math", "mgsm", "olympiadbench", "minerva_math")}
    s = {"iter0": fake_summary(acc, 40), "lance/iter1": fake_summary({**acc, "math": 0.7}, 40)}
    ev = scores.evaluation(s, n_boot=200, n_perm=500)
    assert set(ev["benchmark"]) >= {"avg", "maths_avg"}
    m = scores.cell(ev, "lance/iter1", "maths_avg")
    assert m["delta_vs_m0"] == pytest.approx(20.0 / 5)
    assert scores.cell(ev, "lance/iter1", "avg")["delta_vs_m0"] == pytest.approx(0.0)


def test_tidy_eval_columns(ev):
    t = scores.tidy_eval(ev)
    assert t.columns[:8] == ["method", "iteration", "benchmark", "score", "low", "high", "delta_vs_m0", "p"]
    assert t.filter(pl.col("method") == "base")["iteration"].to_list() == [None] * 3


# ----------------------------------------------------------------------------- the paper


def test_paper_csv_is_the_papers_numbers():
    paper = paper_tables.load_paper(ROOT / "data/paper/lance_paper_results.csv")
    main = paper.filter(pl.col("source") == "main table")
    assert main.height == 2 * 5 * 7
    for (bb, m), g in main.group_by(["backbone", "method"]):
        six = g.filter(pl.col("benchmark") != "avg")["score"]
        assert six.mean() == pytest.approx(g.filter(pl.col("benchmark") == "avg")["score"][0], abs=0.011), (bb, m)
    assert paper_tables._paper_score(paper, "Qwen2-7B", "lance", "gsm8k", "main table") == (82.11, False)
    assert paper_tables._paper_score(paper, "Qwen2-7B", "lance", "avg", "iteration figure", 2) == (65.65, True)
    assert paper_tables._paper_score(paper, "Qwen2-7B-Instruct", "sft", "avg", "main table") == (67.48, False)
    assert paper_tables._paper_score(paper, "Qwen2-7B", "sft", "avg", "maths table") == (40.32, False)


def test_paper_vs_ours():
    paper = paper_tables.load_paper(ROOT / "data/paper/lance_paper_results.csv")
    acc = {b: 0.5 for b in LB}
    s = {"iter0": fake_summary(acc, 20), "lance/iter1": fake_summary({**acc, "gsm8k": 0.8}, 20)}
    ev = scores.evaluation(s, n_boot=100, n_perm=100)
    rows = scores.headline_rows(ev, ["lance"], {"lance": 1}, at=4)
    long = paper_tables.paper_vs_ours(ev, paper, "Qwen2-7B", rows, {"avg": list(LB)})
    g = {(r["model"], r["benchmark"]): r for r in long.iter_rows(named=True)}
    assert g[("LANCE (M_1)", "gsm8k")]["paper"] == 82.11
    assert g[("LANCE (M_1)", "gsm8k")]["gap"] == pytest.approx(80.0 - 82.11)
    assert g[("SFT (M_0)", "avg")]["paper"] == 64.60
    t = paper_tables.paper_vs_ours_table(long)
    assert t["model"].to_list() == ["SFT (M_0)", "", "", "LANCE (M_1)", "", ""]
    assert t.row(5, named=True)["GSM8K"] == "\u22122.11"
    it = paper_tables.paper_iterations(ev, paper, "Qwen2-7B", 1)
    assert it["paper"].to_list() == ["64.60", "~65.58", "~65.65", "~67.93", "68.24"]
    assert it["ours"].to_list()[2:] == [None, None, None]
    # a run on other benchmarks shares nothing with the paper; a partial set has no Avg to compare
    assert paper_tables.paper_vs_ours(scores.evaluation(fake_summaries(n=10), n_boot=50, n_perm=50), paper, "Qwen2-7B",
                            [("SFT (M_0)", "iter0")]).is_empty()
    assert "avg" not in paper_tables.paper_vs_ours(ev, paper, "Qwen2-7B", rows, {"avg": ["gsm8k"]})["benchmark"].to_list()


# ----------------------------------------------------------------------------- the pipeline's tables


def test_funnel_and_drop_tables():
    stats = {1: {"review_seed": {"records_in": 10},
                 "generate": {"instruction_samples": 24, "responses": 40, "negative_samples": 16,
                              "split": {"low": 6, "high": 4}},
                 "clean": {"instructions_out": 9, "responses_out": 12, "negatives_out": 7,
                           "drops": {"response": {"response_truncated": 3}, "group": {}}},
                 "review_new": {"records_in": 19}, "annotate": {"sft_new": 2, "dpo_new": 1, "sft_total": 12,
                                                                "dpo_total": 1, "next_seed": 29,
                                                                                "next_seed_base_share": 0.3448}}}
    f = stages.funnel_table(stats)
    assert f.row(0, named=True)["low"] == 6 and f.row(0, named=True)["SFT total"] == 12
    assert f.row(0, named=True)["Seed_0 share"] == 0.3448
    assert stages.funnel_table({}).is_empty() and "Seed_0 share" in stages.funnel_table({}).columns  # iters: 0
    d = stages.drop_table(stats)
    assert d.rows() == [(1, "response", "response_truncated", 3)]


def test_contamination_finds_copied_questions_only():
    seed = ["A train leaves the station at 9 am travelling at 60 km per hour towards the coast. When?"]
    qs = ["a train leaves the station at 9 am travelling at 60 km per hour towards the coast",
          "How many apples are left if Tom eats two of his five apples?"]
    hits = overlaps(qs, seed)
    assert [h["item"] for h in hits] == [0] and hits[0]["seed"] == 0


def test_training_table():
    infos = {(1, "DPO"): {"skipped": True, "reason": "empty DPO set", "n_examples": 0}, (1, "SFT"): {},
             (0, "SFT"): {"skipped": False, "n_examples": 32, "steps": 4, "first_loss": 2.5,
                          "final_loss": 2.25, "seconds": 150.0}}
    df = stages.training_table(infos)
    assert list(zip(df["iter"], df["stage"])) == [(0, "SFT"), (1, "SFT"), (1, "DPO")]
    assert df.row(0, named=True)["final loss"] == 2.25 and df.row(0, named=True)["note"] == ""
    assert df.row(2, named=True)["note"] == "skipped: empty DPO set"
    assert stages.training_table({(1, "DPO"): {"skipped": True, "reason": "skipped: empty dataset"}}).row(
        0, named=True)["note"] == "skipped: empty dataset"


def test_training_table_shows_the_planned_steps_beside_the_steps_made():
    infos = {(1, "DPO"): {"n_examples": 3000, "planned_steps": 36, "steps": 36, "few_steps": True,
                          "step_plan": {"global_batch": 256, "steps": 36}},
             (1, "SFT"): {"n_examples": 6000, "planned_steps": 72, "steps": 72, "few_steps": False,
                          "step_plan": {"global_batch": 256, "steps": 72}}}
    df = stages.training_table(infos)
    assert df.columns[:6] == ["iter", "stage", "examples", "global batch", "planned steps", "steps"]
    assert df.row(0, named=True)["planned steps"] == 72 and df.row(0, named=True)["note"] == ""
    assert df.row(1, named=True)["note"] == "few optimizer steps: under train.min_steps_warning"


def test_time_table_orders_runs():
    t = stages.time_table({"lance/iter2": {"generate": 2.0}, "lance/iter1": {"generate": 1.0, "clean": 0.5}})
    assert t.columns == ["stage", "M_1", "M_2"] and t.row(1) == ("generate", 1.0, 2.0)
    assert stages.time_table({"iter0": {"train": 1.0}, "base": {"evaluate": 2.0}}).columns == ["stage", "base", "M_0"]


def test_judge_table_shows_label_separation():
    sep = {"labels": {"good": {"mean_score": 6.92}, "mediocre": {"mean_score": 6.05}},
           "auc_good_vs_mediocre": {"auc": 0.6086, "low": 0.3743, "high": 0.8171}}
    stats = {1: {"review_seed": {"votes": 96, "parse_failure_rate": 0.0, "records_without_score": 0,
                                 "mean_score": 6.7, "by_label": sep},
                 "review_new": {"votes": 60, "parse_failure_rate": 0.0, "records_without_score": 0, "mean_score": 7.0}},
             2: {"review_seed": {"reused_scores": True, "votes": 96, "by_label": sep}}}
    df = stages.judge_table(stats)
    rows = df.rows(named=True)
    assert rows[0]["AUC good vs mediocre [95% CI]"] == "0.61 [0.37, 0.82]"
    assert rows[0]["mean good"] == 6.92 and rows[1]["AUC good vs mediocre [95% CI]"] is None
    assert rows[2]["stage"] == "review_seed (stored scores)"


# ----------------------------------------------------------------------------- the script


def _run_script(tmp_path, layout, judge_gold=None, cost=None):
    out = {k: str(tmp_path / "results" / "report" / f) for k, f in (
        ("md", "report.md"), ("eval_plot", "eval.png"), ("avg_plot", "avg_by_iteration.png"), ("funnel", "funnel.png"),
        ("loss", "loss.png"), ("judge", "judge.png"), ("judge_bias", "judge_bias.png"), ("eval_csv", "eval_table.csv"),
        ("funnel_csv", "funnel.csv"), ("plots_rst", "plots.rst"))}
    job = {"input": {}, "output": out, "wildcards": {}, "params": {}}
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), MPLCONFIGDIR=str(tmp_path / "mpl"))
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "report.py"), json.dumps(job),
                           json.dumps({"layout": layout, "judge_gold": judge_gold, "cost": cost})], env=env,
                          capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr
    return tmp_path / "results" / "report"


def test_report_of_a_run_without_iterations(tmp_path):
    """iters: 0 is a valid run: the report shows base and M_0 (it crashed after all the work once)."""
    res = tmp_path / "results"
    for run, score in (("base", 10.0), ("iter0", 20.0)):
        (res / run / "eval").mkdir(parents=True)
        (res / run / "eval" / "summary.json").write_text(json.dumps(
            {"scores": {"arith": score}, "mean": score, "n_items": {"arith": 30}}))
    model = res / "iter0" / "sft_model"
    model.mkdir()
    (model / "trainer_log.jsonl").write_text('{"current_steps": 1, "loss": 2.5}\n{"current_steps": 2, "loss": 2.1}\n')
    (model / "lance_train.json").write_text(json.dumps({"skipped": False, "n_examples": 32, "steps": 2,
                                                        "first_loss": 2.5, "final_loss": 2.1}))
    bench = res / "benchmarks" / "iter0"
    bench.mkdir(parents=True)
    (bench / "evaluate.tsv").write_text("s\th:m:s\n120.0\t0:02:00\n")
    layout = {"methods": ["lance"], "iters": {"lance": 0},
              "summaries": {r: str(res / r / "eval" / "summary.json") for r in ("base", "iter0")},
              "stats": {"lance": {}}, "train": {"": {"0/SFT": str(model)}, "lance": {}},
              "times": {"iter0": {"evaluate": [str(bench / "evaluate.tsv")]}},
              "paper": None, "paper_backbone": "Qwen2-7B", "headline_iteration": 4}
    out = _run_script(tmp_path, layout, cost={"device": "cpu-here", "predicted": {"iter0": {"evaluate": 100.0}}})
    md = (out / "report.md").read_text()
    # the HTML report's landing page shows every plot: each PNG itself as the image's URI
    rst = (out / "plots.rst").read_text()
    assert rst.count(".. image::\n   data:image/png;base64,") == 6 and max(map(len, rst.splitlines())) <= 79
    uri = "".join(line.strip() for line in rst.split(":alt: loss.png")[0].split(".. image::")[-1].splitlines())
    assert uri == "data:image/png;base64," + base64.b64encode((out / "loss.png").read_bytes()).decode()
    assert "## Cost: predicted beside measured" in md and "on `cpu-here`" in md
    assert "| evaluate | 1 | 100.00 | 120.00 | 1.20 |" in md
    assert "# lance report: LANCE (0 iterations)" in md
    assert "| base | <u>10.00</u> | <u>10.00</u> | \u221210.00 | – |" in md  # no items: no † and no p
    assert "| SFT (M_0) | **20.00** | **20.00** | 0.00 | – |" in md
    assert "| 0 | SFT | 32 | 2 | 2.500 | 2.100 |" in md
    for png in ("eval.png", "funnel.png", "loss.png", "judge.png", "judge_bias.png", "avg_by_iteration.png"):
        assert os.path.getsize(out / png) > 1000, png
    assert pl.read_csv(out / "eval_table.csv").height == 4  # arith and avg, base and M_0


def test_full_report_of_three_methods(tmp_path):
    lay = write_fake_run(tmp_path, fake_summaries(n=60), paper=str(ROOT / "data/paper/lance_paper_results.csv"))
    out = _run_script(tmp_path, lay)
    md = (out / "report.md").read_text()
    for text in ("| LANCE (M_3) |", "| SPIN (M_3) |", "| Self-Instruct (M_1) |", "| base |", "| LANCE | M_1 |",
                 "## Evaluation: each method at iteration 4 (or its last)", "LANCE, SPIN at M_3, their last (they run 3); Self-Instruct at M_1, its last (it runs 1)",
                 "### LANCE (M_3) against each method", "| benchmark | SPIN (M_3) | Self-Instruct (M_1) |",
                 "Holm-adjusted over the 2 methods compared in each row",
                 "### Best of iterations (picked on the test items)", "| LANCE | M_2 | 3 | 60.83 | +20.00† | < 0.001 |",
                 "| SPIN | M_0 |", "### In words", "LANCE M_2 vs M_0 (Avg of 2 benchmarks): +20.0 points",
                 "## LANCE", "## SPIN", "AUC", "Seed_0 share", "_no review stage in this method_",
                 "this run shares no benchmark with the paper's tables"):
        assert text in md, text
    csv = pl.read_csv(out / "eval_table.csv")
    assert set(csv["method"]) == {"base", "m0", "lance", "spin", "self_instruct"}
    assert csv.filter((pl.col("method") == "lance") & (pl.col("iteration") == 2)
                      & (pl.col("benchmark") == "avg"))["p"][0] < 0.05
    # only the files the layout names are read (not the stale shard file beside them)
    assert "| generate | 3.0 | 3.0 | 3.0 |" in md
    for png in ("eval.png", "funnel.png", "loss.png", "judge.png", "judge_bias.png", "avg_by_iteration.png"):
        assert os.path.getsize(out / png) > 1000, png


def test_the_report_shows_the_judge_bias_table_and_plot(tmp_path):
    """#20 part 5: per method, iteration and review stage: n, length ρ (Spearman: the lengths are
    monotone in the scores but far from linear), vote spread, votes across the split threshold,
    the seed AUC and, with report.judge_gold, agreement with the gold scores."""
    lay = write_fake_run(tmp_path, fake_summaries(n=20, benches=("arith",)), methods=("lance",))
    gold = tmp_path / "gold.json"
    gold.write_text(json.dumps([{"id": "s-1", "score": 4}, {"id": "s-2", "score": 6}, {"id": "s-4", "score": 9},
                                {"id": "elsewhere", "score": 1}]))
    for t in (1, 2, 3):  # the split threshold generate used
        p = tmp_path / "results" / "lance" / f"iter{t}" / "stats" / "generate.json"
        p.write_text(json.dumps({**json.loads(p.read_text()), "split": {"threshold": 6.5, "low": 6, "high": 4}}))
    out = _run_script(tmp_path, lay, judge_gold=str(gold))
    md = (out / "report.md").read_text()
    assert "#### Judge bias across iterations" in md and "![judge bias](judge_bias.png)" in md
    assert ("| iter | stage | n | length ρ | vote SD mean | vote range max | across threshold | AUC (seed) | gold n "
            "| gold ρ | gold mean abs. diff. |") in md
    # SD (n − 1) of [6, 7]: 0.707, over 4 records; [6, 7] straddles 6.5; gold: s-1, s-2, s-4
    assert "| 1 | review_seed | 4 | 1.000 | 0.177 | 1.000 | 0.250 | 0.610 | 3 | 1.000 | 0.833 |" in md
    assert os.path.getsize(out / "judge_bias.png") > 1000


def test_report_of_the_papers_benchmarks_compares_with_the_paper(tmp_path):
    acc = {b: 0.5 for b in (*LB, "math", "olympiadbench", "minerva_math", "mgsm")}
    s = {"base": fake_summary(acc, 30), "iter0": fake_summary(acc, 30),
         "lance/iter1": fake_summary({**acc, "gsm8k": 0.8, "math": 0.6}, 30)}
    lay = write_fake_run(tmp_path, s, methods=("lance",), paper=str(ROOT / "data/paper/lance_paper_results.csv"))
    md = (_run_script(tmp_path, lay) / "report.md").read_text()
    assert "## Maths" in md and "## Ours vs the paper (Qwen2-7B" in md
    assert "| model | ARC | HellaSwag | MMLU | TruthfulQA | GSM8K | Winogrande | Avg |" in md
    assert "~65.58" in md
    assert "| model |  | ARC | HellaSwag | MMLU | TruthfulQA | GSM8K | Winogrande | Avg | MATH | OlympiadBench | Minerva |" in md


def test_a_stand_in_is_compared_with_the_papers_column_and_labelled_not_comparable(tmp_path):
    acc = {b: 0.5 for b in (*LB, "math500", "olympiadbench", "minerva_math", "mgsm")}
    s = {"iter0": fake_summary(acc, 30), "lance/iter1": fake_summary({**acc, "gsm8k": 0.8}, 30)}
    why = {"math500": "MATH-500 is a 500-problem subset of the 5,000 MATH problems of the paper's column"}
    for summary in s.values():
        summary["provenance"] = {b: {"backend": "vLLM server (OpenAI API), greedy", "config": f"lance {b}",
                                     "shots": "0", "not_comparable": why.get(b, "")} for b in acc}
        summary["versions"] = {"opencompass": "0.5.4", "transformers": "5.0.0"}
    lay = write_fake_run(tmp_path, s, methods=("lance",), paper=str(ROOT / "data/paper/lance_paper_results.csv"))
    md = (_run_script(tmp_path, lay) / "report.md").read_text()
    # MATH-500 takes MATH's place in the maths average and against the paper's MATH, labelled
    assert "Maths Avg = mean of GSM8K, MATH-500, MGSM, OlympiadBench, Minerva" in md
    assert "| MATH-500 (not comparable) | OlympiadBench | Minerva | Maths Avg (not comparable) |" in md
    assert "## How each score was measured" in md
    assert "| MATH-500 | vLLM server (OpenAI API), greedy | lance math500 | 0 | 30 | not comparable: MATH-500 is" in md
    assert "| GSM8K | vLLM server (OpenAI API), greedy | lance gsm8k | 0 | 30 | same setting |" in md
    assert "Scored with opencompass 0.5.4, transformers 5.0.0." in md


# ----------------------------------------------------------------------------- garbled inputs (#19)


def _report_fails(tmp_path, layout) -> str:
    """Run scripts/report.py; it must stop with one clean message (no traceback): its stderr."""
    out = {k: str(tmp_path / "out" / f"{k}.x") for k in ("md", "eval_plot", "avg_plot", "funnel", "loss", "judge",
                                                          "judge_bias", "eval_csv", "funnel_csv", "plots_rst")}
    job = {"input": {}, "output": out, "wildcards": {}, "params": {}}
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), MPLCONFIGDIR=str(tmp_path / "mpl"))
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "report.py"), json.dumps(job),
                           json.dumps({"layout": layout})], env=env, capture_output=True, text=True)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr, proc.stderr
    return proc.stderr


@pytest.mark.parametrize("which,text,says", [
    ("summary", "{\"scores\": {\"arith\": 4", "malformed JSON at line 1"),
    ("summary", b"\xff\xfe{}", "not UTF-8"),
    ("summary", '{"scores": {"arith": "high"}}', "field scores.arith: 'high', expected a finite number"),
    ("stats", "nonsense", "malformed JSON at line 1, column 1"),
    ("stats", '{"split": {"low": "six"}}', "field split.low: 'six'"),
    ("training", "[]", "[], expected a JSON object"),
    ("training", '{"steps": "2"}', "field steps: '2'"),
    ("tsv", "s\th:m:s\nabc\t0:00:12\n", "line 2, column s: 'abc'"),
    ("tsv", "seconds\n12\n", "no column 's'"),
])
def test_a_garbled_report_input_stops_the_report_naming_the_file(tmp_path, which, text, says):
    """Each was an unnamed JSONDecodeError or ValueError (or a UnicodeDecodeError) from inside."""
    lay = write_fake_run(tmp_path, fake_summaries(n=20, benches=("arith",)), methods=("lance",))
    res = tmp_path / "results"
    path = {"summary": res / "lance" / "iter1" / "eval" / "summary.json",
            "stats": res / "lance" / "iter1" / "stats" / "generate.json",
            "training": res / "lance" / "iter1" / "model" / "lance_train.json",
            "tsv": res / "benchmarks" / "lance" / "iter1" / "generate.0-of-1.tsv"}[which]
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    err = _report_fails(tmp_path, lay)
    assert f"error: report: {path}" in err and says in err


@pytest.mark.parametrize("summary,field", [
    ({"scores": {"arith": float("nan")}}, "scores.arith"),
    ({"scores": []}, "scores"),
    ({"scores": {}, "items": {"arith": {"ids": ["a"], "scores": [None]}}}, "items.arith.scores[0]"),
    ({"scores": {}, "items": {"arith": {"ids": [["a"]], "scores": [1.0]}}}, "items.arith.ids[0]"),
    ({"scores": {}, "items": {"arith": {"ids": ["a", "b"], "scores": [1.0]}}}, "items.arith: 2 ids but 1 scores"),
    ({"scores": {}, "items": {"arith": {"scores": [1.0], "datasets": {"a": "1"}}}}, "items.arith.datasets.a"),
    ({"scores": {}, "provenance": {"arith": "opencompass"}}, "provenance.arith"),
])
def test_a_summary_of_the_wrong_shape_names_the_field(tmp_path, summary, field):
    path = tmp_path / "summary.json"
    path.write_text(json.dumps(summary))
    with pytest.raises(InputError, match=rf"^{path}: field {re.escape(field)}"):
        rload.load_summary(path)


def test_sound_report_inputs_read_as_before(tmp_path):
    assert rload.load_summary(tmp_path / "none.json") is None
    s = fake_summary({"arith": 0.5}, 10)
    (tmp_path / "s.json").write_text(json.dumps(s))
    assert rload.load_summary(tmp_path / "s.json") == s
    (tmp_path / "t.tsv").write_text("s\th:m:s\n1.5\t0:00:01\n")
    (tmp_path / "e.tsv").write_text("")
    assert rload.read_times({"r": {"x": [str(tmp_path / "t.tsv"), str(tmp_path / "e.tsv")]}}) == {"r": {"x": 1.5}}


def test_a_garbled_paper_table_names_the_file(tmp_path):
    bad = tmp_path / "paper.csv"
    bad.write_text("backbone,method\nQwen2-7B,lance,7,extra,cols\n")
    with pytest.raises(InputError, match=str(bad)):
        paper_tables.load_paper(bad)


def test_cost_table_puts_predicted_beside_measured_per_stage_over_the_runs_both_know():
    from lancekit.report.stages import cost_table

    predicted = {"base": {"evaluate": 100.0}, "iter0": {"train_sft": 50.0, "evaluate": 100.0},
                 "lance/iter1": {"generate": 200.0, "train_sft": 40.0, "evaluate": 100.0}}
    measured = {"base": {"evaluate": 130.0}, "iter0": {"train_sft": 45.0, "evaluate": 90.0},
                "lance/iter1": {"generate": 260.0, "clean": 3.0}}  # its evaluation has not run yet
    t = {r["stage"]: r for r in cost_table(measured, predicted).to_dicts()}
    assert list(t) == ["generate", "train_sft", "evaluate", "total"]  # clean is not priced
    assert t["evaluate"] == {"stage": "evaluate", "runs": 2, "predicted s": 200.0, "measured s": 220.0,
                             "measured / predicted": pytest.approx(1.1)}
    assert t["train_sft"]["runs"] == 1 and t["train_sft"]["measured / predicted"] == pytest.approx(0.9)
    assert t["total"]["predicted s"] == 450.0 and t["total"]["measured s"] == 525.0
    assert cost_table({}, predicted).is_empty()
