import random

import pytest
from rouge import Rouge

from lancekit.data.rouge import rouge_l, tokenise, too_similar


def test_tokenisation_rules():
    t = tokenise("The cat sat.  On the   mat. ")
    # split on '.', whitespace runs collapsed; the trailing ' ' piece is an empty-token sentence
    assert t.sentences == (("The", "cat", "sat"), ("On", "the", "mat"), ("",))
    # case and punctuation other than '.' are kept: 'The' != 'the', 'mat,' != 'mat'
    assert tokenise("mat, Mat").vocab == {"mat,", "Mat"}


def test_hand_computed_single_sentence():
    # ref: a b c d e (5 distinct), hyp: a c e f (4 distinct); LCS = a c e -> 3
    s = rouge_l("a c e f", "a b c d e")
    assert s["r"] == pytest.approx(3 / 5)
    assert s["p"] == pytest.approx(3 / 4)
    assert s["f"] == pytest.approx(2 * 0.6 * 0.75 / (0.6 + 0.75), rel=1e-6)


def test_hand_computed_union_over_sentences():
    # ref r1 = w1 w2 w3 w4 w5; hyp c1 = w1 w2 w6 w7 w8, c2 = w1 w3 w8 w9 w5
    # union LCS = {w1, w2, w3, w5} = 4; m = 5 distinct ref tokens, n = 8 distinct hyp tokens
    s = rouge_l("w1 w2 w6 w7 w8. w1 w3 w8 w9 w5", "w1 w2 w3 w4 w5")
    assert s["r"] == pytest.approx(4 / 5)
    assert s["p"] == pytest.approx(4 / 8)


def test_repeated_words_count_once():
    # distinct tokens: ref {the, cat}, hyp {the, cat}; LCS tokens {the, cat}
    s = rouge_l("the the cat", "the cat cat")
    assert s["r"] == pytest.approx(1.0) and s["p"] == pytest.approx(1.0)


def test_empty_texts_score_zero_instead_of_raising():
    assert rouge_l("", "a b c") == {"r": 0.0, "p": 0.0, "f": 0.0}
    assert rouge_l("...", "a b c")["f"] == 0.0
    assert too_similar(tokenise(""), tokenise("a"), 0.7) == (False, None)


def _rand_text(rng, vocab, max_sent=3, max_len=12):
    sents = []
    for _ in range(rng.randint(1, max_sent)):
        sents.append(" ".join(rng.choice(vocab) for _ in range(rng.randint(1, max_len))))
    return ". ".join(sents)


def test_matches_rouge_1_0_1_on_random_texts():
    rng = random.Random(7)
    vocab = ["the", "a", "cat", "dog", "sat", "on", "mat", "The", "ran", "fast,", "home"]
    ref_impl = Rouge(metrics=["rouge-l"])
    for _ in range(300):
        hyp, ref = _rand_text(rng, vocab), _rand_text(rng, vocab)
        expected = ref_impl.get_scores(hyp, ref)[0]["rouge-l"]
        got = rouge_l(hyp, ref)
        for k in "rpf":
            assert got[k] == pytest.approx(expected[k], abs=1e-12), (hyp, ref, k)


def test_too_similar_bound_never_changes_the_decision():
    rng = random.Random(11)
    vocab = ["x", "y", "z", "u", "v", "w", "q"]
    for _ in range(300):
        a, b = tokenise(_rand_text(rng, vocab)), tokenise(_rand_text(rng, vocab))
        full = rouge_l(a, b)
        expected = any(full[k] > 0.7 for k in "rpf")
        assert too_similar(a, b, 0.7)[0] is expected
