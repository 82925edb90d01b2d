"""What each training job reads of the config's ``train`` section (pure; the workflow hands it to
the job as the rule's ``settings`` param, workflow/rules/common.smk).

- ``train`` holds the settings of every training job; M_0's training (shared by every method)
  reads it alone.
- ``train.methods.<method>`` overlays it for that method's jobs: a deep merge (a mapping such as
  ``sft``, ``dpo`` or ``extra`` merges key by key, any other value replaces).
- ``train.methods.<method>.from_iteration.<N>`` overlays that again for iterations N and later
  (every block with N <= t, in increasing N).
- Each overlay wins over everything under it: within one layer a stage's block beats the flat
  keys (training.config.resolve_settings), but a flat key of an overlay also beats the stage
  blocks of the layers under it. So with ``train.dpo.learning_rate: 5.0e-7``, SPIN's
  ``from_iteration: {3: {learning_rate: 1.0e-7}}`` is SPIN's DPO rate from iteration 3.

Snakemake reruns a job when its params change, so a method's block reaches only that method's jobs
(from the iteration it names on); keys that change no output (``m0``, ``save_steps``,
``min_steps_warning``) and the other stage's block (``sft:`` / ``dpo:``) never reach a job's
settings.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .config import STAGES, TrainConfigError

# train keys that are no job setting: the workflow's own (m0; seeds: which replicates exist, each
# replicate's own seed reaches its job as `seed`), the job spec's (save_steps,
# min_steps_warning: they change no output) and the overlays themselves
NOT_SETTINGS = ("m0", "save_steps", "min_steps_warning", "methods", "seeds")
OVERLAY_KEY = "from_iteration"
# the trainer's seed where `train` sets none: config/train/sft.yaml's and dpo.yaml's `seed`
TEMPLATE_SEED = 42


def deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``over`` on top: mappings on both sides merge recursively, anything else in
    ``over`` (a null too) replaces. Neither argument is changed."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = dict(value) if isinstance(value, Mapping) else value
    return out


def overlay(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """``over`` on ``base`` as one layer on those under it: a deep merge, where a flat key of
    ``over`` (an ``extra`` key too) also drops that key from ``base``'s stage blocks, unless
    ``over`` sets it for that stage itself."""
    out = deep_merge(base, over)
    flat_extra = over.get("extra") or {}
    for stage in STAGES:
        block, own = out.get(stage), over.get(stage) or {}
        if not isinstance(block, Mapping):
            continue
        block = {k: v for k, v in block.items() if k == "extra" or k not in over or k in own}
        if isinstance(block.get("extra"), Mapping):
            own_extra = own.get("extra") or {}
            block["extra"] = {k: v for k, v in block["extra"].items() if k not in flat_extra or k in own_extra}
        out[stage] = block
    return out


def iteration_number(key: Any) -> int | None:
    """A ``from_iteration`` key as an iteration number (YAML gives ``3:`` as an int, JSON as "3");
    None when it is none (1, 2, ...)."""
    if isinstance(key, bool):
        return None
    if isinstance(key, int):
        return key if key >= 1 else None
    if isinstance(key, str) and key.strip().isdigit() and int(key) >= 1:
        return int(key)
    return None


def iteration_blocks(block: Mapping[str, Any]) -> list[tuple[int, Mapping[str, Any]]]:
    """A method block's ``from_iteration`` overlays as (N, overlay), by increasing N."""
    out = []
    for key, overlay in (block.get(OVERLAY_KEY) or {}).items():
        n = iteration_number(key)
        if n is None:
            raise TrainConfigError(f"{OVERLAY_KEY} key {key!r} is not an iteration number (1, 2, ...)")
        out.append((n, overlay or {}))
    if len({n for n, _ in out}) != len(out):
        raise TrainConfigError(f"{OVERLAY_KEY} names an iteration twice ({sorted(n for n, _ in out)})")
    return sorted(out, key=lambda item: item[0])


def method_train(train: Mapping[str, Any], method: str | None = None, iteration: int | None = None) -> dict:
    """``train`` as the jobs of ``method`` at ``iteration`` read it (``method`` None: M_0's job,
    ``train`` alone), without the ``methods`` overlays themselves."""
    out = {k: v for k, v in train.items() if k != "methods"}
    block = ((train.get("methods") or {}).get(method) or {}) if method else {}
    out = overlay(out, {k: v for k, v in block.items() if k != OVERLAY_KEY})
    for n, layer in iteration_blocks(block):
        if iteration is not None and n <= int(iteration):
            out = overlay(out, layer)
    return out


def stage_settings(config: Mapping[str, Any], stage: str, method: str | None = None, iteration: int | None = None,
                   path: Callable[[str], str] = str, seed: int | None = None) -> dict[str, Any]:
    """The ``train`` settings of one training job of ``stage`` ("sft" or "dpo"): the method's and
    iteration's overlays applied, then only what the job reads (not the keys of NOT_SETTINGS, of
    the per-stage blocks only its own), with the model's template, default system and remote-code
    choice filled in; ``path`` resolves a DeepSpeed config file (common.smk's repo_path); ``seed``:
    a training-seed replicate's (train.seeds), over every other seed setting."""
    if stage not in STAGES:
        raise TrainConfigError(f"stage must be one of {STAGES}, got {stage!r}")
    other = {"sft": "dpo", "dpo": "sft"}[stage]
    merged = method_train(config["train"], method, iteration)
    s = {k: v for k, v in merged.items() if k not in (*NOT_SETTINGS, other)}
    model = config["model"]
    s.setdefault("template", model["template"])
    if model.get("default_system"):
        s.setdefault("default_system", model["default_system"])
    s["trust_remote_code"] = model["trust_remote_code"]
    if s.get("deepspeed"):
        s["deepspeed"] = path(s["deepspeed"])
    if seed is not None:
        s = _without_seed(s)
        s["seed"] = int(seed)
    return s


def _without_seed(s: Mapping[str, Any]) -> dict[str, Any]:
    """``s`` with no ``seed`` anywhere a job reads one (flat, its stage block, their ``extra``)."""
    out = {}
    for k, v in s.items():
        if k == "seed":
            continue
        out[k] = _without_seed(v) if k in (*STAGES, "extra") and isinstance(v, Mapping) else v
    return out


def overlay_problems(train: Mapping[str, Any]) -> list[str]:
    """What the schema cannot check of ``train.methods``: the ``from_iteration`` keys (one message
    each, naming the config key)."""
    problems = []
    for method, block in (train.get("methods") or {}).items():
        try:
            iteration_blocks(block or {})
        except TrainConfigError as e:
            problems.append(f"train.methods.{method}.{e}")
    return problems


def seed_problems(train: Mapping[str, Any]) -> list[str]:
    """train.seeds must not hold the main chain's own seed (train.seed, else the templates'): that
    replicate would be the main model again and count twice in the spread."""
    main = train.get("seed", TEMPLATE_SEED)
    if main in (train.get("seeds") or []):
        return [f"train.seeds: {main} is the main chain's own training seed "
                f"({'train.seed' if 'seed' in train else 'config/train/*.yaml'}): its replicate would be the "
                "main model again"]
    return []
