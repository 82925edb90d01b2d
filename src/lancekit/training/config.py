"""Build LLaMA-Factory (0.9.5) configs for the SFT and DPO stages.

Pure logic: no llamafactory, torch or transformers import, so it can be unit-tested anywhere.
lancekit.training.llamafactory (run by scripts/train.py in the llamafactory environment) uses it
to render the `llamafactory-cli train` / `export` YAML files and the `dataset_info.json` entry.
It also says what config ``tracking`` makes of a job: its report_to, its log folder, its environment.

Inputs:
- ``template``: the dict loaded by the caller from config/train/sft.yaml or dpo.yaml
  (commented LLaMA-Factory options with CPU-safe defaults).
- ``settings``: the pipeline's training settings (config.yaml -> train). Flat keys apply to both
  stages; a nested ``sft:`` / ``dpo:`` mapping overrides them for that stage only; ``extra:``
  (flat or per stage) passes further LLaMA-Factory options through unchanged.

Data formats (LLaMA-Factory data/README.md):
- SFT: alpaca, ``[{"instruction", "input", "output", "system", "id"}]``.
- DPO: sharegpt with ``ranking: true``, ``[{"conversations": [{"from": "human", "value": p}],
  "chosen": {"from": "gpt", "value": ...}, "rejected": {"from": "gpt", "value": ...}, "id"}]``.

Reference model of DPO: ``ref_model`` is never set. LLaMA-Factory then uses the model it starts
from (``model_name_or_path``) as the frozen reference (with LoRA: the same weights with the adapter
disabled). The pipeline starts DPO from the SFT output of the same iteration, so the reference is
that SFT model, as LANCE prescribes.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

STAGES = ("sft", "dpo")
FINETUNING_TYPES = ("full", "lora")

# Name under which the stage's data file is registered in the work dir's dataset_info.json.
DATASET_NAMES = {"sft": "lance_sft", "dpo": "lance_dpo"}

# Pipeline setting -> LLaMA-Factory option (same name everywhere, listed for validation).
SETTING_KEYS = (
    "finetuning_type",
    "lora_rank",
    "lora_alpha",
    "lora_target",
    "template",
    "default_system",
    "num_train_epochs",
    "learning_rate",
    "per_device_train_batch_size",
    "gradient_accumulation_steps",
    "bf16",
    "deepspeed",
    "max_samples",
    "seed",
    "cutoff_len",
    "pref_beta",
    "pref_loss",
    "trust_remote_code",
    "save_steps",
)
LORA_KEYS = ("lora_rank", "lora_alpha", "lora_target")
# Checkpoints kept on disk while a run goes on (the last one is what a rerun resumes from; one
# more in case the kill hit the writing of the last).
CHECKPOINTS_KEPT = 2
# Keys that are simply left out of the config when their value is null (LLaMA-Factory default).
DROP_IF_NONE = ("deepspeed", "max_samples", "default_system", "lora_alpha")
# Keys the adapter fills in; they must not come from the settings.
RUN_KEYS = ("model_name_or_path", "dataset", "dataset_dir", "output_dir", "stage", "do_train")


class TrainConfigError(ValueError):
    """Invalid stage, settings or template."""


def _check_stage(stage: str) -> None:
    if stage not in STAGES:
        raise TrainConfigError(f"stage must be one of {STAGES}, got {stage!r}")


def resolve_settings(stage: str, settings: Mapping[str, Any] | None) -> dict[str, Any]:
    """Flatten the pipeline settings for one stage.

    Flat keys apply to both stages, ``settings[stage]`` overrides them, ``extra`` (flat, then per
    stage) is merged into a single ``extra`` dict. The other stage's sub-mapping is ignored.
    """
    _check_stage(stage)
    settings = dict(settings or {})
    per_stage = {s: settings.pop(s, None) or {} for s in STAGES}
    extra = dict(settings.pop("extra", None) or {})
    own = dict(per_stage[stage])
    extra.update(own.pop("extra", None) or {})
    resolved = {**settings, **own}
    unknown = sorted(set(resolved) - set(SETTING_KEYS))
    if unknown:
        raise TrainConfigError(
            f"unknown training setting(s) {unknown}; known: {list(SETTING_KEYS)} "
            "(put other LLaMA-Factory options under `extra`)"
        )
    bad_extra = sorted(set(extra) & set(RUN_KEYS))
    if bad_extra:
        raise TrainConfigError(f"`extra` must not set {bad_extra}: lance sets them")
    resolved["extra"] = extra
    return resolved


def _lora_target(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        if not value:
            raise TrainConfigError("lora_target must not be empty")
        return ",".join(str(v) for v in value)
    return str(value)


def build_train_config(
    stage: str,
    template: Mapping[str, Any],
    settings: Mapping[str, Any] | None,
    *,
    model_path: str,
    dataset_dir: str,
    output_dir: str,
    use_cpu: bool = False,
) -> dict[str, Any]:
    """Return the `llamafactory-cli train` config for ``stage``.

    ``template``: the parsed config/train/<stage>.yaml. ``settings``: pipeline settings (see
    :func:`resolve_settings`). ``model_path``: the starting model (for DPO: the SFT output, which
    also becomes the reference model). ``dataset_dir``: folder holding dataset_info.json.
    ``use_cpu``: set when no accelerator is present (needed for ``bf16: true`` on CPU).
    """
    _check_stage(stage)
    if not isinstance(template, Mapping):
        raise TrainConfigError("the template must be a mapping (a parsed YAML file)")
    tmpl_stage = template.get("stage", stage)
    if tmpl_stage != stage:
        raise TrainConfigError(f"template is for stage {tmpl_stage!r}, not {stage!r}")
    s = resolve_settings(stage, settings)
    extra = s.pop("extra")

    cfg: dict[str, Any] = copy.deepcopy(dict(template))
    for key in RUN_KEYS:
        cfg.pop(key, None)
    cfg.pop("ref_model", None)  # reference = the starting model, see module docstring

    for key, value in s.items():
        if value is None:
            if key in DROP_IF_NONE:
                cfg.pop(key, None)  # explicit null: LLaMA-Factory's default (e.g. no deepspeed)
            continue  # other nulls: keep the template's value
        cfg[key] = value

    ftype = cfg.get("finetuning_type", "full")
    if ftype not in FINETUNING_TYPES:
        raise TrainConfigError(f"finetuning_type must be one of {FINETUNING_TYPES}, got {ftype!r}")
    cfg["finetuning_type"] = ftype
    if ftype == "lora":
        cfg.setdefault("lora_rank", 8)
        cfg.setdefault("lora_target", "all")
        cfg["lora_target"] = _lora_target(cfg["lora_target"])
    else:
        for key in LORA_KEYS:
            cfg.pop(key, None)

    if not cfg.get("template"):
        raise TrainConfigError("a chat `template` is required (e.g. smollm2, qwen)")
    for key in DROP_IF_NONE:
        if key in cfg and cfg[key] is None:
            del cfg[key]
    if cfg.get("bf16") is None:
        cfg["bf16"] = False
    if cfg.get("save_strategy") is False:  # a bare `no` in YAML
        cfg["save_strategy"] = "no"
    save_steps = cfg.pop("save_steps", None)
    if save_steps:  # checkpoints a killed run resumes from: with the optimizer state
        # a number below 1 is a share of the job's optimizer steps (transformers rounds it up):
        # 0.1 saves ten times whatever the data size
        every = float(save_steps) if float(save_steps) < 1 else int(save_steps)
        cfg.update(save_strategy="steps", save_steps=every, save_only_model=False,
                   save_total_limit=CHECKPOINTS_KEPT)
    if stage == "sft":
        for key in ("pref_beta", "pref_loss", "pref_ftx"):
            cfg.pop(key, None)

    cfg.update(extra)
    if use_cpu:
        cfg["use_cpu"] = True

    run = {
        "model_name_or_path": str(model_path),
        "stage": stage,
        "do_train": True,
        "dataset": DATASET_NAMES[stage],
        "dataset_dir": str(dataset_dir),
        "output_dir": str(output_dir),
    }
    return {**run, **cfg}


def build_export_config(
    train_cfg: Mapping[str, Any], *, adapter_dir: str, export_dir: str
) -> dict[str, Any]:
    """Return the `llamafactory-cli export` config that merges a LoRA adapter into a full model.

    Uses the same base model, template and default_system as ``train_cfg``; the merged model is
    written in fp32 safetensors on CPU.
    """
    cfg: dict[str, Any] = {
        "model_name_or_path": train_cfg["model_name_or_path"],
        "adapter_name_or_path": str(adapter_dir),
        "template": train_cfg["template"],
        "finetuning_type": "lora",
        "trust_remote_code": bool(train_cfg.get("trust_remote_code", False)),
        "export_dir": str(export_dir),
        "export_size": 5,
        "export_device": "cpu",
        "export_legacy_format": False,
    }
    if train_cfg.get("default_system") is not None:
        cfg["default_system"] = train_cfg["default_system"]
    return cfg


def dataset_info(stage: str, file_name: str) -> dict[str, Any]:
    """The dataset_info.json entry for the stage's data file (LLaMA-Factory data/README.md)."""
    _check_stage(stage)
    if stage == "sft":
        return {
            "file_name": str(file_name),
            "formatting": "alpaca",
            "columns": {
                "prompt": "instruction",
                "query": "input",
                "response": "output",
                "system": "system",
            },
        }
    return {
        "file_name": str(file_name),
        "formatting": "sharegpt",
        "ranking": True,
        "columns": {
            "messages": "conversations",
            "chosen": "chosen",
            "rejected": "rejected",
        },
    }


