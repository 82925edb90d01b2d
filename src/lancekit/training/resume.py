"""Resume state of a killed training (lancekit.training.llamafactory): the checkpoint to go on
from, and the train config of the work folder it lies in. State that cannot be read (a torn,
empty or garbage trainer_state.json, a checkpoint without whole weights, a garbage train.yaml or
fingerprint) is never trusted: the previous complete checkpoint is used, or the training starts
afresh, and the log says which file and why: such state must never block the stage until
someone removes the work folder by hand."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import yaml

RUN_STAMP = "lance_run.fingerprint"  # in the work folder: which training it belongs to


def note(msg: str) -> None:
    print(f"train: {msg}", flush=True)


# a checkpoint's model: full weights (sharded or not), a LoRA adapter, or DeepSpeed's own states
CHECKPOINT_WEIGHTS = ("*.safetensors", "pytorch_model*.bin", "adapter_model.bin", "global_step*/")


def safetensors_problem(path: Path) -> str | None:
    """Why a .safetensors file cannot be whole (an unreadable header, or fewer bytes than the
    header's tensors need), or None. Cheap: reads the header only."""
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            n = int.from_bytes(f.read(8), "little")
            if size < 8 or n > size - 8:
                return f"{path.name} is cut ({size} bytes, header of {n})"
            header = json.loads(f.read(n))
        need = 8 + n + max((t["data_offsets"][1] for k, t in header.items() if k != "__metadata__"), default=0)
    except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError) as e:
        return f"{path.name}: unreadable header ({e.__class__.__name__}: {e})"
    if not isinstance(need, int) or need > size:
        return f"{path.name} is cut ({size} bytes of {need})"
    return None


def checkpoint_problem(ckpt: Path) -> str | None:
    """Why a checkpoint cannot be resumed from, or None: the trainer writes trainer_state.json
    last, so without a readable one (a JSON object with the step) the checkpoint was cut; and
    it needs the model's weights, whole."""
    state = ckpt / "trainer_state.json"
    if not state.is_file():
        return "no trainer_state.json (a kill cut the checkpoint before the trainer finished it)"
    try:
        data = json.loads(state.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:  # UnicodeDecodeError and JSONDecodeError included
        return f"trainer_state.json is unreadable ({e.__class__.__name__}: {e})"
    if not isinstance(data, dict) or not isinstance(data.get("global_step"), int):
        return "trainer_state.json has no global_step (not a trainer state)"
    weights = [p for pattern in CHECKPOINT_WEIGHTS for p in ckpt.glob(pattern)]
    if not weights:
        return f"no model weights ({', '.join(CHECKPOINT_WEIGHTS)})"
    for path in weights:
        if path.suffix == ".safetensors" and (problem := safetensors_problem(path)):
            return problem
    return None


def last_checkpoint(output_dir: Path) -> Path | None:
    """The newest complete checkpoint; the ones after it (cut by a kill, or unreadable) are
    removed, each named in the log with the reason."""
    ckpts = sorted((p for p in output_dir.glob("checkpoint-*") if p.name[11:].isdigit()),
                   key=lambda p: int(p.name[11:]))
    while ckpts:
        problem = checkpoint_problem(ckpts[-1])
        if problem is None:
            return ckpts[-1]
        bad = ckpts.pop()
        note(f"not resuming from {bad}: {problem}; removed it, "
             + (f"falling back to {ckpts[-1].name}" if ckpts else "no earlier checkpoint"))
        shutil.rmtree(bad) if bad.is_dir() and not bad.is_symlink() else bad.unlink()
    return None


def resumable(work: Path, fingerprint: str) -> tuple[Path, dict] | None:
    """The checkpoint to resume from and the run's train config: the work folder of a killed run
    of the same training. None (start afresh) for any other work folder, or one whose state cannot
    be read (the log says which file and why)."""
    stamp, train_yaml = work / RUN_STAMP, work / "train.yaml"
    for path in (stamp, train_yaml):  # the stamp is written last: without it, prepare was cut
        if not path.is_file():
            note(f"starting afresh: {path} is missing (a run killed while preparing {work})")
            return None
    try:
        same = stamp.read_text(encoding="utf-8").strip() == fingerprint
    except (OSError, ValueError) as e:
        note(f"starting afresh: {stamp} is unreadable ({e.__class__.__name__}: {e})")
        return None
    if not same:
        note(f"starting afresh: {work} belongs to another training (other model, data, template or settings)")
        return None
    try:
        cfg = yaml.safe_load(train_yaml.read_text(encoding="utf-8"))
    except (OSError, ValueError, yaml.YAMLError) as e:
        note(f"starting afresh: {train_yaml} is unreadable ({e.__class__.__name__}: {e})")
        return None
    output_dir = cfg.get("output_dir") if isinstance(cfg, dict) else None
    if not isinstance(output_dir, str) or work.resolve() not in Path(output_dir).resolve().parents:
        note(f"starting afresh: {train_yaml} is not this job's train config (output_dir {output_dir!r})")
        return None
    ckpt = last_checkpoint(Path(output_dir))
    if ckpt is None:
        note(f"starting afresh: no complete checkpoint in {output_dir}")
        return None
    return ckpt, cfg
