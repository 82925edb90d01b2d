"""What each training job reads of `train` (src/lancekit/training/settings.py): the per-method
blocks (train.methods) and their per-iteration overlays, merged over `train` for that method's
jobs only, and the shipped paper config's blocks."""

import pytest
import yaml

from lance_testing import ROOT
from lancekit.methods import TABLE
from lancekit.pipeline.config_check import ConfigError, check_config
from lancekit.training.config import TrainConfigError, resolve_settings
from lancekit.training.settings import (
    deep_merge,
    iteration_blocks,
    method_train,
    overlay,
    overlay_problems,
    stage_settings,
)

MODEL = {"template": "qwen", "default_system": None, "trust_remote_code": False}
TRAIN = {
    "m0": True, "save_steps": 0.1, "min_steps_warning": 50, "learning_rate": 1e-5, "num_train_epochs": 3.0,
    "extra": {"warmup_steps": 0.1}, "dpo": {"learning_rate": 5e-7, "pref_beta": 0.1},
    "methods": {
        "spin": {"learning_rate": 5e-7, "per_device_train_batch_size": 8, "extra": {"optim": "rmsprop"},
                 "from_iteration": {3: {"learning_rate": 1e-7}}},
        "i_sheep": {"finetuning_type": "lora", "learning_rate": 1e-4},
    },
}


def job(stage, method=None, t=None, train=TRAIN):
    """The LLaMA-Factory settings a job ends with: its settings param, resolved for its stage."""
    return resolve_settings(stage, stage_settings({"train": train, "model": MODEL}, stage, method, t))


def test_deep_merge_merges_mappings_and_replaces_the_rest():
    base = {"a": 1, "extra": {"x": 1, "y": 2}, "dpo": {"b": 1}, "lst": [1]}
    merged = deep_merge(base, {"extra": {"y": 3}, "dpo": None, "lst": [2], "new": {"k": 1}})
    assert merged == {"a": 1, "extra": {"x": 1, "y": 3}, "dpo": None, "lst": [2], "new": {"k": 1}}
    assert base == {"a": 1, "extra": {"x": 1, "y": 2}, "dpo": {"b": 1}, "lst": [1]}  # untouched


def test_an_overlays_flat_key_beats_the_stage_blocks_under_it():
    under = {"learning_rate": 1e-5, "dpo": {"learning_rate": 5e-7, "pref_beta": 0.1}, "extra": {"a": 1},
             "sft": {"extra": {"a": 2, "b": 3}}}
    out = overlay(under, {"learning_rate": 1e-7, "extra": {"a": 4}})
    assert out["dpo"] == {"pref_beta": 0.1} and out["sft"] == {"extra": {"b": 3}}
    assert resolve_settings("dpo", out)["learning_rate"] == 1e-7
    assert resolve_settings("sft", out)["extra"] == {"a": 4, "b": 3}
    # ... unless the overlay sets it for the stage itself
    own = overlay(under, {"learning_rate": 1e-7, "dpo": {"learning_rate": 2e-7}})
    assert resolve_settings("dpo", own)["learning_rate"] == 2e-7 and resolve_settings("sft", own)["learning_rate"] == 1e-7


def test_spins_learning_rate_drops_from_its_third_iteration():
    assert [job("dpo", "spin", t)["learning_rate"] for t in (1, 2, 3, 4)] == [5e-7, 5e-7, 1e-7, 1e-7]
    spin = job("dpo", "spin", 1)
    assert spin["per_device_train_batch_size"] == 8 and spin["extra"] == {"warmup_steps": 0.1, "optim": "rmsprop"}
    assert spin["pref_beta"] == 0.1  # what the block leaves alone stays train's


def test_an_iteration_overlay_beats_trains_stage_block_without_a_method_wide_setting():
    train = {"learning_rate": 1e-5, "dpo": {"learning_rate": 5e-7},
             "methods": {"spin": {"from_iteration": {3: {"learning_rate": 1e-7}}}}}
    assert [job("dpo", "spin", t, train)["learning_rate"] for t in (2, 3)] == [5e-7, 1e-7]


def test_a_methods_block_reaches_only_that_methods_jobs():
    plain_dpo, plain_sft = job("dpo"), job("sft")  # M_0's job: train alone
    assert plain_dpo["learning_rate"] == 5e-7 and plain_sft["learning_rate"] == 1e-5
    assert "optim" not in plain_dpo["extra"] and plain_dpo["pref_beta"] == 0.1
    for t in (1, 3):
        assert job("dpo", "lance", t) == plain_dpo and job("sft", "lance", t) == plain_sft
    assert job("sft", "i_sheep", 2)["finetuning_type"] == "lora" and job("sft", "i_sheep", 2)["learning_rate"] == 1e-4
    assert "finetuning_type" not in plain_sft


