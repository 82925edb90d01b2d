"""The judge: parse a review into a score, aggregate sampled reviews into one score, and check
that the judge is healthy enough to train on.

Parsing never raises on model text: a review without a valid score is a failed vote. A record
with no valid vote has no score (``None``), never 0. A vote whose prompt did not fit the context
(``prompt_too_long``) is neither a vote nor a parse failure: it is counted on its own.

Free-text rules (used by ``review.mode: free`` and as a fallback):
- accepted: ``score: 7``, ``Score: 7.5``, ``**Score:** 7``, ``Score = 8``, ``7/10``;
- a signed number is read with its sign, so ``score: -3`` is -3, outside [0, 10], invalid;
- a fraction must be out of 10: ``15/20`` or ``10/100`` are rejected, never rescaled (a judge
  that changes the scale is not following the rubric);
- a number that goes on as another one is no score: ``1e1``, ``7,5``, ``3-5``, ``7½``;
- the prompt's order decides which valid score counts: ``"last"`` for a justification-first
  prompt (the verdict comes at the end), ``"first"`` for a score-first prompt (numbers in the
  justification that follows must not override it).

The authors' rules, as switches (config ``review.parser: authors``, ``review.no_vote: zero``):
their parser reads only ``score: N`` (any case, one space), the first match, kept when in [0, 10];
a pair none of whose votes parsed scores 0.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SCORE_MIN, SCORE_MAX = 0.0, 10.0
ORDERS = ("first", "last")
PARSERS = ("lance", "authors")
NO_VOTE = ("no_score", "zero")
# The constrained mode lets the judge choose only among these continuations of "score:".
SCORE_CHOICES = tuple(f" {i}" for i in range(11))

_NUM = r"([-+\u2212]?\d+(?:\.\d+)?)"
_FRACTION = re.compile(r"\s*/\s*(\d+(?:\.\d+)?)")
# "score: 7", "Score: 7.5", "**Score:** 7", "Score = 8", "Final score: **9**", "score is 6".
# No two quantifiers in a row match the same characters: "score" and a long run of spaces with
# no number after them costs linear time, not quadratic (16k spaces took 3.5 s).
_LABELLED = re.compile(r"\bscore\b[\s*_:=]*(?:(?:is|of)\s[\s*_]*)?" + _NUM, re.IGNORECASE)
# "7/10", "7 / 10", "7.5/10" (any denominator is captured, then checked)
_BARE_FRACTION = re.compile(r"(?<![\w.])" + _NUM + r"(?=\s*/\s*\d)")
# the authors' own pattern (review_instances_vllm.py), searched case-insensitively
_AUTHORS = re.compile(r"score: (\d+(\.\d+)?)", re.IGNORECASE)


# what, right after a number, makes it something other than a score: an exponent ("1e1"), a
# decimal comma ("7,5"), a range ("3-5", "3 – 5"), a vulgar fraction ("7½")
_NOT_A_SCORE = re.compile(r"[eE][-+]?\d|,\d|\s*[-\u2013\u2012]\s*\d|[\u00bc-\u00be\u2150-\u215e]")


def _value(text: str, m: re.Match) -> float | None:
    """The number of a match if it is a valid score: in [0, 10], not a fraction of another scale,
    and not the start of another number (``_NOT_A_SCORE``)."""
    if _NOT_A_SCORE.match(text, m.end(1)):
        return None
    value = float(m.group(1).replace("\u2212", "-"))
    frac = _FRACTION.match(text, m.end(1))
    if frac and float(frac.group(1)) != 10:
        return None
    return value if SCORE_MIN <= value <= SCORE_MAX else None


def parse_authors(text: str) -> float | None:
    """The authors' parser: the first ``score: N`` (any case), if N is in [0, 10]."""
    m = _AUTHORS.search(text or "")
    if not m:
        return None
    value = float(m.group(1))
    return value if SCORE_MIN <= value <= SCORE_MAX else None


