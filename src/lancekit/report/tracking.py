"""Experiment tracking (config ``tracking``: none | tensorboard | wandb | mlflow): what the report
job logs per iteration, so a tracker shows a run the way a researcher watches training curves.

- scalars: every number of every stage's statistics (``stats/<stage>.json``: counts, drop
  reasons, the score histogram, the seed AUC, ...) as ``<stage>/<key>/<subkey>``, and the
  evaluation's scores as ``eval/<benchmark>`` (``eval/mean``), with the iteration as the step
  (M_0's evaluation at step 0 of every method);
- a table of a few sample generations per iteration (``samples``): records of the reviewed new
  items (``reviewed_new.json``) spread over the score range, with prompt, response (cut to
  `RESPONSE_CHARS`), the judge's votes and score, since averages hide what the model writes.

One tracker run per method (its own folder, so TensorBoard draws the methods on the same chart).
The pure part (`method_runs`) turns stats, summaries and records into `Run`s; a thin writer per
backend logs them: TensorBoard event files (the ``tensorboard`` package), or wandb or mlflow,
imported only when chosen. Offline: wandb runs with ``WANDB_MODE=offline`` unless the user set
WANDB_MODE, mlflow writes a local file store unless MLFLOW_TRACKING_URI is set.
"""

from __future__ import annotations

import importlib
import math
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..core.io import InputError, read_json
from ..methods.runs import parse_run
from .load import load_stats, load_summary

BACKENDS = ("none", "tensorboard", "wandb", "mlflow")
SAMPLES = 5
RESPONSE_CHARS = 300
PROMPT_CHARS = 200
COLUMNS = ("id", "prompt", "response", "votes", "score")
SAMPLE_STAGE = "review_new"
SAMPLE_FILE = "reviewed_new.json"
NOT_SCALARS = ("judge_records",)  # per-record columns: the samples table shows records instead


class TrackingError(RuntimeError):
    """A tracker that cannot be used (its package missing): names the config key."""


@dataclass
class Run:
    """What one tracker run (one method) logs: (tag, value, step) scalars and per-step tables."""

    scalars: list[tuple[str, float, int]] = field(default_factory=list)
    tables: list[tuple[str, int, list[dict]]] = field(default_factory=list)


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def flatten(obj: dict, prefix: str) -> list[tuple[str, float]]:
    """Every finite number of a (nested) stats object as (``prefix/key/subkey``, value); lists,
    texts and `NOT_SCALARS` are left out."""
    out = []
    for key, value in obj.items():
        if key in NOT_SCALARS:
            continue
        tag = f"{prefix}/{key}"
        if isinstance(value, dict):
            out += flatten(value, tag)
        elif _number(value):
            out.append((tag, float(value)))
    return out


def stage_scalars(stats: dict[int, dict[str, dict]]) -> list[tuple[str, float, int]]:
    """{iteration: {stage: stats}} as (``<stage>/<key>``, value, iteration)."""
    return [(tag, v, int(t)) for t, by in sorted(stats.items()) for stage, s in sorted(by.items())
            for tag, v in flatten(s or {}, stage)]


def eval_scalars(summaries: dict[str, dict], method: str) -> list[tuple[str, float, int]]:
    """The method's evaluations (and M_0's, at step 0) as (``eval/<benchmark>``, score, iteration)."""
    out = []
    for run, s in sorted(summaries.items()):
        m, t = parse_run(run)
        if m not in (method, "m0") or not s:
            continue
        values = {**(s.get("scores") or {}), **({"mean": s["mean"]} if "mean" in s else {})}
        out += [(f"eval/{bench}", float(v), t) for bench, v in sorted(values.items()) if _number(v)]
    return out


def _cut(text, n: int) -> str:
    text = " ".join(str(text or "").split())
    return text if len(text) <= n else text[: n - 1] + "…"


def sample_rows(records: list[dict], n: int = SAMPLES) -> list[dict]:
    """``n`` reviewed records spread evenly over the score range (lowest to highest, unscored
    first, ties by id: the same records on every rerun), as table rows."""
    ranked = sorted(records, key=lambda r: (_score(r) is not None, _score(r) or 0.0, str(r.get("id"))))
    if len(ranked) > n:
        ranked = [ranked[round(i * (len(ranked) - 1) / (n - 1))] for i in range(n)] if n > 1 else ranked[-1:]
    return [{"id": str(r.get("id")), "prompt": _cut(r.get("prompt"), PROMPT_CHARS),
             "response": _cut(r.get("response"), RESPONSE_CHARS),
             "votes": " ".join(f"{v:g}" for v in (r.get("review") or {}).get("votes") or []),
             "score": _score(r)} for r in ranked]


def _score(record: dict) -> float | None:
    s = (record.get("review") or {}).get("score")
    return float(s) if _number(s) else None


def markdown_table(rows: list[dict]) -> str:
    """The rows as a Markdown table (what TensorBoard's text tab renders)."""
    def cell(v) -> str:
        return "–" if v is None else str(v).replace("|", "\\|")
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    return "\n".join(lines + ["| " + " | ".join(cell(r[c]) for c in COLUMNS) + " |" for r in rows])


def method_runs(methods: list[str], stats: dict[str, dict[int, dict[str, dict]]], summaries: dict[str, dict],
                samples: dict[str, dict[int, list[dict]]]) -> dict[str, Run]:
    """One `Run` per method: its stage scalars, its evaluation scalars, its samples tables."""
    out = {}
    for m in methods:
        run = Run(scalars=sorted(stage_scalars(stats.get(m, {})) + eval_scalars(summaries, m),
                                 key=lambda s: (s[2], s[0])))
        run.tables = [("samples", int(t), sample_rows(recs)) for t, recs in sorted(samples.get(m, {}).items())
                      if recs]
        out[m] = run
    return out


