"""The cost model (lancekit.pipeline.plan): its arithmetic on a tiny config, the budget refusal,
the plan's table for the shipped configs, and the calibration from a finished run's job times."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lancekit.pipeline import plan
from lancekit.pipeline.config_check import ConfigError, check_config

ROOT = Path(__file__).resolve().parents[2]
DEVICE = {"generation": {"start_s": 10.0, "request_s": 0.5, "output_tokens_per_s": 100.0},
          "training": {"start_s": 20.0, "samples_per_s_per_gpu": 2.0},
          "evaluation": {"start_s": 5.0, "items_per_s_per_gpu": 1.0}}


def tiny():
    return plan.load_config([], ["iters=1", "methods=[lance]"])


def test_the_arithmetic_of_one_lance_iteration_on_32_seed_records():
    config = tiny()  # review: 3 constrained votes; generate 4/2/4 with a one-line instruction; max_tokens 192
    rows = {(r.method, r.stage): r for r in plan.timed(config, plan.counts(config, 32), DEVICE)}
    seed_review = rows["lance", "review_seed"]
    assert (seed_review.requests, seed_review.prompt_tokens, seed_review.output_tokens) == (32, 32 * 600, 32 * 3 * 2)
    gen = rows["lance", "generate"]
    # 16 low x 4 instructions x 40 + 16 high x 4 negatives x 96 + 64 instructions x 2 responses x 96
    assert (gen.requests, gen.output_tokens) == (16 + 16 + 64, 2560 + 6144 + 12288)
    assert gen.wall_s == pytest.approx(10 + 96 * 0.5 + 20992 / 100)
    new = rows["lance", "review_new"]  # half of 16x4x2 + 16x4 candidates survive clean
    assert (new.requests, new.output_tokens) == (96, 96 * 3 * 2)
    # SFT: Seed_0 32 + 16 x 4 x 0.5 new; DPO: 16 x 4 x 0.5 pairs; one epoch; 0 GPUs -> one worker
    assert rows["lance", "train_sft"].examples == 64 and rows["lance", "train_dpo"].examples == 32
    assert rows["lance", "train_sft"].wall_s == pytest.approx(20 + 64 / 2)
    assert rows["m0", "evaluate"].examples == 300 + 127 and rows["lance", "evaluate"].gpus == 0
    assert plan.totals(rows.values())["gpu_hours"] == 0


def test_gpu_hours_count_every_shard_job_and_every_gpu():
    config = plan.load_config([str(ROOT / "config" / "paper.yaml")], ["iters=1", "methods=[spin]"])
    rows = plan.timed(config, plan.counts(config, 3000), DEVICE)
    gen = next(r for r in rows if r.stage == "generate")
    assert gen.jobs == 8 and gen.gpus == 1 and gen.gpu_hours == pytest.approx(8 * gen.wall_s / 3600)
    train = next(r for r in rows if r.stage == "train_dpo")
    assert train.gpus == 8 and train.gpu_hours == pytest.approx(8 * train.wall_s / 3600)


def test_a_plan_over_the_budget_stops_the_run_naming_the_key():
    config = plan.load_config([str(ROOT / "config" / "paper.yaml")])
    config["budget"]["gpu_hours"] = 1
    problems = plan.budget_problems(config)
    assert len(problems) == 1 and problems[0].startswith("budget.gpu_hours:") and "on h100" in problems[0]
    with pytest.raises(ConfigError, match="budget.gpu_hours: the plan needs"):
        check_config(config, lambda p: str(ROOT / p))
    config["budget"]["gpu_hours"] = 1e6
    assert plan.budget_problems(config) == []


@pytest.mark.parametrize("overlay", [[], ["--configfile", "config/paper.yaml"]])
def test_plan_prints_a_table_for_the_shipped_configs(overlay):
    out = subprocess.run([sys.executable, "scripts/plan.py", *overlay, "--device", "h100"], cwd=ROOT, text=True,
                         capture_output=True, check=True, env={**os.environ, "PYTHONPATH": str(ROOT / "src")}).stdout
    lines = out.splitlines()
    assert lines[2].split()[:3] == ["method", "iter", "stage"] and lines[-1].startswith("total")
    assert any(line.split()[:3] == ["lance", "1", "generate"] for line in lines)


def test_calibration_recovers_the_rates_of_a_canned_run(tmp_path):
    bench, res = tmp_path / "results" / "benchmarks", tmp_path / "results"

    def job(rel, seconds, stats=None):
        (bench / rel).parent.mkdir(parents=True, exist_ok=True)
        (bench / rel).write_text(f"s\th:m:s\n{seconds}\t0:00:00\n")
        if stats:
            stage = Path(rel).name.split(".")[0]
            (res / Path(rel).parent / "stats").mkdir(parents=True, exist_ok=True)
            (res / Path(rel).parent / "stats" / f"{stage}.json").write_text(json.dumps(stats))

    # generation: 20 s start, 1 s a request, 50 tokens/s; 40 new instructions and 20 negatives,
    # of which 10 and 5 reach the SFT and DPO sets; 40 of the 60 + 20 candidates reach review_new
    job("lance/iter1/review_seed.0-of-1.tsv", 20 + 10 + 100 / 50,
        {"requests": {"requests_sent": 10}, "generated_tokens": 100, "shards": 1})
    job("lance/iter1/generate.0-of-1.tsv", 20 + 20 + 2000 / 50,
        {"requests": {"requests_sent": 20}, "generated_tokens": 2000, "shards": 1, "instruction_samples": 40,
         "negative_samples": 20, "responses": 60})
    job("lance/iter1/review_new.0-of-1.tsv", 20 + 30 + 500 / 50,
        {"requests": {"requests_sent": 30}, "generated_tokens": 500, "shards": 1, "records_in": 40})
    (res / "iter0" / "stats").mkdir(parents=True)
    (res / "iter0" / "stats" / "seed.json").write_text(json.dumps({"kept": 10}))
    for t, sft, dpo in ((1, 30, 20), (2, 50, 40)):
        (res / "lance" / f"iter{t}" / "stats").mkdir(parents=True, exist_ok=True)
        (res / "lance" / f"iter{t}" / "stats" / "annotate.json").write_text(
            json.dumps({"sft_total": sft, "dpo_total": dpo, "sft_new": 10, "dpo_new": 5}))
    for rel, examples in (("iter0/train_sft.tsv", 10), ("lance/iter1/train_sft.tsv", 30)):
        job(rel, 5 + examples / 2)  # SFT: 5 s start, 2 examples/s (one epoch)
    for rel, pairs in (("lance/iter1/train_dpo.tsv", 20), ("lance/iter2/train_dpo.tsv", 40)):
        job(rel, 3 + pairs / 1)  # DPO: 3 s start, 1 pair/s
    for run in ("base", "iter0"):  # 30 s outside inference (server, OpenCompass start), 4 items/s
        job(f"{run}/evaluate.tsv", 30 + 427 / 4)
        (res / run / "eval").mkdir(parents=True)
        (res / run / "eval" / "summary.json").write_text(json.dumps(
            {"n_items": {"arith": 300, "lance_mc": 127}, "server_start_s": 20.0,
             "runs": {"vllm": {"seconds": 10 + 427 / 4, "start_s": 6.0, "inference_s": 427 / 4, "evaluation_s": 4.0}}}))
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import calibrate_cost
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    entry = calibrate_cost.calibrate(tmp_path, plan.load_config())
    assert entry["generation"] == {"start_s": 20.0, "request_s": 1.0, "output_tokens_per_s": 50.0}
    assert entry["training"] == {"start_s": 5.0, "samples_per_s_per_gpu": 2.0, "dpo_start_s": 3.0,
                                 "pairs_per_s_per_gpu": 1.0}
    assert entry["evaluation"] == {"start_s": 30.0, "items_per_s_per_gpu": 4.0}
    assert entry["shares"] == {"sft": 0.25, "dpo": 0.25, "clean": 0.5}
    # fitted on some run folders only, the rest is out of sample: one job of a kind is all rate
    held_out = calibrate_cost.calibrate(tmp_path, plan.load_config(), ["base", "lance/iter1"])
    assert held_out["training"] == {"start_s": 0.0, "samples_per_s_per_gpu": 30 / 20, "dpo_start_s": 0.0,
                                    "pairs_per_s_per_gpu": round(20 / 23, 3)}
    # the check puts plan and run side by side, on the runs asked for
    table = calibrate_cost.check(tmp_path, tiny(), held_out, ["base", "iter0"])
    assert table.splitlines()[0].startswith("| stage | runs | predicted s | measured s |")
    assert "| evaluate | 2 |" in table and "| train_sft | 1 |" in table and "generate" not in table


def test_predicted_job_seconds_by_run_and_stage_sum_the_shard_jobs():
    config = tiny()
    config["shards"] = 2
    rows = plan.timed(config, plan.counts(config, 32), DEVICE)
    jobs = plan.job_seconds(rows)
    assert set(jobs) == {"base", "iter0", "lance/iter1"}
    gen = next(r for r in rows if r.method == "lance" and r.stage == "generate")
    # two shard jobs, each starting its engine: 2 x 10 s + the work once
    assert jobs["lance/iter1"]["generate"] == pytest.approx(2 * 10 + 96 * 0.5 + 20992 / 100, abs=0.1)
    assert jobs["lance/iter1"]["generate"] == pytest.approx(gen.jobs * gen.wall_s, abs=0.1)
    assert jobs["iter0"] == {"train_sft": pytest.approx(20 + 32 / 2), "evaluate": pytest.approx(5 + 427)}


def test_the_report_prices_on_this_machine_unless_told_or_on_gpus():
    config = tiny()
    assert plan.report_device(config) == plan.HERE
    config["resources"]["vllm"]["gpu"] = 1
    assert plan.report_device(config) == config["budget"]["device"] == "h100"
    config["report"]["cost_device"] = "a100"
    assert plan.report_device(config) == "a100"


def test_an_unknown_cost_device_is_refused_naming_the_key():
    config = tiny()
    config["report"]["cost_device"] = "tpu9"
    assert plan.budget_problems(config) == [
        "report.cost_device: 'tpu9' is not an entry of config/cost/throughput.yaml (known: cpu-here, h100, a100, a800)"]
    with pytest.raises(ConfigError, match="report.cost_device: 'tpu9'"):
        check_config(config, lambda p: str(ROOT / p))


def test_review_seed_after_the_first_iteration_costs_nothing_unless_the_seed_is_judged_again():
    config = plan.load_config([], ["iters=2", "methods=[lance]"])
    rows = {(r.iteration, r.stage): r for r in plan.timed(config, plan.counts(config, 32), DEVICE)
            if r.method == "lance"}
    assert rows[1, "review_seed"].requests == 32 and rows[1, "review_seed"].wall_s > 0
    # Seed_1 = Seed_0 + 32 new items, every one with its stored review (scripts/review.py)
    assert (rows[2, "review_seed"].requests, rows[2, "review_seed"].wall_s) == (0, 0.0)
    assert rows[2, "review_seed"].notes == ["stored scores"]
    config["review"]["rereview_seed"] = True
    rows = {(r.iteration, r.stage): r for r in plan.timed(config, plan.counts(config, 32), DEVICE)
            if r.method == "lance"}
    assert rows[2, "review_seed"].requests == 64 and rows[2, "review_seed"].wall_s == pytest.approx(10 + 64 * 0.5 + 64 * 3 * 2 / 100)


def test_evaluation_items_of_requests_with_subsets():
    config = tiny()
    config["eval"]["benchmarks"] = ["arith", {"name": "mmlu", "subsets": ["anatomy", "astronomy"]},
                                    {"name": "mgsm", "subsets": "all"}, {"name": "mc2", "benchmark": "lance_mc", "path": "x"}]
    # arith 300; 2 of the 57 MMLU subjects' 14,042 items; MGSM as counted (the paper's four); lance_mc 127
    assert plan.eval_items(config) == 300 + round(14042 * 2 / 57) + 1000 + 127
