"""Pure tests of src/lancekit/train_config.py (no llamafactory, torch or transformers)."""

import pytest
import yaml

from lance_testing import ROOT
from lancekit.training import config as tc

SFT_TEMPLATE = yaml.safe_load((ROOT / "config" / "train" / "sft.yaml").read_text())
DPO_TEMPLATE = yaml.safe_load((ROOT / "config" / "train" / "dpo.yaml").read_text())
SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"
# keys every rendered config has with the CPU templates and the test paths of render()
COMMON = {
    "do_train": True, "dataset_dir": "/w/data", "output_dir": "/w/output", "trust_remote_code": False,
    "finetuning_type": "full", "cutoff_len": 1024, "overwrite_cache": True, "preprocessing_num_workers": 1,
    "dataloader_num_workers": 0, "logging_steps": 1, "plot_loss": True, "overwrite_output_dir": True,
    "save_strategy": "no", "save_only_model": True, "report_to": "none", "lr_scheduler_type": "cosine",
    "warmup_steps": 0.1, "bf16": False, "ddp_timeout": 180000000,
}


def render(stage, settings, **kw):
    template = SFT_TEMPLATE if stage == "sft" else DPO_TEMPLATE
    args = dict(model_path="/m/in", dataset_dir="/w/data", output_dir="/w/output")
    args.update(kw)
    return tc.build_train_config(stage, template, settings, **args)


def test_templates_parse_with_cpu_safe_defaults():
    for stage, tmpl in (("sft", SFT_TEMPLATE), ("dpo", DPO_TEMPLATE)):
        assert tmpl["stage"] == stage
        assert tmpl["finetuning_type"] == "full"
        assert tmpl["bf16"] is False
        assert tmpl["cutoff_len"] == 1024
        assert tmpl["logging_steps"] == 1
        assert tmpl["plot_loss"] is True
        assert tmpl["save_strategy"] == "no"  # a string, not YAML's false
        assert tmpl["report_to"] == "none"
        assert tmpl["overwrite_output_dir"] is True
        for key in ("model_name_or_path", "dataset", "dataset_dir", "output_dir", "template", "ref_model"):
            assert key not in tmpl
    assert DPO_TEMPLATE["pref_beta"] == 0.1
    assert DPO_TEMPLATE["pref_loss"] == "sigmoid"


def test_sft_full_exact():
    cfg = render(
        "sft",
        {
            "finetuning_type": "full",
            "template": "smollm2",
            "default_system": SYSTEM,
            "num_train_epochs": 2,
            "learning_rate": 2e-5,
            "per_device_train_batch_size": 4,
            "gradient_accumulation_steps": 2,
            "bf16": False,
            "deepspeed": None,
            "max_samples": None,
            "seed": 7,
            "lora_rank": 16,  # ignored for full fine-tuning
        },
    )
    assert cfg == {
        **COMMON,
        "model_name_or_path": "/m/in",
        "stage": "sft",
        "dataset": "lance_sft",
        "per_device_train_batch_size": 4,
        "gradient_accumulation_steps": 2,
        "learning_rate": 2e-5,
        "num_train_epochs": 2,
        "seed": 7,
        "template": "smollm2",
        "default_system": SYSTEM,
    }


def test_dpo_full_exact_reference_is_start_model():
    cfg = render("dpo", {"template": "qwen", "learning_rate": 1e-6}, model_path="/m/sft_out")
    assert cfg == {
        **COMMON,
        "model_name_or_path": "/m/sft_out",
        "stage": "dpo",
        "dataset": "lance_dpo",
        "pref_beta": 0.1,
        "pref_loss": "sigmoid",
        "pref_ftx": 0.0,
        "per_device_train_batch_size": 1,
        "gradient_accumulation_steps": 4,
        "learning_rate": 1e-6,
        "num_train_epochs": 1.0,
        "seed": 42,
        "template": "qwen",
    }
    assert "ref_model" not in cfg  # LLaMA-Factory then uses model_name_or_path as reference


def test_ref_model_in_template_is_dropped():
    cfg = tc.build_train_config(
        "dpo", {**DPO_TEMPLATE, "ref_model": "/elsewhere"}, {"template": "smollm2"},
        model_path="/m/sft", dataset_dir="/d", output_dir="/o",
    )
    assert "ref_model" not in cfg and cfg["model_name_or_path"] == "/m/sft"


def test_lora_keys_and_list_target():
    cfg = render(
        "sft",
        {"template": "smollm2", "finetuning_type": "lora", "lora_rank": 8, "lora_alpha": 16,
         "lora_target": ["q_proj", "v_proj"]},
    )
    assert cfg["finetuning_type"] == "lora"
    assert (cfg["lora_rank"], cfg["lora_alpha"], cfg["lora_target"]) == (8, 16, "q_proj,v_proj")


def test_lora_defaults_and_null_alpha():
    cfg = render("dpo", {"template": "smollm2", "finetuning_type": "lora", "lora_alpha": None})
    assert cfg["lora_rank"] == 8 and cfg["lora_target"] == "all"
    assert "lora_alpha" not in cfg  # LLaMA-Factory default: 2 * lora_rank


