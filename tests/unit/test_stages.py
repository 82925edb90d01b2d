"""The data stages end to end on canned model text (no engine): structure, lineage, counts."""

from dataclasses import replace

from lance_testing import ROOT
from lancekit.data import generate, judge, records, review
from lancekit.data.clean import CleanRules, clean_groups
from lancekit.data.prompts import Prompts
from lancekit.data.requests import token_stats
from lancekit.data.review import ReviewSettings
from lancekit.data.seeds import load_seed
from lancekit.generation.settings import Sampling
from lancekit.methods import lance

P = Prompts.load({k: str(ROOT / f"config/prompts/{k}.txt") for k in ("system", "review", "new_instruction", "negative")})
GEN = lance.NewData(instructions_per_seed=2, responses_per_instruction=2, negatives_per_seed=2)
FREE = ReviewSettings(samples=2, mode="free", order="justification_first", response_prefix=None, max_tokens=64)


def comp(text, finish="stop"):
    return {"text": text, "finish_reason": finish, "num_tokens": len(text.split())}


def fake_reviews(requests, scores):
    return [[comp(f"Looks fine.\nscore: {s}") if s is not None else comp("I cannot decide") for s in ss]
            for _, ss in zip(requests, scores)]


def test_pipeline_on_canned_text(tmp_path):
    seeds, _ = load_seed(ROOT / "data/seed/lance_seed.json", limit=4)
    # review_seed: seeds 0, 1 low (one has no valid vote at all), 2, 3 high
    reqs = review.review_requests(seeds, P, FREE, 1, "review_seed")
    assert len(reqs) == 4 and all(r["n"] == 2 and "choice" not in r for r in reqs)
    assert reqs[0]["seed"] == review.review_requests(seeds, P, FREE, 1, "review_seed")[0]["seed"]
    reviewed, rstats = review.apply_reviews(seeds, fake_reviews(reqs, [[5, 6], [None, None], [9, 8], [10, 9]]),
                                            "review_seed", "m0", FREE)
    assert [r["review"]["score"] for r in reviewed] == [5.5, None, 8.5, 9.5]
    assert "split" not in rstats  # the split belongs to generate: a threshold change must not re-judge
    assert rstats["votes"] == 8 and rstats["votes_failed"] == 2 and rstats["records_without_score"] == 1
    assert rstats["unscored_rate"] == 0.25 and rstats["parse_failure_rate"] == 0.25

    # generate: instructions for the 2 low seeds, negatives for the 2 high seeds
    low, high = judge.split(reviewed, 7.0)
    first = lance.first_requests(low, high, P, GEN, 1)
    assert len(first) == 4 and [r["n"] for r in first] == [2, 2, 2, 2]
    instr = ["Thinking: vary it.\nFinal Answer: Describe how tides are caused by the Moon and the Sun together",
             "no final answer at all"]
    negs = ["Thinking: flaws.\nFinal Answer: The seasons happen because the Earth is sometimes much closer to the Sun, honestly.",
            "Thinking: flaws.\nFinal Answer: This answer is cut off in the middle of a"]
    comps = [[comp(instr[0]), comp(instr[1])], [comp(instr[0].replace("tides", "ocean waves")), comp(instr[0], "length")],
             [comp(negs[0]), comp(negs[1], "length")], [comp(negs[0].replace("seasons", "tides")), comp(negs[0])]]
    groups = lance.build_groups(low, high, comps, 1, "results/iter0/model")
    second = generate.response_requests(groups, P, GEN.responses_per_instruction, 1)
    assert len(second) == 2  # one parsed instruction per low seed (the truncated one is not answered)
    answer = "The Moon's gravity pulls the oceans towards it, and the Sun adds a smaller pull, making tides twice a day."
    generate.attach_responses(groups, [[comp(answer), comp("short")], [comp(answer.replace("Moon", "wind")), comp(answer, "length")]], 1)
    gstats = generate.generate_stats(groups, len(reviewed), token_stats(comps))
    assert gstats["instruction_samples"] == 4 and gstats["instructions_no_final_answer"] == 1
    assert gstats["instructions_truncated"] == 1 and gstats["negatives_truncated"] == 1

    # clean: counts in = counts out + drops, for every unit
    items, drops, cstats = clean_groups(groups, CleanRules())
    d = cstats["drops"]
    assert cstats["instructions_in"] == cstats["instructions_out"] + sum(d["instruction"].values())
    assert cstats["responses_in"] == (cstats["responses_out"] + sum(d["response"].values())
                                      + cstats["responses_dropped_with_instruction"])
    assert cstats["negatives_in"] == cstats["negatives_out"] + sum(d["negative"].values())
    assert cstats["groups_in"] == cstats["groups_out"] + d["group"].get("group_empty", 0)
    assert d["response"]["response_truncated"] == 1 and d["negative"]["negative_truncated"] == 1
    assert all(i["lineage"]["generator"] == "results/iter0/model" for i in items)

    # review_new + annotate
    reqs = review.review_requests(items, P, FREE, 1, "review_new")
    new, _ = review.apply_reviews(items, fake_reviews(reqs, [[9, 10]] * len(items)), "review_new", "m0", FREE)
    sft, _ = lance.select_sft(new, 8.0, 5, P.system)
    dpo = lance.select_dpo(high, [n for n in new if n["lineage"]["branch"] == "high"], 2.0)
    assert len(sft) == cstats["responses_out"]
    # trace every training example back to a Seed_0 record
    seed_ids = {s["id"] for s in seeds}
    assert all(x["root_id"] in seed_ids for x in sft) and all(x["root_id"] in seed_ids for x in dpo)
    nxt, _ = lance.next_seed(new, [s for s in reviewed if s["lineage"]["iteration"] == 0], None, 1)
    assert len(nxt) == len(new) + len(seeds)
    # the next iteration reuses the stored scores
    _, again = review.reuse_reviews(nxt)
    assert again["reused_scores"] and again["records_in"] == len(nxt)


