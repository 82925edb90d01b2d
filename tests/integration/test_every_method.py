"""Every method, one iteration each, in the shared tiny run (tests/integration/e2e.yaml): LANCE's
two data ablations, Self-Instruct, SPIN and I-SHEEP beside LANCE, from the same M_0, on the real
engines; each one's files, training and evaluation, lineage back to Seed_0, and the report."""

import pytest

from workflow import load

METHODS = ("lance", "self_instruct", "spin", "i_sheep", "lance_sft_only", "lance_dpo_only")
# M_1 of each method and the training set it was trained on
MODELS = {"lance": ("model", "dpo"), "lance_dpo_only": ("model", "dpo"), "spin": ("model", "dpo"),
          "lance_sft_only": ("sft_model", "sft"), "self_instruct": ("sft_model", "sft"), "i_sheep": ("sft_model", "sft")}


def seed_ids(run):
    return {r["id"] for r in load(run / "iter0/seed.json")}


@pytest.mark.parametrize("method", METHODS)
def test_every_training_example_traces_back_to_seed_0(run, method):
    seeds = seed_ids(run)
    examples = load(run / f"{method}/iter1/sft.json") + load(run / f"{method}/iter1/dpo.json")
    assert examples, method
    assert all(e["root_id"] in seeds for e in examples), method
    assert len({e["id"] for e in examples}) == len(examples), method


@pytest.mark.parametrize("method", METHODS)
def test_each_method_trained_its_model_and_was_evaluated(run, method):
    folder, data = MODELS[method]
    info = load(run / f"{method}/iter1/{folder}/lance_train.json")
    n = len(load(run / f"{method}/iter1/{data}.json"))
    assert info["skipped"] is False and info["n_examples"] == n > 0 and info["steps"] >= 1, (method, info)
    s = load(run / f"{method}/iter1/eval/summary.json")
    assert s["n_items"] == {"arith": 6, "lance_mc": 6}
    for bench, items in s["items"].items():  # the report's intervals and paired tests need every item
        assert len(items["scores"]) == 6 and s["scores"][bench] == pytest.approx(
            100 * sum(items["scores"]) / 6, abs=0.01), (method, bench)


def test_the_ablations_generate_one_branch_each(run):
    sft_only = load(run / "lance_sft_only/iter1/stats/generate.json")
    dpo_only = load(run / "lance_dpo_only/iter1/stats/generate.json")
    assert sft_only["instruction_samples"] > 0 and sft_only["negative_samples"] == 0
    assert dpo_only["negative_samples"] > 0 and dpo_only["instruction_samples"] == 0
    assert not (run / "lance_sft_only/iter1/model").exists() and not (run / "lance_dpo_only/iter1/sft_model").exists()
    # DPO-data-only trains M_0 itself, with M_0 as the reference (no SFT step in between)
    assert load(run / "lance_dpo_only/iter1/model/lance_train.json")["reference_model"].endswith("iter0/sft_model")


def test_spin_prefers_the_seed_answer_to_the_models_own(run):
    seed = {r["id"]: r for r in load(run / "iter0/seed.json")}
    raw = load(run / "spin/iter1/raw.json")
    assert [g["seed_id"] for g in raw] == list(seed) and all(g["branch"] == "spin" for g in raw)
    pairs = load(run / "spin/iter1/dpo.json")
    own = {r["id"]: r["text"] for g in raw for r in g["responses"]}
    for p in pairs:
        prompt_id, resp_id = p["id"].split(">")
        assert p["chosen"]["value"] == seed[prompt_id]["response"] and p["rejected"]["value"] == own[resp_id]
    assert load(run / "spin/iter1/model/lance_train.json")["reference_model"].endswith("iter0/sft_model")


def test_self_instruct_and_i_sheep_write_new_tasks_from_examples(run):
    for method in ("self_instruct", "i_sheep"):
        g = load(run / f"{method}/iter1/stats/generate.json")
        assert g["low_seeds"] == 10 and g["instruction_samples"] == 40 and g["instructions_parsed"] > 0, method
        c = load(run / f"{method}/iter1/stats/clean.json")
        assert c["records_out"] > 0, method
    # I-SHEEP kept only what its own judge scored at least the threshold, and trained from M_0
    kept = load(run / "i_sheep/iter1/new_sft.json")
    scores = {r["id"]: r["review"]["score"] for r in load(run / "i_sheep/iter1/reviewed_new.json")}
    assert kept and all(scores[e["id"]] >= 5.0 for e in kept)
    assert sum(1 for s in scores.values() if s is not None and s >= 5.0) == len(kept)
    assert load(run / "i_sheep/iter1/sft_model/lance_train.json")["base_model"].endswith("iter0/sft_model")


def test_the_report_compares_every_method(run):
    md = (run / "report/report.md").read_text()
    for name in ("LANCE", "Self-Instruct", "SPIN", "I-SHEEP", "SFT data only", "DPO data only"):
        assert name in md, name
    assert "vs M_0" in md and ("not significant" in md or "significant" in md)
    assert (run / "report/avg_by_iteration.png").stat().st_size > 1000
    table = (run / "report/eval_table.csv").read_text()
    assert all(m in table for m in METHODS)
