"""Seed loading: the reference format, JSONL and alpaca, validated record by record.

Accepted inputs (format detected from the file unless given):
- ``json``: a JSON list of ``{"prompt", "response"}`` objects (the reference's UltraChat3k);
- ``jsonl``: one such object per line;
- ``alpaca``: a JSON list (or JSONL) of ``{"instruction", "input", "output"}``; a non-empty
  ``input`` is appended to the instruction after a blank line.
Other keys are kept as ``meta``. Every record gets a stable id from its text, so the same seed
file always yields the same ids.
"""

from __future__ import annotations

from pathlib import Path

from ..core.io import InputError, read_json, read_jsonl
from . import records

FORMATS = ("auto", "json", "jsonl", "alpaca")


def _load_records(path: Path, fmt: str) -> tuple[list, str]:
    if fmt == "jsonl" or (fmt in ("auto", "alpaca") and path.suffix == ".jsonl"):
        raw = read_jsonl(path)
    else:
        raw = read_json(path)
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
    return val


def load_seed(path: str | Path, fmt: str = "auto", limit: int | None = None) -> tuple[list[dict], dict]:
    """Read and validate a seed file. Returns (records, stats).

    Malformed JSON, a record that is not an object, a missing, empty or non-string field raise
    `InputError` naming file, record index (0-based) and field. Exact duplicates (same prompt
    and response) are dropped and counted, not fatal. (A record too long for the judge's context
    is reported by the review stage, which knows its length in tokens.)
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
        record = records.seed_record(prompt, response, f"{path.name}#{i}",
                                     {k: v for k, v in rec.items() if k not in used})
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
    for i, rec in enumerate(recs):
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
