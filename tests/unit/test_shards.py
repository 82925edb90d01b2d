"""Shards: the split depends on record ids only, and the merge restores the unsharded order."""

import pytest

from lancekit.generation import shards


def recs(n):
    return [{"id": f"s0-{i:04d}", "x": i} for i in range(n)]


def test_every_record_is_in_exactly_one_shard_and_the_split_is_stable():
    data = recs(200)
    for n in (1, 2, 7):
        parts = [shards.select(data, i, n) for i in range(n)]
        assert sorted(r["id"] for p in parts for r in p) == [r["id"] for r in data]
        # a record's shard depends on its id and n only: the same with the list shuffled or cut
        assert shards.select(list(reversed(data))[:50], 0, n) == [r for r in reversed(data[150:]) if shards.shard_of(r["id"], n) == 0]
    sizes = [len(shards.select(data, i, 4)) for i in range(4)]
    assert min(sizes) > 25, sizes  # balanced enough: a hash, not a range


def test_merge_gives_the_unsharded_order_for_any_number_of_shards():
    data = recs(60)
    one = [dict(r, out=r["x"] * 2) for r in data]
    for n in (2, 3, 8):
        parts = [[dict(r, out=r["x"] * 2) for r in shards.select(data, i, n)] for i in range(n)]
        assert shards.merge(data, reversed(parts), source="id") == one


def test_merge_with_an_order_and_a_subset_of_the_inputs():
    data = recs(10)
    groups = [{"seed_id": r["id"], "branch": "low" if r["x"] % 3 else "high"} for r in data if r["x"] != 4]
    want = [g for g in groups if g["branch"] == "low"] + [g for g in groups if g["branch"] == "high"]
    parts = [[g for g in groups if shards.shard_of(g["seed_id"], 3) == i] for i in range(3)]
    got = shards.merge(data, parts, source="seed_id", order=lambda g: (g["branch"] != "low",))
    assert got == want


def test_merge_keeps_duplicate_ids_and_rejects_strangers():
    data = [{"id": "a"}, {"id": "b"}, {"id": "a"}]
    out = shards.merge(data, [[{"id": "a", "k": 1}, {"id": "a", "k": 2}], [{"id": "b"}]], source="id")
    assert out == [{"id": "a", "k": 1}, {"id": "b"}, {"id": "a", "k": 2}]
    with pytest.raises(ValueError, match="not in the stage's input"):
        shards.merge(data, [[{"id": "zz"}]], source="id")
    with pytest.raises(ValueError, match="more often"):
        shards.merge(data, [[{"id": "b"}, {"id": "b"}]], source="id")


def test_tallies_add_up_and_keep_the_longest_shard():
    total = shards.add_tallies([{"samples": 3, "seconds": 2.0, "flag": True}, {"samples": 4, "seconds": 5.5}])
    assert total == {"samples": 7, "seconds": 7.5, "seconds_longest_shard": 5.5}


def test_bad_shard_numbers_are_refused():
    with pytest.raises(ValueError):
        shards.shard_of("x", 0)
    with pytest.raises(ValueError):
        shards.select(recs(3), 2, 2)
