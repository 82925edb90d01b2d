"""How each score was measured, from the evaluation summaries' `provenance` and `versions`
(lancekit.evaluation.opencompass): one row per benchmark, and which columns are not comparable with
the paper's (an average is not when one of its benchmarks is not)."""

from __future__ import annotations

import polars as pl

from .names import bench_name


def _ordered(summaries: dict[str, dict]) -> list[dict]:
    # M_0 first, then the base model, then the rest: the models every table compares against
    return [summaries[r] for r in sorted(summaries, key=lambda r: (r != "iter0", r != "base", r))]


def not_comparable(summaries: dict[str, dict], averages: dict[str, list[str]] | None = None) -> dict[str, str]:
    """{benchmark or average: why its column is not comparable with the paper's}."""
    out: dict[str, str] = {}
    for s in _ordered(summaries):
        for bench, p in (s.get("provenance") or {}).items():
            if p.get("not_comparable") and bench not in out:
                out[bench] = p["not_comparable"]
    for name, members in (averages or {}).items():
        bad = [bench_name(b) for b in members if b in out]
        if bad:
            out[name] = f"averages {', '.join(bad)}, not comparable"
    return out


def measured_table(summaries: dict[str, dict]) -> pl.DataFrame:
    """benchmark | scored by | dataset config | shots | items | vs the paper (the first summary
    that has each benchmark, M_0 first)."""
    rows, seen = [], set()
    for s in _ordered(summaries):
        for bench, p in (s.get("provenance") or {}).items():
            if bench in seen:
                continue
            seen.add(bench)
            subsets = p.get("subsets")
            items = str((s.get("n_items") or {}).get(bench, "")) + (f" ({len(subsets)} subsets)" if subsets else "")
            rows.append({"benchmark": bench_name(bench), "scored by": p.get("backend"),
                         "dataset config": p.get("config"), "shots": p.get("shots"), "items": items,
                         "vs the paper": ("not comparable: " + p["not_comparable"]) if p.get("not_comparable")
                         else "same setting"})
    return pl.DataFrame(rows, schema={c: pl.Utf8 for c in ("benchmark", "scored by", "dataset config", "shots",
                                                           "items", "vs the paper")})


def versions_line(summaries: dict[str, dict]) -> str:
    """The packages that scored, as one line (the versions of every summary, when they differ)."""
    seen = []
    for s in _ordered(summaries):
        v = s.get("versions")
        if v and v not in seen:
            seen.append(v)
    return "; ".join(", ".join(f"{k} {val}" for k, val in v.items() if val) for v in seen)
