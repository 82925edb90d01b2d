"""Integration: the five data stages of iteration 1 through Snakemake on the real vLLM engine and
the converted default model (tiny settings: tests/config/data_stages.yaml)."""

import json

import pytest
from workflow import run_snakemake

TARGETS = ["results/iter1/sft.json", "results/iter1/dpo.json", "results/iter1/dataset_info.json",
           "results/iter1/next_seed.json"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    wd = tmp_path_factory.mktemp("data_stages")
    run_snakemake(wd, "tests/config/data_stages.yaml", *TARGETS)
    return wd / "results"


def load(p):
    return json.loads(p.read_text())


def test_every_stage_file_exists(run):
    for name in ("reviewed_seed", "raw", "cleaned", "clean_drops", "reviewed_new", "sft", "dpo",
                 "new_sft", "new_dpo", "dataset_info", "next_seed"):
        assert isinstance(load(run / f"iter1/{name}.json"), (list, dict)), name
    for stage in ("review_seed", "generate", "clean", "review_new", "annotate"):
        assert (run / f"iter1/stats/{stage}.json").is_file()
    assert not list(run.glob("iter1/.*.part")), "no partial files left behind"


def test_review_seed_from_the_real_engine(run):
    reviewed, stats = load(run / "iter1/reviewed_seed.json"), load(run / "iter1/stats/review_seed.json")
    assert len(reviewed) == stats["records_in"] == 12
    for r in reviewed:
        rv = r["review"]
        assert len(rv["texts"]) == 2 and rv["n_parsed"] + rv["n_failed"] == 2
        assert (rv["score"] is None) == (rv["n_parsed"] == 0)
        assert rv["judge"].endswith("results/base_model")
    assert stats["votes"] == 24 and stats["generated_tokens"] > 0
    assert stats["split"]["low"] + stats["split"]["high"] == 12
    assert sum(stats["score_histogram"].values()) == 12


def test_generate_and_clean_counts_add_up(run):
    raw, g = load(run / "iter1/raw.json"), load(run / "iter1/stats/generate.json")
    assert len(raw) == g["low_seeds"] + g["high_seeds"] == 12
    assert g["instruction_samples"] == 2 * g["low_seeds"] and g["negative_samples"] == 2 * g["high_seeds"]
    for grp in raw:
        for s in grp.get("instructions", []) + grp.get("negatives", []):
            assert s["finish_reason"] in ("stop", "length") and "raw" in s
    c = load(run / "iter1/stats/clean.json")
    d = c["drops"]
    assert c["instructions_in"] == g["instruction_samples"]
    assert c["instructions_in"] == c["instructions_out"] + sum(d["instruction"].values())
    assert c["responses_in"] == c["responses_out"] + sum(d["response"].values()) + c["responses_dropped_with_instruction"]
    assert c["negatives_in"] == c["negatives_out"] + sum(d["negative"].values())
    assert c["groups_in"] == c["groups_out"] + d["group"].get("group_empty", 0)
    drops = load(run / "iter1/clean_drops.json")
    assert len(drops) == sum(sum(v.values()) for v in d.values())
    assert len(load(run / "iter1/cleaned.json")) == c["records_out"]


def test_truncated_text_never_becomes_training_data(run):
    raw = load(run / "iter1/raw.json")
    truncated = {s["id"] for grp in raw for i in grp.get("instructions", []) for s in i["responses"]
                 if s["finish_reason"] == "length"}
    truncated |= {s["id"] for grp in raw for s in grp.get("negatives", []) if s["finish_reason"] == "length"}
    kept = {r["id"] for r in load(run / "iter1/cleaned.json")}
    assert not truncated & kept


def test_annotate_outputs_and_lineage(run):
    new = load(run / "iter1/reviewed_new.json")
    assert len(new) == load(run / "iter1/stats/review_new.json")["records_in"]
    seeds = {r["id"] for r in load(run / "iter0/seed.json")}
    sft, new_sft = load(run / "iter1/sft.json"), load(run / "iter1/new_sft.json")
    a = load(run / "iter1/stats/annotate.json")
    assert len(sft) == a["sft_total"] == len(new_sft) + 12       # sft_1 = new ∪ sft_0 (= Seed_0)
    for ex in sft:
        assert set(ex) >= {"instruction", "input", "output", "system", "id", "root_id"}
        assert ex["root_id"] in seeds
    for ex in load(run / "iter1/dpo.json"):
        assert ex["conversations"][0]["from"] == "human"
        assert ex["chosen"]["from"] == ex["rejected"]["from"] == "gpt"
        assert ex["chosen_score"] - ex["rejected_score"] > 0.5 and ex["root_id"] in seeds
    info = load(run / "iter1/dataset_info.json")
    assert info["lance_sft"]["file_name"] == "sft.json" and info["lance_dpo"]["ranking"] is True
    nxt = load(run / "iter1/next_seed.json")
    assert len(nxt) == len(new) + 12 and all("review" in r for r in nxt)
