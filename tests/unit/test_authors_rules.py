"""The authors' prompts read from their file, and each rule where our default differs from their
code, as a switch: both settings on canned data, each able to tell the two apart."""

import os
from pathlib import Path

import pytest

from lancekit.core.io import InputError
from lancekit.data import authors, generate, judge, prompts
from lancekit.data.clean import CleanRules, clean_high_group, clean_low_group
from lancekit.data.judge import HealthLimits
from lancekit.data.records import seed_record
from lancekit.data.seeds import load_extra_sft
from lancekit.methods.lance import AnnotateSettings, base_seed, select_dpo
from lancekit.pipeline.config_check import ConfigError, check_config, missing_data

# A file in the layout of the authors' src/prompt_template.py (our own text): LangChain f-string
# slots, a doubled brace, a statement that must never run, a non-string constant.
TEMPLATE_PY = '''
import os
os.system("touch ran")
raise SystemExit("executed")
SYS = """
# Role: Tester
Answer well."""
NEW = """Write a task like {instruction} (its answer: {response}); keep {{braces}}."""
JUDGE = "Rate <q>{prompt}</q> <r>{response}</r> as score: N"
BAD = "Uses {context}"
NUMBER = 3
'''


def repo_with(tmp_path: Path, text: str = TEMPLATE_PY) -> Path:
    (tmp_path / "LANCE" / "src").mkdir(parents=True)
    (tmp_path / "LANCE" / "src" / "prompt_template.py").write_text(text)
    return tmp_path / "LANCE"


