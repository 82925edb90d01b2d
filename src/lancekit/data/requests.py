"""The shape of what goes to an engine and what comes back, for every data stage.

A request is ``{"key", "messages", "n", "seed"}`` (optionally ``stop``, ``choice``,
``max_tokens``); a completion is ``{"text", "finish_reason", "num_tokens"}``. Completions come
back as one list per request. The engine call sits in the scripts, between the two halves of a
stage, so that every stage can be tested with canned model text.
"""

from __future__ import annotations

import hashlib


def request_seed(base: int, *parts: str) -> int:
    """Per-request sampling seed: depends on the run's seed and the request, not on batch order."""
    h = hashlib.sha256(("\x1f".join([str(base), *parts])).encode()).digest()
    return int.from_bytes(h[:4], "big") & 0x7FFFFFFF


def token_stats(completions: list[list[dict]]) -> dict:
    flat = [c for cs in completions for c in cs]
    return {"samples": len(flat), "generated_tokens": sum(c.get("num_tokens", 0) for c in flat),
            "truncated": sum(1 for c in flat if c["finish_reason"] == "length"),
            "prompt_too_long": sum(1 for c in flat if c["finish_reason"] == "prompt_too_long")}
