"""Training-seed replicates (train.seeds): their run keys (lancekit.methods.runs), which exist
and where their models lie (lancekit.pipeline.layout), the seed their jobs train with
(lancekit.training.settings) and the report's spread table (lancekit.report.spread)."""

import json
import re

import pytest
import yaml

from lance_testing import ROOT
from lancekit.methods import runs
from lancekit.pipeline import layout
from lancekit.report import page, spread
from lancekit.report.markdown import to_markdown
from lancekit.training.settings import TEMPLATE_SEED, seed_problems, stage_settings

MODEL = {"template": "qwen", "default_system": None, "trust_remote_code": False}


def test_replicate_keys_parse_back_and_match_the_workflow_pattern():
    assert runs.replicate_key("lance/iter2", 7) == "lance/iter2/seed7"
    assert runs.replicate_key("iter0", 1) == "iter0/seed1"
    assert runs.split_seed("lance/iter2/seed7") == ("lance/iter2", 7)
    assert runs.split_seed("iter0/seed0") == ("iter0", 0)
    assert runs.split_seed("spin/iter1") == ("spin/iter1", None) and runs.split_seed("base") == ("base", None)
    for bad in ("base/seed1", "lance/iter0/seed1", "lance/iter2/seedx/seed1"):
        with pytest.raises(ValueError):
            runs.split_seed(bad)
    for bad in ("base", "lance/iter1/seed2"):
        with pytest.raises(ValueError):
            runs.replicate_key(bad, 3)
    with pytest.raises(ValueError):  # parse_run itself stays the main chain's
        runs.parse_run("lance/iter1/seed2")
    pat = re.compile(runs.pattern(["lance", "spin"]))
    for key in ("base", "iter0", "iter0/seed3", "lance/iter1", "spin/iter12/seed42"):
        assert pat.fullmatch(key), key
    for key in ("base/seed1", "i_sheep/iter1/seed1", "lance/iter0", "lance/iter1/seed"):
        assert not pat.fullmatch(key), key


def test_which_replicates_exist():
    config = {"train": {"m0": True, "seeds": [1, 2]}}
    reps = layout.replicates(config, ["base", "iter0", "lance/iter1"])
    assert reps == {"iter0": {"1": "results/iter0/seed1/eval/summary.json",
                              "2": "results/iter0/seed2/eval/summary.json"},
                    "lance/iter1": {"1": "results/lance/iter1/seed1/eval/summary.json",
                                    "2": "results/lance/iter1/seed2/eval/summary.json"}}
    # M_0 is the base model itself without train.m0: nothing to train again
    assert list(layout.replicates({"train": {"m0": False, "seeds": [1]}}, ["base", "iter0", "spin/iter1"])) == \
        ["spin/iter1"]
    assert layout.replicates({"train": {"m0": True, "seeds": []}}, ["base", "iter0", "lance/iter1"]) == {}
    assert layout.replicate_model("iter0", 1) == "results/iter0/seed1/sft_model"
    assert layout.replicate_model("lance/iter2", 3) == "results/lance/iter2/seed3/model"
    assert layout.replicate_model("i_sheep/iter1", 3) == "results/i_sheep/iter1/seed3/sft_model"


def test_the_report_layout_names_the_replicates_as_inputs():
    config = {"methods": ["lance"], "iters": 1, "shards": 1, "train": {"m0": True, "seeds": [5]},
              "report": {"paper": None, "paper_backbone": "Qwen2-7B", "headline_iteration": 4}}
    lay = layout.report_layout(config)
    assert lay["replicates"] == {"iter0": {"5": "results/iter0/seed5/eval/summary.json"},
                                 "lance/iter1": {"5": "results/lance/iter1/seed5/eval/summary.json"}}
    assert "results/lance/iter1/seed5/eval/summary.json" in layout.report_inputs(lay)["replicates"]
    assert "results/lance/iter1/seed5/eval/summary.json" not in lay["summaries"].values()


def test_a_replicate_trains_with_its_own_seed_and_train_seeds_reaches_no_job():
    train = {"m0": True, "seeds": [1, 2], "seed": 42, "learning_rate": 1e-5,
             "sft": {"seed": 3, "extra": {"seed": 4}}, "extra": {"seed": 5, "optim": "adamw_torch"}}
    config = {"train": train, "model": MODEL}
    main = stage_settings(config, "sft", "lance", 1)
    assert "seeds" not in main and main["seed"] == 42 and main["sft"]["seed"] == 3
    rep = stage_settings(config, "sft", "lance", 1, seed=7)
    assert rep["seed"] == 7 and "seed" not in rep["sft"] and "seed" not in rep["sft"]["extra"]
    assert rep["extra"] == {"optim": "adamw_torch"} and rep["learning_rate"] == 1e-5
    # the main chain's settings do not depend on train.seeds: changing it reruns no model
    assert stage_settings({"train": {**train, "seeds": []}, "model": MODEL}, "sft", "lance", 1) == main


