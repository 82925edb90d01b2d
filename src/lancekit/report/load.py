"""What the report reads, file by file: every path comes from the rule's layout (the rule declares
each as an input), nothing is globbed."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from ..core.io import read_jsonl_lenient


def load(path) -> dict | None:
    """A JSON file, or None when it is not there (yet)."""
    p = Path(path)
    return json.loads(p.read_text()) if p.is_file() else None


def loss_curve(model_dir: Path) -> list[tuple[int, float]]:
    return [(r["current_steps"], r["loss"]) for r in read_jsonl_lenient(Path(model_dir) / "trainer_log.jsonl")
            if "loss" in r and "current_steps" in r]


def read_times(times: dict[str, dict[str, list[str]]]) -> dict[str, dict[str, float]]:
    """{run: {stage: seconds}} from Snakemake's benchmark files ({run: {stage: [tsv, ...]}}: one
    per job, the shards of a stage summed)."""
    out: dict[str, dict[str, float]] = {}
    for run, by_stage in times.items():
        for stage, files in by_stage.items():
            for tsv in sorted(files, key=lambda f: Path(f).name):
                if not Path(tsv).is_file():
                    continue
                with open(tsv) as f:
                    row = next(csv.DictReader(f, delimiter="\t"), None)
                if row is None:
                    continue
                by = out.setdefault(run, {})
                by[stage] = round(by.get(stage, 0.0) + float(row["s"]), 1)
    return out
