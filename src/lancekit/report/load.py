"""What the report reads, file by file: every path comes from the rule's layout (the rule declares
each as an input), nothing is globbed.

A file the report reads is checked as it is read, for the fields the report uses: a garbled or
wrongly shaped summary, stats file, training record or benchmark table is one `InputError` that
names the file and the field (or line), never a JSON or number error from deep inside a table.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

from ..core.io import InputError, read_json, read_jsonl_lenient, read_text

# A field spec: NUMBER (a finite number or null), TEXT (a string or null), ANY, {key: spec}
# (an object or null, those keys checked where present), Each(spec) (an object or null whose
# every value matches), Items(spec) (a list or null whose every element matches).
NUMBER, TEXT, ANY = "a finite number or null", "a string or null", "anything"


class Each:
    def __init__(self, spec):
        self.spec = spec


class Items:
    def __init__(self, spec, null: bool = True):
        self.spec, self.null = spec, null


ITEM_NUMBER = "a finite number"   # a per-item score: never null
ITEM_ID = "a string or an integer"

SUMMARY = {"scores": Each(NUMBER), "mean": NUMBER, "n_items": Each(NUMBER),
           "items": Each({"ids": Items(ITEM_ID), "scores": Items(ITEM_NUMBER), "datasets": Each(NUMBER)}),
           "provenance": Each({"backend": TEXT})}
REVIEW_BY_LABEL = {"labels": Each({"mean_score": NUMBER}),
                   "auc_good_vs_mediocre": {"auc": NUMBER, "low": NUMBER, "high": NUMBER}}
STATS = {**{k: NUMBER for k in (
    "records_in", "instruction_samples", "responses", "negative_samples", "instructions_out", "responses_out",
    "negatives_out", "sft_new", "dpo_new", "sft_total", "dpo_total", "next_seed", "next_seed_base_share", "votes",
    "parse_failure_rate", "records_without_score", "mean_score", "mean_chosen_words", "mean_rejected_words")},
    "split": {"low": NUMBER, "high": NUMBER, "threshold": NUMBER}, "drops": Each(Each(NUMBER)),
    "score_histogram": Each(NUMBER), "by_label": REVIEW_BY_LABEL,
    "judge_records": {"ids": Items(ITEM_ID), "scores": Items(NUMBER), "chars": Items(ITEM_NUMBER),
                      "votes": Items(Items(ITEM_NUMBER))}}
TRAINING = {**{k: NUMBER for k in ("n_examples", "planned_steps", "steps", "first_loss", "final_loss", "seconds")},
            "step_plan": {"global_batch": NUMBER}, "reason": TEXT}


def _finite(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _matches(v, kind: str) -> bool:
    if kind == ANY:
        return True
    if kind == NUMBER:
        return v is None or _finite(v)
    if kind == ITEM_NUMBER:
        return _finite(v)
    if kind == ITEM_ID:
        return isinstance(v, str) or (isinstance(v, int) and not isinstance(v, bool))
    return v is None or isinstance(v, str)  # TEXT


def check_fields(value, spec, path, field: str = "") -> None:
    """`value` against `spec` (see above); an `InputError` names the file and the field."""
    where = f"{path}: field {field}" if field else f"{path}"

    def bad(expected: str):
        shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
        return InputError(f"{where}: {shown}, expected {expected}")

    if isinstance(spec, str):
        if not _matches(value, spec):
            raise bad(spec)
    elif isinstance(spec, Items):
        if value is None and spec.null:
            return
        if not isinstance(value, list):
            raise bad("a list")
        for i, v in enumerate(value):
            check_fields(v, spec.spec, path, f"{field}[{i}]")
    elif value is not None or field == "":
        if not isinstance(value, dict):
            raise bad("a JSON object")
        for k, v in value.items():
            sub = spec.spec if isinstance(spec, Each) else spec.get(k)
            if sub is not None:
                check_fields(v, sub, path, f"{field}.{k}" if field else str(k))


def load(path, spec: dict | None = None) -> dict | None:
    """A JSON object, checked against ``spec`` when given, or None when the file is not there
    (yet). Malformed JSON, another JSON value or a field of the wrong type: `InputError`."""
    p = Path(path)
    if not p.is_file():
        return None
    obj = read_json(p)  # names the file, the line and the column
    check_fields(obj, spec or {}, p)
    return obj


def load_summary(path) -> dict | None:
    """An evaluation's summary.json (lancekit.evaluation): per-item lists as long as their ids."""
    s = load(path, SUMMARY)
    for bench, it in ((s or {}).get("items") or {}).items():
        if it and it.get("ids") is not None and len(it["ids"]) != len(it.get("scores") or []):
            raise InputError(f"{path}: field items.{bench}: {len(it['ids'])} ids but "
                             f"{len(it.get('scores') or [])} scores")
    return s