def dataset_info_file(stage: str, file_name: str) -> dict[str, Any]:
    """The whole dataset_info.json (one entry, named ``DATASET_NAMES[stage]``)."""
    return {DATASET_NAMES[stage]: dataset_info(stage, file_name)}


# config `tracking` -> the package transformers' callback for it needs in this environment
TRACKER_PACKAGES = {"tensorboard": "tensorboard", "wandb": "wandb", "mlflow": "mlflow"}


def tracking_dirs(out: Path, stage: str) -> tuple[Path, Path]:
    """(the job's own log folder, the folder shared by every training job): under the nearest
    ``results`` folder above the model, results/tracking/train/<run>/<stage> and
    results/tracking/train; elsewhere a ``tracking`` folder beside the model."""
    results = next((p for p in out.parents if p.name == "results"), None)
    if results is None:
        return out.parent / "tracking" / stage, out.parent / "tracking"
    root = results / "tracking" / "train"
    return root / out.parent.relative_to(results) / stage, root


def tracking_options(tracking: str, log_dir: Path, shared: Path, run_name: str, env: dict) -> tuple[dict, dict]:
    """(the train.yaml keys, the trainer's environment) for config ``tracking``: nothing reaches a
    network unless the user's own variables say so (WANDB_MODE, MLFLOW_TRACKING_URI win)."""
    if tracking == "none":
        return {"report_to": "none"}, env
    env = dict(env)
    if tracking == "tensorboard":
        env["TENSORBOARD_LOGGING_DIR"] = str(log_dir)
    elif tracking == "wandb":
        env.pop("WANDB_DISABLED", None)  # the workflow's offline default; the user asked for wandb
        env.setdefault("WANDB_MODE", "offline")
        env.setdefault("WANDB_DIR", str(log_dir))
        env.setdefault("WANDB_PROJECT", "lance")
    else:  # mlflow
        env.setdefault("MLFLOW_TRACKING_URI", (shared / "mlruns").resolve().as_uri())
        env.setdefault("MLFLOW_EXPERIMENT_NAME", "lance")
    return {"report_to": tracking, "run_name": run_name}, env
