from lancekit import report as rp
from lancekit.contamination import overlaps


def test_eval_table_rows_and_change_vs_m0():
    s = {"base": {"scores": {"arith": 10.0, "mc": 30.0}, "mean": 20.0},
         "iter0": {"scores": {"arith": 12.0, "mc": 30.0}, "mean": 21.0},
         "iter1": {"scores": {"arith": 14.0, "mc": 31.0}, "mean": 22.5}}
    df = rp.eval_table(s)
    assert df["model"].to_list() == ["base", "M_0", "M_1"]
    assert df["Δmean vs M_0"].to_list() == [-1.0, 0.0, 1.5]
    md = rp.to_markdown(df)
    assert md.splitlines()[0] == "| model | arith | mc | mean | Δmean vs M_0 |"
    assert "| M_1 | 14.00 | 31.00 | 22.50 | 1.50 |" in md


def test_funnel_and_drop_tables():
    stats = {1: {"review_seed": {"records_in": 10},
                 "generate": {"instruction_samples": 24, "responses": 40, "negative_samples": 16,
                              "split": {"low": 6, "high": 4}},
                 "clean": {"instructions_out": 9, "responses_out": 12, "negatives_out": 7,
                           "drops": {"response": {"response_truncated": 3}, "group": {}}},
                 "review_new": {"records_in": 19}, "annotate": {"sft_new": 2, "dpo_new": 1, "sft_total": 12,
                                                                "dpo_total": 1, "next_seed": 29,
                                                                                "next_seed_base_share": 0.3448}}}
    f = rp.funnel_table(stats)
    assert f.row(0, named=True)["low"] == 6 and f.row(0, named=True)["SFT total"] == 12
    assert f.row(0, named=True)["Seed_0 share"] == 0.3448
    assert rp.funnel_table({}).is_empty() and "Seed_0 share" in rp.funnel_table({}).columns  # iters: 0
    d = rp.drop_table(stats)
    assert d.rows() == [(1, "response", "response_truncated", 3)]


def test_contamination_finds_copied_questions_only():
    seed = ["A train leaves the station at 9 am travelling at 60 km per hour towards the coast. When?"]
    qs = ["a train leaves the station at 9 am travelling at 60 km per hour towards the coast",
          "How many apples are left if Tom eats two of his five apples?"]
    hits = overlaps(qs, seed)
    assert [h["item"] for h in hits] == [0] and hits[0]["seed"] == 0


def test_training_table_and_item_resolution():
    infos = {(1, "DPO"): {"skipped": True, "reason": "empty DPO set", "n_examples": 0}, (1, "SFT"): {},
             (0, "SFT"): {"skipped": False, "n_examples": 32, "steps": 4, "first_loss": 2.5,
                          "final_loss": 2.25, "seconds": 150.0}}
    df = rp.training_table(infos)
    assert list(zip(df["iter"], df["stage"])) == [(0, "SFT"), (1, "SFT"), (1, "DPO")]
    assert df.row(0, named=True)["final loss"] == 2.25 and df.row(0, named=True)["note"] == ""
    assert df.row(2, named=True)["note"] == "skipped: empty DPO set"
    assert rp.training_table({(1, "DPO"): {"skipped": True, "reason": "skipped: empty dataset"}}).row(
        0, named=True)["note"] == "skipped: empty dataset"
    line = rp.item_resolution({"base": {"n_items": {"arith": 30, "mc": 20}}})
    assert line == "Scored on arith: 30 items, one item = 3.33 points; mc: 20 items, one item = 5.00 points.\n"
    assert rp.item_resolution({"base": {}}) == ""


def test_judge_table_shows_label_separation():
    sep = {"labels": {"good": {"mean_score": 6.92}, "mediocre": {"mean_score": 6.05}},
           "auc_good_vs_mediocre": {"auc": 0.6086, "low": 0.3743, "high": 0.8171}}
    stats = {1: {"review_seed": {"votes": 96, "parse_failure_rate": 0.0, "records_without_score": 0,
                                 "mean_score": 6.7, "by_label": sep},
                 "review_new": {"votes": 60, "parse_failure_rate": 0.0, "records_without_score": 0, "mean_score": 7.0}},
             2: {"review_seed": {"reused_scores": True, "votes": 96, "by_label": sep}}}
    df = rp.judge_table(stats)
    rows = df.rows(named=True)
    assert rows[0]["AUC good vs mediocre [95% CI]"] == "0.61 [0.37, 0.82]"
    assert rows[0]["mean good"] == 6.92 and rows[1]["AUC good vs mediocre [95% CI]"] is None
    assert rows[2]["stage"] == "review_seed (stored scores)"


def test_report_of_a_run_without_iterations(tmp_path):
    """iters: 0 is a valid run: the report shows base and M_0 (it crashed after all the work once)."""
    import json
    import os
    import subprocess
    import sys

    from lance_testing import ROOT

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
    layout = {"summaries": {r: str(res / r / "eval" / "summary.json") for r in ("base", "iter0")}, "stats": {},
              "train": {"0/SFT": str(model)}, "benchmarks": str(res / "benchmarks")}
    out = {k: str(res / "report" / f) for k, f in (("md", "report.md"), ("eval_plot", "eval.png"),
                                                   ("funnel", "funnel.png"), ("loss", "loss.png"),
                                                   ("judge", "judge.png"))}
    job = {"input": {}, "output": out, "wildcards": {}, "params": {}}
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), MPLCONFIGDIR=str(tmp_path / "mpl"))
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "report.py"), json.dumps(job),
                           json.dumps({"layout": layout})], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    md = (res / "report" / "report.md").read_text()
    assert "# lance report: 0 iteration(s)" in md
    assert "| base | 10.00 | 10.00 | -10.00 |" in md and "| M_0 | 20.00 | 20.00 | 0.00 |" in md
    assert "| 0 | SFT | 32 | 2 | 2.500 | 2.100 |" in md
    for png in out.values():
        if png.endswith(".png"):
            assert os.path.getsize(png) > 1000
