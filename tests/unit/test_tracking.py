"""Experiment tracking (#20 part 2, config `tracking`): the report job logs each iteration's stage
statistics and a table of sample generations with their judge votes (lancekit.report.tracking),
read back here from TensorBoard's event files; the training jobs' LLaMA-Factory report_to follows
the same key, offline (lancekit.training.llamafactory)."""

import json
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from lance_testing import ROOT
from lancekit.report import tracking as tr
from lancekit.training import config as tc
from lancekit.training import llamafactory as lf

REPORT_OUTPUTS = (("md", "report.md"), ("eval_plot", "eval.png"), ("avg_plot", "avg_by_iteration.png"),
                  ("funnel", "funnel.png"), ("loss", "loss.png"), ("judge", "judge.png"),
                  ("judge_bias", "judge_bias.png"), ("eval_csv", "eval_table.csv"), ("funnel_csv", "funnel.csv"),
                  ("plots_rst", "plots.rst"))


def reviewed(t: int, n: int = 8) -> list[dict]:
    """Reviewed new items of iteration t: scores 2..9, two votes each, a '|' in one prompt."""
    return [{"id": f"n{t}-{i}", "prompt": f"iter {t} task {i} | with a pipe", "response": f"answer {i} " * 80,
             "review": {"score": 2.0 + i, "votes": [2.0 + i, 2.0 + i], "texts": ["..."]}} for i in range(n)]


def canned_run(root: Path, iters: int = 2) -> dict:
    """A finished LANCE run's stats, summaries and reviewed items under root/results, and the
    report layout naming them (as workflow/rules/report.smk's would)."""
    res = root / "results"
    lay = {"methods": ["lance"], "iters": {"lance": iters}, "summaries": {}, "stats": {"lance": {}},
           "train": {"": {}, "lance": {}}, "times": {}, "paper": None, "paper_backbone": "Qwen2-7B",
           "headline_iteration": 4}
    for run, score in (("iter0", 20.0), *((f"lance/iter{t}", 20.0 + 5 * t) for t in range(1, iters + 1))):
        p = res / run / "eval" / "summary.json"
        p.parent.mkdir(parents=True)
        p.write_text(json.dumps({"scores": {"arith": score}, "mean": score, "n_items": {"arith": 30}}))
        lay["summaries"][run] = str(p)
    for t in range(1, iters + 1):
        d = res / "lance" / f"iter{t}"
        (d / "stats").mkdir(parents=True)
        stats = {
            "generate": {"instruction_samples": 24, "responses": 40, "split": {"low": 6, "high": 4, "threshold": 6.5}},
            "clean": {"instructions_out": 20 - t, "drops": {"instructions": {"rouge": 3 + t, "length": 1}}},
            "review_new": {"records_in": 8, "mean_score": 5.5 + t, "score_histogram": {"2": 1, "9": 1},
                           "judge_records": {"ids": ["a"], "scores": [5.0], "chars": [10], "votes": [[5, 5]]}},
            "annotate": {"sft_new": 2 * t, "dpo_new": t, "next_seed_base_share": 0.34},
        }
        lay["stats"]["lance"][str(t)] = {}
        for stage, s in stats.items():
            (d / "stats" / f"{stage}.json").write_text(json.dumps(s))
            lay["stats"]["lance"][str(t)][stage] = str(d / "stats" / f"{stage}.json")
        (d / "reviewed_new.json").write_text(json.dumps(reviewed(t)))
    return lay


def run_report(root: Path, lay: dict, tracking: str | None) -> subprocess.CompletedProcess:
    out = {k: str(root / "results" / "report" / f) for k, f in REPORT_OUTPUTS}
    settings = {"layout": lay, "judge_gold": None}
    if tracking:
        out["tracking"] = str(root / "results" / "tracking" / "report")
        settings.update(tracking=tracking, samples=tr.sample_files(lay))
    job = {"input": {}, "output": out, "wildcards": {}, "params": {}}
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
               MPLCONFIGDIR=str(root / "mpl"))
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "report.py"), json.dumps(job), json.dumps(settings)],
                          env=env, capture_output=True, text=True)


