import time

import pytest

from lancekit.data.judge import HealthLimits, aggregate, health_problems, histogram, is_high_quality, parse_score


@pytest.mark.parametrize("text,expected", [
    ("The answer is fine.\nscore: 7", 7.0),
    ("Score: 7.5", 7.5),
    ("**Score:** 7", 7.0),
    ("Score: **8**", 8.0),
    ("Overall I would give it 7/10.", 7.0),
    ("7 / 10", 7.0),
    ("score = 6", 6.0),
    ("First score: 3. On reflection, score: 9", 9.0),          # the last one wins
    ("score: 4\nThat was out of 10, so 6/10 overall", 6.0),     # last by position, either form
    ("score: 12\nscore: 5", 5.0),                                # 12 is invalid, skipped
    ("score: 5\nscore: 42", 5.0),                                # the last *valid* one
    ("score: 0", 0.0),
    ("score: 10", 10.0),
    ("I give it a 3/5", None),                                   # another scale: not a score
    ("The scores of both teams were close", None),
    ("score: N", None),
    ("", None),
    # negatives are read with their sign, so they are out of range, never their absolute value
    ("score: -3", None),
    ("Score: \u22124", None),
    ("score: -3\nscore: 6", 6.0),
    # fractions of another scale are rejected, not read as their numerator
    ("score: 15/20", None),
    ("I rate it 10/100", None),
    ("score: 8/10", 8.0),
    ("score: 9 / 10", 9.0),
    ("Score is 6", 6.0),
    # a number that goes on as another one is no score (it was read as its first digits)
    ("score: 1e1", None),
    ("score: 7,5", None),
    ("score: 3-5", None),
    ("score: 3 \u2013 5", None),
    ("score: 7\u00bd", None),
    ("score: 7, well organised", 7.0),                          # a comma and a word: still 7
    ("score: 7 - a clear answer", 7.0),
    ("score: 3-5\nscore: 6", 6.0),
])
def test_parse_score_variants(text, expected):
    assert parse_score(text) == expected


@pytest.mark.parametrize("text", ["score" + " " * 60_000, "Score:" + "*_ " * 20_000, "score is" + "\n" * 60_000])
def test_parse_time_is_linear_in_a_run_of_spaces(text):
    """A judge that degenerates into whitespace after "score" (60k characters: about a minute
    before; each space retried every shorter run) is read at once, as no score."""
    start = time.perf_counter()
    assert parse_score(text) is None and parse_score(text + "7") == 7.0
    assert time.perf_counter() - start < 1.0


@pytest.mark.parametrize("text,first,last", [
    ("score: 7\nThe answer covers 9 of 10 points; 9/10 would be too generous.", 7.0, 9.0),
    ("Weak on points 3 and 4. score: 5", 5.0, 5.0),
    ("score: 4\nscore: 8", 4.0, 8.0),
])
def test_parse_order_follows_the_prompt(text, first, last):
    assert parse_score(text, "first") == first and parse_score(text, "last") == last


def test_prompt_too_long_is_not_a_parse_failure():
    v = aggregate(["", "score: 6", ""], ["prompt_too_long", "stop", "stop"])
    assert (v.n_prompt_too_long, v.n_parsed, v.n_failed, v.score) == (1, 1, 1, 6.0)


def test_health_budget_names_iteration_stage_and_rate():
    stats = {"parse_failure_rate": 0.53, "unscored_rate": 0.25}
    limits = HealthLimits(max_parse_failure_rate=0.25, max_unscored_rate=0.25)
    problems = health_problems(stats, 2, "review_new", limits, "results/iter2/reviewed_new.json")
    assert len(problems) == 1
    assert problems[0].startswith("iteration 2, review_new: 53.0% of the judge's votes did not parse")
    assert "review.max_parse_failure_rate" in problems[0] and "results/iter2/reviewed_new.json" in problems[0]
    assert health_problems({**stats, "unscored_rate": 0.3}, 1, "review_seed", limits, "x")[1].startswith(
        "iteration 1, review_seed: 30.0% of the records got no score")
    assert health_problems(stats, 1, "s", HealthLimits(None, None), "x") == []
    assert health_problems({**stats, "reused_scores": True}, 1, "s", limits, "x") == []


def test_aggregate_mean_of_parsed_votes_only():
    v = aggregate(["score: 6", "no verdict here", "Score: 9"], ["stop", "length", "stop"])
    assert v.votes == [6.0, 9.0]
    assert v.score == 7.5
    assert (v.n_parsed, v.n_failed, v.n_truncated) == (2, 1, 1)


def test_aggregate_no_valid_vote_is_none_not_zero():
    v = aggregate(["nothing", "score: 11", ""])
    assert v.score is None and v.n_failed == 3


def test_aggregate_rounds_thirds():
    assert aggregate(["score: 8", "score: 8", "score: 9"]).score == 8.3333


@pytest.mark.parametrize("score,high", [(7.0, False), (7.0001, True), (8.0, True), (None, False), (0.0, False)])
def test_split_boundary(score, high):
    # SPEC step 2: score > 7.0 is high quality; 7.0 is low; no score counts as low.
    assert is_high_quality(score, 7.0) is high


def test_histogram_bins():
    h = histogram([0.0, 6.9, 7.0, 9.99, 10.0, None])
    assert h["0"] == 1 and h["6"] == 1 and h["7"] == 1 and h["9"] == 1 and h["10"] == 1
    assert h["none"] == 1 and sum(h.values()) == 6


def test_annotate_stops_before_training_when_the_judge_is_over_budget(tmp_path):
    """The stage that feeds training refuses, naming iteration, stage, rate and file; the reviews stay."""
    import json
    import os
    import subprocess
    import sys

    from lance_testing import ROOT

    files = {}
    for name, obj in (("seed_stats", {"parse_failure_rate": 0.54, "unscored_rate": 0.25}),
                      ("new_stats", {"parse_failure_rate": 0.1, "unscored_rate": 0.0}),
                      ("reviewed_seed", []), ("reviewed_new", []), ("prev_sft", []), ("prev_dpo", [])):
        files[name] = tmp_path / f"{name}.json"
        files[name].write_text(json.dumps(obj))
    (tmp_path / "system.txt").write_text("SYS")
    out = {k: str(tmp_path / "out" / f"{k}.json") for k in ("sft", "dpo", "new_sft", "new_dpo", "dataset_info",
                                                            "next_seed", "stats")}
    job = {"input": {**{k: str(v) for k, v in files.items()}, "system": str(tmp_path / "system.txt")},
           "output": out, "wildcards": {"t": "2", "method": "lance"}, "params": {}}
    settings = {"health": {"max_parse_failure_rate": 0.25, "max_unscored_rate": 0.25},
                "sft_threshold": 8.0, "dpo_gap": 2.0, "min_chars": 5, "next_seed": "seed0",
                "next_seed_limit": None, "shuffle_seed": 1}
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "annotate.py"), json.dumps(job), json.dumps(settings)],
                          env=dict(os.environ, PYTHONPATH=str(ROOT / "src")), capture_output=True, text=True)
    assert proc.returncode != 0
    assert "iteration 2, review_seed: 54.0% of the judge's votes did not parse" in proc.stderr
    assert str(files["reviewed_seed"]) in proc.stderr and "review_new" not in proc.stderr
    assert not (tmp_path / "out").exists()
    settings["health"] = {"max_parse_failure_rate": 0.6, "max_unscored_rate": None}
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "annotate.py"), json.dumps(job), json.dumps(settings)],
                          env=dict(os.environ, PYTHONPATH=str(ROOT / "src")), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "out" / "stats.json").read_text())["sft_total"] == 0
