from lancekit.data.judge import HealthLimits
from lancekit.data.records import cumulative
from lancekit.methods.lance import AnnotateSettings, annotate, cap, high_seeds, next_seed, select_dpo, select_sft


def rec(id_, score, branch="low", parent="s1", prompt="Some instruction text", response="Some response text", it=1):
    return {"id": id_, "prompt": prompt, "response": response, "review": {"score": score},
            "lineage": {"iteration": it, "parent_id": parent, "root_id": "r-" + parent, "branch": branch}}


def test_sft_threshold_is_strict_and_needs_a_score():
    items = [rec("a", 8.0), rec("b", 8.0001), rec("c", None), rec("d", 9.0, prompt="short"),
             rec("e", 9.5, branch="high"), rec("f", 10.0)]
    out, left = select_sft(items, 8.0, 5, "SYS")
    assert [o["id"] for o in out] == ["b", "f"]
    assert left == {"no_score": 1, "score_not_above_threshold": 1, "too_short": 1}
    assert out[0] == {"instruction": "Some instruction text", "input": "", "output": "Some response text",
                      "system": "SYS", "id": "b", "root_id": "r-s1", "parent_id": "s1", "iteration": 1}


def seed(id_, score):
    return {"id": id_, "prompt": "Q " + id_, "response": "original " + id_, "review": {"score": score},
            "lineage": {"iteration": 0, "parent_id": None, "root_id": id_}}


def neg(id_, parent, score):
    return rec(id_, score, branch="high", parent=parent, prompt="Q " + parent, response="neg " + id_)


def test_dpo_gap_exactly_two_is_no_pair_and_negative_can_be_chosen():
    s = seed("s1", 9.0)
    negs = [neg("n1", "s1", 7.0), neg("n2", "s1", 4.0), neg("n3", "s1", 6.0), neg("n4", "s1", None)]
    pairs = select_dpo([s], negs, 2.0)
    # rejected = n2 (4.0); chosen: n1 (7.0, gap 3), s1 (9.0, gap 5); n3 (gap exactly 2.0) no pair
    assert [(p["chosen"]["value"], p["rejected"]["value"]) for p in pairs] == [
        ("neg n1", "neg n2"), ("original s1", "neg n2")]
    assert pairs[0]["conversations"] == [{"from": "human", "value": "Q s1"}]
    assert pairs[0]["chosen_score"] == 7.0 and pairs[0]["rejected_score"] == 4.0


def test_dpo_rounded_thirds_gap_is_exactly_two():
    pairs = select_dpo([seed("s1", 8.3333)], [neg("n1", "s1", 6.3333)], 2.0)
    assert pairs == []


def test_dpo_original_can_be_rejected_and_no_candidates():
    pairs = select_dpo([seed("s1", 7.5)], [neg("n1", "s1", 10.0)], 2.0)
    assert [(p["chosen"]["value"], p["rejected"]["value"]) for p in pairs] == [("neg n1", "original s1")]
    assert select_dpo([seed("s2", 9.0)], [neg("n1", "s2", None)], 2.0) == []
    # up to 4 pairs per prompt: 4 negatives + the original are 5 candidates, 1 rejected, 4 chosen
    negs = [neg(f"n{i}", "s3", 9.0 + i * 0.1) for i in range(4)]
    pairs = select_dpo([seed("s3", 10.0)], negs + [neg("low", "s3", 1.0)][:0], 2.0)
    assert pairs == []  # every candidate within 2 points of the lowest (9.0): no pair
    pairs = select_dpo([seed("s3", 1.0)], negs, 2.0)
    assert len(pairs) == 4 and {p["rejected"]["value"] for p in pairs} == {"original s3"}
    assert sorted(p["chosen"]["value"] for p in pairs) == [f"neg n{i}" for i in range(4)]
    # a fifth negative (more samples than the paper's 4) would make a fifth pair: nothing caps it
    # silently, so the count follows the candidates
    assert len(select_dpo([seed("s3", 1.0)], negs + [neg("n4", "s3", 9.9)], 2.0)) == 5


