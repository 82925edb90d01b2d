import json

import pytest

from lancekit.io import InputError
from lancekit.seeds import load_seed


def write(tmp_path, name, obj):
    p = tmp_path / name
    p.write_text(obj if isinstance(obj, str) else json.dumps(obj))
    return p


def test_reference_format_ids_are_stable(tmp_path):
    p = write(tmp_path, "s.json", [{"prompt": "Why is the sky blue today?", "response": "Rayleigh scattering."},
                                   {"prompt": "Name a prime number please.", "response": "7", "category": "x"}])
    a, stats = load_seed(p)
    b, _ = load_seed(p)
    assert [r["id"] for r in a] == [r["id"] for r in b]
    assert a[0]["id"].startswith("s0-") and a[0]["lineage"] == {
        "iteration": 0, "parent_id": None, "root_id": a[0]["id"], "stage": "seed", "source": "s.json#0"}
    assert a[1]["meta"] == {"category": "x"}
    assert stats["format"] == "json" and stats["kept"] == 2


def test_jsonl_and_alpaca(tmp_path):
    p = write(tmp_path, "s.jsonl", '{"prompt": "p one two", "response": "r"}\n\n{"prompt": "p2", "response": "r2"}\n')
    assert len(load_seed(p)[0]) == 2
    p = write(tmp_path, "a.json", [{"instruction": "Summarise this:", "input": "Some text.", "output": "Short."},
                                   {"instruction": "Say hi", "input": "", "output": "Hi"}])
    recs, stats = load_seed(p)
    assert stats["format"] == "alpaca"
    assert recs[0]["prompt"] == "Summarise this:\n\nSome text." and recs[1]["prompt"] == "Say hi"


@pytest.mark.parametrize("content,message", [
    ('[{"prompt": "a", "response": "b"},', "s.json: malformed JSON at line 1"),
    ('{"prompt": "a"}', "expected a JSON list"),
    ('[]', "holds no records"),
    ('[{"prompt": "a", "response": "b"}, "oops"]', "record 1: expected an object"),
    ('[{"prompt": "a", "response": "b"}, {"prompt": "c"}]', "record 1: missing field 'response'"),
    ('[{"prompt": "  ", "response": "b"}]', "record 0: field 'prompt' is empty"),
    ('[{"prompt": "a", "response": 3}]', "record 0: field 'response' must be a string, got int"),
])
def test_bad_input_names_file_record_and_field(tmp_path, content, message):
    p = write(tmp_path, "s.json", content)
    with pytest.raises(InputError, match=message.replace("(", r"\(")) as e:
        load_seed(p)
    assert "s.json" in str(e.value)


def test_duplicates_are_counted_drops_and_limit(tmp_path):
    rec = {"prompt": "same prompt here", "response": "same answer"}
    p = write(tmp_path, "s.json", [rec, {"prompt": "other", "response": "x"}, rec])
    recs, stats = load_seed(p)
    assert len(recs) == 2 and stats["duplicates_dropped"] == 1
    assert stats["duplicates"] == [{"index": 2, "duplicate_of": 0}]
    assert len(load_seed(p, limit=1)[0]) == 1


def test_shipped_seed_is_valid_and_varied():
    from conftest import ROOT
    recs, stats = load_seed(ROOT / "data/seed/lance_seed.json")
    assert len(recs) >= 120 and stats["duplicates_dropped"] == 0
    quality = [r["meta"]["quality"] for r in recs]
    assert quality.count("mediocre") >= len(recs) // 4
    assert len({r["meta"]["category"] for r in recs}) >= 7