def parse_score(text: str, order: str = "last", parser: str = "lance") -> float | None:
    """The first or last (``order``) valid score in a review, or None (``parser`` "authors":
    `parse_authors`, whatever the order)."""
    if order not in ORDERS:
        raise ValueError(f"order must be one of {ORDERS}, got {order!r}")
    if parser not in PARSERS:
        raise ValueError(f"parser must be one of {PARSERS}, got {parser!r}")
    if parser == "authors":
        return parse_authors(text)
    if not text:
        return None
    found: dict[int, float | None] = {}
    for m in _LABELLED.finditer(text):
        found[m.start(1)] = _value(text, m)
    for m in _BARE_FRACTION.finditer(text):
        if m.start(1) not in found:
            frac = _FRACTION.match(text, m.end(1))
            if frac and float(frac.group(1)) == 10:
                found[m.start(1)] = _value(text, m)
    valid = [v for _, v in sorted(found.items()) if v is not None]
    if not valid:
        return None
    return valid[0] if order == "first" else valid[-1]


@dataclass(frozen=True)
class Verdict:
    score: float | None  # mean of the valid votes, rounded to 4 decimals; None: no valid vote
    votes: list[float]
    n_parsed: int
    n_failed: int
    n_truncated: int
    n_prompt_too_long: int = 0

    def as_dict(self) -> dict:
        return {"score": self.score, "votes": self.votes, "n_parsed": self.n_parsed,
                "n_failed": self.n_failed, "n_truncated": self.n_truncated,
                "n_prompt_too_long": self.n_prompt_too_long}


def aggregate(texts: list[str], finish_reasons: list[str] | None = None, order: str = "last",
              parser: str = "lance", no_vote: str = "no_score") -> Verdict:
    """Combine sampled reviews of one pair: the score is the mean of the votes that parsed; with
    none, no score (``no_vote`` "no_score") or 0 ("zero", the authors' code)."""
    if no_vote not in NO_VOTE:
        raise ValueError(f"no_vote must be one of {NO_VOTE}, got {no_vote!r}")
    reasons = list(finish_reasons or [""] * len(texts))
    too_long = sum(1 for r in reasons if r == "prompt_too_long")
    votes = [v for t, r in zip(texts, reasons, strict=True) if r != "prompt_too_long"
             for v in [parse_score(t, order, parser)] if v is not None]
    truncated = sum(1 for r in reasons if r == "length")
    score = round(sum(votes) / len(votes), 4) if votes else (0.0 if no_vote == "zero" else None)
    return Verdict(score, votes, len(votes), len(texts) - too_long - len(votes), truncated, too_long)


def is_high_quality(score: float | None, threshold: float) -> bool:
    """`score > V` is high quality; no score counts as low quality."""
    return score is not None and score > threshold


def split(records: list[dict], threshold: float) -> tuple[list[dict], list[dict]]:
    """(low, high) quality records of a reviewed seed, in input order."""
    low = [r for r in records if not is_high_quality(r["review"]["score"], threshold)]
    high = [r for r in records if is_high_quality(r["review"]["score"], threshold)]
    return low, high


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


@dataclass(frozen=True)
class HealthLimits:
    """The judge-health budget (config ``review``): the most failed votes / votes generated, and
    records without any valid vote / records, a review stage may have; None disables a limit."""
    max_parse_failure_rate: float | None = 0.25
    max_unscored_rate: float | None = 0.25

    @classmethod
    def from_config(cls, review: dict) -> HealthLimits:
        return cls(review["max_parse_failure_rate"], review["max_unscored_rate"])


def health_problems(stats: dict, iteration: int, stage: str, limits: HealthLimits, where: str) -> list[str]:
    """Judge-health budget: what is over its limit in one review stage's statistics. Stages that
    reused stored scores are not judged again."""
    if stats.get("reused_scores"):
        return []
    out = []
    checks = (("max_parse_failure_rate", "parse_failure_rate", "of the judge's votes did not parse"),
              ("max_unscored_rate", "unscored_rate", "of the records got no score"))
    for key, field, what in checks:
        limit, rate = getattr(limits, key), stats.get(field)
        if limit is not None and rate is not None and rate > limit:
            out.append(f"iteration {iteration}, {stage}: {rate:.1%} {what} (limit review.{key} = "
                       f"{limit:.0%}); read the judge's texts in {where}")
    return out
