"""What made an output: the code a stage runs and the model it read, each as a short hash.

- ``code_version(script)``: the rerun trigger for code changes. Snakemake reruns a job when its
  params change; each rule carries ``code=<hash>`` among its params, the hash of its entry script
  in ``scripts/`` and of every ``lancekit`` module it imports, directly or through other modules
  (found by reading the imports, including imports inside functions and relative imports, the
  ``__init__`` of every package on the way, and strings that are dotted paths
  ``"lancekit.<package>.<module>.<name>"``, which is how OpenCompass configs name our classes).
  Only the files' names and contents enter the hash, never their absolute paths, so moving the
  checkout changes nothing, while editing any of those files reruns exactly the stages that run it.
- ``model_fingerprint(model)``: a model folder's identity for the state that outlives a stage
  (engine progress, training work folders, evaluation runs): its files' names, sizes and times.
"""

from __future__ import annotations

import ast
import hashlib
import re
from functools import cache
from pathlib import Path

from .paths import REPO

PACKAGE = "lancekit"
_DOTTED = re.compile(PACKAGE + r"(?:\.[A-Za-z_][A-Za-z0-9_]*)+")


def _module_file(dotted: str, repo: Path) -> Path | None:
    """src/lancekit/a/b.py or src/lancekit/a/b/__init__.py of ``lancekit.a.b``; None otherwise."""
    base = repo / "src" / Path(*dotted.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _package_of(path: Path, repo: Path) -> str:
    """The dotted package a lancekit file belongs to (itself for an ``__init__.py``)."""
    rel = path.relative_to(repo / "src").with_suffix("")
    parts = list(rel.parts)
    return ".".join(parts[:-1])


def _resolve(dotted: str, repo: Path) -> list[str]:
    """The lancekit modules an import of ``dotted`` runs: the longest prefix that is a module,
    and the packages above it (their ``__init__`` runs first)."""
    parts = dotted.split(".")
    return [name for i in range(1, len(parts) + 1) if _module_file(name := ".".join(parts[:i]), repo)]


def _imported_modules(path: Path, repo: Path) -> set[str]:
    """Dotted names of the lancekit modules one file refers to."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    inside = repo / "src" / PACKAGE in path.parents
    package = _package_of(path, repo) if inside else ""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            if node.level:
                if not inside:
                    continue
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                mod = ".".join([*base, mod]) if mod else ".".join(base)
            if mod == PACKAGE or mod.startswith(PACKAGE + "."):
                names.update(_resolve(mod, repo))
                for a in node.names:  # `from lancekit.data import judge`: judge may be a module
                    names.update(_resolve(f"{mod}.{a.name}", repo))
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith(PACKAGE + "."):
                    names.update(_resolve(a.name, repo))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and _DOTTED.fullmatch(node.value):
            names.update(_resolve(node.value, repo))  # a dotted path, as configs name our classes
    return names


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
    todo = list(files)
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


MODEL_FILE_SUFFIXES = (".json", ".safetensors", ".bin", ".model", ".jinja", ".txt", ".gguf")


def model_fingerprint(model: str) -> str:
    """A model directory's file names, sizes and modification times (cheap for a 7B model: no
    reading of weights); a hub id as its name."""
    path = Path(model)
    if not path.is_dir():
        return str(model)
    parts = []
    for f in sorted(path.iterdir()):
        if f.is_file() and f.suffix in MODEL_FILE_SUFFIXES:
            st = f.stat()
            parts.append(f"{f.name}:{st.st_size}:{st.st_mtime_ns}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]
