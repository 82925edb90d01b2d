"""The optimizer-step plan of a training job (src/lancekit/training/plan.py): transformers 5.6's
arithmetic, the job's data-parallel ranks, the warning floor, and the plan in the job's log and
lance_train.json (the trainer itself stubbed out)."""

import json

import pytest
import yaml

from lance_testing import ROOT
from lancekit.training import llamafactory as lf
from lancekit.training.plan import StepPlan, plan_lines, processes, step_plan, too_few


def cfg(**kw):
    return {"per_device_train_batch_size": 4, "gradient_accumulation_steps": 8, "num_train_epochs": 3.0, **kw}


def test_the_papers_dpo_batch_makes_a_few_dozen_steps():
    # 3,000 pairs on 8 GPUs at 4 x 8: 94 batches per rank, 12 optimizer steps an epoch, 36 in all
    plan = step_plan(3000, cfg(), 8)
    assert (plan.global_batch, plan.batches_per_epoch, plan.steps_per_epoch, plan.steps) == (256, 94, 12, 36)
    # SPIN's global batch 64 (8 x 1 x 8 GPUs): four times as many
    assert step_plan(3000, cfg(per_device_train_batch_size=8, gradient_accumulation_steps=1), 8).steps == 141


@pytest.mark.parametrize("examples,per_device,accum,ranks,epochs,steps", [
    (100, 2, 4, 1, 1.0, 13),    # 50 batches: 12 full accumulations and a partial one, which is a step too
    (96, 2, 4, 1, 1.0, 12),     # 48 batches: exactly 12
    (100, 2, 4, 1, 1.5, 20),    # ceil(1.5 x 13)
    (3, 8, 4, 1, 3.0, 3),       # one short batch: one step an epoch, never zero
    (33, 4, 1, 8, 1.0, 2),      # the last round of the 8 ranks is padded (accelerate's even_batches)
    (32, 4, 1, 8, 2.0, 2),
])
def test_steps_follow_transformers_set_initial_training_values(examples, per_device, accum, ranks, epochs, steps):
    plan = step_plan(examples, cfg(per_device_train_batch_size=per_device, gradient_accumulation_steps=accum,
                                   num_train_epochs=epochs), ranks)
    assert plan.steps == steps


def test_max_steps_max_samples_and_the_trainers_defaults():
    assert step_plan(3000, cfg(max_steps=7), 8).steps == 7
    assert step_plan(3000, cfg(max_samples=320), 1).examples == 320
    assert step_plan(10, cfg(max_samples=320), 1).examples == 10
    assert step_plan(0, cfg(), 8).steps == 0  # no data: the job trains nothing
    default = step_plan(80, {}, 1)  # transformers' TrainingArguments: 8 per device, 1 step, 3 epochs
    assert (default.per_device, default.grad_accum, default.epochs, default.steps) == (8, 1, 3.0, 30)


@pytest.mark.parametrize("env,gpus,ranks", [
    ({}, 0, 1),                                                            # CPU
    ({}, 1, 1),                                                            # one GPU: no torchrun
    ({}, 8, 8),                                                            # LLaMA-Factory's launcher, NPROC = GPUs
    ({"FORCE_TORCHRUN": "1", "NNODES": "1", "NPROC_PER_NODE": "8"}, 8, 8),  # lancekit's child_env
    ({"FORCE_TORCHRUN": "1", "NNODES": "2", "NPROC_PER_NODE": "4"}, 4, 8),
    ({"FORCE_TORCHRUN": "true"}, 1, 1),
    ({"FORCE_TORCHRUN": "0", "NPROC_PER_NODE": "8"}, 1, 1),              # not asked, one GPU: no torchrun
])
def test_the_ranks_are_those_llamafactorys_launcher_starts(env, gpus, ranks):
    assert processes(env, gpus) == ranks


def test_the_adapters_environment_gives_one_rank_per_gpu():
    assert processes(lf.child_env(gpus=8), 8) == 8
    assert processes(lf.child_env(gpus=0), 0) == 1


def test_under_the_floor_the_plan_warns():
    plan = step_plan(3000, cfg(), 8)
    lines = plan_lines(plan, 50, "train dpo")
    assert len(lines) == 2 and lines[0].startswith("train dpo: 36 optimizer step(s) planned: 3000 examples")
    assert "global batch 256 = 4 per device x 8 accumulation x 8 process(es)" in lines[0]
    assert lines[1].startswith("WARNING train dpo: only 36 optimizer step(s), under train.min_steps_warning = 50")
    assert too_few(plan, 50) and not too_few(plan, 36) and not too_few(plan, 0)
    assert plan_lines(plan, 36, "train dpo") == plan_lines(plan, 0, "train dpo") == lines[:1]
    assert not too_few(StepPlan(0, 3.0, 4, 8, 8), 50)  # nothing to train: no warning


def test_the_plan_is_logged_before_training_and_recorded_in_lance_train_json(tmp_path, monkeypatch, capsys):
    model = tmp_path / "m"
    model.mkdir()
    for name in ("config.json", "tokenizer_config.json", "tokenizer.json", "model.safetensors"):
        (model / name).write_text("{}")
    data = tmp_path / "dpo.json"
    data.write_text(json.dumps([{"conversations": [], "chosen": {}, "rejected": {}}] * 100))
    calls = []

    def fake_trainer(work, cfg, log, env):
        calls.append(capsys.readouterr().out)  # what the log holds when the trainer starts
        out = work / "output"
        out.mkdir()
        for f in model.iterdir():
            (out / f.name).write_text(f.read_text())
        (out / "trainer_log.jsonl").write_text('{"current_steps": 13, "loss": 0.5}\n')

    monkeypatch.setattr(lf, "accelerator_count", lambda: 0)
    monkeypatch.setattr(lf, "has_accelerator", lambda: False)
    monkeypatch.setattr(lf, "run_trainer", fake_trainer)
    settings = {"template": "smollm2", "per_device_train_batch_size": 2, "gradient_accumulation_steps": 4,
                "num_train_epochs": 1.0}
    info = lf.train("dpo", str(model), str(data), str(tmp_path / "out"), str(ROOT / "config/train/dpo.yaml"),
                    settings, min_steps=50)
    assert "train dpo: 13 optimizer step(s) planned: 100 examples" in calls[0]
    assert "WARNING train dpo: only 13 optimizer step(s)" in calls[0]
    written = json.loads((tmp_path / "out" / "lance_train.json").read_text())
    assert written["planned_steps"] == info["planned_steps"] == 13 and written["few_steps"] is True
    assert written["step_plan"]["global_batch"] == 8 and written["step_plan"]["processes"] == 1
    assert yaml.safe_load((tmp_path / "out" / "lance_train_config.yaml").read_text())["use_cpu"] is True