def sample_files(lay: dict) -> dict[str, dict[str, str]]:
    """The reviewed new items beside each ``review_new`` stats file of the report layout
    (results/<method>/iter<t>/reviewed_new.json): the records the samples table is drawn from."""
    return {m: {t: str(Path(by[SAMPLE_STAGE]).parent.parent / SAMPLE_FILE) for t, by in per.items()
                if SAMPLE_STAGE in by} for m, per in lay["stats"].items()}


def load_records(path) -> list[dict]:
    """A reviewed records file (a JSON list of records); [] when not there."""
    if not Path(path).is_file():
        return []
    rows = read_json(path)
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise InputError(f"{path}: expected a JSON list of records (tracking samples)")
    return rows


def from_layout(lay: dict, samples: dict[str, dict[str, str]]) -> dict[str, Run]:
    """`method_runs` of the files the report layout names, and of ``samples`` (`sample_files`)."""
    stats = {m: {int(t): {st: load_stats(p) or {} for st, p in by.items()} for t, by in per.items()}
             for m, per in lay["stats"].items()}
    summaries = {r: s for r, p in lay["summaries"].items() if (s := load_summary(p))}
    records = {m: {int(t): load_records(p) for t, p in per.items()} for m, per in samples.items()}
    return method_runs(list(lay["methods"]), stats, summaries, records)


# --- the writers: one per backend --------------------------------------------------------------


def _package(name: str, backend: str):
    """Import a tracker's package, or a `TrackingError` naming the config key."""
    try:
        return importlib.import_module(name)
    except ImportError:
        raise TrackingError(f"tracking: {backend} needs the {name.split('.')[0]} package in the environment "
                            f"of the report ({sys.prefix}): install it there, or set tracking: none") from None


def write_tensorboard(runs: dict[str, Run], out_dir: Path) -> None:
    """One event file per method under out_dir/<method>/: scalars as simple values, each samples
    table as a text summary (Markdown) at its iteration."""
    _package("tensorboard", "tensorboard")
    from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2, tensor_shape_pb2, types_pb2
    from tensorboard.plugins.text import metadata as text_metadata
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    for method, run in runs.items():
        folder = out_dir / method
        shutil.rmtree(folder, ignore_errors=True)  # a rerun's events replace the old ones
        folder.mkdir(parents=True)
        writer = EventFileWriter(str(folder))
        now = time.time()
        for tag, value, step in run.scalars:
            value_pb = summary_pb2.Summary.Value(tag=tag, simple_value=value)
            writer.add_event(event_pb2.Event(wall_time=now, step=step, summary=summary_pb2.Summary(value=[value_pb])))
        for tag, step, rows in run.tables:
            tensor = tensor_pb2.TensorProto(dtype=types_pb2.DT_STRING, string_val=[markdown_table(rows).encode()],
                                            tensor_shape=tensor_shape_pb2.TensorShapeProto())
            meta = text_metadata.create_summary_metadata(tag, "sample generations with their judge votes")
            value_pb = summary_pb2.Summary.Value(tag=tag, tensor=tensor, metadata=meta)
            writer.add_event(event_pb2.Event(wall_time=now, step=step, summary=summary_pb2.Summary(value=[value_pb])))
        writer.close()


def write_wandb(runs: dict[str, Run], out_dir: Path) -> None:
    """One offline wandb run per method in out_dir (WANDB_MODE=offline unless the user set it;
    the workflow's WANDB_DISABLED is lifted: the user asked for wandb)."""
    wandb = _package("wandb", "wandb")
    os.environ.pop("WANDB_DISABLED", None)
    mode = os.environ.get("WANDB_MODE", "offline")
    out_dir.mkdir(parents=True, exist_ok=True)
    for method, run in runs.items():
        live = wandb.init(project=os.environ.get("WANDB_PROJECT", "lance"), name=method, job_type="report",
                          dir=str(out_dir), mode=mode)
        steps = sorted({s for _, _, s in run.scalars} | {s for _, s, _ in run.tables})
        for step in steps:
            row = {tag: v for tag, v, s in run.scalars if s == step}
            for tag, s, rows in run.tables:
                if s == step:
                    row[tag] = wandb.Table(columns=list(COLUMNS), data=[[r[c] for c in COLUMNS] for r in rows])
            live.log(row, step=step)
        live.finish()


def write_mlflow(runs: dict[str, Run], out_dir: Path) -> None:
    """One mlflow run per method, in a file store under out_dir/mlruns unless MLFLOW_TRACKING_URI
    is set; each samples table as the artifact samples/iter<t>.json."""
    mlflow = _package("mlflow", "mlflow")
    out_dir.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(os.environ.get("MLFLOW_TRACKING_URI") or (out_dir / "mlruns").resolve().as_uri())
    mlflow.set_experiment(os.environ.get("MLFLOW_EXPERIMENT_NAME", "lance"))
    for method, run in runs.items():
        with mlflow.start_run(run_name=method):
            for tag, value, step in run.scalars:
                mlflow.log_metric(tag, value, step=step)
            for tag, step, rows in run.tables:
                mlflow.log_table(data={c: [r[c] for r in rows] for c in COLUMNS},
                                 artifact_file=f"{tag}/iter{step}.json")


WRITERS = {"tensorboard": write_tensorboard, "wandb": write_wandb, "mlflow": write_mlflow}


def write_tracking(backend: str, runs: dict[str, Run], out_dir) -> None:
    """Log ``runs`` with ``backend`` (config ``tracking``) into ``out_dir``."""
    if backend not in WRITERS:
        raise TrackingError(f"tracking: {backend!r} is not one of {list(BACKENDS)}")
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    WRITERS[backend](runs, Path(out_dir))
