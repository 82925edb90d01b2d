"""The judge: parse a review into a score, aggregate sampled reviews into one score.

Parsing never raises on model text: a review without a valid score is a failed vote. A record
with no valid vote has no score (``None``), never 0.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SCORE_MIN, SCORE_MAX = 0.0, 10.0
_NUM = r"(\d{1,3}(?:\.\d+)?)"
# "score: 7", "Score: 7.5", "**Score:** 7", "Score = 8", "score - 6", "Final score: **9**"
_LABELLED = re.compile(r"\bscore\b\W{0,6}?\s*[:=\-]?\s*\**\s*" + _NUM + r"(?!\s*/\s*(?!10\b)\d)",
                       re.IGNORECASE)
# "7/10", "7 / 10", "7.5/10"
_OUT_OF_TEN = re.compile(_NUM + r"\s*/\s*10(?![\d.]*\d)")


def parse_score(text: str) -> float | None:
    """The last valid score in a review, or None.

    Accepted: ``score: 7``, ``Score: 7.5``, ``**Score:** 7``, ``Score = 8``, ``7/10``.
    A candidate outside [0, 10] is invalid and skipped; the last valid one wins.
    """
    if not text:
        return None
    found: list[tuple[int, float]] = []
    for pattern in (_LABELLED, _OUT_OF_TEN):
        for m in pattern.finditer(text):
            value = float(m.group(1))
            if SCORE_MIN <= value <= SCORE_MAX:
                found.append((m.start(1), value))
    if not found:
        return None
    return max(found)[1]


@dataclass(frozen=True)
class Verdict:
    score: float | None  # mean of the valid votes, rounded to 4 decimals; None: no valid vote
    votes: list[float]
    n_parsed: int
    n_failed: int
    n_truncated: int

    def as_dict(self) -> dict:
        return {"score": self.score, "votes": self.votes, "n_parsed": self.n_parsed,
                "n_failed": self.n_failed, "n_truncated": self.n_truncated}


def aggregate(texts: list[str], finish_reasons: list[str] | None = None) -> Verdict:
    """Combine sampled reviews of one pair: the score is the mean of the votes that parsed."""
    votes = [v for v in (parse_score(t) for t in texts) if v is not None]
    truncated = sum(1 for r in (finish_reasons or []) if r == "length")
    score = round(sum(votes) / len(votes), 4) if votes else None
    return Verdict(score, votes, len(votes), len(texts) - len(votes), truncated)


def is_high_quality(score: float | None, threshold: float) -> bool:
    """SPEC step 2: `score > V` is high quality; no score counts as low quality."""
    return score is not None and score > threshold


def histogram(scores: list[float | None]) -> dict[str, int]:
    """Counts per integer bin 0..10 (a score s falls in bin floor(s); 10 in bin 10), plus 'none'."""
    bins = {str(b): 0 for b in range(11)}
    bins["none"] = 0
    for s in scores:
        if s is None:
            bins["none"] += 1
        else:
            bins[str(min(int(s), 10))] += 1
    return bins
