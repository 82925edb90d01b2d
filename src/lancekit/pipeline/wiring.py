"""How a rule is wired, the parts every rule file of workflow/rules/ shares:

- `job_spec`: the one way each stage hands its job to its script (scripts/_cli.py, load_job): the
  rule's named input and output, its wildcards and values derived from them, as one JSON argument;
- `train_settings`, `train_job`: the settings and job params of the training rules (each job's
  own `train` settings, per method and iteration: lancekit.training.settings);
- `Engine`: what a rule that runs in one environment needs of it, said once per rule by naming it
  (its interpreter and command line, its conda file, threads and cluster resources).
"""

from __future__ import annotations

import json
from collections.abc import Callable

from ..core import envs
from ..training.settings import stage_settings


def as_json(obj) -> str:
    return json.dumps(obj, sort_keys=True)


def named(namedlist) -> dict:
    """A rule's named inputs or outputs as plain JSON: one path, a list of paths, or None."""
    out = {}
    for name, value in namedlist.items():
        if isinstance(value, (list, tuple)):
            value = [str(v) for v in value]
            value = value[0] if len(value) == 1 else (value or None)
        out[name] = None if value is None else (value if isinstance(value, list) else str(value))
    return out


def job_spec(**derived):
    """The `job` param of a rule: its named input and output, its wildcards and values derived
    from them (functions of the wildcards, e.g. the generator model of iteration t), as one JSON
    argument. Paths are written once, in the rule. Settings go in a separate, plain `settings`
    param: Snakemake records only plain params, so only those can trigger a rerun when the config
    changes."""

    def spec(wildcards, input, output):
        params = {k: (v(wildcards) if callable(v) else v) for k, v in derived.items()}
        # a gather's shard files are found by name (the shard_dir param), not listed: no long commands
        named_inputs = {k: v for k, v in input.items() if k != "shards"}
        return as_json({"input": named(named_inputs), "output": named(output),
                        "wildcards": dict(wildcards.items()), "params": params})

    return spec


def train_settings(config: dict, stage: str, path: Callable[[str], str], model: dict):
    """The `settings` param of a training rule (lancekit.training.settings): M_0's job reads
    `train` alone, a method's job also that method's block (train.methods) at its iteration, so a
    change of the block reruns that method's jobs only; ``model``: what every engine stage reads
    of `model`; ``path`` resolves a DeepSpeed file. A replicate's rule (wildcard ``s``) sets the
    trainer's seed to s."""

    def settings(wildcards) -> str:
        method, t = getattr(wildcards, "method", None), getattr(wildcards, "t", None)
        seed = getattr(wildcards, "s", None)  # a training-seed replicate's rule (train.seeds)
        s = stage_settings(config, stage, method, None if t is None else int(t), path=path,
                           seed=None if seed is None else int(seed))
        return as_json({"stage": stage, "train": s, **model})

    return settings


def train_job(config: dict, start):
    """The `job` param of a training rule: its start model, and what changes no output (the
    checkpoints, the floor under which its step plan warns, the tracker it logs to)."""
    t = config["train"]
    return job_spec(start=start, save_steps=t["save_steps"], min_steps_warning=t["min_steps_warning"],
                    tracking=config.get("tracking", "none"))


def env_stamp(name: str) -> str:
    """results/.envs/<env>.ready: written once the environment's venv (named by its pins) is built."""
    return f"results/.envs/{envs.env_path(name).name}.ready"


class Engine:
    """What a rule that runs in the environment `name` needs of it (config ``resources.<name>``):

    - `ready`: an input that has the venv built first (nothing under --sdm conda, where Snakemake
      builds the conda env itself; the rule file wraps it in ancient(): building or rebuilding a
      venv reruns no stage);
    - `conda`: its conda file (envs/*.yaml; environment.yml for the main one);
    - `threads`, `resources`: what a cluster scheduler needs of its jobs (memory, minutes, GPUs as
      `gpu` (--gpus, with `gpu_model`: --gpus=<model>:N) or `gres` (--gres=gpu[:<model>]:N) as
      resources.gpu_request says, its own partition, node features as `constraint`);
    - `shell(script)`: the command line of a stage; one that asks for GPUs runs on GPUs of its own
      (lancekit.core.gpus: CUDA_VISIBLE_DEVICES from the machine's pool, under SLURM as SLURM set it).
    """

    def __init__(self, name: str, config: dict, *, use_conda: bool = False, runtime: int = 60):
        self.name = name
        own = (config["resources"].get(name) or {})
        self.ready = [] if use_conda else [env_stamp(name)]
        self.conda = "../../environment.yml" if name == "main" else f"../../envs/{envs.env_name(name)}.yaml"
        self.threads = own.get("threads", 8)
        self.resources = {"mem_mb": own.get("mem_mb", 16000), "runtime": own.get("runtime", runtime)}
        gpus, model = int(own.get("gpu", 0)), own.get("gpu_model")
        self.gpus = gpus
        self.gres = config["resources"].get("gpu_request", "gpu") == "gres"
        if self.gres:
            if gpus:
                self.resources["gres"] = f"gpu:{model}:{gpus}" if model else f"gpu:{gpus}"
        else:
            self.resources["gpu"] = gpus
            if model and gpus:
                self.resources["gpu_model"] = model
        if own.get("partition"):
            self.resources["slurm_partition"] = own["partition"]
        if own.get("constraint"):
            self.resources["constraint"] = own["constraint"]

    def shell(self, script: str, gpus: bool = True) -> str:
        """The engine's interpreter runs scripts/<script>.py on the job (params.job) and the
        stage's settings (params.settings), teeing its output to the log. The interpreter is
        $LANCE_PY_<ENV> when set, else found on the machine that runs the job
        (scripts/setup_env.py: the vLLM flavour there, the environment built if missing).
        ``gpus=False``: a rule that asks for none of the engine's GPUs (no `resources`), so it is
        pinned to none."""
        run = f'"$LANCE_SCRIPTS/{script}.py" {{params.job:q}} {{params.settings:q}} 2>&1 | tee {{log:q}}'
        if self.name == "main":
            return f'{self.pin(gpus)}"$LANCE_PY_MAIN" {run}'
        var = f"LANCE_PY_{self.name.upper()}"
        find = (f'py="${{{{{var}:-}}}}"; '
                f'[ -n "$py" ] || py=$("$LANCE_PY_MAIN" "$LANCE_SCRIPTS/setup_env.py" {self.name}); ')
        return f'{find}{self.pin(gpus)}"$py" {run}'

    def pin(self, gpus: bool = True) -> str:
        """What runs the stage on GPUs of its own when it asks for some (config
        resources.<name>.gpu): lancekit.core.gpus locks that many free ids of this machine and sets
        CUDA_VISIBLE_DEVICES, so shards that run side by side never share one. Snakemake reruns a
        job whose command line changed, so the line names the job's own resource, not the number:
        asking for more or fewer GPUs reruns nothing. With none the line is as it always was."""
        if not (gpus and self.gpus):
            return ""
        count = "{resources.gres:q}" if self.gres else "{resources.gpu:q}"
        return f'"$LANCE_PY_MAIN" -m lancekit.core.gpus --gpus {count} --engine {self.name} -- '
