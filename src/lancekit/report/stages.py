"""The pipeline's own tables, one per report section of a method: the data funnel, clean's drop
reasons, the judge's health, training and wall time per stage (pure: stage statistics in, polars
tables out)."""

from __future__ import annotations

import polars as pl

from ..methods.runs import parse_run
from .names import run_label


def _skip_note(reason: str | None) -> str:
    reason = reason or "no reason given"
    return reason if reason.startswith("skipped") else f"skipped: {reason}"


def _training_note(d: dict) -> str:
    if d.get("skipped"):
        return _skip_note(d.get("reason"))
    return "few optimizer steps: under train.min_steps_warning" if d.get("few_steps") else ""


def training_table(infos: dict[tuple[int, str], dict]) -> pl.DataFrame:
    """One row per training stage run ((iteration, "SFT"|"DPO") -> lance_train.json): the
    optimizer steps the job planned (lancekit.training.plan) beside those the trainer made."""
    rows = []
    for (t, stage), d in sorted(infos.items(), key=lambda kv: (kv[0][0], kv[0][1] != "SFT")):
        plan = d.get("step_plan") or {}
        rows.append({"iter": t, "stage": stage, "examples": d.get("n_examples"),
                     "global batch": plan.get("global_batch"), "planned steps": d.get("planned_steps"),
                     "steps": d.get("steps"), "first loss": d.get("first_loss"), "final loss": d.get("final_loss"),
                     "seconds": d.get("seconds"), "note": _training_note(d)})
    df = pl.DataFrame(rows)
    # records written before jobs planned their steps have no plan: no empty columns for them
    return df.drop([c for c in ("global batch", "planned steps") if c in df.columns and df[c].null_count() == len(df)])


FUNNEL_COLUMNS = ("iter", "seeds reviewed", "low", "high", "instructions", "responses", "negatives",
                  "kept instr.", "kept resp.", "kept neg.", "re-reviewed", "SFT new", "DPO new", "SFT total",
                  "DPO total", "next seed", "Seed_0 share")


def funnel_table(stats: dict[int, dict[str, dict]]) -> pl.DataFrame:
    """One row per iteration: how many records each stage took in and let through, and how much
    of the next seed is the base seed (Seed_0, or Seed_{t-1})."""
    rows = []
    for t, s in sorted(stats.items()):
        rs, g, c, rn, a = (s.get(k, {}) for k in ("review_seed", "generate", "clean", "review_new", "annotate"))
        split = g.get("split", {})
        rows.append(dict(zip(FUNNEL_COLUMNS, (
            t, rs.get("records_in"), split.get("low"), split.get("high"), g.get("instruction_samples"),
            g.get("responses"), g.get("negative_samples"), c.get("instructions_out"), c.get("responses_out"),
            c.get("negatives_out"), rn.get("records_in"), a.get("sft_new"), a.get("dpo_new"), a.get("sft_total"),
            a.get("dpo_total"), a.get("next_seed"), a.get("next_seed_base_share")))))
    schema = {c: (pl.Float64 if c == "Seed_0 share" else pl.Int64) for c in FUNNEL_COLUMNS}
    return pl.DataFrame(rows, schema=schema)


def drop_table(stats: dict[int, dict[str, dict]]) -> pl.DataFrame:
    """Every clean drop reason per iteration."""
    rows = []
    for t, s in sorted(stats.items()):
        for level, reasons in s.get("clean", {}).get("drops", {}).items():
            for reason, n in reasons.items():
                rows.append({"iter": t, "level": level, "reason": reason, "count": n})
    return pl.DataFrame(rows, schema={"iter": pl.Int64, "level": pl.Utf8, "reason": pl.Utf8, "count": pl.Int64})


def _auc_cell(sep: dict | None) -> str | None:
    a = (sep or {}).get("auc_good_vs_mediocre")
    if not a or a.get("auc") is None:
        return None
    if a.get("low") is None:
        return f"{a['auc']:.2f}"
    return f"{a['auc']:.2f} [{a['low']:.2f}, {a['high']:.2f}]"


def judge_table(stats: dict[int, dict[str, dict]]) -> pl.DataFrame:
    """Per review stage: votes, parse failures, unscored records, and (when the seed labels its
    records good / mediocre) how well the judge's scores separate the labels: the mean score per
    label and the ROC AUC with its 95 % bootstrap interval (0.5 = no better than chance)."""
    rows = []
    for t, s in sorted(stats.items()):
        for stage in ("review_seed", "review_new"):
            r = s.get(stage, {})
            if not r:
                continue
            labels = (r.get("by_label") or {}).get("labels", {})
            a = s.get("annotate", {})
            rows.append({"iter": t, "stage": stage + (" (stored scores)" if r.get("reused_scores") else ""),
                         "votes": r.get("votes"), "parse failure rate": r.get("parse_failure_rate"),
                         "no score": r.get("records_without_score"), "mean score": r.get("mean_score"),
                         "mean good": labels.get("good", {}).get("mean_score"),
                         "mean mediocre": labels.get("mediocre", {}).get("mean_score"),
                         "AUC good vs mediocre [95% CI]": _auc_cell(r.get("by_label")),
                         "chosen words": a.get("mean_chosen_words") if stage == "review_new" else None,
                         "rejected words": a.get("mean_rejected_words") if stage == "review_new" else None})
    return pl.DataFrame(rows)


def time_table(bench: dict[str, dict[str, float]]) -> pl.DataFrame:
    """Wall seconds per stage (rows) and run (columns: base, M_0, M_1..), from Snakemake's
    benchmark files; ``bench`` = {run: {stage: seconds}} for the runs of one table."""
    runs = sorted(bench, key=lambda r: (r != "base", parse_run(r)[1] or 0))
    stages = sorted({s for v in bench.values() for s in v})
    return pl.DataFrame([{"stage": st, **{run_label(r): bench[r].get(st) for r in runs}} for st in stages])


COST_STAGES = ("review_seed", "generate", "review_new", "train_sft", "train_dpo", "evaluate")


def cost_table(measured: dict[str, dict[str, float]], predicted: dict[str, dict[str, float]]) -> pl.DataFrame:
    """The cost model against the run, per stage: job seconds predicted (``predicted``, {run:
    {stage: s}}, lancekit.pipeline.plan.job_seconds) and measured (Snakemake's benchmark files,
    shards summed), summed over the runs where both are known, with measured / predicted and the
    number of jobs' runs compared. Stages the model does not price (clean, annotate) are left out."""
    rows = []
    for stage in COST_STAGES:
        pairs = [(p[stage], measured[run][stage]) for run, p in predicted.items()
                 if stage in p and stage in measured.get(run, {})]
        if not pairs:
            continue
        pred, meas = sum(a for a, _ in pairs), sum(b for _, b in pairs)
        rows.append({"stage": stage, "runs": len(pairs), "predicted s": pred, "measured s": meas,
                     "measured / predicted": meas / pred if pred > 0 else None})
    if rows:
        pred, meas = sum(r["predicted s"] for r in rows), sum(r["measured s"] for r in rows)
        rows.append({"stage": "total", "runs": sum(r["runs"] for r in rows), "predicted s": pred,
                     "measured s": meas, "measured / predicted": meas / pred if pred > 0 else None})
    return pl.DataFrame(rows, schema={"stage": pl.Utf8, "runs": pl.Int64, "predicted s": pl.Float64,
                                      "measured s": pl.Float64, "measured / predicted": pl.Float64})