def test_review_with_a_response_prefix_parses_the_first_score():
    seeds, _ = load_seed(ROOT / "data/seed/lance_seed.json", limit=3)
    cfg = replace(FREE, samples=1, order="score_first", response_prefix="score:")
    reqs = review.review_requests(seeds, P, cfg, 1, "review_seed")
    assert reqs[0]["messages"][-1] == {"role": "assistant", "content": "score:"}
    out, stats = review.apply_reviews(seeds, [[comp(" 7\nClear, though 9/10 of it is padding.")], [comp(" many")],
                                              [{"text": "", "finish_reason": "prompt_too_long", "num_tokens": 0}]],
                                      "review_seed", "m", cfg)
    assert out[0]["review"]["score"] == 7.0  # score-first: the justification's 9/10 does not override it
    assert out[0]["review"]["texts"] == ["score: 7\nClear, though 9/10 of it is padding."]
    assert out[1]["review"]["score"] is None and stats["votes_failed"] == 1
    # a prompt too long for the context is counted as such, not as a parse failure
    assert out[2]["review"]["n_prompt_too_long"] == 1 and out[2]["review"]["n_failed"] == 0
    assert stats["votes_prompt_too_long"] == 1 and stats["votes"] == 2
    too_long = {"text": "", "finish_reason": "prompt_too_long", "num_tokens": 0, "prompt_tokens": 2301}
    # the record's place in its shard and, by its lineage, in the seed file (or its seed record)
    made = records.generated_record("g1-x", "p", "r", parent={"seed_id": seeds[0]["id"], "root_id": seeds[0]["id"],
                                                              "seed_score": 3.0}, iteration=1, branch="low",
                                    generator="m", instruction_id=None)
    assert review.too_long_warnings([seeds[2], made], [[too_long], [too_long]]) == [
        f"warning: record 0 of the shard ({seeds[2]['id']}, lance_seed.json record 2): the judge prompt is 2301 "
        "tokens, more than vllm.max_model_len: it can only ever be 'prompt_too_long'",
        f"warning: record 1 of the shard (g1-x, iteration 1, from seed record {seeds[0]['id']}): the judge prompt "
        "is 2301 tokens, more than vllm.max_model_len: it can only ever be 'prompt_too_long'"]


def test_constrained_score_first_is_one_constrained_pass():
    seeds, _ = load_seed(ROOT / "data/seed/lance_seed.json", limit=2)
    cfg = replace(FREE, samples=3, mode="constrained", order="score_first", response_prefix=None)
    reqs = review.review_requests(seeds, P, cfg, 1, "review_seed")
    assert not cfg.needs_score_pass
    assert all(r["choice"] == [f" {i}" for i in range(11)] and r["n"] == 3 for r in reqs)
    assert all(r["messages"][-1] == {"role": "assistant", "content": "score:"} for r in reqs)
    assert all(r["max_tokens"] == review.SCORE_TOKENS for r in reqs)
    out, stats = review.apply_reviews(seeds, [[comp(" 7"), comp(" 10"), comp(" 0")], [comp(" 3")] * 3],
                                      "review_seed", "m", cfg)
    assert out[0]["review"]["votes"] == [7.0, 10.0, 0.0] and out[0]["review"]["score"] == 5.6667
    assert out[0]["review"]["mode"] == "constrained" and stats["parse_failure_rate"] == 0.0