def test_stage_overrides_extra_deepspeed_and_use_cpu():
    settings = {
        "template": "smollm2",
        "learning_rate": 1e-5,
        "deepspeed": "ds_z2.json",
        "max_samples": 100,
        "bf16": True,
        "extra": {"lr_scheduler_type": "linear"},
        "sft": {"learning_rate": 3e-5},
        "dpo": {"learning_rate": 5e-7, "pref_beta": 0.2, "extra": {"warmup_steps": 0.0}},
    }
    sft = render("sft", settings, use_cpu=True)
    dpo = render("dpo", settings)
    assert sft["learning_rate"] == 3e-5 and dpo["learning_rate"] == 5e-7
    assert sft["deepspeed"] == "ds_z2.json" and sft["max_samples"] == 100
    assert sft["bf16"] is True and sft["use_cpu"] is True and "use_cpu" not in dpo
    assert sft["lr_scheduler_type"] == "linear" and dpo["lr_scheduler_type"] == "linear"
    assert sft["warmup_steps"] == 0.1 and dpo["warmup_steps"] == 0.0
    assert dpo["pref_beta"] == 0.2 and "pref_beta" not in sft


def test_null_settings_keep_template_values():
    cfg = render("sft", {"template": "smollm2", "seed": None, "bf16": None, "learning_rate": None,
                         "default_system": None})
    assert cfg["seed"] == 42 and cfg["bf16"] is False and cfg["learning_rate"] == 1e-5
    assert "default_system" not in cfg


def test_template_save_strategy_bare_no():
    tmpl = yaml.safe_load("stage: sft\nsave_strategy: no\n")
    assert tmpl["save_strategy"] is False  # the YAML pitfall
    cfg = tc.build_train_config("sft", tmpl, {"template": "smollm2"}, model_path="m", dataset_dir="d", output_dir="o")
    assert cfg["save_strategy"] == "no"


@pytest.mark.parametrize("every,expected", [(500, 500), (2, 2), (0.1, 0.1), (0.25, 0.25)])
def test_checkpoints_every_n_steps_or_a_share_of_them(every, expected):
    cfg = render("sft", {"template": "smollm2", "save_steps": every})
    assert cfg["save_strategy"] == "steps" and cfg["save_steps"] == expected
    assert type(cfg["save_steps"]) is type(expected)  # transformers reads a float below 1 as a share
    assert cfg["save_only_model"] is False  # the optimizer state too: a resume goes on where it was
    assert render("sft", {"template": "smollm2", "save_steps": 0})["save_strategy"] == "no"


@pytest.mark.parametrize(
    "stage,settings,match",
    [
        ("ppo", {"template": "smollm2"}, "stage"),
        ("sft", {}, "template"),
        ("sft", {"template": "smollm2", "finetuning_type": "freeze"}, "finetuning_type"),
        ("sft", {"template": "smollm2", "learnin_rate": 1e-5}, "unknown"),
        ("sft", {"template": "smollm2", "extra": {"output_dir": "/x"}}, "extra"),
    ],
)
def test_errors(stage, settings, match):
    with pytest.raises(tc.TrainConfigError, match=match):
        tc.build_train_config(stage, SFT_TEMPLATE, settings, model_path="m", dataset_dir="d", output_dir="o")


def test_template_for_wrong_stage():
    with pytest.raises(tc.TrainConfigError, match="stage"):
        tc.build_train_config(
            "dpo", SFT_TEMPLATE, {"template": "smollm2"}, model_path="m", dataset_dir="d", output_dir="o"
        )


def test_export_config():
    train_cfg = render("sft", {"template": "smollm2", "default_system": SYSTEM, "finetuning_type": "lora"})
    assert tc.build_export_config(train_cfg, adapter_dir="/w/adapter", export_dir="/w/output") == {
        "model_name_or_path": "/m/in",
        "adapter_name_or_path": "/w/adapter",
        "template": "smollm2",
        "finetuning_type": "lora",
        "trust_remote_code": False,
        "export_dir": "/w/output",
        "export_size": 5,
        "export_device": "cpu",
        "export_legacy_format": False,
        "default_system": SYSTEM,
    }


def test_dataset_info_sft():
    assert tc.dataset_info("sft", "sft.json") == {
        "file_name": "sft.json",
        "formatting": "alpaca",
        "columns": {"prompt": "instruction", "query": "input", "response": "output", "system": "system"},
    }


def test_dataset_info_dpo():
    assert tc.dataset_info("dpo", "dpo.json") == {
        "file_name": "dpo.json",
        "formatting": "sharegpt",
        "ranking": True,
        "columns": {"messages": "conversations", "chosen": "chosen", "rejected": "rejected"},
    }


def test_dataset_info_file_names_match_config():
    for stage in ("sft", "dpo"):
        info = tc.dataset_info_file(stage, f"{stage}.json")
        assert list(info) == [render(stage, {"template": "smollm2"})["dataset"]]
    with pytest.raises(tc.TrainConfigError):
        tc.dataset_info("kto", "x.json")


def test_module_is_pure():
    src = (ROOT / "src" / "lancekit" / "training" / "config.py").read_text()
    for mod in ("llamafactory", "torch", "transformers"):
        assert f"import {mod}" not in src and f"from {mod}" not in src


@pytest.mark.parametrize("stage", tc.STAGES)
def test_trust_remote_code_is_off_unless_asked(stage):
    assert render(stage, {"template": "smollm2"})["trust_remote_code"] is False
    assert render(stage, {"template": "smollm2", "trust_remote_code": True})["trust_remote_code"] is True
    cfg = render(stage, {"template": "smollm2", "trust_remote_code": True})
    export = tc.build_export_config(cfg, adapter_dir="/a", export_dir="/e")
    assert export["trust_remote_code"] is True
