"""Data parallelism over records: split a stage's input into N shards by stable record id, run
each shard as its own job (its own engine, its own GPU on a cluster), merge the shard outputs.

A record's shard depends only on its id and N, never on which shards ran before, and the merge
puts every output item back where the unsharded stage would have put it, so the merged file is
the same (records, ids, order) for any N wherever the engine is deterministic.

Shard files are named ``<i>-of-<n>.json`` (i = 0 .. n-1) and hold
``{"shard": i, "shards": n, "items": [...], "tally": {...}}``: the stage's output items of that
shard, in input order, and additive counters (tokens, requests, seconds). `read_shard` and
`check_shard` make sure a shard file is one and gives back each of its input records exactly once
(per mode: generate's branch), so a gather never merges a shard that lost or doubled records.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter, defaultdict
from collections.abc import Callable, Hashable, Iterable

from ..core.io import InputError, read_json


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


def read_shard(path: str | os.PathLike, shard: int, n: int, source: str) -> dict:
    """Shard file ``shard`` of ``n``, checked for shape: an object with ``shard``, ``shards``,
    ``items`` (objects, each naming its input record by ``source``) and ``tally``. Anything else
    is an `InputError` naming the file (and the item): a garbled shard is never merged."""
    part = read_json(path)  # bad JSON: InputError naming the file
    if not isinstance(part, dict):
        raise InputError(f"{path}: not a shard file (a JSON {type(part).__name__}, expected an object)")
    missing = [k for k in ("shard", "shards", "items", "tally") if k not in part]
    if missing:
        raise InputError(f"{path}: not a shard file (no {', '.join(missing)})")
    if (part["shard"], part["shards"]) != (shard, n):
        raise InputError(f"{path}: holds shard {part['shard']!r} of {part['shards']!r}, expected {shard} of {n}")
    if not isinstance(part["items"], list):
        raise InputError(f"{path}: items: a {type(part['items']).__name__}, expected a list")
    if not isinstance(part["tally"], dict):
        raise InputError(f"{path}: tally: a {type(part['tally']).__name__}, expected an object")
    for j, item in enumerate(part["items"]):
        if not isinstance(item, dict):
            raise InputError(f"{path}: item {j}: a {type(item).__name__}, expected an object")
        if not isinstance(item.get(source), str):
            raise InputError(f"{path}: item {j}: field {source!r} missing or not a string")
    return part


SKIP = object()  # a `mode` answer: the stage makes no item of this record


def expected_ids(records: list[dict], shard: int, n: int, mode: Callable[[dict], Hashable] | None = None,
                 key: str = "id") -> Counter:
    """What shard ``shard`` of ``n`` must give back: (mode, id) of each of its input records, as
    often as the record occurs. ``mode(record)`` is the kind of item it makes (generate: its
    branch), or `SKIP` for a record the stage makes nothing of; without ``mode``, None."""
    out: Counter = Counter()
    for rec in select(records, shard, n, key):
        m = mode(rec) if mode else None
        if m is not SKIP:
            out[(m, rec[key])] += 1
    return out


def _listed(pairs: Iterable[tuple], source: str, mode_name: str, most: int = 5) -> str:
    pairs = list(pairs)
    shown = ", ".join(f"{source}={sid!r}" + (f" ({mode_name} {m!r})" if m is not None else "")
                      for m, sid in pairs[:most])
    return shown + (f" and {len(pairs) - most} more" if len(pairs) > most else "")


def check_shard(path: str | os.PathLike, items: list[dict], expected: Counter, source: str,
                mode: Callable[[dict], Hashable] | None = None, mode_name: str = "mode") -> None:
    """Every expected (mode, id) comes back exactly once per occurrence in the input: a missing,
    duplicated or foreign record is an `InputError` naming the shard file and the ids."""
    got = Counter(((mode(it) if mode else None), it[source]) for it in items)
    missing = expected - got
    foreign = [k for k in got if k not in expected]
    twice = [k for k in got if k in expected and got[k] > expected[k]]
    problems = []
    if missing:
        problems.append(f"lacks {sum(missing.values())} of the {sum(expected.values())} records of its input: "
                        f"{_listed(missing, source, mode_name)}")
    if foreign:
        problems.append(f"holds records not in its share of the input: {_listed(foreign, source, mode_name)}")
    if twice:
        problems.append(f"holds records more often than its input does: {_listed(twice, source, mode_name)}")
    if problems:
        raise InputError(f"{path}: {'; '.join(problems)} (delete the shard file to make it again)")


def add_tallies(tallies: Iterable[dict]) -> dict:
    """Counters of all shards summed key by key (numbers only; ``seconds`` also as a max: the
    stage's wall time when the shards ran side by side)."""
    total: dict = {}
    longest = 0.0
    for t in tallies:
        for k, v in t.items():
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                total[k] = total.get(k, 0) + v
        seconds = t.get("seconds")
        if isinstance(seconds, (int, float)) and not isinstance(seconds, bool):
            longest = max(longest, float(seconds))
    if "seconds" in total:
        total["seconds"] = round(total["seconds"], 1)
        total["seconds_longest_shard"] = round(longest, 1)
    return total
