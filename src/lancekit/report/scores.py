"""The evaluation as one tidy frame and its views (pure: summaries in, polars tables out).

``evaluation`` turns the summaries into one frame: per model (run key) and benchmark, and per
average, the reported score, its 95 % bootstrap interval, the difference vs M_0 with its paired
95 % interval and p (lancekit.core.stats; `paired` compares any two models on the same items,
each item weighted as in the score: per subset for MMLU and MGSM). Every evaluation table of the
report is a view of it: the paper's layout at the headline iteration (`headline_rows`,
`score_table`, `interval_table`), every iteration (`iteration_table`), the same in words
(`sentences`) and what the items can resolve (`intervals_paragraph`).
"""

from __future__ import annotations

import statistics
from typing import NamedTuple

import polars as pl

from ..core import stats as st
from ..evaluation.registry import group_members
from ..methods.runs import parse_run, run_key
from . import words
from .names import bench_name, group, method_name, model_label

SIG_LEGEND = ("† p < 0.05 against M_0 on the same items (two-sided paired test: sign-flip permutation, "
              "exact McNemar for 0/1 items; one comparison per model, not corrected for their number). "
              "**Bold**: best in the column, <u>underlined</u>: second best (over the rows shown).")


class Items(NamedTuple):
    ids: list
    scores: list[float]
    groups: list[str] | None  # each item's subset where the score is a mean over subsets, else None


class Paired(NamedTuple):
    model: list[float]
    ref: list[float]
    groups: list[str] | None


def subsets(it: dict, n: int) -> list[str] | None:
    """Each item's subset (its OpenCompass dataset: MMLU subject, MGSM language) from the item
    record's ``datasets`` counts, in the order evaluate concatenates them
    (lancekit.evaluation.items.benchmark_items); None for a benchmark of one dataset."""
    counts = it.get("datasets") or {}
    if len(counts) < 2:
        return None
    if sum(counts.values()) != n:
        raise ValueError(f"per-item scores: {n} items but the datasets count {sum(counts.values())} ({counts})")
    return [abbr for abbr, k in counts.items() for _ in range(k)]


def _items(summary: dict, bench: str) -> Items | None:
    it = (summary.get("items") or {}).get(bench)
    if not it or not it.get("scores"):
        return None
    n = len(it["scores"])
    return Items(list(it.get("ids") or range(n)), [float(v) for v in it["scores"]], subsets(it, n))


def paired_items(model: dict, ref: dict, bench: str) -> Paired | None:
    """(model items, reference items, subsets) on the same items (aligned by id when the order
    differs), or None."""
    a, b = _items(model, bench), _items(ref, bench)
    if a is None or b is None:
        return None
    if a.ids == b.ids:
        return Paired(a.scores, b.scores, a.groups)
    pos = {i: k for k, i in enumerate(a.ids)}
    common = [(pos[i], k) for k, i in enumerate(b.ids) if i in pos]
    if len(common) < 2:
        return None
    return Paired([a.scores[i] for i, _ in common], [b.scores[k] for _, k in common],
                  None if a.groups is None else [a.groups[i] for i, _ in common])


def paired(model: dict, ref: dict, benches: str | list[str], delta: float, *, n_boot: int = st.N_BOOT,
           n_perm: int = st.N_PERM, seed: int = 0) -> dict:
    """One model against another on the same items: of one benchmark (a name) or of the unweighted
    average over benchmarks (a list); ``delta`` = the difference of the reported scores. The
    stats.paired_test result, {} when either lacks per-item scores."""
    kw = dict(n_boot=n_boot, n_perm=n_perm, seed=seed, delta=delta)
    if isinstance(benches, str):
        pair = paired_items(model, ref, benches)
        return st.paired_test(pair.model, pair.ref, groups=pair.groups, key=benches, **kw) if pair else {}
    pairs = {b: paired_items(model, ref, b) for b in benches}
    if not pairs or not all(pairs.values()):
        return {}
    return st.paired_average_test({b: (p.model, p.ref) for b, p in pairs.items()},
                                  groups={b: p.groups for b, p in pairs.items()}, **kw)


