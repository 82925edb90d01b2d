import json

import pytest

from lancekit.core.io import InputError
from lancekit.data.seeds import estimated_tokens, load_extra_sft, load_seed, too_long_warnings


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


@pytest.mark.parametrize("name,content,message", [
    ("deep.json", "[" * 100_000 + "]" * 100_000, r"deep.json: unreadable JSON: nested too deeply"),
    ("deep.jsonl", '{"prompt": "a", "response": "b"}\n' + "[" * 100_000, r"deep.jsonl: unreadable JSON on line 2: nested"),
    ("big.json", '[{"prompt": "a", "response": "b", "n": ' + "9" * 5000 + "}]", r"big.json: unreadable JSON: a number has more than \d+ digits"),
    ("s.json", '[{"prompt": "a\\ud800b", "response": "c"}]', r"s.json: record 0: field 'prompt' holds a lone surrogate \('\\ud800' at character 1\)"),
    ("s.json", '[{"instruction": "a", "output": "\\udfff"}]', r"s.json: record 0: field 'output' holds a lone surrogate"),
    ("s.json", '[{"prompt": "a", "response": "b"}, {"prompt": "a", "response": "c", "note": ["\\ud800"]}]', r"s.json: record 1: field 'note' holds a lone surrogate"),
    ("s.json", '[{"prompt": "a", "response": "b", "\\udc00": 1}]', r"s.json: record 0: field '\\udc00' holds a lone surrogate"),
    ("s.json", '[{"prompt": "a", "response": "b", "weight": NaN}]', r"s.json: record 0: field 'weight' holds NaN or infinity"),
    ("s.json", '[{"prompt": "a", "response": "b", "weight": 1e999}]', r"s.json: record 0: field 'weight' holds NaN or infinity"),
    ("s.json", '[{"prompt": "a", "response": "b"}, {"prompt": "a", "response": "b", "prompt": "c"}]', r"s.json: record 1: field 'prompt' is given more than once"),
])
def test_pathological_json_is_an_error_naming_file_record_and_field(tmp_path, name, content, message):
    """Found by tests/unit/test_properties.py: these raised RecursionError, ValueError or
    UnicodeEncodeError (a lone surrogate in the text the id is made from), or were read silently
    (NaN, reaching seed.json as non-standard JSON; a repeated key, whose first value was lost)."""
    p = write(tmp_path, name, content)
    with pytest.raises(InputError, match=f"^{tmp_path}/{message}"):
        load_seed(p)


def test_jsonl_lines_end_at_newline_only(tmp_path):
    """U+2028, U+0085 and friends may stand unescaped inside a JSON string: not line ends."""
    recs = [{"prompt": "one\u2028two", "response": "x\x85y"}, {"prompt": "three\x1cfour", "response": "z"}]
    p = tmp_path / "s.jsonl"
    p.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in recs) + "\r\n", encoding="utf-8")
    assert [r["prompt"] for r in load_seed(p)[0]] == ["one\u2028two", "three\x1cfour"]


def test_a_folder_for_a_file_names_it(tmp_path):
    with pytest.raises(InputError, match=f"^{tmp_path}: cannot read it"):
        load_seed(tmp_path)


def test_extra_sft_errors_give_the_index_in_the_file(tmp_path):
    """Not the index after duplicates were dropped."""
    rec = {"prompt": "same prompt", "response": "same answer"}
    p = write(tmp_path, "x.json", [rec, rec, {"prompt": "p", "response": "r", "history": [["a", "b"]]}])
    with pytest.raises(InputError, match="x.json: record 2: field 'history'"):
        load_extra_sft(p, "SYS", set())


def test_too_long_warnings_name_the_index_in_the_seed_file(tmp_path):
    """At preparation, on an estimate (UTF-8 bytes / 4): the judge's prompt holds the system
    prompt, the prompt and the response."""
    assert estimated_tokens("") == 0 and estimated_tokens("abcd") == 1 and estimated_tokens("abcde") == 2
    assert estimated_tokens("\u4e2d\u6587") == 2  # 6 bytes: about one token per CJK character
    long = {"prompt": "word " * 300, "response": "answer " * 300}  # 1500 + 2100 bytes: 375 + 525 tokens
    p = write(tmp_path, "s.json", [{"prompt": "short", "response": "fine"}, long, long,
                                   {"prompt": "also short", "response": "fine"}, {**long, "response": "x"}])
    recs, _ = load_seed(p)
    assert [r["lineage"]["source"] for r in recs] == ["s.json#0", "s.json#1", "s.json#3", "s.json#4"]
    assert too_long_warnings(recs, 900) == []  # 375 + 525 = 900: fits
    assert too_long_warnings(recs, 899) == [
        f"warning: s.json: record 1 ({recs[1]['id']}): system prompt, prompt and response are about 900 tokens "
        "(UTF-8 bytes / 4), more than vllm.max_model_len = 899: review_seed can only ever answer it "
        "'prompt_too_long'; raise vllm.max_model_len or shorten the record"]
    # the system prompt counts too; the index is the one in the file, after a dropped duplicate
    warned = too_long_warnings(recs, 600, system="S" * 1200)
    assert [w.split(" (")[0] for w in warned] == ["warning: s.json: record 1", "warning: s.json: record 4"]
    assert recs[3]["id"] in warned[1] and "about 676 tokens" in warned[1]
