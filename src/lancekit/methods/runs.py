"""The run-key grammar, its one home: every evaluated model has a key, used by the workflow (the
``run`` wildcard of results/<run>/eval/summary.json) and by the report.

    base               the base model
    iter0              M_0 (shared by every method)
    <method>/iter<t>   M_t of a method, t >= 1
    <key>/seed<s>      a training-seed replicate of M_0 or M_t (train.seeds): trained from the same
                       start model on the same data with LLaMA-Factory's seed s; the base model
                       is not trained, so it has none
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
    """A regular expression of every run key of these methods, replicates too (the workflow's
    wildcard constraint)."""
    return rf"{BASE}|(?:{M0}|(?:{'|'.join(methods)})/iter[1-9]\d*)(?:/seed\d+)?"


def eval_runs(methods, iterations: dict[str, int]) -> list[str]:
    """Every evaluated model of the main chain: base, M_0, and M_1..M_T of each method."""
    return [BASE, M0] + [run_key(m, t) for m in methods for t in range(1, iterations[m] + 1)]


def replicate_key(run: str, seed: int) -> str:
    """The key of the replicate of ``run`` (M_0 or M_t) trained with seed ``seed``."""
    if run == BASE or split_seed(run)[1] is not None:
        raise ValueError(f"run key {run!r}: only M_0 and M_t (not base, not a replicate) have replicates")
    parse_run(run)
    return f"{run}/seed{int(seed)}"


def split_seed(run: str) -> tuple[str, int | None]:
    """"lance/iter2/seed7" -> ("lance/iter2", 7); a key of the main chain -> (itself, None)."""
    m = re.fullmatch(r"(.+)/seed(\d+)", run)
    if not m:
        return run, None
    if m.group(1) == BASE:
        raise ValueError(f"run key {run!r}: the base model is not trained, so it has no seed replicate")
    parse_run(m.group(1))
    return m.group(1), int(m.group(2))


def replicate_runs(runs, seeds) -> dict[str, dict[int, str]]:
    """{run: {seed: replicate key}} of every trained model among ``runs`` (not base), per seed
    of train.seeds."""
    return {r: {int(s): replicate_key(r, s) for s in seeds} for r in runs if r != BASE}
