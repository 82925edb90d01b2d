"""The comparisons beside the headline table (pure: the evaluation frame and the summaries in,
polars tables out).

- `best_of`: each method at the iteration with the highest average. That iteration is picked on
  the same test items that then score it, so its difference vs M_0 is biased upward; its p is
  Holm-adjusted over the iterations searched (lancekit.core.stats.holm), and the report shows
  this view apart from the headline table, which is at a pre-set iteration.
- `versus`: the paper's claim, LANCE above each other method: LANCE against every other method
  that ran, both at their headline iterations, paired on the same items (matched by id), per
  benchmark and per average: the difference, its paired 95 % interval and p, Holm-adjusted over
  the methods compared in each row (benchmark or average).
"""

from __future__ import annotations

import polars as pl

from ..core import stats as st
from ..methods.runs import run_key
from . import words
from .names import bench_name, method_name, model_label
from .scores import best_iteration, cell, headline_iteration, paired

REFERENCE = "lance"

BEST_SCHEMA = {"method": pl.Utf8, "best": pl.Int64, "searched": pl.Int64, "score": pl.Float64,
               "delta_vs_m0": pl.Float64, "p": pl.Float64, "p_holm": pl.Float64}
VERSUS_SCHEMA = {"other": pl.Utf8, "run": pl.Utf8, "benchmark": pl.Utf8, "delta": pl.Float64, "low": pl.Float64,
                 "high": pl.Float64, "p": pl.Float64, "p_holm": pl.Float64, "n": pl.Int64}


def best_of(ev: pl.DataFrame, methods: list[str], iters: dict[str, int], avg: str = "avg") -> pl.DataFrame:
    """Per method: the iteration with the highest ``avg`` (the earliest on a tie), how many
    iterations were searched (those with an average), its average and change vs M_0, the raw p and
    the p Holm-adjusted over the iterations searched."""
    rows = []
    for m in methods:
        last = iters.get(m, 0)
        cells = {t: c for t in range(1, last + 1) if (c := cell(ev, run_key(m, t), avg)) and c["score"] is not None}
        if not cells:
            continue
        best = best_iteration(ev, m, last, avg)
        adjusted = dict(zip(cells, st.holm([c["p"] for c in cells.values()])))
        c = cells[best]
        rows.append({"method": m, "best": best, "searched": len(cells), "score": c["score"],
                     "delta_vs_m0": c["delta_vs_m0"], "p": c["p"], "p_holm": adjusted[best]})
    return pl.DataFrame(rows, schema=BEST_SCHEMA)


def best_of_table(best: pl.DataFrame, avg: str = "avg", digits: int = 2) -> pl.DataFrame:
    """The best-of view as the report shows it (†: Holm-adjusted p < 0.05)."""
    name = bench_name(avg)
    rows = [{"method": method_name(r["method"]), "best iteration": f"M_{r['best']}",
             "iterations searched": str(r["searched"]), name: f"{r['score']:.{digits}f}",
             f"Δ {name} vs M_0": None if r["delta_vs_m0"] is None
             else words.signed(r["delta_vs_m0"], digits) + words.marker(r["p_holm"]),
             "p (Holm)": None if r["p_holm"] is None else words.p_text(r["p_holm"])}
            for r in best.iter_rows(named=True)]
    cols = ["method", "best iteration", "iterations searched", name, f"Δ {name} vs M_0", "p (Holm)"]
    return pl.DataFrame(rows, schema={c: pl.Utf8 for c in cols})


def versus(ev: pl.DataFrame, summaries: dict[str, dict], methods: list[str], iters: dict[str, int], *, at: int,
           columns: list[str], averages: dict[str, list[str]], reference: str = REFERENCE,
           n_boot: int = st.N_BOOT, n_perm: int = st.N_PERM, seed: int = 0) -> pl.DataFrame:
    """``reference`` (LANCE) at its headline iteration against each other method at its own, on
    each of ``columns`` (benchmarks, and averages named in ``averages``: {name: benchmarks}):
    delta = reference - other (reported scores), its paired 95 % interval, p, and p Holm-adjusted
    over the other methods in the same column. Empty when the reference or every other method has
    no evaluated headline run."""
    ref_run = run_key(reference, headline_iteration(iters.get(reference, 0), at))
    if reference not in methods or ref_run == run_key(reference, 0) or ref_run not in summaries:
        return pl.DataFrame(schema=VERSUS_SCHEMA)
    rows = []
    for m in methods:
        t = headline_iteration(iters.get(m, 0), at)
        run = run_key(m, t)
        if m == reference or t < 1 or run not in summaries:
            continue
        for col in columns:
            a, b = cell(ev, ref_run, col), cell(ev, run, col)
            if a is None or b is None:
                continue
            delta = a["score"] - b["score"]
            res = paired(summaries[ref_run], summaries[run], averages.get(col, col), delta,
                         n_boot=n_boot, n_perm=n_perm, seed=seed)
            rows.append({"other": m, "run": run, "benchmark": col, "delta": delta, "low": res.get("low"),
                         "high": res.get("high"), "p": res.get("p"), "n": res.get("n")})
    for col in columns:  # one family per column: the methods LANCE is compared with
        idx = [i for i, r in enumerate(rows) if r["benchmark"] == col]
        for i, p in zip(idx, st.holm([rows[i]["p"] for i in idx])):
            rows[i]["p_holm"] = p
    return pl.DataFrame(rows, schema=VERSUS_SCHEMA)


def versus_table(vs: pl.DataFrame, iters: dict[str, int], at: int, digits: int = 2) -> pl.DataFrame:
    """A row per benchmark or average, a column per other method (labelled with its iteration):
    "Δ [95 % interval], p" with p Holm-adjusted (†: < 0.05 after adjustment)."""
    others = list(dict.fromkeys(vs["other"].to_list()))
    heads = {m: model_label(m, headline_iteration(iters.get(m, 0), at)) for m in others}
    out = []
    for col in dict.fromkeys(vs["benchmark"].to_list()):
        row = {"benchmark": bench_name(col)}
        for r in vs.filter(pl.col("benchmark") == col).iter_rows(named=True):
            text = words.signed(r["delta"], digits)
            if r["low"] is not None:
                text += (f" [{words.signed(r['low'], digits)}, {words.signed(r['high'], digits)}], "
                         f"{words.format_p(r['p_holm'])}{words.marker(r['p_holm'])}")
            row[heads[r["other"]]] = text
        out.append(row)
    cols = ["benchmark", *heads.values()]
    return pl.DataFrame(out, schema={c: pl.Utf8 for c in cols})


def versus_legend(vs: pl.DataFrame, reference_label: str) -> str:
    """What the cells are, and which p-values are adjusted for how many comparisons."""
    k = vs["other"].n_unique()
    adjust = (f"Holm-adjusted over the {k} methods compared in each row" if k > 1
              else "one comparison per row, so no adjustment")
    return (f"Δ = {reference_label} − the method, in points, on the same items (matched by id); [paired 95 % "
            f"bootstrap interval]; p: two-sided paired test (sign flips; exact McNemar for 0/1 items), {adjust}; "
            f"† p < 0.05{' after adjustment' if k > 1 else ''}.\n")