def events(folder: Path) -> EventAccumulator:
    acc = EventAccumulator(str(folder), size_guidance={"scalars": 0, "tensors": 0})
    acc.Reload()
    return acc


def test_the_report_logs_each_iterations_statistics_and_samples_to_tensorboard(tmp_path):
    lay = canned_run(tmp_path)
    proc = run_report(tmp_path, lay, "tensorboard")
    assert proc.returncode == 0, proc.stderr
    acc = events(tmp_path / "results" / "tracking" / "report" / "lance")
    scalars = acc.Tags()["scalars"]
    # the stage statistics, nested keys joined by "/", the iteration as the step
    assert [(e.step, e.value) for e in acc.Scalars("review_new/mean_score")] == [(1, 6.5), (2, 7.5)]
    assert [(e.step, e.value) for e in acc.Scalars("clean/drops/instructions/rouge")] == [(1, 4.0), (2, 5.0)]
    assert [e.value for e in acc.Scalars("annotate/sft_new")] == [2.0, 4.0]
    assert [e.value for e in acc.Scalars("generate/split/threshold")] == [6.5, 6.5]
    assert [e.value for e in acc.Scalars("review_new/score_histogram/9")] == [1.0, 1.0]
    # the evaluation, M_0 at step 0
    assert [(e.step, e.value) for e in acc.Scalars("eval/arith")] == [(0, 20.0), (1, 25.0), (2, 30.0)]
    assert not [t for t in scalars if "judge_records" in t]  # per-record columns are the table's
    # the samples table: a text summary per iteration, records from lowest to highest score
    assert "samples" in acc.Tags()["tensors"]
    tables = {e.step: e.tensor_proto.string_val[0].decode() for e in acc.Tensors("samples")}
    assert sorted(tables) == [1, 2]
    assert "| id | prompt | response | votes | score |" in tables[2]
    assert "| n2-0 | iter 2 task 0 \\| with a pipe | answer 0 answer 0" in tables[2]
    assert "| 9 9 | 9.0 |" in tables[2] and "| 2 2 | 2.0 |" in tables[2]
    assert tables[2].count("\n| n2-") == tr.SAMPLES


def test_a_rerun_of_the_report_replaces_the_event_files(tmp_path):
    lay = canned_run(tmp_path, iters=1)
    for _ in range(2):
        assert run_report(tmp_path, lay, "tensorboard").returncode == 0
    acc = events(tmp_path / "results" / "tracking" / "report" / "lance")
    assert [e.step for e in acc.Scalars("review_new/mean_score")] == [1]
    assert len(list((tmp_path / "results" / "tracking" / "report" / "lance").iterdir())) == 1


def test_without_tracking_the_report_writes_nothing_for_it(tmp_path):
    proc = run_report(tmp_path, canned_run(tmp_path), None)
    assert proc.returncode == 0, proc.stderr
    assert not (tmp_path / "results" / "tracking").exists()


def test_samples_are_spread_over_the_score_range_unscored_first():
    recs = reviewed(1, n=11) + [{"id": "x", "prompt": "p", "response": "r", "review": {"score": None, "votes": []}}]
    rows = tr.sample_rows(recs, n=4)
    assert [r["id"] for r in rows] == ["x", "n1-3", "n1-6", "n1-10"]
    assert rows[0]["score"] is None and rows[0]["votes"] == ""
    assert len(rows[-1]["response"]) == tr.RESPONSE_CHARS and rows[-1]["response"].endswith("…")
    assert tr.sample_rows(recs[:2], n=4) == tr.sample_rows(recs[:2][::-1], n=4)  # order-free
    assert "| x | p | r |  | – |" in tr.markdown_table(rows)


