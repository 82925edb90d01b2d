"""Answer extraction for our OpenCompass datasets (pure Python, no OpenCompass import).

mmengine config files cannot hold top-level `def`s, so the generated eval config names these
functions by import path (`type='lancekit.evaluation.postprocess.last_number_postprocess'`); OpenCompass's
registry falls back to importing a dotted path it does not know.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

# A number as a model writes it: optional sign, thousands separators, optional decimals.
_NUMBER = r"-?\d[\d,]*(?:\.\d+)?"
_ANSWER_IS = re.compile(r"answer\s+is\s*:?\s*\$?\s*(" + _NUMBER + r")", re.IGNORECASE)
_ANY_NUMBER = re.compile(_NUMBER)
MAX_DIGITS = 1000  # longer "numbers" are no answer to any of our items: unparsable, not a crash


def normalize_number(token: str) -> str:
    """'1,200' -> '1200', '12.0' -> '12', '-3.50' -> '-3.5'; anything unparsable -> ''.

    Exact decimal arithmetic: an answer with hundreds of digits is compared as written (a float
    would overflow to inf, or round two different answers to the same value).
    """
    token = token.replace(",", "").rstrip(".")
    try:
        value = Decimal(token)
    except InvalidOperation:
        return ""
    if not value.is_finite() or abs(value.adjusted()) > MAX_DIGITS:
        return ""
    if value == value.to_integral_value():
        value = value.to_integral_value()
        return "0" if value.is_zero() else format(value, "f")
    return format(value, "f").rstrip("0")


def last_number_postprocess(text: str) -> str:
    """The model's final numeric answer as a string ('' when it wrote no number).

    The number after the last "the answer is" wins; without that phrase, the last number in the
    text. Thousands separators are dropped and integral floats become integers, so '1,200.00'
    compares equal to the reference 1200.
    """
    if not isinstance(text, str):
        text = str(text)
    marked = _ANSWER_IS.findall(text)
    if marked:
        return normalize_number(marked[-1])
    numbers = _ANY_NUMBER.findall(text)
    return normalize_number(numbers[-1]) if numbers else ""
