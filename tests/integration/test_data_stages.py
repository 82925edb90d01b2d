"""Integration: the five data stages of iteration 1 on the real vLLM engine, M_0 as generator
and judge (the shared tiny run, tests/integration/e2e.yaml)."""

from workflow import load

SEEDS = 10  # seed.limit of e2e.yaml
VOTES = 2   # review.samples of e2e.yaml


def test_every_stage_file_exists(run):
    for name in ("reviewed_seed", "raw", "cleaned", "clean_drops", "reviewed_new", "sft", "dpo",
                 "new_sft", "new_dpo", "dataset_info", "next_seed"):
        assert isinstance(load(run / f"lance/iter1/{name}.json"), (list, dict)), name
    for stage in ("review_seed", "generate", "clean", "review_new", "annotate"):
        assert (run / f"lance/iter1/stats/{stage}.json").is_file()
    assert not list(run.rglob("*.part")), "no partial files left behind"


def test_every_vote_of_the_constrained_judge_parses(run):
    reviewed, stats = load(run / "lance/iter1/reviewed_seed.json"), load(run / "lance/iter1/stats/review_seed.json")
    assert len(reviewed) == stats["records_in"] == SEEDS
    for r in reviewed:
        rv = r["review"]
        assert rv["mode"] == "constrained" and len(rv["texts"]) == VOTES
        assert rv["n_parsed"] == VOTES and rv["n_failed"] == 0 and rv["score"] is not None
        assert all(t.startswith("score: ") and 0 <= int(t.split()[1]) <= 10 for t in rv["texts"])
        assert rv["judge"] == "results/iter0/sft_model"
    assert stats["votes"] == SEEDS * VOTES and stats["parse_failure_rate"] == 0.0
    # the shipped seed labels its records: the stats say how well the judge separates them
    sep = stats["by_label"]
    assert set(sep["labels"]) == {"good", "mediocre"}
    auc = sep["auc_good_vs_mediocre"]
    assert 0.0 <= auc["low"] <= auc["auc"] <= auc["high"] <= 1.0
    new = load(run / "lance/iter1/stats/review_new.json")
    assert new["votes"] == new["records_in"] * VOTES > 0 and new["parse_failure_rate"] == 0.0


def test_generate_and_clean_counts_add_up(run):
    raw, g = load(run / "lance/iter1/raw.json"), load(run / "lance/iter1/stats/generate.json")
    assert len(raw) == g["low_seeds"] + g["high_seeds"] == SEEDS
    assert g["low_seeds"] > 0 and g["high_seeds"] > 0, "both branches must be exercised"
    assert g["split"]["low"] == g["low_seeds"] and g["split"]["threshold"] == 6.0
    assert g["instruction_samples"] == 2 * g["low_seeds"] and g["negative_samples"] == 4 * g["high_seeds"]
    for grp in raw:
        for s in grp.get("instructions", []) + grp.get("negatives", []):
            assert s["finish_reason"] in ("stop", "length") and "raw" in s
    c = load(run / "lance/iter1/stats/clean.json")
    d = c["drops"]
    assert c["instructions_in"] == g["instruction_samples"]
    assert c["instructions_in"] == c["instructions_out"] + sum(d["instruction"].values())
    assert c["responses_in"] == c["responses_out"] + sum(d["response"].values()) + c["responses_dropped_with_instruction"]
    assert c["negatives_in"] == c["negatives_out"] + sum(d["negative"].values())
    assert c["groups_in"] == c["groups_out"] + d["group"].get("group_empty", 0)
    drops = load(run / "lance/iter1/clean_drops.json")
    assert len(drops) == sum(sum(v.values()) for v in d.values())
    assert len(load(run / "lance/iter1/cleaned.json")) == c["records_out"] > 0


def test_truncated_text_never_becomes_training_data(run):
    raw = load(run / "lance/iter1/raw.json")
    truncated = {s["id"] for grp in raw for i in grp.get("instructions", []) for s in i["responses"]
                 if s["finish_reason"] == "length"}
    truncated |= {s["id"] for grp in raw for s in grp.get("negatives", []) if s["finish_reason"] == "length"}
    kept = {r["id"] for r in load(run / "lance/iter1/cleaned.json")}
    assert not truncated & kept


def test_annotate_outputs_and_lineage(run):
    new = load(run / "lance/iter1/reviewed_new.json")
    assert len(new) == load(run / "lance/iter1/stats/review_new.json")["records_in"]
    seed0 = load(run / "iter0/seed.json")
    seeds = {r["id"] for r in seed0}
    sft, new_sft = load(run / "lance/iter1/sft.json"), load(run / "lance/iter1/new_sft.json")
    a = load(run / "lance/iter1/stats/annotate.json")
    assert len(new_sft) > 0, "the test settings must yield SFT data"
    assert len(sft) == a["sft_total"] == len(new_sft) + SEEDS       # sft_1 = new ∪ sft_0 (= Seed_0)
    for ex in sft:
        assert set(ex) >= {"instruction", "input", "output", "system", "id", "root_id"}
        assert ex["root_id"] in seeds
    dpo = load(run / "lance/iter1/dpo.json")
    assert len(dpo) == a["dpo_new"] > 0, "the test settings must yield DPO pairs"
    for ex in dpo:
        assert ex["conversations"][0]["from"] == "human"
        assert ex["chosen"]["from"] == ex["rejected"]["from"] == "gpt"
        assert ex["chosen_score"] - ex["rejected_score"] > 0.5 and ex["root_id"] in seeds
    info = load(run / "lance/iter1/dataset_info.json")
    assert info["lance_sft"]["file_name"] == "sft.json" and info["lance_dpo"]["ranking"] is True
    # the next seed: at most next_seed_limit (4) new items, and the whole of Seed_0
    nxt = load(run / "lance/iter1/next_seed.json")
    new_in_next = [r for r in nxt if r["lineage"]["iteration"] == 1]
    assert len(new_in_next) == min(len(new), 4) and len(new) > 4, "the cap must be exercised"
    assert {r["id"] for r in nxt if r["lineage"]["iteration"] == 0} == seeds
    assert all("review" in r for r in nxt)
    assert a["next_seed_base"] == SEEDS and a["next_seed_left_out"] == len(new) - 4