def test_constrained_justification_first_decodes_the_score_after_the_text():
    seeds, _ = load_seed(ROOT / "data/seed/lance_seed.json", limit=2)
    cfg = replace(FREE, mode="constrained", order="justification_first")
    first = review.review_requests(seeds, P, cfg, 1, "review_new")
    assert all(r["stop"] == review.SCORE_STOP and "choice" not in r for r in first)
    assert cfg.needs_score_pass
    # pass 1: the second record's prompt did not fit; the first wrote 2 justifications that
    # mention other numbers (15/20, 3) and stopped at "score:"
    comps = [[comp("It is clear (15/20 would be harsh). Point 3 holds.\n"), comp("Short answer.")],
             [{"text": "", "finish_reason": "prompt_too_long", "num_tokens": 0}] * 2]
    second = review.score_requests(first, comps, 1, "review_new")
    assert len(second) == 2 and all(r["n"] == 1 and r["choice"] == list(judge.SCORE_CHOICES) for r in second)
    assert second[0]["messages"][-1]["content"].endswith("Point 3 holds.\nscore:")
    assert second[0]["messages"][:-1] == first[0]["messages"] and second[0]["seed"] != second[1]["seed"]
    merged = review.merge_score_pass(first, comps, [[comp(" 8")], [comp(" 6")]])
    out, stats = review.apply_reviews(seeds, merged, "review_new", "m", cfg)
    assert out[0]["review"]["votes"] == [8.0, 6.0] and out[0]["review"]["score"] == 7.0
    assert out[0]["review"]["texts"][0].endswith("Point 3 holds.\nscore: 8")
    assert out[1]["review"]["score"] is None and out[1]["review"]["n_prompt_too_long"] == 2
    assert stats["votes"] == 2 and stats["votes_failed"] == 0


def test_generation_with_a_response_prefix():
    seeds, _ = load_seed(ROOT / "data/seed/lance_seed.json", limit=1)
    seeds[0]["review"] = {"score": 2.0}
    reqs = lance.first_requests(seeds, [], P, replace(GEN, response_prefix="Final Answer:"), 1)
    assert reqs[0]["messages"][-1] == {"role": "assistant", "content": "Final Answer:"}
    groups = lance.build_groups(seeds, [], [[comp(" Plan a three-day trip to Rome on a budget"), comp("")]],
                                 1, "m", "Final Answer:")
    texts = [i["text"] for i in groups[0]["instructions"]]
    assert texts == ["Plan a three-day trip to Rome on a budget", None]


def test_instruction_stop_reaches_only_instruction_requests():
    seeds, _ = load_seed(ROOT / "data/seed/lance_seed.json", limit=3)
    for s, score in zip(seeds, (2.0, 3.0, 9.0)):
        s["review"] = {"score": score}
    cfg = replace(GEN, response_prefix="Final Answer:", instruction_stop=["\n"])
    reqs = lance.first_requests(seeds[:2], seeds[2:], P, cfg, 1)
    assert [r.get("stop") for r in reqs] == [["\n"], ["\n"], None]
    assert "stop" not in lance.first_requests(seeds[:2], [], P, GEN, 1)[0]


def test_run_requests_batches_by_samples_and_stop_and_keeps_order():
    from lancekit.generation.run import batches, run_requests

    class Recorder:  # stands in for the vLLM adapter: records each batched call
        def __init__(self):
            self.calls = []

        def chat(self, conversations, *, n, stop, seeds, choice=None, max_tokens=None, **kw):
            self.calls.append((len(conversations), n, stop, choice, max_tokens))
            from lancekit.generation.vllm_engine import Completion
            return [[Completion(f"{c[0]['content']}|{n}|{stop}", "stop", 1)] * n for c in conversations]

    reqs = [{"messages": [{"role": "user", "content": "a"}], "n": 2, "seed": 1, "stop": ["\n"]},
            {"messages": [{"role": "user", "content": "b"}], "n": 2, "seed": 2},
            {"messages": [{"role": "user", "content": "c"}], "n": 2, "seed": 3, "stop": ["\n"]},
            {"messages": [{"role": "user", "content": "d"}], "n": 1, "seed": 4}]
    reqs.append({"messages": [{"role": "user", "content": "e"}], "n": 1, "seed": 5, "choice": [" 1", " 2"],
                 "max_tokens": 4})
    assert batches(reqs) == {(2, ("\n",), (), None): [0, 2], (2, (), (), None): [1], (1, (), (), None): [3],
                             (1, (), (" 1", " 2"), 4): [4]}
    eng = Recorder()
    out = run_requests(eng, reqs, Sampling(0.7, 0.9), 16, "t")
    assert sorted(eng.calls, key=str) == sorted([(2, 2, ["\n"], None, 16), (1, 2, None, None, 16),
                                                 (1, 1, None, None, 16), (1, 1, None, [" 1", " 2"], 4)], key=str)
    assert [o[0]["text"] for o in out] == ["a|2|['\\n']", "b|2|None", "c|2|['\\n']", "d|1|None", "e|1|None"]
