"""The LANCE authors' own prompts and files, read from the user's clone of their repository
(github.com/Control-derek/LANCE), never copied into this project and never executed.

A config value ``authors:<NAME>`` names:
- for a prompt (config ``prompts.<key>``): the string constant ``<NAME>`` of the authors'
  ``src/prompt_template.py`` (e.g. ``authors:SYS_PROMPT``), read with Python's parser (``ast``):
  only top-level assignments of a plain string literal count;
- for a file (``seed.path``, ``seed.extra_sft``): ``<NAME>`` as a path inside the clone (e.g.
  ``authors:dataset/seed/UltraChat3k.json``).
The clone's folder is config ``authors.repo``.

The authors fill their templates with LangChain's f-string ``PromptTemplate``: slots are
``{instruction}``, ``{prompt}`` and ``{response}``, and a literal brace is written doubled. Our
templates have ``{prompt}`` and ``{response}``; `to_template` maps theirs onto ours.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

PREFIX = "authors:"
PROMPT_FILE = "src/prompt_template.py"
# their slot name -> ours; the instruction they show is our {prompt}
SLOT_MAP = {"instruction": "prompt", "prompt": "prompt", "response": "response"}
_FIELD = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")


class AuthorsError(ValueError):
    pass


def is_reference(value: object) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


def name_of(value: str) -> str:
    return value[len(PREFIX):].strip()


def resolve_file(value: str, repo: str | None, key: str) -> str:
    """``authors:<path>`` as a path inside the clone ``repo``; any other value as it is."""
    if not is_reference(value):
        return value
    if not repo:
        raise AuthorsError(f"{key}: {value!r} names a file of the authors' repository, but authors.repo is "
                           "not set (the folder of your clone of github.com/Control-derek/LANCE)")
    return str(Path(repo) / name_of(value))


def string_constants(source: str, filename: str = PROMPT_FILE) -> dict[str, str]:
    """Every top-level ``NAME = "<string literal>"`` of a Python file, by name; nothing is run."""
    try:
        tree = ast.parse(source, filename=filename)
    except SyntaxError as e:
        raise AuthorsError(f"{filename}: not valid Python (line {e.lineno}): {e.msg}") from None
    out = {}
    for node in tree.body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
                and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)):
            out[node.targets[0].id] = node.value.value
    return out


def to_template(text: str, where: str) -> str:
    """One of the authors' f-string templates in our slot syntax: ``{instruction}`` becomes
    ``{prompt}``, doubled braces become single ones. Any other slot is an error naming it."""
    def field(m: re.Match) -> str:
        if m.group(0) in ("{{", "}}"):
            return m.group(0)[0]
        name = m.group(1).strip()
        if name not in SLOT_MAP:
            raise AuthorsError(f"{where}: slot {{{name}}} has no counterpart here "
                               f"(known: {', '.join('{' + s + '}' for s in SLOT_MAP)})")
        return "{" + SLOT_MAP[name] + "}"
    return _FIELD.sub(field, text).strip()


def read_prompt(prompt_file: str | Path, name: str) -> str:
    """The authors' template ``name`` from their prompt_template.py, in our slot syntax."""
    path = Path(prompt_file)
    if not path.is_file():
        raise AuthorsError(f"{path}: not found (authors.repo: the clone of github.com/Control-derek/LANCE)")
    try:
        source = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise AuthorsError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    constants = string_constants(source, str(path))
    if name not in constants:
        raise AuthorsError(f"{path}: no string constant {name!r}; it has: {', '.join(sorted(constants)) or 'none'}")
    return to_template(constants[name], f"{path}, {name}")
