"""The optimizer-step plan of one training job, before it trains (pure arithmetic).

A training moves the model by its optimizer steps, not by its examples: a DPO of a few thousand
pairs at a global batch of 256 makes a few dozen steps. The job prints its plan in its log (and
warns under ``train.min_steps_warning``), lance_train.json records it, and the report's training
table shows it beside the steps the trainer made.

The arithmetic is transformers' (5.6.0, the version envs/llamafactory.txt pins),
``Trainer.set_initial_training_values``:

- batches per process per epoch = len(dataloader) = ceil(examples / (per_device × processes))
  (accelerate shards the batches over the processes and pads the last round: ``even_batches``);
- optimizer steps per epoch = max(ceil(batches / gradient_accumulation_steps), 1) (the last,
  partial accumulation is a step of its own; transformers 4.x used the floor instead);
- steps = ceil(num_train_epochs × steps per epoch), or ``max_steps`` when that is set (> 0).

Processes = the job's data-parallel ranks: LLaMA-Factory's launcher runs torchrun when
FORCE_TORCHRUN is set or the job sees more than one GPU, with NNODES × NPROC_PER_NODE ranks
(NPROC_PER_NODE: the GPUs it sees, unless set); otherwise one process (a CPU job, one GPU).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

# The defaults of transformers' TrainingArguments, for a config that leaves a key out.
HF_DEFAULTS = {"per_device_train_batch_size": 8, "gradient_accumulation_steps": 1, "num_train_epochs": 3.0}


@dataclass(frozen=True)
class StepPlan:
    examples: int
    epochs: float
    per_device: int
    grad_accum: int
    processes: int
    max_steps: int = 0          # > 0: the trainer stops there whatever the epochs

    @property
    def global_batch(self) -> int:
        return self.per_device * self.grad_accum * self.processes

    @property
    def batches_per_epoch(self) -> int:
        """Micro-batches of one process in one epoch (len of its dataloader)."""
        return math.ceil(self.examples / (self.per_device * self.processes))

    @property
    def steps_per_epoch(self) -> int:
        return max(math.ceil(self.batches_per_epoch / self.grad_accum), 1)

    @property
    def steps(self) -> int:
        """The optimizer steps the trainer will make (0 for no data: the job trains nothing)."""
        if self.examples <= 0:
            return 0
        if self.max_steps > 0:
            return self.max_steps
        return math.ceil(self.epochs * self.steps_per_epoch)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "global_batch": self.global_batch, "steps_per_epoch": self.steps_per_epoch,
                "steps": self.steps}


def env_enabled(value: str | None) -> bool:
    """LLaMA-Factory's reading of a flag variable (extras.misc.is_env_enabled)."""
    return (value or "0").lower() in ("true", "y", "1")


def processes(env: Mapping[str, str], gpus: int) -> int:
    """Data-parallel ranks of the trainer that LLaMA-Factory's launcher starts with ``env`` on a
    machine where it sees ``gpus`` GPUs (see the module docstring)."""
    if not (env_enabled(env.get("FORCE_TORCHRUN")) or gpus > 1):
        return 1
    return max(int(env.get("NNODES") or 1), 1) * max(int(env.get("NPROC_PER_NODE") or gpus), 1)


def step_plan(examples: int, cfg: Mapping[str, Any], n_processes: int) -> StepPlan:
    """The plan of a rendered `llamafactory-cli train` config (training.config.build_train_config)
    on ``examples`` records (capped by its ``max_samples``) with ``n_processes`` ranks."""
    def get(key: str) -> Any:
        return HF_DEFAULTS[key] if cfg.get(key) is None else cfg[key]

    cap = cfg.get("max_samples")
    return StepPlan(examples=min(examples, cap) if cap else examples, epochs=float(get("num_train_epochs")),
                    per_device=int(get("per_device_train_batch_size")),
                    grad_accum=int(get("gradient_accumulation_steps")), processes=max(int(n_processes), 1),
                    max_steps=int(cfg.get("max_steps") or 0))


def too_few(plan: StepPlan, floor: int) -> bool:
    """A training that makes steps, but fewer than ``floor`` (0: never warn)."""
    return floor > 0 and 0 < plan.steps < floor


def plan_lines(plan: StepPlan, floor: int, what: str = "training") -> list[str]:
    """The log lines of the plan: one always, and a WARNING under the floor."""
    how = (f"max_steps {plan.max_steps}" if plan.max_steps > 0 else
           f"{plan.epochs:g} epoch(s) x {plan.steps_per_epoch} step(s) per epoch")
    lines = [f"{what}: {plan.steps} optimizer step(s) planned: {plan.examples} examples, global batch "
             f"{plan.global_batch} = {plan.per_device} per device x {plan.grad_accum} accumulation x "
             f"{plan.processes} process(es), {how}"]
    if too_few(plan, floor):
        lines.append(f"WARNING {what}: only {plan.steps} optimizer step(s), under train.min_steps_warning = "
                     f"{floor}: the model will hardly move. Lower the global batch (per_device_train_batch_size, "
                     "gradient_accumulation_steps) or raise num_train_epochs")
    return lines
