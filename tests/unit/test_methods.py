"""The baselines' pure steps (lancekit.methods, lancekit.data.clean) on canned model text:
requests, groups with lineage, Self-Instruct's cleaning against the pool, and each method's
training sets."""

import pytest

from lancekit.data import generate
from lancekit.data.clean import CleanRules, clean_groups
from lancekit.data.judge import HealthLimits
from lancekit.data.prompts import Prompts
from lancekit.data.records import seed_record
from lancekit.methods import i_sheep, self_instruct, spin

SI = self_instruct.GenerateSettings(demos=3, instructions_per_seed=2, responses_per_instruction=1, temperature=0.7,
                                    top_p=0.5)

P = Prompts(system="SYS", self_instruct="Tasks:\n{examples}\nOne more.")


TOPICS = ["Why is the sky blue during a clear afternoon?", "Write a short poem about autumn leaves falling.",
          "How many minutes are there in three and a half hours?", "Suggest a healthy breakfast for busy mornings.",
          "Translate good morning into French and Spanish."]


def seeds(n=5):
    return [seed_record(TOPICS[i], f"Answer {i}: a short, clear and complete reply written for the user.", f"s#{i}", {})
            for i in range(n)]


def comp(text, finish="stop"):
    return {"text": text, "finish_reason": finish, "num_tokens": len(text.split())}


def test_self_instruct_requests_put_the_seed_first_among_k_examples():
    s = seeds()
    reqs = self_instruct.self_instruct_requests(s, s, P, SI, 7, 64)
    assert [r["key"] for r in reqs] == [r["id"] for r in s]
    user = reqs[0]["messages"][1]["content"]
    assert user.startswith("Tasks:\nTask 1: " + s[0]["prompt"]) and user.count("Task ") == 3
    assert reqs[0]["messages"][-1] == {"role": "assistant", "content": self_instruct.TASK_PREFIX}
    assert reqs[0]["n"] == 2 and reqs[0]["stop"] == ["\n\n"] and reqs[0]["max_tokens"] == 64
    # the examples depend on the request's seed and the whole pool, not on the order or the shard
    again = self_instruct.self_instruct_requests(s[3:], list(reversed(s)), P, SI, 7, 64)
    assert {r["key"]: r["messages"] for r in again} == {r["key"]: r["messages"] for r in reqs[3:]}


def test_task_groups_keep_lineage_and_drop_empty_tasks():
    s = seeds(2)
    groups = self_instruct.build_task_groups(s, [[comp(" Write a haiku about   rain. "), comp("\n "),
                                           comp("\nName two rivers.\nTask 3: more", "length")],
                                          [comp("x", "length")]], 1, "m0")
    assert [g["branch"] for g in groups] == ["low", "low"] and groups[0]["seed_score"] is None
    ins = groups[0]["instructions"]
    assert ins[0]["text"] == "Write a haiku about rain." and ins[1]["text"] is None
    # the first non-empty line is the task, complete when a newline follows it
    assert (ins[2]["text"], ins[2]["finish_reason"]) == ("Name two rivers.", "stop")
    assert groups[1]["instructions"][0]["finish_reason"] == "length"
    assert groups[0]["root_id"] == s[0]["id"] and ins[0]["id"].startswith("t1i-")
    reqs = generate.response_requests(groups, P, 1, 7)
    assert [r["key"] for r in reqs] == [ins[0]["id"], ins[2]["id"]]  # no answer for empty or truncated tasks


def test_self_instruct_cleaning_compares_with_the_whole_pool_and_blocks_words():
    s = seeds(3)
    tasks = [[comp(s[1]["prompt"]), comp("Draw a picture of a cat sitting on a warm mat today."),
              comp("List three reasons why people enjoy reading long novels in winter.")], [], []]
    groups = self_instruct.build_task_groups(s, tasks, 1, "m0")
    answers = iter(["Because stories take you somewhere else and winter evenings are long and dark.",
                    "A cat on a mat: picture it curled up in the sun by the window, asleep.",
                    "Novels reward patience, fill quiet evenings, and let readers live other lives."])
    for g in groups:
        for ins in g["instructions"]:
            ins["responses"] = [{"id": ins["id"] + "r", "text": next(answers), "finish_reason": "stop"}]
    rules = CleanRules(3, 150, 3, 4096, 0.7, "pool", ("picture", "draw"))
    items, drops, _ = clean_groups(groups, rules)
    reasons = {d["reason"] for d in drops if d["level"] == "instruction"}
    # a copy of ANOTHER seed's task is caught only by the pool (LANCE compares within the group)
    assert reasons == {"instruction_similar_to_kept", "instruction_blocked_word"}
    assert [i["prompt"] for i in items] == [tasks[0][2]["text"]]
    assert items[0]["lineage"]["root_id"] == s[0]["id"]
    group_scope, _, _ = clean_groups(groups, CleanRules(3, 150, 3, 4096, 0.7))
    assert len(group_scope) == 3