def load_stats(path) -> dict | None:
    """A stage's stats/<stage>.json; a review's ``judge_records`` columns as long as its ids."""
    s = load(path, STATS)
    cols = (s or {}).get("judge_records") or {}
    n = len(cols.get("ids") or [])
    for k in ("scores", "chars", "votes"):
        if len(cols.get(k) or []) != n:
            raise InputError(f"{path}: field judge_records.{k}: {len(cols.get(k) or [])} values but {n} ids")
    return s


def load_judge_gold(path) -> dict[str, float]:
    """report.judge_gold: a JSON list of {"id": record id, "score": number} ({} when not set)."""
    if not path:
        return {}
    rows = read_json(path)
    if not isinstance(rows, list):
        raise InputError(f"{path}: a JSON list of {{\"id\", \"score\"}} objects expected (report.judge_gold)")
    gold = {}
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise InputError(f"{path}: record {i}: a JSON object with id and score expected")
        check_fields(row.get("id"), ITEM_ID, path, f"[{i}].id")
        check_fields(row.get("score"), ITEM_NUMBER, path, f"[{i}].score")
        if str(row["id"]) in gold:
            raise InputError(f"{path}: record {i}: field id: {row['id']!r} is scored twice")
        gold[str(row["id"])] = float(row["score"])
    return gold


def load_training(path) -> dict | None:
    """A training stage's lance_train.json."""
    return load(path, TRAINING)


def loss_curve(model_dir: Path) -> list[tuple[int, float]]:
    return [(r["current_steps"], r["loss"]) for r in read_jsonl_lenient(Path(model_dir) / "trainer_log.jsonl")
            if isinstance(r, dict) and _finite(r.get("loss")) and _finite(r.get("current_steps"))]


def read_times(times: dict[str, dict[str, list[str]]]) -> dict[str, dict[str, float]]:
    """{run: {stage: seconds}} from Snakemake's benchmark files ({run: {stage: [tsv, ...]}}: one
    per job, the shards of a stage summed)."""
    out: dict[str, dict[str, float]] = {}
    for run, by_stage in times.items():
        for stage, files in by_stage.items():
            for tsv in sorted(files, key=lambda f: Path(f).name):
                if not Path(tsv).is_file():
                    continue
                seconds = _benchmark_seconds(Path(tsv))
                if seconds is None:
                    continue
                by = out.setdefault(run, {})
                by[stage] = round(by.get(stage, 0.0) + seconds, 1)
    return out


def _benchmark_seconds(path: Path) -> float | None:
    """Column ``s`` of the first row of a Snakemake benchmark file; None for a file without rows."""
    try:
        rows = csv.DictReader(read_text(path).splitlines(), delimiter="\t")
        row = next(rows, None)
    except csv.Error as e:
        raise InputError(f"{path}: not a benchmark table: {e}") from None
    if row is None:
        return None
    if "s" not in (rows.fieldnames or []):
        raise InputError(f"{path}: line 1: no column 's' (a Snakemake benchmark file has s, h:m:s, max_rss, ...)")
    try:
        seconds = float(row["s"])
    except (TypeError, ValueError):
        raise InputError(f"{path}: line 2, column s: {row['s']!r}, expected a number of seconds") from None
    if not math.isfinite(seconds) or seconds < 0:
        raise InputError(f"{path}: line 2, column s: {row['s']!r}, expected a number of seconds")
    return seconds
