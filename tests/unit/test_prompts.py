from lance_testing import ROOT
from lancekit.data import prompts
from lancekit.data.prompts import Prompts, parse_final_answer

DEFAULT = {k: str(ROOT / f"config/prompts/{k}.txt") for k in ("system", "review", "new_instruction", "negative")}


def test_templates_load_and_fill_only_their_slots():
    p = Prompts.load(DEFAULT)
    msgs = prompts.review_messages(p, "What is {x}?", "It is {y}.")
    assert msgs[0] == {"role": "system", "content": p.system}
    assert "What is {x}?" in msgs[1]["content"] and "It is {y}." in msgs[1]["content"]
    assert "{prompt}" not in msgs[1]["content"] and "score: N" in msgs[1]["content"]
    neg = prompts.negative_messages(p, "Q?", "Good.")[1]["content"]
    assert neg.rstrip().endswith("Question: Q?\nGood answer: Good.\nThinking:")
    assert prompts.new_instruction_messages(p, "T")[1]["content"].count("### Example") == 3


def test_template_without_slot_is_rejected(tmp_path):
    bad = tmp_path / "review.txt"
    bad.write_text("judge this")
    try:
        Prompts.load({**DEFAULT, "review": str(bad)})
    except ValueError as e:
        assert "review" in str(e) and "{prompt}" in str(e)
    else:
        raise AssertionError("a template without its slots must be rejected")


def test_parse_final_answer_variants():
    assert parse_final_answer("Thinking: x\nFinal Answer: Write a poem about rain.") == "Write a poem about rain."
    assert parse_final_answer("**Final Answer:** Do X.") == "Do X."
    assert parse_final_answer("final answer: a\nFinal Answer: b") == "b"
    assert parse_final_answer("Final Answer: Do Y.\n\n### Example 4\nTask: more") == "Do Y."
    assert parse_final_answer("Final Answer: line one\nline two") == "line one\nline two"
    assert parse_final_answer("no marker here") is None
    assert parse_final_answer("Final Answer:   ") is None
    assert parse_final_answer("") is None


def test_fill_is_one_pass():
    """Text put into a slot is never substituted again: seeds that talk about templates stay intact."""
    p = Prompts.load(DEFAULT)
    msgs = prompts.review_messages(p, "Explain what {response} means in a Jinja template.",
                                   "It is replaced by the value of `response`; {prompt} likewise.")
    user = msgs[1]["content"]
    assert "Explain what {response} means in a Jinja template." in user
    assert "It is replaced by the value of `response`; {prompt} likewise." in user
    neg = prompts.negative_messages(p, "Q with {response}", "A with {prompt}")[1]["content"]
    assert "Question: Q with {response}\nGood answer: A with {prompt}" in neg
    assert prompts.fill("{a}{b}", a="{b}", b="x") == "{b}x"
