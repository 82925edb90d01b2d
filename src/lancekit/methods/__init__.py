"""The methods run side by side from the same M_0 and seed, one module each: LANCE and its two
data ablations (`lance`), Self-Instruct (`self_instruct`), SPIN (`spin`) and I-SHEEP
(`i_sheep`). `TABLE` is the one list the workflow, the scripts, the report and the config schema
take them from; `base` says what a method states; `runs` is the run-key grammar.

Adding a method: docs/methods.md, "Adding a method".

May import: lancekit.data, lancekit.generation (its settings), lancekit.core.
"""

from __future__ import annotations

from ..data.prompts import REQUIRED_SLOTS
from . import i_sheep, lance, self_instruct, spin
from .base import DATA_STAGES, STAGES, Method

TABLE: dict[str, Method] = {m.name: m for m in (*lance.VARIANTS, self_instruct.METHOD, spin.METHOD, i_sheep.METHOD)}


def get(name: str) -> Method:
    try:
        return TABLE[name]
    except KeyError:
        raise KeyError(f"unknown method {name!r}; known: {', '.join(TABLE)}") from None


def prompt_slots() -> dict[str, tuple[str, ...]]:
    """The slots every template must hold: LANCE's stages' and each method's own."""
    out = dict(REQUIRED_SLOTS)
    for m in TABLE.values():
        out.update(m.prompt_slots)
    return out


def with_stage(stage: str) -> list[str]:
    """The methods that have a stage (the {method} wildcard of its rule)."""
    return [name for name, m in TABLE.items() if m.has(stage)]


__all__ = ["DATA_STAGES", "STAGES", "TABLE", "Method", "get", "prompt_slots", "with_stage"]
