"""A stage's settings as one typed object: a frozen dataclass per settings block, built from the
JSON the rule hands over (or from the config) by `load`, which names every unknown or missing key
at once, so that a mistyped key fails where the settings are read, not when some line uses it.

    @dataclass(frozen=True)
    class ReviewSettings:
        samples: int
        mode: str = "free"

    review = load(ReviewSettings, {"samples": 3, "mode": "constrained"}, "review")

Nested dataclass fields are built from nested mappings; ``asdict`` turns a settings object back
into the plain JSON a rule carries in its params (what Snakemake compares for a rerun).
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

T = TypeVar("T")


class SettingsError(ValueError):
    """Settings that do not match their dataclass (the message names the keys)."""


def _dataclass_of(hint) -> type | None:
    if dataclasses.is_dataclass(hint):
        return hint
    for arg in typing.get_args(hint):  # Optional[Settings]
        if dataclasses.is_dataclass(arg):
            return arg
    return None


def load(cls: type[T], data: Mapping[str, Any], where: str) -> T:
    """``cls(**data)``, checked: every key a field, every field without a default given."""
    if isinstance(data, cls):
        return data
    if not isinstance(data, Mapping):
        raise SettingsError(f"{where}: expected a mapping of settings, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    missing = sorted(n for n, f in fields.items() if n not in data and f.default is dataclasses.MISSING
                     and f.default_factory is dataclasses.MISSING)
    if unknown or missing:
        problems = ([f"unknown {where}.{k}" for k in unknown] + [f"missing {where}.{k}" for k in missing])
        raise SettingsError(f"{cls.__name__}: " + "; ".join(problems) + f" (known: {', '.join(fields)})")
    hints = typing.get_type_hints(cls)
    values = {}
    for key, value in data.items():
        nested = _dataclass_of(hints[key])
        values[key] = load(nested, value, f"{where}.{key}") if nested and isinstance(value, Mapping) else value
    return cls(**values)


def asdict(settings) -> dict:
    """The settings as plain JSON-able data (nested dataclasses too)."""
    return dataclasses.asdict(settings)