def test_cumulative_union_shuffled_reproducibly():
    prev = [{"id": "a", "v": 1}, {"id": "b", "v": 1}]
    new = [{"id": "b", "v": 2}, {"id": "c", "v": 2}]
    one, two = cumulative(new, prev, 5), cumulative(new, prev, 5)
    assert one == two and sorted(r["id"] for r in one) == ["a", "b", "c"]
    assert [r for r in one if r["id"] == "b"][0]["v"] == 2


def test_next_seed_is_new_items_plus_base():
    new = [rec("x", 9.0), rec("y", None)]
    base = [seed("s1", 6.0), seed("s2", 8.0)]
    nxt, left_out = next_seed(new, base, None, 1)
    assert [r["id"] for r in nxt] == ["x", "y", "s1", "s2"] and left_out == 0


def test_next_seed_limit_caps_new_items_only_and_seed0_never_decays():
    """Three iterations with a cap of 3: Seed_0 (4 records) stays whole every time."""
    seed0 = [seed(f"s{i}", 5.0) for i in range(4)]
    current = seed0
    for t in (1, 2, 3):
        new = [rec(f"t{t}-{k}", 9.0, parent=f"s{k % 4}", it=t) for k in range(10)]
        current, left_out = next_seed(new, [s for s in current if s["lineage"]["iteration"] == 0], 3, t)
        assert left_out == 7
        assert [r["id"] for r in current if r["lineage"]["iteration"] == 0] == [s["id"] for s in seed0]
        assert sum(1 for r in current if r["lineage"]["iteration"] == t) == 3
    assert len(current) == 7


def test_annotate_stage_counts_the_base_share():
    seeds = [seed("s1", 9.0), seed("s2", 3.0)]
    new = [rec(f"n{k}", 9.0, parent="s2") for k in range(5)] + [neg("g1", "s1", 2.0)]
    cfg = AnnotateSettings(sft_threshold=8.0, dpo_gap=2.0, min_chars=5, next_seed="seed0", next_seed_limit=2,
                           shuffle_seed=1, health=HealthLimits())
    out, stats = annotate(seeds, new, [], [], "SYS", cfg, 1)
    assert len(out["new_sft"]) == 5 and len(out["new_dpo"]) == 1
    assert stats["high_seeds"] == 1  # s1, the parent of the one negative
    assert stats["next_seed"] == 4 and stats["next_seed_base"] == 2 and stats["next_seed_new"] == 2
    assert stats["next_seed_base_share"] == 0.5 and stats["next_seed_left_out"] == 4
    assert {r["id"] for r in out["next_seed"]} >= {"s1", "s2"}


def test_cap_is_a_seeded_sample_in_input_order():
    recs = [{"id": f"r{i}"} for i in range(50)]
    a = cap(recs, 10, 7)
    assert len(a) == 10 and a == cap(recs, 10, 7)
    assert [r["id"] for r in a] == sorted((r["id"] for r in a), key=lambda x: int(x[1:]))
    assert a != cap(recs, 10, 8)
    assert cap(recs, None, 7) == recs and cap(recs, 80, 7) == recs


def test_the_high_seeds_are_the_parents_of_the_negatives_not_a_new_split():
    """annotate does not split the seed again: a seed above any threshold without negatives (the
    SFT-only ablation, or negatives all dropped by clean) is no high seed; the pairs are the same."""
    seeds = [seed("s1", 9.0), seed("s2", 9.5), seed("s3", 3.0)]
    negs = [neg("g1", "s2", 2.0), neg("g2", "s2", 3.0)]
    assert [s["id"] for s in high_seeds(seeds, negs)] == ["s2"]
    assert high_seeds(seeds, []) == []
    assert select_dpo(high_seeds(seeds, negs), negs, 2.0) == select_dpo(seeds[:2], negs, 2.0)
    cfg = AnnotateSettings(8.0, 2.0, 5, "seed0", None, 1, HealthLimits())
    assert annotate(seeds, [rec("n1", 9.0, parent="s3")], [], [], "SYS", cfg, 1)[1]["high_seeds"] == 0
