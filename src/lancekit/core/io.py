"""File I/O shared by every stage: atomic writes and JSON reads with errors that name the file."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any


class InputError(ValueError):
    """Bad input: the message names the file, the record index and the field."""


def _proc_umask() -> int | None:
    """The umask as Linux reports it (/proc/self/status, "Umask:" line, kernel 4.7+): read
    without changing it. None where there is no such line."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return None


def _import_umask() -> int:
    """The umask at import, for systems without /proc: the only way to read it elsewhere is to
    set it and set it back, a race with any thread creating files meanwhile (they would get
    0666/0777), so it is done once, while importing (one thread in practice), never later."""
    found = _proc_umask()
    if found is None:
        found = os.umask(0o022)
        os.umask(found)
    return found


_UMASK_AT_IMPORT = _import_umask()


def current_umask() -> int:
    """The process umask, never changed to read it (see _import_umask)."""
    found = _proc_umask()
    return _UMASK_AT_IMPORT if found is None else found


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write to a temporary file beside `path`, then rename: readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            # mkstemp makes 0600 files; results are for everyone to read, as the umask allows
            os.fchmod(f.fileno(), 0o666 & ~current_umask())
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
    ``write_text_atomic`` and ``<name>.tmp-*`` folders of the model conversion and fetch. (Progress a
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
    except OSError as e:  # a folder, no permission
        raise InputError(f"{path}: cannot read it: {e.strerror or e}") from None


def _unreadable(e: Exception) -> str:
    """What json.loads raised besides a syntax error: too deep a nesting, or an integer longer
    than Python converts (sys.get_int_max_str_digits)."""
    if isinstance(e, RecursionError):
        return "nested too deeply"
    if "integer string conversion" in str(e):
        return f"a number has more than {sys.get_int_max_str_digits()} digits"
    return str(e)


def read_json(path: str | os.PathLike, object_pairs_hook=None) -> Any:
    path = Path(path)
    text = read_text(path)
    try:
        return json.loads(text, object_pairs_hook=object_pairs_hook)
    except json.JSONDecodeError as e:
        hint = ""
        if e.msg == "Extra data" and text.lstrip().startswith("{"):
            hint = " (it looks like JSON lines: one object per line; name it .jsonl or set seed.format: jsonl)"
        raise InputError(f"{path}: malformed JSON at line {e.lineno}, column {e.colno}: {e.msg}{hint}") from None
    except (RecursionError, ValueError) as e:
        raise InputError(f"{path}: unreadable JSON: {_unreadable(e)}") from None


def read_jsonl(path: str | os.PathLike, object_pairs_hook=None) -> list[Any]:
    """One JSON value per line. Lines end at "\n" only: U+2028 or U+0085 may stand unescaped
    inside a JSON string, so str.splitlines would cut a valid line in two."""
    path = Path(path)
    records = []
    for lineno, line in enumerate(read_text(path).split("\n"), 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line, object_pairs_hook=object_pairs_hook))
        except json.JSONDecodeError as e:
            raise InputError(f"{path}: malformed JSON on line {lineno}: {e.msg}") from None
        except (RecursionError, ValueError) as e:
            raise InputError(f"{path}: unreadable JSON on line {lineno}: {_unreadable(e)}") from None
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
