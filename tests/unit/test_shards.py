"""Shards: the split depends on record ids only, and the merge restores the unsharded order."""

import json
import os
import subprocess
import sys
from collections import Counter

import pytest

from lance_testing import ROOT
from lancekit.core.io import InputError
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


# --------------------------------------------------------------- the gather's checks (issue #19)

def test_a_shard_that_lost_doubled_or_gained_a_record_names_the_file_and_the_ids(tmp_path):
    data = recs(12)
    mine = shards.select(data, 1, 3)
    want = shards.expected_ids(data, 1, 3)
    assert want == Counter((None, r["id"]) for r in mine)
    path = tmp_path / "1-of-3.json"
    shards.check_shard(path, [dict(r) for r in mine], want, "id")          # whole: no error
    with pytest.raises(InputError, match=rf"{path}: lacks 1 of the {len(mine)} records.*id='{mine[0]['id']}'"):
        shards.check_shard(path, mine[1:], want, "id")
    with pytest.raises(InputError, match=rf"{path}: holds records more often.*id='{mine[0]['id']}'"):
        shards.check_shard(path, mine + mine[:1], want, "id")
    other = next(r for r in data if r not in mine)
    with pytest.raises(InputError, match=rf"{path}: holds records not in its share.*id='{other['id']}'"):
        shards.check_shard(path, mine + [other], want, "id")
    # an id twice in the input comes back twice, no more and no less
    twice = [{"id": "a"}, {"id": "a"}]
    shards.check_shard(path, twice, shards.expected_ids(twice, 0, 1), "id")
    with pytest.raises(InputError, match="lacks 1 of the 2"):
        shards.check_shard(path, twice[:1], shards.expected_ids(twice, 0, 1), "id")


def test_each_record_comes_back_once_per_mode():
    """generate (LANCE): a seed's group must be in the branch its score puts it in; a branch the
    method leaves out makes no group."""
    data = [{"id": f"s{i}", "score": i} for i in range(6)]
    mode = lambda r: "high" if r["score"] > 2 else "low"  # noqa: E731
    want = shards.expected_ids(data, 0, 1, mode)
    groups = [{"seed_id": r["id"], "branch": mode(r)} for r in data]
    shards.check_shard("x.json", groups, want, "seed_id", lambda g: g["branch"], "branch")
    groups[0] = {"seed_id": "s0", "branch": "high"}
    with pytest.raises(InputError, match=r"x.json: lacks 1 .*seed_id='s0' \(branch 'low'\).*not in its share.*"
                                         r"seed_id='s0' \(branch 'high'\)"):
        shards.check_shard("x.json", groups, want, "seed_id", lambda g: g["branch"], "branch")
    low_only = shards.expected_ids(data, 0, 1, lambda r: mode(r) if mode(r) == "low" else shards.SKIP)
    assert sorted(sid for _, sid in low_only) == ["s0", "s1", "s2"]


@pytest.mark.parametrize("text,what", [
    ("{not json", "malformed JSON"), ("[]", "not a shard file"), ('{"shard": 0, "shards": 2}', "no items, tally"),
    ('{"shard": 1, "shards": 2, "items": [], "tally": {}}', "holds shard 1 of 2, expected 0 of 2"),
    ('{"shard": 0, "shards": 2, "items": {}, "tally": {}}', "items: a dict"),
    ('{"shard": 0, "shards": 2, "items": [], "tally": []}', "tally: a list"),
    ('{"shard": 0, "shards": 2, "items": [3], "tally": {}}', "item 0: a int"),
    ('{"shard": 0, "shards": 2, "items": [{"id": "a"}, {"x": 1}], "tally": {}}', "item 1: field 'id'"),
])
def test_a_malformed_shard_file_is_an_error_naming_it(tmp_path, text, what):
    path = tmp_path / "0-of-2.json"
    path.write_text(text)
    with pytest.raises(InputError, match=str(path)) as e:
        shards.read_shard(path, 0, 2, "id")
    assert what in str(e.value)


def _gather(tmp_path, stage, method, inputs, parts, settings=None, garble=None):
    """scripts/gather.py on shard files made here (``garble``: {shard: text} written instead):
    (return code, stderr)."""
    sd = tmp_path / "shards"
    sd.mkdir(exist_ok=True)
    for i, items in enumerate(parts):
        (sd / f"{i}-of-{len(parts)}.json").write_text((garble or {}).get(i) or json.dumps(
            {"shard": i, "shards": len(parts), "items": items, "tally": {"seconds": 1.0}}))
    (tmp_path / "in.json").write_text(json.dumps(inputs))
    job = {"input": {"records": str(tmp_path / "in.json")},
           "output": {"merged": str(tmp_path / "out.json"), "stats": str(tmp_path / "stats.json")},
           "wildcards": {"method": method, "t": "1"}, "params": {"shards": len(parts), "shard_dir": str(sd)}}
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "gather.py"), json.dumps(job),
                           json.dumps({"stage": stage, **(settings or {})})],
                          env=dict(os.environ, PYTHONPATH=str(ROOT / "src")), capture_output=True, text=True)
    return proc.returncode, proc.stderr


def _spin_group(r):
    return {"seed_id": r["id"], "branch": "spin", "responses": []}


def test_gather_refuses_a_shard_that_lacks_a_record(tmp_path):
    """It merged 9 of 10 groups with return code 0; now it stops, naming the shard file and the id."""
    data = recs(10)
    parts = [[_spin_group(r) for r in shards.select(data, i, 2)] for i in range(2)]
    assert _gather(tmp_path, "generate", "spin", data, parts) == (0, "")
    assert len(json.loads((tmp_path / "out.json").read_text())) == 10
    (tmp_path / "out.json").unlink()
    lost = parts[1].pop(0)
    rc, err = _gather(tmp_path, "generate", "spin", data, parts)
    assert rc != 0 and "Traceback" not in err
    assert str(tmp_path / "shards" / "1-of-2.json") in err and f"seed_id='{lost['seed_id']}'" in err
    assert not (tmp_path / "out.json").exists()


def test_gather_of_lance_checks_the_branch_of_each_seed(tmp_path):
    """lance_sft_only generates for the low seeds only: those must all come back, in branch low."""
    data = [dict(r, review={"score": float(r["x"])}) for r in recs(8)]   # threshold 4: 0..4 low
    low = [{"seed_id": r["id"], "branch": "low", "instructions": []} for r in data if r["x"] <= 4]
    assert _gather(tmp_path, "generate", "lance_sft_only", data, [low], {"split_threshold": 4.0}) == (0, "")
    rc, err = _gather(tmp_path, "generate", "lance", data, [low], {"split_threshold": 4.0})
    assert rc != 0 and "lacks 3 of the 8" in err and "(branch 'high')" in err


def test_gather_of_a_review_names_a_garbled_shard(tmp_path):
    data = recs(4)
    parts = [[dict(r, review={"score": 5.0, "n_parsed": 1, "n_failed": 0}) for r in data]]
    assert _gather(tmp_path, "review_new", "lance", data, parts) == (0, "")
    rc, err = _gather(tmp_path, "review_new", "lance", data, parts, garble={0: '{"shard": 0, "shards": 1, "items": ['})
    assert rc != 0 and "Traceback" not in err
    assert str(tmp_path / "shards" / "0-of-1.json") in err and "malformed JSON" in err
