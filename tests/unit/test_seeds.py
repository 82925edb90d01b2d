import json

import pytest

from lancekit.core.io import InputError
from lancekit.data.seeds import load_seed


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
        "iteration": 0, "parent_id": None, "root_id": a[0]["id"], "stage": "seed", "source": "s.json#0",
        "branch": None, "generator": None, "instruction_id": None}
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
    from lance_testing import ROOT
    recs, stats = load_seed(ROOT / "data/seed/lance_seed.json")
    assert len(recs) >= 120 and stats["duplicates_dropped"] == 0
    quality = [r["meta"]["quality"] for r in recs]
    assert quality.count("mediocre") >= len(recs) // 4
    assert len({r["meta"]["category"] for r in recs}) >= 7


def test_bom_null_input_and_encoding_errors(tmp_path):
    p = tmp_path / "bom.json"
    p.write_bytes(b"\xef\xbb\xbf" + json.dumps([{"prompt": "Why is the sea salty?", "response": "Rivers."}]).encode())
    assert load_seed(p)[0][0]["prompt"] == "Why is the sea salty?"
    p = tmp_path / "bom.jsonl"
    p.write_bytes(b"\xef\xbb\xbf" + b'{"prompt": "p one", "response": "r"}\n')
    assert len(load_seed(p)[0]) == 1
    p = write(tmp_path, "a.json", [{"instruction": "Say hi", "input": None, "output": "Hi"}])
    assert load_seed(p)[0][0]["prompt"] == "Say hi"
    for name in ("latin.json", "latin.jsonl"):
        p = tmp_path / name
        p.write_bytes('[{"prompt": "caf\u00e9", "response": "x"}]'.encode("latin-1") if name.endswith(".json")
                      else '{"prompt": "caf\u00e9", "response": "x"}\n'.encode("latin-1"))
        with pytest.raises(InputError, match=f"{name}: not UTF-8 text"):
            load_seed(p)


def test_jsonl_named_json_gets_a_hint(tmp_path):
    p = write(tmp_path, "s.json", '{"prompt": "a b", "response": "c"}\n{"prompt": "d e", "response": "f"}\n')
    with pytest.raises(InputError, match="seed.format: jsonl"):
        load_seed(p)
    p = write(tmp_path, "one.json", '{"prompt": "a b", "response": "c"}\n')
    with pytest.raises(InputError, match="seed.format: jsonl"):
        load_seed(p)
    assert len(load_seed(tmp_path / "s.json", "jsonl")[0]) == 2
