from lancekit.data.clean import CleanRules, clean_high_group, clean_low_group

RULES = CleanRules()
SEED_PROMPT = "Explain how a rainbow forms after a summer storm in the afternoon"
SEED_RESPONSE = ("Sunlight enters raindrops, bends, reflects inside them and bends again on the way "
                 "out, splitting white light into its colours.")


def ins(i, text, responses, finish="stop"):
    return {"id": f"i{i}", "text": text, "finish_reason": finish,
            "responses": [{"id": f"i{i}r{j}", "text": t, "finish_reason": f} for j, (t, f) in enumerate(responses)]}


def low_group(instructions):
    return {"seed_id": "s", "prompt": SEED_PROMPT, "response": SEED_RESPONSE, "instructions": instructions}


GOOD_R1 = "Bread rises because yeast eats sugar and releases carbon dioxide gas that gets trapped in gluten."
GOOD_R2 = "Kneading builds a stretchy gluten network; proofing gives yeast time to fill it with small bubbles."


def test_single_instruction_group_is_still_checked():
    # The reference skips instruction checks when a group has exactly one instruction; we do not.
    g = low_group([ins(0, SEED_PROMPT + " today", [(GOOD_R1, "stop")])])
    kept, drops = clean_low_group(g, RULES)
    assert kept == []
    assert {(d["id"], d["reason"]) for d in drops} == {("i0", "instruction_similar_to_seed"), ("s", "group_empty")}


def test_length_limits_and_boundaries():
    four = "one two three four"
    five = "why does bread dough rise"
    g = low_group([ins(0, four, [(GOOD_R1, "stop")]), ins(1, five, [("nine words is not enough for a response here", "stop"),
                                                                    ("ten words is exactly enough for a response right here", "stop")])])
    kept, drops = clean_low_group(g, RULES)
    reasons = {d["id"]: d["reason"] for d in drops}
    assert reasons["i0"] == "instruction_too_short"
    assert reasons["i1r0"] == "response_too_short"
    assert [k["id"] for k in kept] == ["i1r1"]
    long = " ".join(["word"] * 4097)
    kept, drops = clean_low_group(low_group([ins(0, long, [])]), RULES)
    assert drops[0]["reason"] == "instruction_too_long"


def test_similarity_to_earlier_kept_items_and_no_response_left():
    a = "How does yeast make bread dough rise in a warm kitchen"
    b = "How does yeast make bread dough rise in a cold kitchen"     # near copy of a
    c = "Describe three ways to store fresh herbs so they last longer"
    g = low_group([
        ins(0, a, [(GOOD_R1, "stop"), (GOOD_R1 + " Also it smells nice.", "stop")]),
        ins(1, b, [(GOOD_R2, "stop")]),
        ins(2, c, [(GOOD_R1, "stop"), ("x " * 20, "length")]),
    ])
    kept, drops = clean_low_group(g, RULES)
    reasons = {d["id"]: d["reason"] for d in drops}
    assert reasons["i0r1"] == "response_similar_to_kept"
    assert reasons["i1"] == "instruction_similar_to_kept"
    assert reasons["i2r0"] == "response_similar_to_kept"          # same as i0r0: group-wide
    assert reasons["i2r1"] == "response_truncated"
    assert reasons["i2"] == "instruction_no_response_left"
    assert [k["id"] for k in kept] == ["i0r0"]
    assert [d for d in drops if d["id"] == "i1"][0]["dropped_responses"] == 1


def test_generation_failures_are_drop_reasons():
    g = low_group([{"id": "i0", "text": None, "finish_reason": "stop", "responses": []},
                   {"id": "i1", "text": "Write a story about a very brave cat", "finish_reason": "length", "responses": []}])
    _, drops = clean_low_group(g, RULES)
    assert [d["reason"] for d in drops] == ["instruction_no_final_answer", "instruction_truncated", "group_empty"]


def test_high_group_negatives():
    g = {"seed_id": "s", "prompt": SEED_PROMPT, "response": SEED_RESPONSE, "negatives": [
        {"id": "n0", "text": SEED_RESPONSE, "finish_reason": "stop"},
        {"id": "n1", "text": "Rainbows appear because clouds are painted by the wind in many bright colours.", "finish_reason": "stop"},
        {"id": "n2", "text": "Rainbows appear because clouds are painted by the wind in many bright colours!", "finish_reason": "stop"},
        {"id": "n3", "text": "too short", "finish_reason": "stop"},
    ]}
    kept, drops = clean_high_group(g, RULES)
    assert [k["id"] for k in kept] == ["n1"] and kept[0]["instruction"] == SEED_PROMPT
    assert {d["id"]: d["reason"] for d in drops} == {
        "n0": "negative_similar_to_seed", "n2": "negative_similar_to_kept", "n3": "negative_too_short"}


def test_an_instruction_dropped_for_want_of_responses_blocks_no_later_one():
    """Only a finally kept instruction (one with a response left) counts as kept: one whose every
    response is dropped must not take its similar successors down with it (docs/algorithm.md)."""
    a = "How does yeast make bread dough rise in a warm kitchen"
    b = "How does yeast make bread dough rise in a cold kitchen"     # near copy of a
    g = low_group([ins(0, a, [("too short", "stop"), ("x " * 20, "length")]),
                   ins(1, b, [(GOOD_R1, "stop")])])
    kept, drops = clean_low_group(g, RULES)
    reasons = {d["id"]: d["reason"] for d in drops}
    assert reasons["i0"] == "instruction_no_response_left"
    assert "i1" not in reasons
    assert [(k["id"], k["instruction_id"]) for k in kept] == [("i1r0", "i1")]


def test_a_dropped_instruction_does_not_join_the_task_pool():
    """Pool scope (Self-Instruct): the same rule across groups; the order stays deterministic."""
    from lancekit.data.clean import clean_groups
    from lancekit.data.rouge import tokenise

    a = "How does yeast make bread dough rise in a warm kitchen"
    b = "How does yeast make bread dough rise in a cold kitchen"
    rules = CleanRules(instruction_scope="pool")
    pool = [tokenise(SEED_PROMPT)]
    kept, drops = clean_low_group(low_group([ins(0, a, [("too short", "stop")])]), rules, pool)
    assert kept == [] and len(pool) == 1
    kept, _ = clean_low_group(low_group([ins(1, b, [(GOOD_R1, "stop")])]), rules, pool)
    assert [k["id"] for k in kept] == ["i1r0"] and len(pool) == 2
    meta = {"branch": "low", "iteration": 1, "generator": "m", "seed_score": 3.0}
    groups = [dict(low_group([ins(0, a, [("too short", "stop")])]), seed_id="s0", root_id="s0", **meta),
              dict(low_group([ins(1, b, [(GOOD_R1, "stop")]), ins(2, a, [(GOOD_R2, "stop")])]), seed_id="s1",
                   root_id="s1", **meta)]
    items, drops, _ = clean_groups(groups, rules)
    assert [i["id"] for i in items] == ["i1r0"]
    assert {d["id"]: d["reason"] for d in drops}["i2"] == "instruction_similar_to_kept"
