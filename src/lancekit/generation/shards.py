"""Data parallelism over records: split a stage's input into N shards by stable record id, run
each shard as its own job (its own engine, its own GPU on a cluster), merge the shard outputs.

A record's shard depends only on its id and N, never on which shards ran before, and the merge
puts every output item back where the unsharded stage would have put it, so the merged file is
the same (records, ids, order) for any N wherever the engine is deterministic.

Shard files are named ``<i>-of-<n>.json`` (i = 0 .. n-1) and hold
``{"shard": i, "shards": n, "items": [...], "tally": {...}}``: the stage's output items of that
shard, in input order, and additive counters (tokens, requests, seconds).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterable


def shard_of(key: str, n: int) -> int:
    """The shard (0 .. n-1) of a record id: a hash, so shards are balanced whatever the ids."""
    if n < 1:
        raise ValueError(f"shards must be >= 1, not {n}")
    return int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "big") % n


def select(records: list[dict], shard: int, n: int, key: str = "id") -> list[dict]:
    """The records of one shard, in input order."""
    if not 0 <= shard < n:
        raise ValueError(f"shard {shard} is not in 0..{n - 1}")
    return [r for r in records if shard_of(r[key], n) == shard]


def shard_name(shard: int, n: int) -> str:
    return f"{shard}-of-{n}"


def merge(inputs: list[dict], shard_items: Iterable[list[dict]], source: str,
          order: Callable[[dict], tuple] | None = None, input_key: str = "id") -> list[dict]:
    """The shard outputs as one list in the unsharded stage's order.

    Each output item names its input record by ``item[source]`` (``id`` for a review,
    ``seed_id`` for generate's groups). Items are ordered by ``order(item)`` first when given
    (generate: low-score groups before high-score ones), then by their input record's position.
    An input id that occurs twice keeps both positions, in order.
    """
    positions: dict[str, list[int]] = defaultdict(list)
    for i, rec in enumerate(inputs):
        positions[rec[input_key]].append(i)
    taken: dict[str, int] = defaultdict(int)
    keyed = []
    for items in shard_items:
        for item in items:
            sid = item[source]
            if sid not in positions:
                raise ValueError(f"a shard holds {source}={sid!r}, which is not in the stage's input")
            k = taken[sid]
            if k >= len(positions[sid]):
                raise ValueError(f"{source}={sid!r} occurs in the shards more often than in the input")
            taken[sid] = k + 1
            keyed.append(((order(item) if order else ()), positions[sid][k], item))
    keyed.sort(key=lambda x: (x[0], x[1]))
    return [item for _, _, item in keyed]


def add_tallies(tallies: Iterable[dict]) -> dict:
    """Counters of all shards summed key by key (numbers only; ``seconds`` also as a max: the
    stage's wall time when the shards ran side by side)."""
    total: dict = {}
    longest = 0.0
    for t in tallies:
        for k, v in t.items():
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                total[k] = total.get(k, 0) + v
        longest = max(longest, float(t.get("seconds", 0) or 0))
    if "seconds" in total:
        total["seconds"] = round(total["seconds"], 1)
        total["seconds_longest_shard"] = round(longest, 1)
    return total