def test_the_samples_are_read_beside_each_review_new_stats_file():
    lay = {"stats": {"lance": {"1": {"review_new": "results/lance/iter1/stats/review_new.json"}},
                     "spin": {"1": {"generate": "results/spin/iter1/stats/generate.json"}}}}
    assert tr.sample_files(lay) == {"lance": {"1": "results/lance/iter1/reviewed_new.json"}, "spin": {}}


def test_a_garbled_samples_file_names_the_file(tmp_path):
    bad = tmp_path / "reviewed_new.json"
    bad.write_text('{"not": "a list"}')
    with pytest.raises(tr.InputError, match=str(bad)):
        tr.load_records(bad)


def test_a_missing_tracker_package_is_an_error_naming_tracking(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "mlflow", None)  # import mlflow raises ImportError
    with pytest.raises(tr.TrackingError, match=r"tracking: mlflow needs the mlflow package.*tracking: none"):
        tr.write_tracking("mlflow", {"lance": tr.Run()}, tmp_path)
    with pytest.raises(tr.TrackingError, match="tracking: 'comet' is not one of"):
        tr.write_tracking("comet", {}, tmp_path)


def fake_module(name: str, calls: list) -> types.ModuleType:
    """A stand-in tracker package that records every call."""
    mod = types.ModuleType(name)

    def record(fn):
        return lambda *a, **k: calls.append((fn, a, k)) or mod
    for fn in ("init", "log", "finish", "set_tracking_uri", "set_experiment", "log_metric", "log_table"):
        setattr(mod, fn, record(fn))
    mod.Table = lambda columns, data: ("table", tuple(columns), tuple(map(tuple, data)))
    mod.start_run = lambda **k: (calls.append(("start_run", (), k)), _Ctx())[1]
    return mod


class _Ctx:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


RUNS = {"lance": tr.Run(scalars=[("eval/arith", 20.0, 0), ("clean/instructions_out", 19.0, 1)],
                        tables=[("samples", 1, tr.sample_rows(reviewed(1, n=2)))])}


