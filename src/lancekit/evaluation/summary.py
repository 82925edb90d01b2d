"""OpenCompass's summary CSV (`<work_dir>/<ts>/summary/summary_<ts>.csv`), read and checked: one
score per benchmark, and a loud failure naming every benchmark without one (OpenCompass exits 0
even when a task failed)."""

from __future__ import annotations

import csv
import os
from pathlib import Path

from .registry import BENCHMARKS


class MissingBenchmarksError(RuntimeError):
    """Benchmarks that have no score in OpenCompass's summary."""

    def __init__(self, missing: list[str], csv_path: str | os.PathLike, present: list[str]):
        self.missing = list(missing)
        super().__init__(
            f"OpenCompass produced no score for: {', '.join(missing)} (summary {csv_path}; rows with "
            f"a score: {', '.join(present) or 'none'}). A task failed: see the logs under "
            f"{Path(csv_path).parent.parent / 'logs'}")


def parse_summary_rows(path: str | os.PathLike) -> list[dict]:
    """Rows of OpenCompass's summary CSV: [{"dataset", "version", "metric", "mode", "scores": {model: str}}]."""
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        try:
            header = next(reader)
        except StopIteration:
            raise ValueError(f"{path}: empty summary CSV") from None
        fixed = ["dataset", "version", "metric", "mode"]
        if [h.strip() for h in header[:4]] != fixed or len(header) < 5:
            raise ValueError(f"{path}: unexpected summary header {header}; expected "
                             f"{fixed + ['<model abbr>', '...']}")
        models = header[4:]
        rows = []
        for raw in reader:
            if not raw or not raw[0].strip():
                continue
            raw = raw + [""] * (len(header) - len(raw))
            rows.append({"dataset": raw[0], "version": raw[1], "metric": raw[2], "mode": raw[3],
                         "scores": dict(zip(models, raw[4:]))})
        return rows


def _to_score(text: str) -> float | None:
    text = (text or "").strip()
    if text in ("", "-"):
        return None
    try:
        return float(text)
    except ValueError:
        return None


def parse_summary_csv(path: str | os.PathLike, model_abbr: str | None = None) -> dict[str, float | None]:
    """{dataset row: score or None} for one model ('-' or blank = missing).

    `model_abbr` picks the model column (default: the only one). A dataset with several metric
    rows keeps the first under its name; every row is also under "<dataset>/<metric>".
    """
    rows = parse_summary_rows(path)
    with open(path, newline="", encoding="utf-8") as f:
        models = next(csv.reader(f))[4:]
    if model_abbr is None:
        if len(models) != 1:
            raise ValueError(f"{path}: several model columns {models}; name one")
        model_abbr = models[0]
    elif model_abbr not in models:
        raise ValueError(f"{path}: no column for model {model_abbr!r} (columns: {models})")
    out: dict[str, float | None] = {}
    for row in rows:
        score = _to_score(row["scores"].get(model_abbr, ""))
        out.setdefault(row["dataset"], score)
        out[f"{row['dataset']}/{row['metric']}"] = score
    return out


def require_scores(parsed: dict[str, float | None], benchmarks: list[str],
                   csv_path: str | os.PathLike = "summary.csv") -> dict[str, float]:
    """{benchmark: score}; raises MissingBenchmarksError naming every benchmark without a score."""
    scores, missing = {}, []
    for name in benchmarks:
        row = BENCHMARKS[name].row if name in BENCHMARKS and BENCHMARKS[name].kind == "opencompass" else name
        value = parsed.get(row)
        if value is None:
            missing.append(name)
        else:
            scores[name] = value
    if missing:
        present = [k for k, v in parsed.items() if v is not None and "/" not in k]
        raise MissingBenchmarksError(missing, csv_path, present)
    return scores


def find_summary_csv(run_dir: str | os.PathLike) -> Path:
    """The summary CSV of one timestamped OpenCompass run folder."""
    run_dir = Path(run_dir)
    found = sorted((run_dir / "summary").glob("summary_*.csv"))
    if not found:
        raise FileNotFoundError(f"no summary CSV under {run_dir / 'summary'}: OpenCompass did not "
                                f"get to its summary step (see {run_dir / 'logs'})")
    return found[-1]