def test_the_authors_file_is_parsed_never_run_and_slots_are_mapped(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    repo = repo_with(tmp_path)
    consts = authors.string_constants((repo / authors.PROMPT_FILE).read_text())
    assert set(consts) == {"SYS", "NEW", "JUDGE", "BAD"}
    assert not (tmp_path / "ran").exists()
    path = repo / authors.PROMPT_FILE
    assert authors.read_prompt(path, "SYS") == "# Role: Tester\nAnswer well."
    assert authors.read_prompt(path, "NEW") == "Write a task like {prompt} (its answer: {response}); keep {braces}."
    with pytest.raises(authors.AuthorsError, match=r"slot \{context\} has no counterpart"):
        authors.read_prompt(path, "BAD")
    with pytest.raises(authors.AuthorsError, match="no string constant 'NONE'; it has: BAD, JUDGE, NEW, SYS"):
        authors.read_prompt(path, "NONE")
    with pytest.raises(authors.AuthorsError, match="not valid Python"):
        authors.string_constants("X = '''unclosed")


def test_the_new_instruction_prompt_shows_the_seed_answer_where_it_has_the_slot():
    p = prompts.Prompts(system="S", new_instruction="Task: {prompt}\nAnswer: {response}")
    msgs = prompts.new_instruction_messages(p, "Q?", "A {prompt} literal")
    assert msgs[1]["content"] == "Task: Q?\nAnswer: A {prompt} literal"
    ours = prompts.Prompts(system="S", new_instruction="Task: {prompt}")
    assert prompts.new_instruction_messages(ours, "Q?", "A.")[1]["content"] == "Task: Q?"


def base_config(tmp_path, **over):
    (tmp_path / "p.txt").write_text("{prompt} {response}")
    cfg = {"clean": {"instruction_words": [5, 10], "response_words": [5, 10]},
           "prompts": {"review": "p.txt"}, "authors": {"repo": None},
           "seed": {"path": "seed.json", "extra_sft": None},
           "model": {"base": "embedded", "revision": None},
           "review": {"mode": "free", "order": "justification_first", "response_prefix": None},
           "eval": {"benchmarks": []}, "vllm": {"tensor_parallel_size": 1}, "resources": {}, "train": {}}
    for key, value in over.items():
        section, name = key.split("__")
        cfg[section][name] = value
    return cfg


def test_authors_references_are_checked_naming_the_key(tmp_path):
    resolve = lambda p: str(tmp_path / p)  # noqa: E731
    with pytest.raises(ConfigError, match=r"prompts.review: 'authors:JUDGE' names the authors' repository, but "
                                          r"authors.repo is not set"):
        check_config(base_config(tmp_path, prompts__review="authors:JUDGE"), resolve)
    repo_with(tmp_path)
    cfg = base_config(tmp_path, prompts__review="authors:JUDGE", authors__repo="LANCE")
    check_config(cfg, resolve)                                     # the slots are there
    cfg["prompts"]["negative"] = "authors:SYS"                     # no {prompt}, {response}
    with pytest.raises(ConfigError, match=r"prompts.negative: .* lacks the slot\(s\) \{prompt\}, \{response\}"):
        check_config(cfg, resolve)
    cfg["prompts"]["negative"] = "authors:MISSING"
    with pytest.raises(ConfigError, match="prompts.negative: .*no string constant 'MISSING'"):
        check_config(cfg, resolve)


def test_what_is_not_staged_names_the_authors_clone_and_the_seed_inside_it(tmp_path):
    resolve = lambda p: str(tmp_path / p)  # noqa: E731
    cfg = base_config(tmp_path, prompts__review="authors:JUDGE", authors__repo="LANCE",
                      seed__path="authors:dataset/seed/UltraChat3k.json", seed__extra_sft="eft.json")
    problems = missing_data(cfg, resolve)
    assert problems[0].startswith("seed.path: file authors:dataset/seed/UltraChat3k.json "
                                  f"({tmp_path}/LANCE/dataset/seed/UltraChat3k.json) not found")
    assert problems[1].startswith("seed.extra_sft: file eft.json not found")
    assert problems[2].startswith(f"authors.repo: {tmp_path}/LANCE/src/prompt_template.py not found")
    assert "git clone https://github.com/Control-derek/LANCE LANCE" in problems[2]
    repo = repo_with(tmp_path)
    (repo / "dataset" / "seed").mkdir(parents=True)
    (repo / "dataset" / "seed" / "UltraChat3k.json").write_text("[]")
    (tmp_path / "eft.json").write_text("[]")
    assert missing_data(cfg, resolve) == []


@pytest.mark.skipif(not os.environ.get("LANCE_BENCHMARKS"), reason="set LANCE_BENCHMARKS to a folder holding "
                    "reference/LANCE/src/prompt_template.py (the authors' file) to read their real prompts")
def test_the_authors_real_prompts_map_onto_our_slots():
    path = Path(os.environ["LANCE_BENCHMARKS"]) / "reference" / "LANCE" / authors.PROMPT_FILE
    if not path.is_file():
        pytest.skip(f"{path} is not there")
    got = {name: authors.read_prompt(path, name) for name in
           ("SYS_PROMPT", "ReviewPrompt", "LANGGPT4NewInstructionNShot", "LANGGPT4ResNShot")}
    assert got["SYS_PROMPT"].startswith("# Role: Multi-Task Assistant")
    for name in ("ReviewPrompt", "LANGGPT4NewInstructionNShot", "LANGGPT4ResNShot"):
        assert "{prompt}" in got[name] and "{response}" in got[name] and "{instruction}" not in got[name]
    assert 'score: <total points>' in got["ReviewPrompt"]


# --- the judge ---------------------------------------------------------------------------------

def test_the_authors_parser_takes_the_first_score_colon_only():
    text = "The answer is fine, about 7/10. Score: 6\nFinal score: 8"
    assert judge.parse_score(text, "last") == 8.0
    assert judge.parse_score(text, "last", "authors") == 6.0
    assert judge.parse_score("score:7", "last", "authors") is None          # their pattern needs the space
    assert judge.parse_score("**Score:** 7", "last", "authors") is None
    assert judge.parse_score("score: 11 then score: 5", "last", "authors") is None  # first match, out of range
    assert judge.parse_score("SCORE: 9.5", "first", "authors") == 9.5


def test_no_valid_vote_is_no_score_or_zero():
    texts = ["no number here", "still nothing"]
    assert judge.aggregate(texts).score is None
    v = judge.aggregate(texts, no_vote="zero")
    assert v.score == 0.0 and v.n_failed == 2 and v.n_parsed == 0
    assert judge.aggregate(["score: 6", "junk"], no_vote="zero").score == 6.0   # a mean of the parsed ones


# --- clean and generate ------------------------------------------------------------------------

SEED_P = "Explain how a rainbow forms after a summer storm in the afternoon"
SEED_R = "Sunlight enters raindrops, bends, reflects inside them and bends again on the way out."
R1 = "Bread rises because yeast eats sugar and releases carbon dioxide gas that gets trapped in gluten."


def low(instructions):
    return {"seed_id": "s", "prompt": SEED_P, "response": SEED_R, "instructions": instructions}


def ins(i, text, responses, finish="stop"):
    return {"id": f"i{i}", "text": text, "finish_reason": finish,
            "responses": [{"id": f"i{i}r{j}", "text": t, "finish_reason": f} for j, (t, f) in enumerate(responses)]}


def test_response_similarity_per_group_or_per_instruction():
    g = low([ins(0, "How does yeast make bread dough rise in a warm kitchen", [(R1, "stop")]),
             ins(1, "Describe three ways to store fresh herbs so they last longer", [(R1, "stop")])])
    kept, drops = clean_low_group(g, CleanRules())
    assert [k["id"] for k in kept] == ["i0r0"] and drops[0]["reason"] == "response_similar_to_kept"
    kept, drops = clean_low_group(g, CleanRules(response_scope="instruction"))
    assert [k["id"] for k in kept] == ["i0r0", "i1r0"] and drops == []


def test_truncated_samples_dropped_or_kept():
    g = low([ins(0, "How does yeast make bread dough rise in a warm kitchen", [(R1, "length")])])
    assert clean_low_group(g, CleanRules())[1][0]["reason"] == "response_truncated"
    assert [k["id"] for k in clean_low_group(g, CleanRules(keep_truncated=True))[0]] == ["i0r0"]
    high = {"seed_id": "s", "prompt": SEED_P, "response": SEED_R,
            "negatives": [{"id": "n0", "text": R1, "finish_reason": "length"}]}
    assert clean_high_group(high, CleanRules())[0] == []
    assert [k["id"] for k in clean_high_group(high, CleanRules(keep_truncated=True))[0]] == ["n0"]
    # generate: a cut-off new instruction is answered only when truncated samples are kept
    groups = [{"branch": "low", "instructions": [{"id": "a", "text": "Task A", "finish_reason": "length"},
                                                 {"id": "b", "text": "Task B", "finish_reason": "stop"}]}]
    p = prompts.Prompts(system="S")
    assert [r["key"] for r in generate.response_requests(groups, p, 2, 1)] == ["b"]
    assert [r["key"] for r in generate.response_requests(groups, p, 2, 1, keep_truncated=True)] == ["a", "b"]


# --- annotate ----------------------------------------------------------------------------------

def record(id_, score, it, branch=None, parent=None, response=None):
    return {"id": id_, "prompt": "Q " + (parent or id_), "response": response or ("text " + id_),
            "review": {"score": score},
            "lineage": {"iteration": it, "parent_id": parent, "root_id": parent or id_, "branch": branch}}


def test_dpo_rejected_on_a_tie_is_the_first_negative_or_the_last_candidate():
    s = record("s1", 2.0, 0, response="original")
    negs = [record("n1", 2.0, 1, "high", "s1", "neg one"), record("n2", 9.0, 1, "high", "s1", "neg two")]
    first = select_dpo([s], negs, 2.0)
    last = select_dpo([s], negs, 2.0, "last")
    assert [(p["chosen"]["value"], p["rejected"]["value"]) for p in first] == [("neg two", "neg one")]
    assert [(p["chosen"]["value"], p["rejected"]["value"]) for p in last] == [("neg two", "original")]
    # an unparsed negative: no candidate with no_score, the rejected with zero (score 0)
    unparsed = record("n3", None, 1, "high", "s1", "neg three")
    assert [p["rejected"]["value"] for p in select_dpo([record("s1", 9.0, 0)], [unparsed], 2.0)] == []
    zero = {**unparsed, "review": {"score": 0.0}}
    assert [p["rejected"]["value"] for p in select_dpo([record("s1", 9.0, 0)], [zero], 2.0)] == ["neg three"]


def settings(**over):
    base = dict(sft_threshold=8.0, dpo_gap=2.0, min_chars=5, next_seed="seed0", next_seed_limit=None,
                shuffle_seed=1, health=HealthLimits())
    return AnnotateSettings(**{**base, **over})


def test_seed1_holds_only_new_items_and_seed0_rejoins_from_iteration_2():
    seed0 = [record("a", 5.0, 0), record("b", 9.0, 0)]
    assert [r["id"] for r in base_seed(seed0, settings(), 1)] == ["a", "b"]
    assert base_seed(seed0, settings(seed1_new_only=True), 1) == []
    seed1 = [record("n1", 6.0, 1, "low", "a")]                    # Seed_1: new items only
    got = base_seed(seed1, settings(seed1_new_only=True), 2, first_reviewed=seed0)
    assert [r["id"] for r in got] == ["a", "b"]                    # Seed_0 as M_0 reviewed it
    got = base_seed(seed1, settings(seed1_new_only=True, next_seed="previous"), 2, first_reviewed=seed0)
    assert [r["id"] for r in got] == ["n1", "a", "b"]


# --- the extra SFT file for M_0 ----------------------------------------------------------------

def test_extra_sft_keeps_its_own_system_counts_seed_copies_and_refuses_history(tmp_path):
    f = tmp_path / "eft.json"
    f.write_text('[{"instruction": "Rate this answer", "input": "", "output": "score: 7", "system": "JUDGE SYS"},'
                 ' {"instruction": "Q a", "input": "", "output": "text a"},'
                 ' {"instruction": "New task", "input": "", "output": "An answer"}]')
    seed_ids = {seed_record("Q a", "text a", "seed#0", {})["id"]}
    out, stats = load_extra_sft(f, "OUR SYS", seed_ids)
    assert [(o["instruction"], o["system"]) for o in out] == [("Rate this answer", "JUDGE SYS"), ("New task", "OUR SYS")]
    assert stats["added"] == 2 and stats["equal_to_a_seed_record"] == 1
    f.write_text('[{"instruction": "Q", "input": "", "output": "A", "history": [["hi", "hello"]]}]')
    with pytest.raises(InputError, match="record 0: field 'history' holds earlier turns"):
        load_extra_sft(f, "S", set())


def test_the_authors_prompt_job_writes_the_template_in_our_slots(tmp_path):
    import json
    import subprocess
    import sys

    from lance_testing import ROOT
    repo = repo_with(tmp_path)
    out = tmp_path / "results" / "prompts" / "new_instruction.txt"
    job = {"input": {"template": str(repo / authors.PROMPT_FILE)}, "output": {"prompt": str(out)},
           "wildcards": {"key": "new_instruction"}}
    run = subprocess.run([sys.executable, str(ROOT / "scripts" / "authors_prompt.py"), json.dumps(job),
                          json.dumps({"name": "NEW", "key": "new_instruction"})], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    assert run.returncode == 0, run.stderr
    assert out.read_text() == "Write a task like {prompt} (its answer: {response}); keep {braces}.\n"
    run = subprocess.run([sys.executable, str(ROOT / "scripts" / "authors_prompt.py"), json.dumps(job),
                          json.dumps({"name": "BAD", "key": "new_instruction"})], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    assert run.returncode != 0 and "error: prompts.new_instruction:" in run.stderr + run.stdout


def test_final_answer_read_as_ours_or_as_the_authors():
    text = "Thought Process: x\nFinal Answer: Write a poem.\n### Example 4\nFinal Answer: Other task"
    assert prompts.parse_final_answer(text) == "Other task"
    assert prompts.parse_final_answer(text, "authors") == "Write a poem.\n### Example 4\nFinal Answer: Other task"
    assert prompts.parse_final_answer("**Final Answer:** Do it", "authors") == "** Do it"   # bold stays
    assert prompts.parse_final_answer("final answer: Do it", "authors") is None              # exact case
    assert prompts.parse_final_answer("final answer: Do it") == "Do it"
    assert prompts.parse_final_answer("Final Answer:   ", "authors") == ""
    s = generate.sample("t1i", "s", 0, {"text": text, "finish_reason": "stop"}, "", "authors")
    assert s["text"].startswith("Write a poem.")
