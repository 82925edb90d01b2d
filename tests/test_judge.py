import pytest

from lancekit.judge import aggregate, histogram, is_high_quality, parse_score


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
])
def test_parse_score_variants(text, expected):
    assert parse_score(text) == expected


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
