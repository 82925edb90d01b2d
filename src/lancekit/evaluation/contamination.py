"""Benchmark items must not appear in the seed: a word n-gram overlap check."""

from __future__ import annotations

import re

_WORD = re.compile(r"[a-z0-9]+")


def _ngrams(text: str, n: int) -> set[tuple[str, ...]]:
    words = _WORD.findall(text.lower())
    return {tuple(words[i:i + n]) for i in range(len(words) - n + 1)}


def overlaps(questions: list[str], seed_texts: list[str], n: int = 10) -> list[dict]:
    """Benchmark questions that share a run of `n` words (lower-cased, punctuation ignored) with
    a seed text, or are contained in one; [] when the benchmark is clean."""
    seed_grams: dict[tuple[str, ...], int] = {}
    for j, text in enumerate(seed_texts):
        for g in _ngrams(text, n):
            seed_grams.setdefault(g, j)
    joined = [" ".join(_WORD.findall(t.lower())) for t in seed_texts]
    hits = []
    for i, q in enumerate(questions):
        norm = " ".join(_WORD.findall(q.lower()))
        shared = next((g for g in _ngrams(q, n) if g in seed_grams), None)
        if shared:
            hits.append({"item": i, "seed": seed_grams[shared], "shared": " ".join(shared)})
        elif norm and any(norm in s for s in joined):
            hits.append({"item": i, "seed": next(j for j, s in enumerate(joined) if norm in s), "shared": norm})
    return hits
