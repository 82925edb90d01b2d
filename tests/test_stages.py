"""The data stages end to end on canned model text (no engine): structure, lineage, counts."""

from conftest import ROOT

from lancekit import annotate, stages
from lancekit.clean import CleanRules
from lancekit.prompts import Prompts
from lancekit.seeds import load_seed

P = Prompts.load({k: str(ROOT / f"config/prompts/{k}.txt") for k in ("system", "review", "new_instruction", "negative")})
GEN = {"instructions_per_seed": 2, "responses_per_instruction": 2, "negatives_per_seed": 2}


def comp(text, finish="stop"):
    return {"text": text, "finish_reason": finish, "num_tokens": len(text.split())}


def fake_reviews(requests, scores):
    return [[comp(f"Looks fine.\nscore: {s}") if s is not None else comp("I cannot decide") for s in ss]
            for _, ss in zip(requests, scores)]


def test_pipeline_on_canned_text(tmp_path):
    seeds, _ = load_seed(ROOT / "data/seed/lance_seed.json", limit=4)
    # review_seed: seeds 0, 1 low (one has no valid vote at all), 2, 3 high
    reqs = stages.review_requests(seeds, P, 2, 1, "review_seed")
    assert len(reqs) == 4 and all(r["n"] == 2 for r in reqs)
    assert reqs[0]["seed"] == stages.review_requests(seeds, P, 2, 1, "review_seed")[0]["seed"]
    reviewed, rstats = stages.apply_reviews(seeds, fake_reviews(reqs, [[5, 6], [None, None], [9, 8], [10, 9]]),
                                            "review_seed", "m0", 7.0)
    assert [r["review"]["score"] for r in reviewed] == [5.5, None, 8.5, 9.5]
    assert rstats["split"] == {"threshold": 7.0, "high": 2, "low": 2}
    assert rstats["votes"] == 8 and rstats["votes_failed"] == 2 and rstats["records_without_score"] == 1

    # generate: instructions for the 2 low seeds, negatives for the 2 high seeds
    low, high = stages.split(reviewed, 7.0)
    first = stages.first_requests(low, high, P, GEN, 1)
    instr = ["Thinking: vary it.\nFinal Answer: Describe how tides are caused by the Moon and the Sun together",
             "no final answer at all"]
    negs = ["Thinking: flaws.\nFinal Answer: The seasons happen because the Earth is sometimes much closer to the Sun, honestly.",
            "Thinking: flaws.\nFinal Answer: This answer is cut off in the middle of a"]
    comps = [[comp(instr[0]), comp(instr[1])], [comp(instr[0].replace("tides", "ocean waves")), comp(instr[0], "length")],
             [comp(negs[0]), comp(negs[1], "length")], [comp(negs[0].replace("seasons", "tides")), comp(negs[0])]]
    groups = stages.build_groups(low, high, comps, 1, "results/iter0/model")
    second = stages.response_requests(groups, P, GEN, 1)
    assert len(second) == 2  # one parsed instruction per low seed (the truncated one is not answered)
    answer = "The Moon's gravity pulls the oceans towards it, and the Sun adds a smaller pull, making tides twice a day."
    stages.attach_responses(groups, [[comp(answer), comp("short")], [comp(answer.replace("Moon", "wind")), comp(answer, "length")]], 1)
    gstats = stages.generate_stats(groups, len(reviewed), stages.token_stats(comps))
    assert gstats["instruction_samples"] == 4 and gstats["instructions_no_final_answer"] == 1
    assert gstats["instructions_truncated"] == 1 and gstats["negatives_truncated"] == 1

    # clean: counts in = counts out + drops, for every unit
    items, drops, cstats = stages.clean(groups, CleanRules())
    d = cstats["drops"]
    assert cstats["instructions_in"] == cstats["instructions_out"] + sum(d["instruction"].values())
    assert cstats["responses_in"] == (cstats["responses_out"] + sum(d["response"].values())
                                      + cstats["responses_dropped_with_instruction"])
    assert cstats["negatives_in"] == cstats["negatives_out"] + sum(d["negative"].values())
    assert cstats["groups_in"] == cstats["groups_out"] + d["group"].get("group_empty", 0)
    assert d["response"]["response_truncated"] == 1 and d["negative"]["negative_truncated"] == 1
    assert all(i["lineage"]["generator"] == "results/iter0/model" for i in items)

    # review_new + annotate
    reqs = stages.review_requests(items, P, 2, 1, "review_new")
    new, _ = stages.apply_reviews(items, fake_reviews(reqs, [[9, 10]] * len(items)), "review_new", "m0")
    sft, _ = annotate.select_sft(new, 8.0, 5, P.system)
    dpo = annotate.select_dpo(high, [n for n in new if n["lineage"]["branch"] == "high"], 2.0)
    assert len(sft) == cstats["responses_out"]
    # trace every training example back to a Seed_0 record
    seed_ids = {s["id"] for s in seeds}
    assert all(x["root_id"] in seed_ids for x in sft) and all(x["root_id"] in seed_ids for x in dpo)
    nxt = annotate.next_seed(new, [s for s in reviewed if s["lineage"]["iteration"] == 0])
    assert len(nxt) == len(new) + len(seeds)
    # the next iteration reuses the stored scores
    _, again = stages.reuse_reviews(nxt, 7.0)
    assert again["reused_scores"] and again["records_in"] == len(nxt)


