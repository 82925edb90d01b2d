"""The training adapter's plans, without training: checkpoints to resume from, the multi-GPU
launch and the DeepSpeed config path (the real runs are in tests/integration)."""

from pathlib import Path

import pytest
import yaml

from lance_testing import ROOT
from lancekit.training import llamafactory as lf


def test_the_last_complete_checkpoint_is_resumed_and_a_cut_one_removed(tmp_path):
    for step in (1, 2, 10):
        (tmp_path / f"checkpoint-{step}").mkdir()
    for step in (1, 2):
        (tmp_path / f"checkpoint-{step}" / "trainer_state.json").write_text("{}")
    assert lf.last_checkpoint(tmp_path) == tmp_path / "checkpoint-2"  # 10 < 2 as text, not as a step
    assert not (tmp_path / "checkpoint-10").exists(), "killed while writing: no trainer_state.json"
    assert lf.last_checkpoint(tmp_path / "none") is None


def test_a_work_folder_of_another_training_is_never_resumed(tmp_path):
    out = tmp_path / "output"
    (out / "checkpoint-1").mkdir(parents=True)
    (out / "checkpoint-1" / "trainer_state.json").write_text("{}")
    (tmp_path / "train.yaml").write_text(yaml.safe_dump({"output_dir": str(out)}))
    (tmp_path / lf.RUN_STAMP).write_text("abc\n")
    assert lf.resumable(tmp_path, "abc") == out / "checkpoint-1"
    assert lf.resumable(tmp_path, "other data or settings") is None


def test_the_fingerprint_covers_model_data_template_and_settings(tmp_path):
    model, data, tmpl = tmp_path / "m", tmp_path / "d.json", tmp_path / "t.yaml"
    model.mkdir()
    (model / "config.json").write_text("{}")
    data.write_text("[1]")
    tmpl.write_text("a: 1\n")
    base = lf.run_fingerprint("sft", model, data, str(tmpl), {"lr": 1})
    assert lf.run_fingerprint("sft", model, data, str(tmpl), {"lr": 2}) != base
    assert lf.run_fingerprint("dpo", model, data, str(tmpl), {"lr": 1}) != base
    data.write_text("[2]")
    assert lf.run_fingerprint("sft", model, data, str(tmpl), {"lr": 1}) != base


def test_several_gpus_train_through_llamafactorys_torchrun_launcher():
    env = lf.child_env(gpus=8)
    assert env["FORCE_TORCHRUN"] == "1" and env["NPROC_PER_NODE"] == "8" and env["NNODES"] == "1"
    assert "FORCE_TORCHRUN" not in lf.child_env(gpus=1) and "FORCE_TORCHRUN" not in lf.child_env(gpus=0)


def test_the_shipped_deepspeed_config_reaches_the_trainer_as_an_absolute_path(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    data = tmp_path / "sft.json"
    data.write_text('[{"instruction": "q", "input": "", "output": "a"}]')
    (tmp_path / "work").mkdir()
    cfg = lf.prepare(tmp_path / "work", "sft", tmp_path, data, str(ROOT / "config/train/sft.yaml"),
                     {"template": "smollm2", "deepspeed": "config/train/ds_z3.json"})
    written = yaml.safe_load((tmp_path / "work" / "train.yaml").read_text())
    assert written["deepspeed"] == cfg["deepspeed"] == str(ROOT / "config/train/ds_z3.json")
    assert Path(written["deepspeed"]).is_file()
    assert '"stage": 3' in Path(written["deepspeed"]).read_text()


def test_a_deepspeed_config_without_deepspeed_stops_before_training(monkeypatch):
    monkeypatch.setattr(lf.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(lf.TrainError, match="deepspeed==0.16.4"):
        lf.require_deepspeed({"deepspeed": "config/train/ds_z3.json"})
    lf.require_deepspeed({"deepspeed": None})  # nothing asked, nothing checked
