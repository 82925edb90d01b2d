"""File I/O shared by every stage: atomic writes and JSON reads with errors that name the file."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


class InputError(ValueError):
    """Bad input: the message names the file, the record index and the field."""


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write to a temporary file beside `path`, then rename: readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600 files; results are for everyone to read
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


LEFTOVER_PATTERNS = (".*.part", "*.tmp-*")


def leftovers(root: str | os.PathLike) -> list[Path]:
    """What killed jobs leave under ``root`` that no rerun can use: ``.<name>.*.part`` files of
    ``write_text_atomic`` and ``<name>.tmp-<pid>`` folders of the model conversion. (Progress a
    rerun resumes from stays: ``*.progress.jsonl`` of the engine stages, ``<model>.work``
    training folders with their checkpoints.)"""
    root = Path(root)
    if not root.is_dir():
        return []
    found = {p for pattern in LEFTOVER_PATTERNS for p in root.rglob(pattern)}
    # nothing inside a folder that goes anyway
    return sorted(p for p in found if not any(q in found for q in p.parents))


def write_json(path: str | os.PathLike, obj: Any) -> None:
    write_text_atomic(path, json.dumps(obj, ensure_ascii=False, indent=1) + "\n")


def read_text(path: Path) -> str:
    """UTF-8 text (a leading byte-order mark is dropped); errors name the file."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except UnicodeDecodeError as e:
        raise InputError(f"{path}: not UTF-8 text (byte {e.start}: {e.reason}); "
                         "convert it, e.g. `iconv -f latin1 -t utf-8`") from None


def read_json(path: str | os.PathLike) -> Any:
    path = Path(path)
    text = read_text(path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        hint = ""
        if e.msg == "Extra data" and text.lstrip().startswith("{"):
            hint = " (it looks like JSON lines: one object per line; name it .jsonl or set seed.format: jsonl)"
        raise InputError(f"{path}: malformed JSON at line {e.lineno}, column {e.colno}: {e.msg}{hint}") from None


def read_jsonl(path: str | os.PathLike) -> list[Any]:
    path = Path(path)
    records = []
    for lineno, line in enumerate(read_text(path).splitlines(), 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as e:
            raise InputError(f"{path}: malformed JSON on line {lineno}: {e.msg}") from None
    return records


def read_jsonl_lenient(path: str | os.PathLike) -> list[Any]:
    """The rows of a log written line by line (LLaMA-Factory's trainer_log.jsonl): a missing
    file is no rows, and a torn last line (a killed writer) is skipped."""
    path = Path(path)
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line)) if line.strip() else None
        except json.JSONDecodeError:
            pass
    return rows