def benchmarks_ran(summaries: dict[str, dict]) -> list[str]:
    """Every benchmark with a score in any summary, in the order they first appear (M_0 first)."""
    order = sorted(summaries, key=lambda r: (r != "iter0", r != "base"))
    seen: dict[str, None] = {}
    for r in order:
        for b, v in summaries[r].get("scores", {}).items():
            if v is not None:
                seen.setdefault(b)
    return list(seen)


def main_benchmarks(ran: list[str]) -> list[str]:
    """The paper's six leaderboard benchmarks (its column order) when all ran; otherwise every
    benchmark that ran (the embedded default: arith, lance_mc)."""
    lb = group("leaderboard")
    if lb and all(b in ran for b in lb):
        return lb
    return list(ran)


def maths_benchmarks(ran: list[str]) -> list[str]:
    """The maths group's benchmarks that ran (MATH-500 in MATH's place where only it ran), when
    at least one besides GSM8K did (else [])."""
    ms = [b for b in group_members("maths", ran) if b in ran]
    return ms if any(b != "gsm8k" for b in ms) else []


EVAL_SCHEMA = {"run": pl.Utf8, "method": pl.Utf8, "iteration": pl.Int64, "benchmark": pl.Utf8,
               "score": pl.Float64, "low": pl.Float64, "high": pl.Float64, "n": pl.Int64,
               "delta_vs_m0": pl.Float64, "delta_low": pl.Float64, "delta_high": pl.Float64,
               "p": pl.Float64, "discordant": pl.Float64}


def evaluation(summaries: dict[str, dict], *, averages: dict[str, list[str]] | None = None,
               n_boot: int = st.N_BOOT, n_perm: int = st.N_PERM, seed: int = 0) -> pl.DataFrame:
    """One row per model and benchmark (and per average: ``averages`` = {name: benchmarks}, default
    {"avg": main_benchmarks, "maths_avg": maths_benchmarks}): reported score, its 95 % bootstrap
    interval, the difference vs M_0 (iter0) with its paired 95 % interval and p. Intervals and p are
    None where a summary has no per-item scores; an average is None for a model missing one of
    its benchmarks."""
    ran = benchmarks_ran(summaries)
    if averages is None:
        averages = {"avg": main_benchmarks(ran)}
        if maths_benchmarks(ran):
            averages["maths_avg"] = maths_benchmarks(ran)
    m0 = summaries.get("iter0")
    kw = dict(n_boot=n_boot, seed=seed)
    tests = dict(n_perm=n_perm, **kw)
    rows = []
    for run, s in summaries.items():
        method, t = parse_run(run)
        scores = {b: v for b, v in (s.get("scores") or {}).items() if v is not None}
        base = {"run": run, "method": method, "iteration": t}
        for b in [b for b in ran if b in scores]:
            it = _items(s, b)
            ci = st.score_interval(it.scores, score=scores[b], key=b, groups=it.groups, **kw) if it else {
                "n": s.get("n_items", {}).get(b)}
            row = {**base, "benchmark": b, "score": scores[b], "low": ci.get("low"), "high": ci.get("high"),
                   "n": ci.get("n")}
            if m0 is not None and b in (m0.get("scores") or {}) and m0["scores"][b] is not None:
                delta = scores[b] - m0["scores"][b]
                res = paired(s, m0, b, delta, **tests) if run != "iter0" else {}
                row.update(delta_vs_m0=delta, delta_low=res.get("low"), delta_high=res.get("high"),
                           p=res.get("p"), discordant=res.get("discordant"))
            rows.append(row)
        for name, benches in averages.items():
            if not benches or not all(b in scores for b in benches):
                continue
            avg = sum(scores[b] for b in benches) / len(benches)
            its = {b: _items(s, b) for b in benches}
            row = {**base, "benchmark": name, "score": avg}
            if all(its.values()):
                ci = st.average_interval({b: its[b].scores for b in benches}, scores=scores,
                                         groups={b: its[b].groups for b in benches}, **kw)
                row.update(low=ci["low"], high=ci["high"], n=ci["n"])
            if m0 is not None and all((m0.get("scores") or {}).get(b) is not None for b in benches):
                delta = avg - sum(m0["scores"][b] for b in benches) / len(benches)
                res = paired(s, m0, list(benches), delta, **tests) if run != "iter0" else {}
                row.update(delta_vs_m0=delta, delta_low=res.get("low"), delta_high=res.get("high"),
                           p=res.get("p"), discordant=res.get("discordant"))
            rows.append(row)
    return pl.DataFrame(rows, schema=EVAL_SCHEMA)