def test_wandb_logs_offline_unless_the_user_chose_a_mode(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setitem(sys.modules, "wandb", fake_module("wandb", calls))
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.setenv("WANDB_DISABLED", "true")  # what the workflow sets for every job
    tr.write_tracking("wandb", RUNS, tmp_path)
    init = [k for fn, _, k in calls if fn == "init"]
    assert init == [{"project": "lance", "name": "lance", "job_type": "report", "dir": str(tmp_path),
                     "mode": "offline"}]
    assert "WANDB_DISABLED" not in os.environ
    logged = [(a[0], k["step"]) for fn, a, k in calls if fn == "log"]
    assert logged[0] == ({"eval/arith": 20.0}, 0)
    assert logged[1][1] == 1 and logged[1][0]["clean/instructions_out"] == 19.0
    assert logged[1][0]["samples"][1] == tr.COLUMNS and len(logged[1][0]["samples"][2]) == 2
    calls.clear()
    monkeypatch.setenv("WANDB_MODE", "online")
    tr.write_tracking("wandb", RUNS, tmp_path)
    assert [k["mode"] for fn, _, k in calls if fn == "init"] == ["online"]


def test_mlflow_writes_a_local_file_store_unless_a_tracking_uri_is_set(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setitem(sys.modules, "mlflow", fake_module("mlflow", calls))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    tr.write_tracking("mlflow", RUNS, tmp_path)
    assert [a for fn, a, _ in calls if fn == "set_tracking_uri"] == [((tmp_path / "mlruns").resolve().as_uri(),)]
    assert [(a, k) for fn, a, k in calls if fn == "log_metric"] == [
        (("eval/arith", 20.0), {"step": 0}), (("clean/instructions_out", 19.0), {"step": 1})]
    table = [k for fn, _, k in calls if fn == "log_table"][0]
    assert table["artifact_file"] == "samples/iter1.json" and table["data"]["id"] == ["n1-0", "n1-1"]
    calls.clear()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://tracker.example:5000")
    tr.write_tracking("mlflow", RUNS, tmp_path)
    assert [a for fn, a, _ in calls if fn == "set_tracking_uri"] == [("http://tracker.example:5000",)]


# --- the training jobs: LLaMA-Factory's report_to -----------------------------------------------


def test_a_training_jobs_tracker_logs_inside_the_results_tree(tmp_path):
    out = tmp_path / "results" / "lance" / "iter2" / "sft_model"
    assert tc.tracking_dirs(out, "sft") == (tmp_path / "results/tracking/train/lance/iter2/sft",
                                            tmp_path / "results/tracking/train")
    assert tc.tracking_dirs(tmp_path / "results" / "iter0" / "sft_model", "sft")[0] == \
        tmp_path / "results/tracking/train/iter0/sft"
    assert tc.tracking_dirs(tmp_path / "elsewhere" / "model", "dpo")[0] == tmp_path / "elsewhere/tracking/dpo"


def test_report_to_follows_tracking_offline(tmp_path):
    base = {"WANDB_DISABLED": "true", "PATH": "/bin"}
    keys, env = tc.tracking_options("none", tmp_path / "log", tmp_path, "lance/iter1/sft", base)
    assert keys == {"report_to": "none"} and env == base
    keys, env = tc.tracking_options("tensorboard", tmp_path / "log", tmp_path, "lance/iter1/sft", base)
    assert keys == {"report_to": "tensorboard", "run_name": "lance/iter1/sft"}
    assert env["TENSORBOARD_LOGGING_DIR"] == str(tmp_path / "log")
    keys, env = tc.tracking_options("wandb", tmp_path / "log", tmp_path, "r", base)
    assert keys["report_to"] == "wandb" and "WANDB_DISABLED" not in env
    assert env["WANDB_MODE"] == "offline" and env["WANDB_DIR"] == str(tmp_path / "log")
    assert tc.tracking_options("wandb", tmp_path, tmp_path, "r", {**base, "WANDB_MODE": "online"})[1]["WANDB_MODE"] \
        == "online"
    keys, env = tc.tracking_options("mlflow", tmp_path / "log", tmp_path, "r", base)
    assert env["MLFLOW_TRACKING_URI"] == (tmp_path / "mlruns").as_uri()
    assert tc.tracking_options("mlflow", tmp_path, tmp_path, "r", {"MLFLOW_TRACKING_URI": "http://x"})[1][
        "MLFLOW_TRACKING_URI"] == "http://x"


def test_a_tracker_missing_from_the_training_environment_trains_without_it(tmp_path, monkeypatch, capsys):
    out = tmp_path / "results" / "lance" / "iter1" / "model"
    monkeypatch.setattr(lf.importlib.util, "find_spec", lambda name: None)
    cfg, env, note = lf.with_tracking({"report_to": "none", "lr": 1}, {"A": "1"}, "tensorboard", out, "dpo")
    assert cfg == {"report_to": "none", "lr": 1} and env == {"A": "1"}
    assert "tracking: tensorboard: the tensorboard package is not installed" in note["note"]
    assert "WARNING: tracking: tensorboard" in capsys.readouterr().out
    monkeypatch.setattr(lf.importlib.util, "find_spec", lambda name: object())
    cfg, env, note = lf.with_tracking({"report_to": "none"}, {}, "tensorboard", out, "dpo")
    assert cfg == {"report_to": "tensorboard", "run_name": "lance/iter1/dpo"}
    assert note["dir"] == env["TENSORBOARD_LOGGING_DIR"] == str(tmp_path / "results/tracking/train/lance/iter1/dpo")
    assert Path(note["dir"]).is_dir()
    with pytest.raises(lf.TrainError, match="tracking: 'comet'"):
        lf.with_tracking({}, {}, "comet", out, "dpo")
    assert lf.with_tracking({"report_to": "none", "run_name": "old"}, {}, "none", out, "sft") == \
        ({"report_to": "none"}, {}, None)
