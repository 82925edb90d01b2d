"""Which code a stage runs, as one short hash: the rerun trigger for code changes.

Snakemake reruns a job when its params change. Each rule carries ``code=<hash>`` among its params,
the hash of the entry script in ``scripts/`` and of every ``lancekit`` module it imports,
directly or through other modules (found by reading the imports, including imports inside
functions, and dotted ``"lancekit.<module>...."`` strings, which is how OpenCompass configs name
our classes). Only the files' names and contents enter the hash, never their absolute paths, so
moving the checkout changes nothing, while editing any of those files reruns exactly the stages
that run it.
"""

from __future__ import annotations

import ast
import hashlib
import re
from functools import cache
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGE = "lancekit"
_DOTTED = re.compile(PACKAGE + r"\.([a-z_][a-z0-9_]*)")


def _module_file(name: str, repo: Path) -> Path | None:
    path = repo / "src" / PACKAGE / f"{name}.py"
    return path if path.is_file() else None


def _imported_modules(path: Path, repo: Path) -> set[str]:
    """Names of the lancekit modules one file refers to."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    inside = path.parent.name == PACKAGE
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            if node.level and inside:  # from . import x / from .x import y
                mod = f"{PACKAGE}.{mod}" if mod else PACKAGE
            if mod == PACKAGE:
                names.update(a.name for a in node.names)
            elif mod.startswith(PACKAGE + "."):
                names.add(mod.split(".")[1])
        elif isinstance(node, ast.Import):
            names.update(a.name.split(".")[1] for a in node.names if a.name.startswith(PACKAGE + "."))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            names.update(_DOTTED.findall(node.value))
    return {n for n in names if _module_file(n, repo)}


def code_files(script: str, repo: Path = REPO) -> list[Path]:
    """The entry script, the helpers it imports from scripts/, and every lancekit module reached."""
    scripts = repo / "scripts"
    entry = scripts / f"{script}.py"
    if not entry.is_file():
        raise FileNotFoundError(f"no entry point {entry}")
    files = {entry}
    for local in ("_cli",):
        if re.search(rf"^\s*from {local} import|^\s*import {local}\b", entry.read_text(encoding="utf-8"), re.M):
            files.add(scripts / f"{local}.py")
    todo = [f for f in files]
    seen: set[str] = set()
    while todo:
        for name in _imported_modules(todo.pop(), repo):
            if name not in seen:
                seen.add(name)
                path = _module_file(name, repo)
                files.add(path)
                todo.append(path)
    return sorted(files)


@cache
def code_version(script: str, repo: Path = REPO) -> str:
    """12 hex digits over the names (relative to the repository) and contents of ``code_files``."""
    h = hashlib.sha256()
    for f in code_files(script, repo):
        h.update(f.relative_to(repo).as_posix().encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()[:12]
