"""The run-key grammar, its one home: every evaluated model has a key, used by the workflow (the
``run`` wildcard of results/<run>/eval/summary.json) and by the report.

    base               the base model
    iter0              M_0 (shared by every method)
    <method>/iter<t>   M_t of a method, t >= 1
"""

from __future__ import annotations

import re

BASE, M0 = "base", "iter0"


def run_key(method: str, t: int | None) -> str:
    """The key of M_t of a method ("base" for the base model; t = 0 is M_0, whatever the method)."""
    if method == "base":
        return BASE
    return M0 if t == 0 else f"{method}/iter{t}"


def parse_run(run: str) -> tuple[str, int | None]:
    """"base" -> ("base", None); "iter0" -> ("m0", 0); "lance/iter3" -> ("lance", 3)."""
    if run == BASE:
        return "base", None
    if run == M0:
        return "m0", 0
    m = re.fullmatch(r"([a-z][a-z0-9_]*)/iter([1-9]\d*)", run)
    if not m:
        raise ValueError(f"run key {run!r}: expected base, iter0 or <method>/iter<t> (t >= 1)")
    return m.group(1), int(m.group(2))


def pattern(methods) -> str:
    """A regular expression of every run key of these methods (the workflow's wildcard constraint)."""
    return rf"{BASE}|{M0}|(?:{'|'.join(methods)})/iter[1-9]\d*"


def eval_runs(methods, iterations: dict[str, int]) -> list[str]:
    """Every evaluated model: base, M_0, and M_1..M_T of each method."""
    return [BASE, M0] + [run_key(m, t) for m in methods for t in range(1, iterations[m] + 1)]
