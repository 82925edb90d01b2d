"""Prompt building and answer parsing. Templates are text files (config/prompts/*.txt), named by
their key in config ``prompts``.

A template names its slots as ``{prompt}`` and ``{response}`` (``{examples}`` in the
Self-Instruct prompt); only those exact slots are filled, so braces elsewhere in a template (code,
JSON) are left alone.
"""

from __future__ import annotations

import re
from pathlib import Path

SLOTS = ("prompt", "response")
# The slots the templates of LANCE's own stages must hold (a method adds its own: Method.prompt_slots).
REQUIRED_SLOTS = {"review": SLOTS, "new_instruction": ("prompt",), "negative": SLOTS}


class Prompts:
    """The templates a stage uses, by their config key (``p.review``, ``p.system``, ...); a key the
    stage did not load reads as the empty template."""

    def __init__(self, **texts: str):
        self._texts = dict(texts)

    def __getattr__(self, key: str) -> str:
        if key.startswith("_"):
            raise AttributeError(key)
        return self._texts.get(key, "")

    def __eq__(self, other) -> bool:
        return isinstance(other, Prompts) and self._texts == other._texts

    def __repr__(self) -> str:
        return f"Prompts({', '.join(self._texts)})"

    @classmethod
    def load(cls, paths: dict[str, str], slots: dict[str, tuple[str, ...]] | None = None) -> Prompts:
        """The templates of ``paths`` (key -> file), each checked for its slots (``slots``, default
        REQUIRED_SLOTS)."""
        slots = REQUIRED_SLOTS if slots is None else slots
        texts = {}
        for key, path in paths.items():
            path = Path(path)
            if not path.is_file():
                raise FileNotFoundError(f"prompt template '{key}' not found: {path} (config prompts.{key})")
            texts[key] = path.read_text(encoding="utf-8").strip()
            for slot in slots.get(key, ()):
                if "{" + slot + "}" not in texts[key]:
                    raise ValueError(f"prompt template '{key}' ({path}) lacks the slot {{{slot}}}")
        return cls(**texts)


def fill(template: str, **values: str) -> str:
    """Fill the named slots in one pass: text put into a slot is never scanned again, so a
    literal ``{response}`` inside a seed's prompt stays as it is."""
    if not values:
        return template
    pattern = re.compile("|".join(re.escape("{" + k + "}") for k in values))
    return pattern.sub(lambda m: values[m.group(0)[1:-1]], template)


def _chat(system: str, user: str) -> list[dict]:
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def review_messages(p: Prompts, prompt: str, response: str) -> list[dict]:
    return _chat(p.system, fill(p.review, prompt=prompt, response=response))


def new_instruction_messages(p: Prompts, prompt: str, response: str = "") -> list[dict]:
    """The seed's instruction in {prompt}; its answer in {response}, where the template has that
    slot (the authors' prompt does, ours does not)."""
    return _chat(p.system, fill(p.new_instruction, prompt=prompt, response=response))


def negative_messages(p: Prompts, prompt: str, response: str) -> list[dict]:
    return _chat(p.system, fill(p.negative, prompt=prompt, response=response))


def answer_messages(p: Prompts, instruction: str) -> list[dict]:
    return _chat(p.system, instruction)


_FINAL = re.compile(r"\**\s*final\s+answer\s*\**\s*:\s*\**", re.IGNORECASE)
# where a model that runs on past its answer starts a new few-shot block
_RUN_ON = re.compile(r"\n\s*(?:#{2,}|Task:|Question:|Thinking:|Good answer:)", re.IGNORECASE)


# the authors' pattern (generate_instances_vllm.py): everything after the first "Final Answer:"
_AUTHORS_FINAL = re.compile(r"Final Answer:([\s\S]*)")


def parse_final_answer(text: str, rule: str = "lance") -> str | None:
    """The text after the last ``Final Answer:`` (bold variants too), or None when absent/empty.

    A continuation that opens a new few-shot block (``### ...``, ``Task:`` ...) is cut off.
    ``rule`` "authors": their parse instead, everything after the first ``Final Answer:`` (exact
    case), stripped, nothing cut off (empty text stays; the length check of clean drops it).
    """
    if rule == "authors":
        m = _AUTHORS_FINAL.search(text or "")
        return m.group(1).strip() if m else None
    if rule != "lance":
        raise ValueError(f"rule must be 'lance' or 'authors', got {rule!r}")
    if not text:
        return None
    matches = list(_FINAL.finditer(text))
    if not matches:
        return None
    answer = text[matches[-1].end():]
    cut = _RUN_ON.search(answer)
    if cut:
        answer = answer[:cut.start()]
    answer = answer.strip().strip("*").strip()
    return answer or None
