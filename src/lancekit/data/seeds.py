"""Seed loading: the reference format, JSONL and alpaca, validated record by record.

Accepted inputs (format detected from the file unless given):
- ``json``: a JSON list of ``{"prompt", "response"}`` objects (the reference's UltraChat3k);
- ``jsonl``: one such object per line;
- ``alpaca``: a JSON list (or JSONL) of ``{"instruction", "input", "output"}``; a non-empty
  ``input`` is appended to the instruction after a blank line.
Other keys are kept as ``meta``. Every record gets a stable id from its text, so the same seed
file always yields the same ids.

Whatever the file holds, the result is the records or an `InputError` naming the file (and the
record and field where one is at fault), never another exception: text must be encodable
(no lone surrogate such as ``"\\ud800"``), numbers finite (no ``NaN``), a key given once per record.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from ..core.io import InputError, read_json, read_jsonl
from . import records

FORMATS = ("auto", "json", "jsonl", "alpaca")
BYTES_PER_TOKEN = 4  # the token estimate without a tokenizer (`estimated_tokens`)


class _Repeated(dict):
    """A JSON object that named a key more than once (json keeps the last value silently)."""
    repeated: tuple[str, ...] = ()


def _object(pairs: list[tuple[str, object]]) -> dict:
    obj = dict(pairs)
    if len(obj) == len(pairs):
        return obj
    out = _Repeated(obj)
    counts = Counter(k for k, _ in pairs)
    out.repeated = tuple(k for k, n in counts.items() if n > 1)
    return out


def _load_records(path: Path, fmt: str) -> tuple[list, str]:
    if fmt == "jsonl" or (fmt in ("auto", "alpaca") and path.suffix == ".jsonl"):
        raw = read_jsonl(path, object_pairs_hook=_object)
    else:
        raw = read_json(path, object_pairs_hook=_object)
        if not isinstance(raw, list):
            hint = (" (one object per line is JSON lines: name it .jsonl or set seed.format: jsonl)"
                    if isinstance(raw, dict) else "")
            raise InputError(f"{path}: expected a JSON list of records, got {type(raw).__name__}{hint}")
    if fmt == "auto":
        first = next((r for r in raw if isinstance(r, dict)), {})
        fmt = "alpaca" if "instruction" in first and "prompt" not in first else "json"
    return raw, fmt


def _field(path: Path, i: int, rec: dict, key: str, *, required: bool = True) -> str:
    if key not in rec or (not required and rec[key] is None):
        if required:
            raise InputError(f"{path}: record {i}: missing field '{key}'")
        return ""  # alpaca: "input": null is an empty input
    val = rec[key]
    if not isinstance(val, str):
        raise InputError(f"{path}: record {i}: field '{key}' must be a string, got {type(val).__name__}")
    if required and not val.strip():
        raise InputError(f"{path}: record {i}: field '{key}' is empty")
    try:
        val.encode("utf-8")
    except UnicodeEncodeError as e:
        raise InputError(f"{path}: record {i}: field '{key}' holds a lone surrogate "
                         f"({ascii(val[e.start])} at character {e.start}), which is no text") from None
    return val


def _meta(path: Path, i: int, rec: dict, used: set[str]) -> dict:
    """The record's other fields, as they will be written (seed.json): encodable text, finite
    numbers, or an error naming the field (``ascii``: a field's name may itself be the fault)."""
    meta = {k: v for k, v in rec.items() if k not in used}
    for key, val in meta.items():
        try:
            json.dumps({key: val}, ensure_ascii=False, allow_nan=False).encode("utf-8")
        except UnicodeEncodeError:
            raise InputError(f"{path}: record {i}: field {ascii(key)} holds a lone surrogate, which is "
                             "no text") from None
        except ValueError:
            raise InputError(f"{path}: record {i}: field {ascii(key)} holds NaN or infinity, which JSON "
                             "has not") from None
    return meta


def load_seed(path: str | Path, fmt: str = "auto", limit: int | None = None) -> tuple[list[dict], dict]:
    """Read and validate a seed file. Returns (records, stats).

    Malformed JSON, a record that is not an object, a missing, empty or non-string field raise
    `InputError` naming file, record index (0-based) and field. Exact duplicates (same prompt
    and response) are dropped and counted, not fatal. (A record likely too long for the judge's
    context is told by `too_long_warnings`, by its caller.)
    """
    path = Path(path)
    if fmt not in FORMATS:
        raise InputError(f"{path}: unknown seed format {fmt!r}; expected one of {', '.join(FORMATS)}")
    raw, fmt = _load_records(path, fmt)
    if not raw:
        raise InputError(f"{path}: the seed file holds no records")
    seen: dict[str, int] = {}
    out, duplicates = [], []
    for i, rec in enumerate(raw):
        if not isinstance(rec, dict):
            raise InputError(f"{path}: record {i}: expected an object, got {type(rec).__name__}")
        if isinstance(rec, _Repeated):
            raise InputError(f"{path}: record {i}: field {ascii(rec.repeated[0])} is given more than once")
        if fmt == "alpaca":
            prompt = _field(path, i, rec, "instruction")
            extra = _field(path, i, rec, "input", required=False)
            if extra.strip():
                prompt = f"{prompt}\n\n{extra}"
            response = _field(path, i, rec, "output")
            used = {"instruction", "input", "output"}
        else:
            prompt = _field(path, i, rec, "prompt")
            response = _field(path, i, rec, "response")
            used = {"prompt", "response"}
        record = records.seed_record(prompt, response, f"{path.name}#{i}", _meta(path, i, rec, used))
        if record["id"] in seen:
            duplicates.append({"index": i, "duplicate_of": seen[record["id"]]})
            continue
        seen[record["id"]] = i
        out.append(record)
        if limit is not None and len(out) >= limit:
            break
    stats = {"file": str(path), "format": fmt, "records_in_file": len(raw), "kept": len(out),
             "duplicates_dropped": len(duplicates), "duplicates": duplicates, "limit": limit}
    return out, stats


def load_extra_sft(path: str | Path, system: str, seed_ids: set[str]) -> tuple[list[dict], dict]:
    """An extra SFT file for sft_0 (config ``seed.extra_sft``; the authors train M_0 on such a
    file): the seed formats above, each example in LLaMA-Factory's alpaca form with its own
    ``system`` when it has one (else ``system``). An example equal to a seed record (same
    prompt and response, so the same id) is counted, not added twice; a multi-turn ``history``
    is refused, naming the record."""
    recs, stats = load_seed(path)
    out = []
    for rec in recs:
        i = source_index(rec)  # in the file, whatever duplicates were dropped before it
        meta = rec.get("meta") or {}
        if meta.get("history"):
            raise InputError(f"{path}: record {i}: field 'history' holds earlier turns; only single-turn "
                             "examples are supported")
        own = meta.get("system")
        if own is not None and not isinstance(own, str):
            raise InputError(f"{path}: record {i}: field 'system' must be a string, got {type(own).__name__}")
        if rec["id"] not in seed_ids:
            out.append(records.sft_example(rec, own if own else system))
    stats = {"file": stats["file"], "format": stats["format"], "records_in_file": stats["records_in_file"],
             "added": len(out), "equal_to_a_seed_record": stats["kept"] - len(out),
             "duplicates_dropped": stats["duplicates_dropped"]}
    return out, stats


def source_index(rec: dict) -> str:
    """A Seed_0 record's index in its seed file (its lineage ``source``, file#index)."""
    return (rec["lineage"].get("source") or "?").rpartition("#")[2]


def estimated_tokens(text: str) -> int:
    """Tokens of ``text`` without a tokenizer: UTF-8 bytes / 4, rounded up. A byte-level BPE
    token is about 4 characters of English and about one CJK character (3 bytes): near the truth
    for both, where characters / 4 would count CJK text 3 to 4 times short."""
    return -(-len(text.encode("utf-8")) // BYTES_PER_TOKEN)


def too_long_warnings(recs: list[dict], max_model_len: int, system: str = "") -> list[str]:
    """One warning per seed record whose system prompt, prompt and response are together likely
    longer (`estimated_tokens`) than the engine's context (``vllm.max_model_len``). The judge's
    prompt holds all three and the review template besides, so review_seed could only ever answer
    it 'prompt_too_long'; said here, before M_0's training, naming the record's index in the
    seed file (its lineage ``source``) and its id."""
    out = []
    for rec in recs:
        n = estimated_tokens(system) + estimated_tokens(rec["prompt"]) + estimated_tokens(rec["response"])
        if n > max_model_len:
            file = (rec["lineage"].get("source") or "?").rpartition("#")[0]
            out.append(f"warning: {file}: record {source_index(rec)} ({rec['id']}): system prompt, prompt and response "
                       f"are about {n} tokens (UTF-8 bytes / {BYTES_PER_TOKEN}), more than "
                       f"vllm.max_model_len = {max_model_len}: review_seed can only ever answer it "
                       "'prompt_too_long'; raise vllm.max_model_len or shorten the record")
    return out