def test_review_with_a_response_prefix():
    seeds, _ = load_seed(ROOT / "data/seed/lance_seed.json", limit=2)
    reqs = stages.review_requests(seeds, P, 1, 1, "review_seed", prefix="score:")
    assert reqs[0]["messages"][-1] == {"role": "assistant", "content": "score:"}
    out, stats = stages.apply_reviews(seeds, [[comp(" 7\nClear.")], [comp(" many")]], "review_seed", "m", 7.0, "score:")
    assert out[0]["review"]["score"] == 7.0 and out[0]["review"]["texts"] == ["score: 7\nClear."]
    assert out[1]["review"]["score"] is None and stats["votes_failed"] == 1


def test_generation_with_a_response_prefix():
    seeds, _ = load_seed(ROOT / "data/seed/lance_seed.json", limit=1)
    seeds[0]["review"] = {"score": 2.0}
    reqs = stages.first_requests(seeds, [], P, {**GEN, "response_prefix": "Final Answer:"}, 1)
    assert reqs[0]["messages"][-1] == {"role": "assistant", "content": "Final Answer:"}
    groups = stages.build_groups(seeds, [], [[comp(" Plan a three-day trip to Rome on a budget"), comp("")]],
                                 1, "m", "Final Answer:")
    texts = [i["text"] for i in groups[0]["instructions"]]
    assert texts == ["Plan a three-day trip to Rome on a budget", None]


def test_instruction_stop_reaches_only_instruction_requests():
    seeds, _ = load_seed(ROOT / "data/seed/lance_seed.json", limit=3)
    for s, score in zip(seeds, (2.0, 3.0, 9.0)):
        s["review"] = {"score": score}
    cfg = {**GEN, "response_prefix": "Final Answer:", "instruction_stop": ["\n"]}
    reqs = stages.first_requests(seeds[:2], seeds[2:], P, cfg, 1)
    assert [r.get("stop") for r in reqs] == [["\n"], ["\n"], None]
    assert "stop" not in stages.first_requests(seeds[:2], [], P, GEN, 1)[0]


def test_run_requests_batches_by_samples_and_stop_and_keeps_order():
    from lancekit.engine_run import batches, run_requests

    class Recorder:  # stands in for the vLLM adapter: records each batched call
        def __init__(self):
            self.calls = []

        def chat(self, conversations, *, n, stop, seeds, **kw):
            self.calls.append((len(conversations), n, stop))
            from lancekit.vllm_engine import Completion
            return [[Completion(f"{c[0]['content']}|{n}|{stop}", "stop", 1)] * n for c in conversations]

    reqs = [{"messages": [{"role": "user", "content": "a"}], "n": 2, "seed": 1, "stop": ["\n"]},
            {"messages": [{"role": "user", "content": "b"}], "n": 2, "seed": 2},
            {"messages": [{"role": "user", "content": "c"}], "n": 2, "seed": 3, "stop": ["\n"]},
            {"messages": [{"role": "user", "content": "d"}], "n": 1, "seed": 4}]
    assert batches(reqs) == {(2, ("\n",)): [0, 2], (2, ()): [1], (1, ()): [3]}
    eng = Recorder()
    out = run_requests(eng, reqs, {"temperature": 0.7, "top_p": 0.9}, 16, "t")
    assert sorted(eng.calls, key=str) == sorted([(2, 2, ["\n"]), (1, 2, None), (1, 1, None)], key=str)
    assert [o[0]["text"] for o in out] == ["a|2|['\\n']", "b|2|None", "c|2|['\\n']", "d|1|None"]
