"""Per-item scores from OpenCompass's result files (pure Python, no OpenCompass import).

OpenCompass (run with `--dump-eval-details`, its default in 0.5.4) writes one file per model and
dataset, `<run_dir>/results/<model abbr>/<dataset abbr>.json`, holding the metric and `details`
in one of two shapes:

- a list, one entry per item in dataset order, made by evaluators that report details (e.g.
  Gsm8kEvaluator, MATHVerifyEvaluator): {"example_abbr", "correct": [bool, ...] (one per
  replica), ...}; some evaluators name it `is_correct` or `cascade_correct`, or give a float
  `score`;
- a dict {"type": "GEN" | "PPL", "0": {...}, "1": {...}} made by OpenCompass itself for evaluators
  that do not (e.g. AccEvaluator): PPL entries carry `correct`; GEN entries without `correct`
  carry the post-processed `predictions` and `references`, compared as strings (what
  AccEvaluator does).

`benchmark_items` turns the files of one benchmark into {"ids": [...], "scores": [0..1, ...]}:
dataset order, the same for every model; ids are the item's index ("0", "1", ...), or
"<dataset abbr>/<index>" for a benchmark made of several OpenCompass datasets (MMLU subjects,
MGSM languages), concatenated in the order of the benchmark's dataset list. `check_item_scores`
verifies that each dataset's score in the summary equals 100 x the mean of its item scores.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

CORRECT_KEYS = ("correct", "is_correct", "cascade_correct")
SCORE_KEYS = ("score", "mc2")


class ItemError(ValueError):
    """Result files without usable per-item details."""


def _as_float(value, where: str) -> float:
    if isinstance(value, (list, tuple)):
        if not value:
            raise ItemError(f"{where}: empty per-item list")
        return sum(_as_float(v, where) for v in value) / len(value)
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, (int, float)) and math.isfinite(value):
        return float(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return 1.0 if value.strip().lower() == "true" else 0.0
    raise ItemError(f"{where}: cannot read an item score from {value!r}")


def item_score(detail: dict, where: str = "item") -> float:
    """One item's score in [0, 1] from its details entry."""
    if not isinstance(detail, dict):
        raise ItemError(f"{where}: details entry is {type(detail).__name__}, not a dict")
    for key in CORRECT_KEYS + SCORE_KEYS:
        if key in detail and detail[key] is not None:
            score = _as_float(detail[key], f"{where}.{key}")
            if key in SCORE_KEYS and score > 1.0:  # a 0-100 per-item score
                score /= 100.0
            return score
    if "predictions" in detail and "references" in detail:
        return 1.0 if str(detail["predictions"]) == str(detail["references"]) else 0.0
    raise ItemError(f"{where}: no {'/'.join(CORRECT_KEYS + SCORE_KEYS)} and no predictions/references "
                    f"(keys: {sorted(detail)})")


def dataset_item_scores(result: dict, where: str = "results") -> list[float]:
    """Item scores of one OpenCompass result file (its parsed JSON), in dataset order."""
    if "details" not in result or result["details"] is None:
        raise ItemError(f"{where}: no 'details' (run OpenCompass with --dump-eval-details, the "
                        f"default of 0.5.4; keys present: {sorted(result)})")
    details = result["details"]
    if isinstance(details, dict):
        keys = [k for k in details if k != "type"]
        try:
            order = sorted(keys, key=int)
        except ValueError:
            raise ItemError(f"{where}: details keys are not item indices: {keys[:5]}") from None
        if [int(k) for k in order] != list(range(len(order))):
            raise ItemError(f"{where}: details indices are not 0..{len(order) - 1}")
        return [item_score(details[k], f"{where}[{k}]") for k in order]
    if isinstance(details, list):
        return [item_score(d, f"{where}[{i}]") for i, d in enumerate(details)]
    raise ItemError(f"{where}: 'details' is {type(details).__name__}")


def result_path(run_dir: str | os.PathLike, model_abbr: str, dataset_abbr: str) -> Path:
    return Path(run_dir) / "results" / model_abbr / f"{dataset_abbr}.json"


def benchmark_items(run_dir: str | os.PathLike, model_abbr: str, dataset_abbrs: list[str]) -> dict:
    """{"ids", "scores", "datasets": {abbr: n}} of one benchmark from its datasets' result files."""
    if not dataset_abbrs:
        raise ItemError("no dataset abbrs")
    multi = len(dataset_abbrs) > 1
    ids, scores, counts = [], [], {}
    for abbr in dataset_abbrs:
        path = result_path(run_dir, model_abbr, abbr)
        try:
            result = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ItemError(f"no result file {path}") from None
        except ValueError as e:
            raise ItemError(f"{path}: not JSON ({e})") from None
        part = dataset_item_scores(result, str(path))
        counts[abbr] = len(part)
        ids += [f"{abbr}/{i}" if multi else str(i) for i in range(len(part))]
        scores += part
    return {"ids": ids, "scores": scores, "datasets": counts}


def mean_score(scores: list[float]) -> float:
    return 100.0 * sum(scores) / len(scores) if scores else float("nan")


def check_item_scores(items: dict, dataset_scores: dict[str, float | None], tolerance: float = 0.01) -> list[str]:
    """Problems where a dataset's summary score is not 100 x mean(its item scores) (the summary
    CSV rounds to 2 decimals: `tolerance` 0.01); [] when all agree."""
    problems, start = [], 0
    for abbr, n in items["datasets"].items():
        part = items["scores"][start:start + n]
        start += n
        expected = dataset_scores.get(abbr)
        if expected is None:
            problems.append(f"{abbr}: no summary score to check its {n} item scores against")
            continue
        got = mean_score(part)
        if not abs(got - expected) <= tolerance:
            problems.append(f"{abbr}: 100 x mean of {n} item scores = {got:.4f}, summary says {expected}")
    return problems
