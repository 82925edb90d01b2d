"""ROUGE-L as the reference code computes it (``rouge==1.0.1``, summary level), only faster.

Definition (identical decisions to ``rouge.Rouge().get_scores(hyp, ref)[0]["rouge-l"]``):

- Sentences: the text is split on ``"."``; empty pieces are dropped; inside a sentence runs of
  whitespace become one space. Tokens are the space-separated pieces of a sentence, case and
  punctuation other than ``.`` kept (``"Paris,"`` and ``"paris"`` are different tokens).
- ``m`` / ``n``: the number of *distinct* tokens of the reference / the hypothesis.
- For every reference sentence and every hypothesis sentence, one longest common subsequence
  is reconstructed (ties broken as the reference does); ``llcs`` is the number of distinct tokens
  appearing in any of them.
- ``r = llcs / m``, ``p = llcs / n``, ``f = 2pr / (p + r + 1e-8)``.

Differences from the reference code, none of which changes a decision: empty texts score 0
instead of raising; the LCS table is an integer list, not a dict of tuples; the backtrack is a
loop, not a recursion (the reference overflows Python's stack past ~1000-word sentences); each
text is tokenised once; and `too_similar` skips the LCS when the shared distinct tokens alone
cannot reach the limit.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Tokenised:
    sentences: tuple[tuple[str, ...], ...]
    vocab: frozenset[str]

    @property
    def empty(self) -> bool:
        return not self.vocab


def tokenise(text: str) -> Tokenised:
    sentences = []
    for piece in text.split("."):
        if len(piece) > 0:
            sentences.append(tuple(" ".join(piece.split()).split(" ")))
    vocab = frozenset(tok for s in sentences for tok in s)
    return Tokenised(tuple(sentences), vocab)


def _lcs_tokens(x: tuple[str, ...], y: tuple[str, ...]) -> set[str]:
    """Tokens of one LCS of x and y, reconstructed with the reference's tie-breaking."""
    n, m = len(x), len(y)
    table = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(1, n + 1):
        xi, row, prev = x[i - 1], table[i], table[i - 1]
        for j in range(1, m + 1):
            if xi == y[j - 1]:
                row[j] = prev[j - 1] + 1
            else:
                a, b = prev[j], row[j - 1]
                row[j] = a if a > b else b
    out: set[str] = set()
    i, j = n, m
    while i > 0 and j > 0:
        if x[i - 1] == y[j - 1]:
            out.add(x[i - 1])
            i -= 1
            j -= 1
        elif table[i - 1][j] > table[i][j - 1]:
            i -= 1
        else:
            j -= 1
    return out


def rouge_l(hyp: Tokenised | str, ref: Tokenised | str) -> dict[str, float]:
    """{'r', 'p', 'f'} of hypothesis `hyp` against reference `ref` (0 when either is empty)."""
    hyp = tokenise(hyp) if isinstance(hyp, str) else hyp
    ref = tokenise(ref) if isinstance(ref, str) else ref
    if hyp.empty or ref.empty:
        return {"r": 0.0, "p": 0.0, "f": 0.0}
    union: set[str] = set()
    for ref_s in ref.sentences:
        for hyp_s in hyp.sentences:
            union |= _lcs_tokens(ref_s, hyp_s)
    llcs = len(union)
    r, p = llcs / len(ref.vocab), llcs / len(hyp.vocab)
    return {"r": r, "p": p, "f": 2.0 * ((p * r) / (p + r + 1e-8))}


def _exceeds(scores: dict[str, float], limit: float) -> bool:
    return scores["r"] > limit or scores["p"] > limit or scores["f"] > limit


def too_similar(hyp: Tokenised, ref: Tokenised, limit: float) -> tuple[bool, dict[str, float] | None]:
    """Whether r, p or F1 of ROUGE-L exceeds `limit`; the scores when they had to be computed.

    llcs can never exceed the number of distinct tokens the two texts share, so when even that
    bound keeps r, p and F1 at or under the limit the LCS is not computed (scores: None).
    """
    if hyp.empty or ref.empty:
        return False, None
    shared = len(hyp.vocab & ref.vocab)
    r_max, p_max = shared / len(ref.vocab), shared / len(hyp.vocab)
    bound = {"r": r_max, "p": p_max, "f": 2.0 * ((p_max * r_max) / (p_max + r_max + 1e-8))}
    if not _exceeds(bound, limit):
        return False, None
    scores = rouge_l(hyp, ref)
    return _exceeds(scores, limit), scores