def test_self_instruct_and_i_sheep_sets():
    s = seeds(3)
    new = [dict(r, id=f"n{i}", lineage={**r["lineage"], "iteration": 1}, review={"score": sc})
           for i, (r, sc) in enumerate(zip(s, [9.0, 8.5, None]))]
    prev = [{"id": "old", "iteration": 0}]
    out, st = self_instruct.self_instruct_sets(new, prev, [], "SYS", 5, 1)
    assert st["sft_new"] == 3 and {e["id"] for e in out["sft"]} == {"old", "n0", "n1", "n2"}
    out, st = i_sheep.i_sheep_sets(new, prev, [], "SYS", i_sheep.AnnotateSettings(5, 1, 9.0, False, HealthLimits()), 1)
    assert [e["id"] for e in out["sft"]] == ["n0"]  # 8.5 is below 9, no score is left out, Seed_0 not repeated
    assert st["sft_left_out"] == {"no_score": 1, "score_below_threshold": 1, "too_short": 0}
    assert out["sft"][0]["root_id"] == s[0]["id"]
    earlier = [{"id": "i1", "iteration": 1}]
    out, _ = i_sheep.i_sheep_sets(new, earlier + prev, [], "SYS", i_sheep.AnnotateSettings(5, 1, 8.0, True, HealthLimits()), 2)
    assert {e["id"] for e in out["sft"]} == {"n0", "n1", "i1"}


def test_spin_pairs_the_seed_response_against_the_models_own():
    s = seeds(3)
    groups = spin.build_respond_groups(s, [[comp("A fresh answer from the model about it.")],
                                             [comp(s[1]["response"])], [comp("cut", "length")]], 2, "m1")
    assert groups[0]["branch"] == "spin" and groups[0]["responses"][0]["id"].startswith("t2y-")
    prev = [{"id": "p>q", "iteration": 1}]
    out, st = spin.spin_sets(groups, s, prev, True, 1, 2)
    assert st["dpo_new"] == 1 and st["dpo_left_out"] == {"truncated": 1, "empty": 0, "same_as_seed": 1}
    pair = out["new_dpo"][0]
    assert pair["chosen"]["value"] == s[0]["response"] and pair["rejected"]["value"].startswith("A fresh")
    assert pair["prompt_id"] == pair["root_id"] == s[0]["id"] and pair["iteration"] == 2
    assert {d["id"] for d in out["dpo"]} == {pair["id"], "p>q"}  # SPIN mixes in iteration t-1's pairs
    assert spin.spin_sets(groups, s, prev, False, 1, 2)[0]["dpo"] == [pair]


def test_i_sheep_writes_its_own_number_of_tasks_when_set():
    si = {"demos": 8, "instructions_per_seed": 17, "responses_per_instruction": 1, "temperature": 0.7,
          "top_p": 0.5, "blocked_words": []}
    config = {"self_instruct": si, "i_sheep": {"instructions_per_seed": 4}}
    assert self_instruct.METHOD.generate_settings(config).instructions_per_seed == 17
    assert i_sheep.METHOD.generate_settings(config).instructions_per_seed == 4
    config["i_sheep"]["instructions_per_seed"] = None  # null: Self-Instruct's
    assert i_sheep.METHOD.generate_settings(config) == self_instruct.METHOD.generate_settings(config)


def test_where_sft_starts_as_a_run_key():
    """I-SHEEP restarts from M_0 or the base model itself (its code: a LoRA on the base each
    iteration); the others continue from M_{t-1} (M_0 for iteration 1)."""
    assert [i_sheep.METHOD.sft_start({"i_sheep": {"start": s}}, 3) for s in ("m0", "base", "previous")] == \
        ["iter0", "base", "i_sheep/iter2"]
    assert i_sheep.METHOD.sft_start({"i_sheep": {"start": "previous"}}, 1) == "iter0"
    assert self_instruct.METHOD.sft_start({}, 1) == "iter0" and self_instruct.METHOD.sft_start({}, 2) == "self_instruct/iter1"
    with pytest.raises(ValueError, match="SFT start"):
        i_sheep.METHOD.sft_start({"i_sheep": {"start": "nowhere"}}, 1)