def tidy_eval(ev: pl.DataFrame) -> pl.DataFrame:
    """eval_table.csv: method (base | m0 | method), iteration, benchmark, score, low, high,
    delta_vs_m0, p (+ the difference's interval), rounded for reading."""
    return ev.select("method", "iteration", "benchmark", *[pl.col(c).round(4) for c in (
        "score", "low", "high", "delta_vs_m0")], "p", pl.col("delta_low").round(4),
        pl.col("delta_high").round(4), "n")


def cell(ev: pl.DataFrame, run: str, bench: str) -> dict | None:
    r = ev.filter((pl.col("run") == run) & (pl.col("benchmark") == bench))
    return r.row(0, named=True) if len(r) else None


def best_iteration(ev: pl.DataFrame, method: str, last: int, avg: str = "avg") -> int:
    """The iteration 1..last with the highest average (the earliest on a tie); ``last`` when none
    has an average yet."""
    best, best_t = None, last
    for t in range(1, last + 1):
        c = cell(ev, run_key(method, t), avg)
        if c and c["score"] is not None and (best is None or c["score"] > best + 1e-9):
            best, best_t = c["score"], t
    return best_t


def headline_iteration(last: int, at: int) -> int:
    """The iteration a method is shown at: ``at`` (report.headline_iteration, fixed before any score
    is seen), or its last when it runs fewer (Self-Instruct: one round). 0: none ran."""
    return min(at, last)


def headline_rows(ev: pl.DataFrame, methods: list[str], iters: dict[str, int], *,
                  at: int) -> list[tuple[str, str]]:
    """(label, run) of the paper-layout tables: base, SFT (M_0), each method at its headline
    iteration (`headline_iteration`), the rows evaluated."""
    runs = set(ev["run"].to_list())
    rows = [(model_label(m, t), run_key(m, t)) for m, t in (("base", None), ("m0", 0))]
    for m in methods:
        t = headline_iteration(iters.get(m, 0), at)
        if t >= 1:
            rows.append((model_label(m, t), run_key(m, t)))
    return [(lab, r) for lab, r in rows if r in runs]


def headline_note(methods: list[str], iters: dict[str, int], at: int) -> str:
    """Which iteration each headline row is, and why."""
    by_last: dict[int, list[str]] = {}
    for m in methods:
        if 1 <= iters.get(m, 0) < at:
            by_last.setdefault(iters[m], []).append(method_name(m))
    fewer = [f"{', '.join(ms)} at M_{t}, " + ("its last (it runs" if len(ms) == 1 else "their last (they run")
             + f" {t})" for t, ms in by_last.items()]
    return (f"Each method at iteration {at} (`report.headline_iteration`, fixed before the scores are seen; "
            f"the paper reports iteration 4), not at the iteration that scored best on these test items"
            + (f"; {'; '.join(fewer)}" if fewer else "") + ". ")


