"""The report's tables, built from the files the stages wrote (pure: dicts in, tables out).

Each table is a polars DataFrame; `to_markdown` renders it for the Markdown page.
"""

from __future__ import annotations

import polars as pl


def run_label(run: str) -> str:
    return "base" if run == "base" else f"M_{int(run[4:])}"


def eval_table(summaries: dict[str, dict]) -> pl.DataFrame:
    """Rows base, M_0, M_1..; columns the benchmarks, mean, and the mean's change vs M_0."""
    benches = sorted({b for s in summaries.values() for b in s["scores"]})
    rows = []
    for run, s in summaries.items():
        row = {"model": run_label(run)}
        row.update({b: s["scores"].get(b) for b in benches})
        row["mean"] = s["mean"]
        rows.append(row)
    df = pl.DataFrame(rows)
    m0 = df.filter(pl.col("model") == "M_0")["mean"]
    ref = m0[0] if len(m0) else None
    return df.with_columns(
        (pl.col("mean") - ref).round(2).alias("Δmean vs M_0") if ref is not None
        else pl.lit(None, dtype=pl.Float64).alias("Δmean vs M_0"))


def item_resolution(summaries: dict[str, dict]) -> str:
    """One line saying how many items each benchmark was scored on and what one item is worth."""
    n = {}
    for s in summaries.values():
        n.update({b: k for b, k in (s.get("n_items") or {}).items() if k})
    if not n:
        return ""
    parts = [f"{b}: {k} items, one item = {100 / k:.2f} points" for b, k in sorted(n.items())]
    return "Scored on " + "; ".join(parts) + ".\n"


def training_table(infos: dict[tuple[int, str], dict]) -> pl.DataFrame:
    """One row per training stage run ((iteration, "SFT"|"DPO") -> lance_train.json)."""
    rows = []
    for (t, stage), d in sorted(infos.items(), key=lambda kv: (kv[0][0], kv[0][1] != "SFT")):
        rows.append({"iter": t, "stage": stage, "examples": d.get("n_examples"), "steps": d.get("steps"),
                     "first loss": d.get("first_loss"), "final loss": d.get("final_loss"),
                     "seconds": d.get("seconds"),
                     "note": f"skipped: {d.get('reason')}" if d.get("skipped") else ""})
    return pl.DataFrame(rows)


def funnel_table(stats: dict[int, dict[str, dict]]) -> pl.DataFrame:
    """One row per iteration: how many records each stage took in and let through."""
    rows = []
    for t, s in sorted(stats.items()):
        rs, g, c, rn, a = (s.get(k, {}) for k in ("review_seed", "generate", "clean", "review_new", "annotate"))
        split = rs.get("split", {})
        rows.append({
            "iter": t, "seeds reviewed": rs.get("records_in"), "low": split.get("low"), "high": split.get("high"),
            "instructions": g.get("instruction_samples"), "responses": g.get("responses"),
            "negatives": g.get("negative_samples"),
            "kept instr.": c.get("instructions_out"), "kept resp.": c.get("responses_out"),
            "kept neg.": c.get("negatives_out"), "re-reviewed": rn.get("records_in"),
            "SFT new": a.get("sft_new"), "DPO new": a.get("dpo_new"),
            "SFT total": a.get("sft_total"), "DPO total": a.get("dpo_total"), "next seed": a.get("next_seed"),
        })
    return pl.DataFrame(rows)


def drop_table(stats: dict[int, dict[str, dict]]) -> pl.DataFrame:
    """Every clean drop reason per iteration."""
    rows = []
    for t, s in sorted(stats.items()):
        for level, reasons in s.get("clean", {}).get("drops", {}).items():
            for reason, n in reasons.items():
                rows.append({"iter": t, "level": level, "reason": reason, "count": n})
    return pl.DataFrame(rows, schema={"iter": pl.Int64, "level": pl.Utf8, "reason": pl.Utf8, "count": pl.Int64})


def judge_table(stats: dict[int, dict[str, dict]]) -> pl.DataFrame:
    rows = []
    for t, s in sorted(stats.items()):
        for stage in ("review_seed", "review_new"):
            r = s.get(stage, {})
            if not r or r.get("reused_scores"):
                continue
            a = s.get("annotate", {})
            rows.append({"iter": t, "stage": stage, "votes": r["votes"],
                         "parse failure rate": r["parse_failure_rate"],
                         "no score": r["records_without_score"], "mean score": r["mean_score"],
                         "truncated": r.get("truncated"),
                         "chosen words": a.get("mean_chosen_words") if stage == "review_new" else None,
                         "rejected words": a.get("mean_rejected_words") if stage == "review_new" else None})
    return pl.DataFrame(rows)


def time_table(bench: dict[str, dict[str, float]]) -> pl.DataFrame:
    """Wall seconds per stage (rows) and run (columns), from Snakemake's benchmark files."""
    runs = sorted(bench, key=lambda r: (r != "base", int(r[4:]) if r.startswith("iter") else -1))
    stages = sorted({s for v in bench.values() for s in v})
    return pl.DataFrame([{"stage": st, **{run_label(r): bench[r].get(st) for r in runs}} for st in stages])


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