def test_keys_that_change_no_output_never_reach_a_job():
    for method in (None, "spin"):
        s = stage_settings({"train": TRAIN, "model": MODEL}, "dpo", method, 3)
        assert not {"m0", "save_steps", "min_steps_warning", "methods", "sft", "from_iteration"} & set(s)
        assert s["template"] == "qwen" and s["trust_remote_code"] is False


def test_without_blocks_the_settings_are_what_they_were():
    """A config without train.methods gives every job the settings it had before the blocks
    existed: nothing reruns."""
    train = {k: v for k, v in TRAIN.items() if k != "methods"} | {"methods": {}}
    before = {k: v for k, v in train.items() if k not in ("m0", "save_steps", "sft", "min_steps_warning", "methods")}
    before |= {"template": "qwen", "trust_remote_code": False}
    assert stage_settings({"train": train, "model": MODEL}, "dpo", "spin", 4) == before


def test_iteration_overlays_apply_in_order_from_their_iteration():
    train = {"learning_rate": 1.0, "methods": {"spin": {"from_iteration": {"4": {"learning_rate": 3.0},
                                                                        2: {"learning_rate": 2.0, "seed": 7}}}}}
    assert [method_train(train, "spin", t)["learning_rate"] for t in (1, 2, 3, 4, 5)] == [1.0, 2.0, 2.0, 3.0, 3.0]
    assert method_train(train, "spin", 4)["seed"] == 7
    assert method_train(train, None, 4) == {"learning_rate": 1.0}


@pytest.mark.parametrize("key", [0, -1, "third", "", True, 1.5])
def test_a_from_iteration_key_must_be_an_iteration(key):
    block = {"from_iteration": {key: {"learning_rate": 1e-7}}}
    with pytest.raises(TrainConfigError, match="not an iteration number"):
        iteration_blocks(block)
    assert overlay_problems({"methods": {"spin": block}}) == [
        f"train.methods.spin.from_iteration key {key!r} is not an iteration number (1, 2, ...)"]


def test_the_same_iteration_twice_is_a_mistake():
    with pytest.raises(TrainConfigError, match="twice"):
        iteration_blocks({"from_iteration": {3: {}, "3": {}}})


def test_the_config_check_names_a_bad_iteration_key():
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    from snakemake.utils import validate

    validate(config, str(ROOT / "config" / "config.schema.yaml"))
    config["train"]["methods"] = {"spin": {"from_iteration": {0: {"learning_rate": 1e-7}}}}
    with pytest.raises(ConfigError, match="train.methods.spin.from_iteration key 0"):
        check_config(config, lambda p: str(ROOT / p))


def test_the_schema_takes_a_block_for_every_method_and_no_other():
    schema = yaml.safe_load((ROOT / "config" / "config.schema.yaml").read_text())
    blocks = schema["properties"]["train"]["properties"]["methods"]
    assert sorted(blocks["properties"]) == sorted(TABLE) and blocks["additionalProperties"] is False
    from snakemake.exceptions import WorkflowError
    from snakemake.utils import validate

    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    config["train"]["methods"] = {"spinn": {"learning_rate": 1e-7}}
    with pytest.raises(WorkflowError, match="spinn"):
        validate(config, str(ROOT / "config" / "config.schema.yaml"))
    config["train"]["methods"] = {"spin": {"m0": False}}  # no workflow key in a method block
    with pytest.raises(WorkflowError, match="m0"):
        validate(config, str(ROOT / "config" / "config.schema.yaml"))


def test_the_paper_configs_blocks():
    """config/paper.yaml: SPIN's recipe (uclaml/SPIN) and I-SHEEP's LoRA; LANCE's DPO at 64."""
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    paper = yaml.safe_load((ROOT / "config" / "paper.yaml").read_text())
    for key, value in paper.items():  # Snakemake's merge of a --configfile: key by key
        config[key] = deep_merge(config[key], value) if isinstance(value, dict) and key in config else value
    spin = [job("dpo", "spin", t, config["train"]) for t in (1, 2, 3, 4)]
    assert [s["learning_rate"] for s in spin] == [5e-7, 5e-7, 1e-7, 1e-7]
    assert spin[0]["per_device_train_batch_size"] * spin[0]["gradient_accumulation_steps"] * 8 == 64
    assert spin[0]["extra"]["optim"] == "rmsprop" and spin[0]["extra"]["lr_scheduler_type"] == "linear"
    assert spin[0]["extra"]["warmup_steps"] == 0.1 and spin[0]["cutoff_len"] == 1024 and spin[0]["pref_beta"] == 0.1
    lance = job("dpo", "lance", 1, config["train"])
    assert lance["learning_rate"] == 5e-7 and lance["per_device_train_batch_size"] * lance[
        "gradient_accumulation_steps"] * 8 == 64
    i_sheep = job("sft", "i_sheep", 2, config["train"])
    assert i_sheep["finetuning_type"] == "lora" and job("sft", "lance", 2, config["train"])["finetuning_type"] == "full"
    assert config["self_instruct"]["instructions_per_seed"] * 3000 >= 50_000