def summary(**scores):
    return {"scores": scores}


def test_spread_statistics():
    sp = spread.spread([50.0, 52.0, None, 54.0])
    assert sp["n"] == 3 and sp["mean"] == pytest.approx(52.0) and sp["sd"] == pytest.approx(2.0)
    assert sp["range"] == pytest.approx(4.0)
    assert spread.spread([50.0]) == {"n": 1, "mean": 50.0, "sd": None, "range": None}
    assert spread.spread([None]) == {"n": 0, "mean": None, "sd": None, "range": None}


def test_spread_table_per_model_and_benchmark():
    summaries = {"base": summary(arith=10.0, mc=30.0), "iter0": summary(arith=20.0, mc=40.0),
                 "lance/iter1": summary(arith=30.0, mc=50.0)}
    replicates = {"iter0": {1: summary(arith=22.0, mc=40.0), 2: summary(arith=18.0, mc=41.0)},
                  "lance/iter1": {1: summary(arith=26.0, mc=52.0)}}  # seed 2 not evaluated yet
    rows = [("base", "base"), ("SFT (M_0)", "iter0"), ("LANCE (M_1)", "lance/iter1")]
    t = spread.spread_table(summaries, replicates, rows, ["arith", "mc", "avg"], {"avg": ["arith", "mc"]})
    assert t.columns == ["model", "benchmark", "main", "seed 1", "seed 2", "mean", "SD", "range", "n"]
    assert t["model"].to_list() == ["SFT (M_0)"] * 3 + ["LANCE (M_1)"] * 3  # base is not trained
    m0_avg = t.row(2, named=True)
    assert m0_avg["benchmark"] == "Avg" and m0_avg["main"] == 30.0 and m0_avg["seed 1"] == 31.0
    assert m0_avg["seed 2"] == 29.5 and m0_avg["mean"] == pytest.approx(30.17, abs=0.01)
    assert m0_avg["range"] == 1.5 and m0_avg["n"] == 3
    lance_arith = t.row(3, named=True)
    assert lance_arith["seed 2"] is None and lance_arith["n"] == 2 and lance_arith["SD"] == pytest.approx(2.83)
    md = to_markdown(t)
    assert "| model | benchmark | main | seed 1 | seed 2 | mean | SD | range | n |" in md
    assert "| LANCE (M_1) | Avg | 40.00 | 39.00 | – | 39.50 | 0.71 | 1.00 | 2 |" in md, md
    assert spread.spread_table(summaries, {}, rows, ["arith"], {}).is_empty()


def test_the_report_shows_the_spread_of_the_headline_models(tmp_path):
    def write(run, **scores):
        path = tmp_path / run / "summary.json"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(summary(**scores)))
        return str(path)

    lay = {"methods": ["lance"], "iters": {"lance": 1}, "stats": {"lance": {}}, "train": {"": {}, "lance": {}},
           "times": {}, "paper": None, "paper_backbone": "Qwen2-7B", "headline_iteration": 4,
           "summaries": {"base": write("base", arith=10.0), "iter0": write("iter0", arith=20.0),
                         "lance/iter1": write("lance/iter1", arith=30.0)},
           "replicates": {"lance/iter1": {"1": write("lance/iter1/seed1", arith=28.0),
                                          "2": str(tmp_path / "not_yet.json")}}}
    md = "\n".join(page.seed_section(page.Report(lay)))
    assert "### Training-seed spread" in md and "do not cover this spread" in md
    assert "| LANCE (M_1) | arith | 30.00 | 28.00 | 29.00 | 1.41 | 2.00 | 2 |" in md, md
    assert page.seed_section(page.Report({**lay, "replicates": {}})) == []


def test_the_main_chains_own_seed_is_no_replicate():
    for stage in ("sft", "dpo"):  # the seed the main chain trains with when train.seed is unset
        assert yaml.safe_load((ROOT / f"config/train/{stage}.yaml").read_text())["seed"] == TEMPLATE_SEED
    assert seed_problems({"seeds": [1, 2]}) == [] and seed_problems({"seed": 42, "seeds": [1]}) == []
    assert "config/train/*.yaml" in seed_problems({"seeds": [1, 42]})[0]
    assert "train.seed" in seed_problems({"seed": 3, "seeds": [3]})[0]
