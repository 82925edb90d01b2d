"""Multiple choice by continuation log-likelihood (lancekit.evaluation.choice): ARC and WinoGrande
read from their upstream layouts (the vendored slices), prompts, shots and the pick."""

import json
import math

import pytest

from lance_testing import ROOT
from lancekit.evaluation.choice import ChoiceError, arc_items, pick, winogrande_items, winogrande_parts

ARC = ROOT / "tests/data/benchmarks/arc_challenge/ARC-Challenge"
WINO = ROOT / "tests/data/benchmarks/winogrande/winogrande_1.1"


def test_arc_scores_the_test_split_after_25_train_questions():
    items = arc_items(ARC / "ARC-Challenge-Test.jsonl", ARC / "ARC-Challenge-Train.jsonl")
    test = [json.loads(line) for line in (ARC / "ARC-Challenge-Test.jsonl").read_text().splitlines()]
    train = [json.loads(line) for line in (ARC / "ARC-Challenge-Train.jsonl").read_text().splitlines()]
    assert len(items) == len(test) == 8
    first = items[0]
    context = first["options"][0][0]
    # the 25 shots are the train questions with their gold answers; no test question among them
    blocks = context.split("\n\n")
    assert len(blocks) == 26 and blocks[-1] == f"Question: {test[0]['question']['stem']}\nAnswer:"
    gold0 = next(c["text"] for c in train[0]["question"]["choices"] if c["label"] == train[0]["answerKey"])
    assert blocks[0] == f"Question: {train[0]['question']['stem']}\nAnswer: {gold0}"
    assert not any(t["question"]["stem"] in context.rsplit("\n\n", 1)[0] for t in test)
    # every option is a continuation of the same context, in the file's order
    assert {o[0] for o in first["options"]} == {context}
    assert [o[1] for o in first["options"]] == [" " + c["text"] for c in test[0]["question"]["choices"]]
    labels = [c["label"] for c in test[0]["question"]["choices"]]
    assert first["gold"] == labels.index(test[0]["answerKey"]) and first["norm"] is True


def test_arc_reads_numeric_labels_and_five_options(tmp_path):
    rec = {"id": "x", "question": {"stem": "Pick", "choices": [{"text": t, "label": str(i + 1)}
                                                               for i, t in enumerate("vwxyz")]}, "answerKey": "4"}
    (tmp_path / "t.jsonl").write_text(json.dumps(rec) + "\n")
    (tmp_path / "tr.jsonl").write_text(json.dumps(rec) + "\n")
    (item,) = arc_items(tmp_path / "t.jsonl", tmp_path / "tr.jsonl", shots=1)
    assert len(item["options"]) == 5 and item["gold"] == 3 and item["id"] == "x"
    with pytest.raises(ChoiceError, match="2 shots"):
        arc_items(tmp_path / "t.jsonl", tmp_path / "tr.jsonl", shots=2)
    rec["answerKey"] = "E"
    (tmp_path / "t.jsonl").write_text(json.dumps(rec) + "\n")
    with pytest.raises(ChoiceError, match=r"t.jsonl: record 0: field 'answerKey' 'E'"):
        arc_items(tmp_path / "t.jsonl", tmp_path / "tr.jsonl", shots=1)


def test_winogrande_scores_the_rest_of_the_sentence_after_each_option():
    assert winogrande_parts("The trophy did not fit in the suitcase because _ was too big.", "the trophy") == (
        "The trophy did not fit in the suitcase because the trophy", " was too big.")
    items = winogrande_items(WINO / "dev.jsonl", WINO / "train_xs.jsonl")
    dev = [json.loads(line) for line in (WINO / "dev.jsonl").read_text().splitlines()]
    labels = (WINO / "dev-labels.lst").read_text().split()
    assert len(items) == 8 and [str(i["gold"] + 1) for i in items] == labels
    (c1, cont1), (c2, cont2) = items[0]["options"]
    assert cont1 == cont2 and c1 != c2 and items[0]["norm"] is False
    shots, own = c1.rsplit("\n\n", 1)
    assert own == dev[0]["sentence"].split("_")[0] + dev[0]["option1"]
    # five shots: train_xs items 0, 2, 4, 6, 8 as full sentences with their gold option
    train = [json.loads(line) for line in (WINO / "train_xs.jsonl").read_text().splitlines()]
    expected = []
    for k in (0, 2, 4, 6, 8):
        c, rest = winogrande_parts(train[k]["sentence"], train[k]["option" + train[k]["answer"]])
        expected.append(c + rest)
    assert shots.split("\n\n") == expected and "_" not in shots
    with pytest.raises(ChoiceError, match="the shots are items"):
        winogrande_items(WINO / "dev.jsonl", WINO / "train_xs.jsonl", shots=(0, 9))


def test_the_pick_normalises_by_characters_only_for_acc_norm():
    conts = [" a", " a much longer answer"]
    lps = [-3.0, -10.0]
    assert pick(lps, conts, norm=False) == 0
    assert pick(lps, conts, norm=True) == 1  # -10/20 > -3/1
    assert pick([-1.0, -1.0], [" x", " y"], norm=False) == 0  # first on a tie
    assert pick([math.log(0.2), math.log(0.8)], [" x", " y"], norm=True) == 1
    with pytest.raises(ChoiceError):
        pick([-1.0], [" x"], norm=False)
