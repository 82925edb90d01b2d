"""The paper's published numbers beside ours (data/paper/lance_paper_results.csv, tidy; see
data/paper/README.md): the headline rows on the benchmarks both have, and LANCE's average per
iteration against the paper's figure."""

from __future__ import annotations

import polars as pl

from ..core.io import InputError
from ..evaluation.registry import group_members
from ..methods.runs import parse_run, run_key
from . import words
from .names import bench_name, group
from .scores import cell

PAPER_METHOD_OF_M0 = "sft"  # the paper's "SFT" row is M_0


PAPER_SCHEMA = {"backbone": pl.Utf8, "method": pl.Utf8, "iteration": pl.Int64, "benchmark": pl.Utf8,
                "score": pl.Float64, "source": pl.Utf8, "approximate": pl.Boolean}


def load_paper(path) -> pl.DataFrame:
    """data/paper/lance_paper_results.csv (tidy; see data/paper/README.md); a file that is not
    such a table is an `InputError` naming it."""
    try:
        return pl.read_csv(path, schema=PAPER_SCHEMA)
    except (pl.exceptions.PolarsError, OSError, ValueError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise InputError(f"{path}: not the paper's results table (columns {', '.join(PAPER_SCHEMA)}): "
                         f"{first}") from None


def _paper_score(paper: pl.DataFrame, backbone: str, method: str, bench: str, source: str,
                 iteration: int | None = None) -> tuple[float, bool] | None:
    f = paper.filter((pl.col("backbone") == backbone) & (pl.col("method") == method)
                     & (pl.col("benchmark") == bench) & (pl.col("source") == source))
    if iteration is not None:
        f = f.filter(pl.col("iteration") == iteration)
    return (f["score"][0], bool(f["approximate"][0])) if len(f) else None


def paper_vs_ours(ev: pl.DataFrame, paper: pl.DataFrame, backbone: str, rows: list[tuple[str, str]],
                  averages: dict[str, list[str]] | None = None) -> pl.DataFrame:
    """Long table (model, benchmark, ours, paper, gap = ours - paper) for the headline rows, on the
    benchmarks both have: the main table's (and its Avg when ours averages the same six), then the
    maths table's (its Avg likewise; a stand-in such as MATH-500 against the paper's MATH). Empty
    when the run shares no benchmark with the paper."""
    averages = averages or {}
    lb = group("leaderboard")
    ran = ev["benchmark"].unique().to_list()
    ms = group_members("maths", ran)
    want = [(b, "main table", b) for b in lb]
    if averages.get("avg") == lb:
        want.append(("avg", "main table", "avg"))
    want += [(ours, "maths table", theirs) for ours, theirs in zip(ms, group("maths")) if ours not in lb]
    if sorted(averages.get("maths_avg", [])) == sorted(ms):
        want.append(("maths_avg", "maths table", "avg"))
    out = []
    for label, run in rows:
        method, _ = parse_run(run)
        if method == "base":
            continue
        pm = PAPER_METHOD_OF_M0 if method == "m0" else method
        for ours_b, source, paper_b in want:
            c, p = cell(ev, run, ours_b), _paper_score(paper, backbone, pm, paper_b, source)
            if c is None or p is None:
                continue
            out.append({"model": label, "benchmark": ours_b, "ours": c["score"], "paper": p[0],
                        "gap": c["score"] - p[0]})
    return pl.DataFrame(out, schema={"model": pl.Utf8, "benchmark": pl.Utf8, "ours": pl.Float64,
                                     "paper": pl.Float64, "gap": pl.Float64})


def paper_vs_ours_table(long: pl.DataFrame, digits: int = 2,
                        not_comparable: dict[str, str] | None = None) -> pl.DataFrame:
    """Three lines per model (ours, paper, gap), a column per benchmark; a column whose setting is
    not the paper's (`not_comparable`: benchmark -> why) is labelled so."""
    lb = group("leaderboard")
    ran = long["benchmark"].unique().to_list()
    order = [*lb, "avg", *[b for b in group_members("maths", ran) if b not in lb], "maths_avg"]
    nc = not_comparable or {}

    def head(b: str) -> str:
        return bench_name(b) + (" (not comparable)" if nc.get(b) else "")

    benches = sorted(dict.fromkeys(long["benchmark"].to_list()), key=lambda b: order.index(b) if b in order else 99)
    rows = []
    for model in dict.fromkeys(long["model"].to_list()):
        sub = {r["benchmark"]: r for r in long.filter(pl.col("model") == model).iter_rows(named=True)}
        for i, (what, fmt) in enumerate((("ours", lambda v: f"{v:.{digits}f}"), ("paper", lambda v: f"{v:.{digits}f}"),
                                         ("gap", lambda v: words.signed(v, digits)))):
            rows.append({"model": model if i == 0 else "", "": what,
                         **{head(b): fmt(sub[b][what]) if b in sub else None for b in benches}})
    cols = ["model", "", *[head(b) for b in benches]]
    return pl.DataFrame(rows, schema={c: pl.Utf8 for c in cols})


def paper_iterations(ev: pl.DataFrame, paper: pl.DataFrame, backbone: str, last: int,
                     method: str = "lance") -> pl.DataFrame:
    """Our Avg per iteration of ``method`` against the paper's iteration figure (~: read off the
    figure)."""
    rows = []
    for t in range(0, max(last, int(paper.filter(pl.col("source") == "iteration figure")["iteration"].max() or 0)) + 1):
        c = cell(ev, run_key(method, t), "avg")
        p = _paper_score(paper, backbone, method, "avg", "iteration figure", t)
        if c is None and p is None:
            continue
        rows.append({"model": f"M_{t}", "ours": None if c is None else f"{c['score']:.2f}",
                     "paper": None if p is None else ("~" if p[1] else "") + f"{p[0]:.2f}",
                     "gap": None if c is None or p is None else words.signed(c["score"] - p[0], 2)})
    return pl.DataFrame(rows, schema={c: pl.Utf8 for c in ("model", "ours", "paper", "gap")})
