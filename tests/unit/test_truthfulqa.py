"""TruthfulQA mc2 pure logic (lancekit.evaluation.truthfulqa) and its rendered OpenCompass config."""

import json
import math

import pytest

from lancekit.core.io import InputError
from lancekit.evaluation.registry import check_benchmark_data, resolve_benchmarks
from lancekit.evaluation.render import render_eval_config
from lancekit.evaluation.truthfulqa import PROMPT, TruthfulQAError, continuation, load_items, mc2_score, parse_items

FIXTURE = "tests/data/truthfulqa_mc_task.json"


def test_mc2_is_the_likelihood_mass_on_the_true_choices():
    # probabilities 0.5, 0.25 (true) and 0.125, 0.125 (false): mc2 = 0.75
    lps = [math.log(0.5), math.log(0.25), math.log(0.125), math.log(0.125)]
    assert mc2_score(lps, [1, 1, 0, 0]) == pytest.approx(0.75)
    # only ratios matter: the same numbers shifted by a constant, and far below exp's range
    assert mc2_score([lp - 2000.0 for lp in lps], [1, 1, 0, 0]) == pytest.approx(0.75)
    assert mc2_score([-1.0, -1.0], [0, 1]) == pytest.approx(0.5)
    # true choices need not come first
    assert mc2_score([math.log(0.125), math.log(0.5), math.log(0.375)], [0, 1, 0]) == pytest.approx(0.5)


@pytest.mark.parametrize("lps,labels", [([-1.0], [1, 0]), ([-1.0, -2.0], [1, 1]), ([-1.0, -2.0], [0, 0]), ([], [])])
def test_mc2_rejects_unusable_input(lps, labels):
    with pytest.raises(TruthfulQAError):
        mc2_score(lps, labels)


def test_both_file_shapes_read_the_same(tmp_path):
    items = load_items(FIXTURE)
    assert [len(i["choices"]) for i in items] == [4, 5, 4]
    assert items[1]["labels"] == [1, 1, 0, 0, 0] and items[1]["choices"][0] == "One."
    hf = [{"question": i["question"], "mc2_targets": {"choices": i["choices"], "labels": i["labels"]}}
          for i in items]
    (tmp_path / "mc.jsonl").write_text("\n".join(json.dumps(r) for r in hf))
    assert load_items(tmp_path / "mc.jsonl") == items


@pytest.mark.parametrize("record,message", [
    ({"mc2_targets": {"a": 1, "b": 0}}, "record 0: field 'question' missing"),
    ({"question": "q"}, "record 0: field 'mc2_targets' must be"),
    ({"question": "q", "mc2_targets": {"a": 1, "b": 1}}, "at least one of each"),
    ({"question": "q", "mc2_targets": {"choices": ["a", "b"], "labels": [1]}}, "empty or unmatched"),
])
def test_bad_records_name_the_record_and_field(record, message):
    with pytest.raises(TruthfulQAError, match=message):
        parse_items([record], "mc.json")


@pytest.mark.parametrize("content,message", [
    ('[{"question": "q", "mc2_targets": {"choices": 3, "labels": [1]}}]',
     r"record 0: field 'mc2_targets': 'choices' and 'labels' must be lists, got int and list"),
    ('[{"question": "q", "mc2_targets": {"choices": null, "labels": null}}]', r"record 0: field 'mc2_targets': 'choices' and 'labels' must be lists, got NoneType and NoneType"),
    ('[{"question": "q", "mc2_targets": {"choices": "ab", "labels": [1, 0]}}]', r"record 0: field 'mc2_targets': 'choices' and 'labels' must be lists, got str and list"),
    ('[{"question": "q", "mc2_targets": {"a": 1, "b": NaN}}]', r"record 0: field 'mc2_targets': label 1 must be 0 or 1, got nan"),
    ('[{"question": "q", "mc2_targets": {"a": 1, "b": [0]}}]', r"record 0: field 'mc2_targets': label 1 must be 0 or 1, got list"),
    ('[{"question": "q\\ud800", "mc2_targets": {"a": 1, "b": 0}}]', r"record 0: field 'question' missing, empty or not text"),
    ('[{"question": "q", "mc2_targets": {"\\udc00": 1, "b": 0}}]', r"record 0: field 'mc2_targets' has empty or unmatched"),
    ("[" * 100_000, r"unreadable JSON: nested too deeply"),
])
def test_data_file_of_any_shape_is_an_error_naming_file_record_and_field(tmp_path, content, message):
    """Found by tests/unit/test_properties.py: these raised TypeError, RecursionError, or were
    read (a string's letters as choices, a lone surrogate no model can be given)."""
    p = tmp_path / "mc.json"
    p.write_text(content)
    with pytest.raises(InputError, match=f"^{p}: {message}"):
        load_items(p)


def test_prompt_is_the_qa_primer_then_the_question():
    prompt = PROMPT.replace("{question}", "Is water wet?")
    assert prompt.startswith("Q: What is human life expectancy in the United States?\n")
    assert prompt.count("\nA: ") == 6 and prompt.endswith("\n\nQ: Is water wet?\nA:")
    assert continuation("Yes.") == " Yes."


def test_rendered_config_reads_the_staged_file_with_our_classes(tmp_path, monkeypatch):
    specs = resolve_benchmarks(["truthfulqa"])
    assert specs[0]["scoring"] == "ppl"
    problems = check_benchmark_data(specs, str(tmp_path))
    assert problems and "data/truthfulqa/mc_task.json" in problems[0] and "sylinrl/TruthfulQA" in problems[0]
    (tmp_path / "data" / "truthfulqa").mkdir(parents=True)
    (tmp_path / "data" / "truthfulqa" / "mc_task.json").write_text("[]")
    assert check_benchmark_data(specs, str(tmp_path)) == []
    monkeypatch.setenv("COMPASS_DATA_CACHE", str(tmp_path))
    text = render_eval_config("/m", "m", specs, {"limit": 2}, backend="ppl")
    assert "\nimport " not in text  # mmengine would dump an imported module into the config
    ns = {}
    exec(text, ns)  # no OpenCompass import: our classes are dotted names
    (d,) = ns["datasets"]
    assert d["path"] == str(tmp_path / "data/truthfulqa/mc_task.json")
    assert d["infer_cfg"]["inferencer"]["type"] == "lancekit.evaluation.truthfulqa_task.MC2Inferencer"
    assert d["type"] == "lancekit.evaluation.truthfulqa_task.TruthfulQAMC2Dataset"
    assert d["reader_cfg"]["test_range"] == "[0:2]"
    assert "'type': 'lancekit.evaluation.models.LanceHFBaseModel'" in text
