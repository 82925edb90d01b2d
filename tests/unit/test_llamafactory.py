"""The training adapter's plans, without training: checkpoints to resume from (and resume state
that cannot be read: lancekit.training.resume), the multi-GPU launch and the DeepSpeed config
path (the real runs are in tests/integration)."""

import json
import shutil
from pathlib import Path

import pytest
import yaml

from lance_testing import ROOT
from lancekit.training import llamafactory as lf
from lancekit.training import resume as rs

STATE = '{"global_step": 1, "log_history": []}'


def checkpoint(output_dir, step, state=STATE, weights=b"ok"):
    """A checkpoint folder as the trainer writes it: weights first, trainer_state.json last."""
    ckpt = output_dir / f"checkpoint-{step}"
    ckpt.mkdir(parents=True)
    if weights is not None:
        (ckpt / "model.safetensors").write_bytes(safetensors(weights) if isinstance(weights, bytes) else weights())
    if state is not None:
        (ckpt / "trainer_state.json").write_bytes(state.encode() if isinstance(state, str) else state)
    return ckpt


def safetensors(data: bytes) -> bytes:
    header = json.dumps({"w": {"dtype": "U8", "shape": [len(data)], "data_offsets": [0, len(data)]}}).encode()
    return len(header).to_bytes(8, "little") + header + data


def test_the_last_complete_checkpoint_is_resumed_and_a_cut_one_removed(tmp_path, capsys):
    for step in (1, 2):
        checkpoint(tmp_path, step)
    checkpoint(tmp_path, 10, state=None)
    assert rs.last_checkpoint(tmp_path) == tmp_path / "checkpoint-2"  # 10 < 2 as text, not as a step
    assert not (tmp_path / "checkpoint-10").exists(), "killed while writing: no trainer_state.json"
    assert f"not resuming from {tmp_path / 'checkpoint-10'}: no trainer_state.json" in capsys.readouterr().out
    assert rs.last_checkpoint(tmp_path / "none") is None


@pytest.mark.parametrize("state, weights, reason", [
    ("", b"ok", "trainer_state.json is unreadable"),                  # created, never written
    ('{"global_step": 3, "log_hi', b"ok", "trainer_state.json is unreadable"),  # torn
    (b"\xff\xfe garbage", b"ok", "trainer_state.json is unreadable"),  # not even UTF-8
    ("[1, 2]", b"ok", "trainer_state.json has no global_step"),
    ('{"global_step": "3"}', b"ok", "trainer_state.json has no global_step"),
    (STATE, None, "no model weights"),
    (STATE, lambda: safetensors(b"0123456789")[:-4], "model.safetensors is cut"),
    (STATE, lambda: b"\x10\x00\x00\x00\x00\x00\x00\x00not json at all!", "model.safetensors: unreadable header"),
])
def test_unreadable_resume_state_falls_back_to_the_previous_checkpoint(tmp_path, capsys, state, weights, reason):
    """A garbage, empty or torn trainer_state.json, or a checkpoint without whole weights, is
    never resumed from: the one before it is, and the log names the folder and the reason."""
    good = checkpoint(tmp_path, 5)
    bad = checkpoint(tmp_path, 7, state=state, weights=weights)
    assert rs.last_checkpoint(tmp_path) == good
    assert not bad.exists()
    out = capsys.readouterr().out
    assert f"not resuming from {bad}: {reason}" in out and "falling back to checkpoint-5" in out
    checkpoint(tmp_path, 9, state=state, weights=weights)
    shutil.rmtree(good)
    assert rs.last_checkpoint(tmp_path) is None  # nothing left: the caller starts afresh
    assert "no earlier checkpoint" in capsys.readouterr().out


def work_folder(tmp_path, fingerprint="abc", train_yaml=None):
    out = tmp_path / "output"
    checkpoint(out, 1)
    text = yaml.safe_dump({"output_dir": str(out)}) if train_yaml is None else train_yaml
    (tmp_path / "train.yaml").write_bytes(text.encode() if isinstance(text, str) else text)
    (tmp_path / rs.RUN_STAMP).write_text(fingerprint + "\n")
    return out


def test_a_work_folder_of_another_training_is_never_resumed(tmp_path):
    out = work_folder(tmp_path)
    assert rs.resumable(tmp_path, "abc") == (out / "checkpoint-1", {"output_dir": str(out)})
    assert rs.resumable(tmp_path, "other data or settings") is None


@pytest.mark.parametrize("train_yaml, reason", [
    ("output_dir: [unclosed", "train.yaml is unreadable"),      # torn by a kill while rewritten
    ("", "is not this job's train config"),                      # empty
    (b"output_dir: \xff\xfe", "train.yaml is unreadable"),      # not UTF-8
    ("- a list\n", "is not this job's train config"),
    ("output_dir: /somewhere/else\n", "is not this job's train config"),
])
def test_an_unreadable_train_yaml_starts_afresh_and_says_why(tmp_path, capsys, train_yaml, reason):
    work_folder(tmp_path, train_yaml=train_yaml)
    assert rs.resumable(tmp_path, "abc") is None
    out = capsys.readouterr().out
    assert f"starting afresh: {tmp_path / 'train.yaml'}" in out and reason in out


def test_an_unreadable_or_missing_fingerprint_starts_afresh(tmp_path, capsys):
    work_folder(tmp_path)
    (tmp_path / rs.RUN_STAMP).write_bytes(b"\xff\xfe\x00")
    assert rs.resumable(tmp_path, "abc") is None
    assert f"starting afresh: {tmp_path / rs.RUN_STAMP} is unreadable" in capsys.readouterr().out
    (tmp_path / rs.RUN_STAMP).unlink()
    assert rs.resumable(tmp_path, "abc") is None
    assert f"starting afresh: {tmp_path / rs.RUN_STAMP} is missing" in capsys.readouterr().out


def test_train_yaml_is_rewritten_atomically(tmp_path):
    """On resume train.yaml is rewritten with resume_from_checkpoint: a new file renamed over
    the old one (a kill mid-write leaves the old one whole), never the old file truncated."""
    path = tmp_path / "train.yaml"
    lf.dump_yaml(path, {"output_dir": "a"})
    before = path.stat().st_ino
    lf.dump_yaml(path, {"output_dir": "a", "resume_from_checkpoint": "a/checkpoint-1"})
    assert path.stat().st_ino != before
    assert yaml.safe_load(path.read_text())["resume_from_checkpoint"] == "a/checkpoint-1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["train.yaml"]


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