def rank_marks(values: list[float | None], digits: int = 2) -> list[str]:
    """"best" / "second" / "" per value, as shown (rounded to ``digits``); ties share the mark."""
    shown = [round(v, digits) if v is not None else None for v in values]
    distinct = sorted({v for v in shown if v is not None}, reverse=True)
    top = distinct[0] if distinct else None
    second = distinct[1] if len(distinct) > 1 else None
    return ["best" if v is not None and v == top else "second" if v is not None and v == second else ""
            for v in shown]


def _decorate(text: str, mark: str) -> str:
    return f"**{text}**" if mark == "best" else f"<u>{text}</u>" if mark == "second" else text


def _interval(c: dict | None, lo: str = "low", hi: str = "high", digits: int = 2, sign: bool = False) -> str | None:
    if not c or c.get(lo) is None:
        return None
    f = (lambda x: words.signed(x, digits)) if sign else (lambda x: f"{x:.{digits}f}")
    return f"[{f(c[lo])}, {f(c[hi])}]"


def score_table(ev: pl.DataFrame, rows: list[tuple[str, str]], benches: list[str], avg: str = "avg",
                digits: int = 2) -> pl.DataFrame:
    """The paper's layout: one row per (label, run), a column per benchmark and the average, each
    cell the score (best **bold**, second <u>underlined</u>, † when p < 0.05 vs M_0), then the
    average's change vs M_0 and its p."""
    cols = [*benches, avg]
    data = {c: [cell(ev, r, c) for _, r in rows] for c in cols}
    out: dict[str, list] = {"model": [lab for lab, _ in rows]}
    for c in cols:
        marks = rank_marks([d["score"] if d else None for d in data[c]], digits)
        out[bench_name(c)] = [None if d is None else _decorate(f"{d['score']:.{digits}f}", mk) + words.marker(d["p"])
                              for d, mk in zip(data[c], marks)]
    out[f"Δ {bench_name(avg)} vs M_0"] = [
        None if d is None or d["delta_vs_m0"] is None else words.signed(d["delta_vs_m0"], digits) + words.marker(d["p"])
        for d in data[avg]]
    out["p"] = [words.p_text(d["p"]) if d and d["p"] is not None else None for d in data[avg]]
    return pl.DataFrame(out, schema={k: pl.Utf8 for k in out})


def interval_table(ev: pl.DataFrame, rows: list[tuple[str, str]], benches: list[str], avg: str = "avg",
                   digits: int = 2) -> pl.DataFrame:
    """The same rows and columns: each score's 95 % bootstrap interval, and the paired 95 %
    interval of the average's change vs M_0."""
    cols = [*benches, avg]
    out: dict[str, list] = {"model": [lab for lab, _ in rows]}
    for c in cols:
        out[bench_name(c)] = [_interval(cell(ev, r, c), digits=digits) for _, r in rows]
    out[f"Δ {bench_name(avg)} vs M_0"] = [_interval(cell(ev, r, avg), "delta_low", "delta_high", digits, True)
                                         for _, r in rows]
    return pl.DataFrame(out, schema={k: pl.Utf8 for k in out})


def iteration_table(ev: pl.DataFrame, method: str, last: int, benches: list[str], avg: str = "avg",
                    digits: int = 2) -> pl.DataFrame:
    """Every iteration of one method: M_0..M_last, a column per benchmark, the average with its
    interval, its change vs M_0 with the paired interval, and p."""
    rows = []
    for t in range(0, last + 1):
        r = run_key(method, t)
        a = cell(ev, r, avg)
        if a is None and all(cell(ev, r, b) is None for b in benches):
            continue
        row = {"method": method_name(method), "model": f"M_{t}"}
        for b in benches:
            c = cell(ev, r, b)
            row[bench_name(b)] = None if c is None else f"{c['score']:.{digits}f}" + words.marker(c["p"])
        row[bench_name(avg)] = None if a is None else f"{a['score']:.{digits}f}"
        row["95% CI"] = _interval(a, digits=digits)
        row["Δ vs M_0"] = (None if a is None or a["delta_vs_m0"] is None or t == 0
                           else words.signed(a["delta_vs_m0"], digits) + words.marker(a["p"]))
        row["Δ 95% CI"] = _interval(a, "delta_low", "delta_high", digits, True) if t else None
        row["p"] = words.p_text(a["p"]) if a and a["p"] is not None else None
        rows.append(row)
    cols = ["method", "model", *[bench_name(b) for b in benches], bench_name(avg), "95% CI", "Δ vs M_0",
            "Δ 95% CI", "p"]
    return pl.DataFrame(rows, schema={c: pl.Utf8 for c in cols})


