"""Per-item scores from OpenCompass result files (lancekit.evaluation.items), on canned result JSON in
the shapes opencompass 0.5.4 writes."""

import json

import pytest

from lancekit.evaluation.items import (
    ItemError,
    benchmark_items,
    check_item_scores,
    dataset_item_scores,
    item_score,
    mean_score,
)
from lancekit.evaluation.registry import dataset_abbrs_of, resolve_benchmarks

# evaluator-provided details (Gsm8kEvaluator & co.): a list in dataset order, `correct` per replica
GEN_LIST = {"accuracy": 66.66666666666667, "details": [
    {"example_abbr": "arith_0", "pred": ["3"], "answer": [3], "correct": [True]},
    {"example_abbr": "arith_1", "pred": ["6"], "answer": [78], "correct": [False]},
    {"example_abbr": "arith_2", "pred": ["5"], "answer": [5], "correct": [True]}]}
# AccEvaluator (no details of its own): OpenCompass's format_details, a dict keyed by index
GEN_DICT = {"accuracy": 50.0, "details": {
    "type": "GEN",
    "1": {"prompt": [], "origin_prediction": "The answer is D.", "predictions": "D", "references": "B"},
    "0": {"prompt": [], "origin_prediction": "D. Carbon", "predictions": "D", "references": "D"}}}
PPL_DICT = {"accuracy": 25.0, "details": {
    "type": "PPL", **{str(i): {"origin_prediction": {}, "predictions": "A", "references": r, "correct": r == "A"}
                      for i, r in enumerate("ABCD")}}}
# replicas (n=2): an item's score is its share of correct replicas
REPLICAS = {"accuracy": 75.0, "details": [{"correct": [True, True]}, {"correct": [True, False]}]}
# per-item floats (TruthfulQA mc2 style)
FLOATS = {"mc2": 45.0, "details": [{"score": 0.7}, {"score": 0.2}]}


def _write(run_dir, abbr, name, data):
    d = run_dir / "results" / abbr
    d.mkdir(parents=True, exist_ok=True)
    (d / f"{name}.json").write_text(json.dumps(data))


@pytest.mark.parametrize("result, expected", [
    (GEN_LIST, [1.0, 0.0, 1.0]), (GEN_DICT, [1.0, 0.0]), (PPL_DICT, [1.0, 0.0, 0.0, 0.0]),
    (REPLICAS, [1.0, 0.5]), (FLOATS, [0.7, 0.2])])
def test_item_scores_in_dataset_order_and_their_mean_is_the_score(result, expected):
    scores = dataset_item_scores(result)
    assert scores == expected
    assert mean_score(scores) == pytest.approx(next(v for k, v in result.items() if k != "details"))


def test_item_score_variants_and_errors():
    assert item_score({"is_correct": True}) == 1.0
    assert item_score({"cascade_correct": False}) == 0.0
    assert item_score({"correct": "True"}) == 1.0
    assert item_score({"score": 100}) == 1.0  # a 0-100 per-item score
    with pytest.raises(ItemError):
        item_score({"pred": "x"})
    with pytest.raises(ItemError, match="dump-eval-details"):
        dataset_item_scores({"accuracy": 3.0})
    with pytest.raises(ItemError, match="indices"):
        dataset_item_scores({"details": {"type": "GEN", "0": {"correct": True}, "2": {"correct": True}}})


def test_benchmark_items_single_and_multi_dataset(tmp_path):
    _write(tmp_path, "m", "arith", GEN_LIST)
    one = benchmark_items(tmp_path, "m", ["arith"])
    assert one["ids"] == ["0", "1", "2"] and one["scores"] == [1.0, 0.0, 1.0] and one["datasets"] == {"arith": 3}
    _write(tmp_path, "m", "mgsm_de", GEN_DICT)
    _write(tmp_path, "m", "mgsm_bn", PPL_DICT)
    _write(tmp_path, "m", "math", GEN_LIST)
    files = [p.stem for p in (tmp_path / "results" / "m").glob("*.json")]
    (spec,) = resolve_benchmarks([{"name": "mgsm", "subsets": ["de", "bn"]}])
    abbrs = dataset_abbrs_of(spec, files)
    assert abbrs == ["mgsm_bn", "mgsm_de"]  # its subsets, sorted: the same order for every model
    assert dataset_abbrs_of({**spec, "subsets": None}, files) == abbrs  # else the files with its prefix
    multi = benchmark_items(tmp_path, "m", abbrs)
    assert multi["ids"] == ["mgsm_bn/0", "mgsm_bn/1", "mgsm_bn/2", "mgsm_bn/3", "mgsm_de/0", "mgsm_de/1"]
    assert multi["scores"] == [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    (gsm,) = resolve_benchmarks(["gsm8k"])
    assert dataset_abbrs_of(gsm, files) == ["gsm8k"]
    (emb,) = resolve_benchmarks([{"name": "arith", "path": "/x.jsonl"}])
    assert dataset_abbrs_of(emb, files) == ["arith"]
    with pytest.raises(ItemError, match="no result file"):
        benchmark_items(tmp_path, "m", ["gsm8k"])


def test_check_item_scores_against_the_summary(tmp_path):
    _write(tmp_path, "m", "mgsm_bn", PPL_DICT)
    _write(tmp_path, "m", "mgsm_de", GEN_DICT)
    items = benchmark_items(tmp_path, "m", ["mgsm_bn", "mgsm_de"])
    # the summary CSV rounds to 2 decimals; a group row (mgsm) is the mean of its datasets
    assert check_item_scores(items, {"mgsm_bn": 25.0, "mgsm_de": 50.0, "mgsm": 37.5}) == []
    problems = check_item_scores(items, {"mgsm_bn": 25.0, "mgsm_de": 55.0})
    assert len(problems) == 1 and problems[0].startswith("mgsm_de:")
    assert "no summary score" in check_item_scores(items, {"mgsm_bn": 25.0})[0]
    _write(tmp_path, "m", "arith", GEN_LIST)
    assert check_item_scores(benchmark_items(tmp_path, "m", ["arith"]), {"arith": 66.67}) == []
