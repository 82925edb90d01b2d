"""A polars table as a Markdown table."""

from __future__ import annotations

import polars as pl


def to_markdown(df: pl.DataFrame, digits: int = 2) -> str:
    if df.is_empty():
        return "_(nothing yet)_\n"

    def cell(v):
        if v is None:
            return "–"
        if isinstance(v, float):
            return f"{v:.{digits}f}"
        return str(v)

    head = "| " + " | ".join(df.columns) + " |"
    sep = "|" + "|".join("---" for _ in df.columns) + "|"
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in df.iter_rows()]
    return "\n".join([head, sep, *body]) + "\n"