def sentences(ev: pl.DataFrame, methods: list[str], iters: dict[str, int], avg: str = "avg",
              n_benches: int | None = None) -> list[str]:
    """One sentence per method and iteration: its average vs M_0 in words, then the benchmarks
    on which it differs significantly."""
    out = []
    what = f"Avg of {n_benches} benchmarks" if n_benches else ""
    for m in methods:
        for t in range(1, iters.get(m, 0) + 1):
            r = run_key(m, t)
            a = cell(ev, r, avg)
            if a is None or a["delta_vs_m0"] is None:
                continue
            s = words.sentence(method_name(m), t, {"delta": a["delta_vs_m0"], "low": a["delta_low"],
                                                "high": a["delta_high"], "p": a["p"]}, what=what)
            sig = ev.filter((pl.col("run") == r) & (pl.col("p") < st.ALPHA)
                            & ~pl.col("benchmark").is_in(["avg", "maths_avg"]))
            if len(sig):
                s += "; significantly different on " + ", ".join(
                    f"{bench_name(b)} ({words.signed(d, 1)})" for b, d in zip(sig["benchmark"], sig["delta_vs_m0"]))
            out.append(s + ".")
    return out


def intervals_paragraph(ev: pl.DataFrame, benches: list[str], avg: str = "avg") -> str:
    """How many items each benchmark has and what they can resolve: the half-width of the 95 %
    interval of a 50 % score, and the paired difference vs M_0 that is about detectable, given how
    often models disagreed with M_0 on an item (median over all comparisons)."""
    lines = []
    for b in benches:
        rows = ev.filter(pl.col("benchmark") == b)
        ns = [n for n in rows["n"].to_list() if n]
        if not ns:
            continue
        n = max(ns)
        q = [v for v in rows["discordant"].to_list() if v is not None]
        qm = statistics.median(q) if q else None
        paired = (f"a paired difference vs M_0 of about {st.detectable_difference(n, qm):.1f} points is "
                  f"detectable (models disagreed with M_0 on {100 * qm:.0f} % of items)" if qm is not None
                  else f"two independent scores must differ by about {st.detectable_difference(n):.1f} points")
        lines.append(f"- {bench_name(b)}: {n} items, one item = {100 / n:.2f} points; a score near 50 % is "
                     f"known to ±{st.half_width(n):.1f} points (95 %); {paired}.")
    no_items = ev["low"].null_count() == ev.height
    head = ("The summaries carry no per-item scores: no intervals and no tests, the scores are point "
            "estimates." if no_items else
            f"Intervals: 95 % percentile bootstrap over items ({st.N_BOOT} resamples, fixed seed; within each "
            "subset for a benchmark scored as a mean over subsets, MMLU's subjects and MGSM's languages, "
            "weighted as in the score); tests: paired on the same items against M_0. They measure the "
            "uncertainty of the items only: a model trained again with another seed scores differently, "
            "which no item interval covers.")
    if not lines:
        return head + "\n"
    a = ev.filter((pl.col("benchmark") == avg) & (pl.col("run") == "iter0"))
    if len(a) and a["low"][0] is not None:
        lines.append(f"- {bench_name(avg)}: M_0's 95 % interval is ±{(a['high'][0] - a['low'][0]) / 2:.1f} points "
                     "(items resampled within each benchmark).")
    return head + " What these items can resolve:\n\n" + "\n".join(lines) + "\n"
