"""The LLaMA-Factory adapter: train one LANCE stage (SFT or DPO) with LLaMA-Factory 0.9.5 and
publish the model atomically (import it only inside the llamafactory environment; scripts/train.py
is its entry point).

- Empty data file: OUT_DIR becomes a copy of IN_DIR, with lance_train.json saying
  "skipped: empty dataset".
- Otherwise, in the work dir OUT_DIR + ".work/": data/<stage>.json + data/dataset_info.json,
  train.yaml, `llamafactory-cli train train.yaml` (list argv, no shell, output streamed to the log);
  with finetuning_type lora also export.yaml and `llamafactory-cli export export.yaml` (merge into a
  full model). The finished model (config, safetensors, tokenizer, chat template, trainer_log.jsonl,
  training_loss*.png, lance_train.json, lance_train_config.yaml) is then moved to OUT_DIR with
  os.replace, trainer_log.jsonl / training_loss.png / lance_train.json are also copied beside OUT_DIR
  as OUT_DIR.<name>, and the work dir is removed (kept on failure, or with --keep-work).
- Checkpoints (train.save_steps) are written in the work dir with the optimizer state. A rerun of
  a killed run finds the work dir of the same training (same start model, data, template and
  settings: a fingerprint in the work dir) and resumes from its last complete checkpoint; a work
  dir of any other training is removed. Checkpoints never reach OUT_DIR. Resume state that cannot
  be read (a torn or empty trainer_state.json, a checkpoint without its weights, a garbage
  train.yaml or fingerprint) is never trusted: the job falls back to the previous complete
  checkpoint, or starts afresh, and says so in the log with the path and the reason
  (lancekit.training.resume). The work dir's own files (train.yaml, the fingerprint) are written
  atomically.
- DPO: start it from the SFT output (--model SFT_DIR); LLaMA-Factory then uses that model as the
  reference model (ref_model is left unset).
- Before it trains, the job prints its optimizer-step plan (lancekit.training.plan) and records it
  in lance_train.json (planned_steps, step_plan), which the report's training table shows.
- Tracking (config ``tracking``, a job param: turning it on reruns no training): LLaMA-Factory's
  ``report_to`` is that tracker, its logs in results/tracking/train/<run>/<stage>
  (TENSORBOARD_LOGGING_DIR; WANDB_DIR, offline unless WANDB_MODE is set; mlflow's file store
  results/tracking/train/mlruns unless MLFLOW_TRACKING_URI is set). Without the tracker's package in
  this environment the job trains without it and says so (lance_train.json ``tracking``).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from collections import deque
from pathlib import Path

import yaml

from ..core.envs import OFFLINE_ENV
from ..core.io import read_jsonl_lenient, write_json, write_text_atomic
from ..core.provenance import model_fingerprint
from .config import (
    TRACKER_PACKAGES,
    build_export_config,
    build_train_config,
    dataset_info_file,
    tracking_dirs,
    tracking_options,
)
from .plan import plan_lines, processes, step_plan, too_few
from .resume import RUN_STAMP, resumable

MODEL_FILES = ("config.json", "tokenizer_config.json")


class TrainError(RuntimeError):
    pass


def count_examples(path: Path) -> int:
    """Number of records in a JSON list (or JSON-lines) data file; 0 for an empty file."""
    text = path.read_text(encoding="utf-8").strip()
    if not text:
        return 0
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return sum(1 for line in text.splitlines() if line.strip())  # JSON lines
    if not isinstance(data, list):
        raise TrainError(f"{path}: expected a JSON list of records, got {type(data).__name__}")
    return len(data)


def accelerator_count() -> int:
    """torch.cuda.device_count() of this env, asked in a child (keeps torch out of this process)."""
    probe = subprocess.run(
        [sys.executable, "-c", "import torch; print(torch.cuda.device_count() if torch.cuda.is_available() else 0)"],
        capture_output=True, text=True, check=False,
    )
    last = probe.stdout.strip().splitlines()[-1:] if probe.returncode == 0 else []
    return int(last[0]) if last and last[0].isdigit() else 0


def has_accelerator() -> bool:
    return accelerator_count() > 0


def cli_path() -> str:
    """llamafactory-cli of the environment running this script (need not be on PATH)."""
    here = Path(sys.executable).parent / "llamafactory-cli"
    if here.exists():
        return str(here)
    found = shutil.which("llamafactory-cli")
    if not found:
        raise TrainError("llamafactory-cli not found: run train.py with the llamafactory env's python")
    return found


def child_env(gpus: int | None = None) -> dict:
    """The trainer's environment. With more than one GPU (the job's, e.g. SLURM's
    CUDA_VISIBLE_DEVICES) LLaMA-Factory's own launcher runs torchrun, one process per GPU
    (FORCE_TORCHRUN, NPROC_PER_NODE); a DeepSpeed config (train.deepspeed) shards the model."""
    env = {**OFFLINE_ENV, **os.environ, "PYTHONUNBUFFERED": "1"}
    # the env's bin first, so that any helper LLaMA-Factory spawns (e.g. torchrun) is the env's
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    gpus = accelerator_count() if gpus is None else gpus
    if gpus > 1:
        env.setdefault("FORCE_TORCHRUN", "1")
        env.setdefault("NNODES", "1")
        env.setdefault("NPROC_PER_NODE", str(gpus))
    return env


def run_streamed(argv: list[str], log, cwd: Path, what: str, log_name: str, env: dict | None = None) -> None:
    """Run argv (no shell), copy its stdout+stderr byte for byte to `log` (tqdm's \\r included)."""
    header = f"\n=== {what}: {' '.join(argv)}  (cwd {cwd})\n".encode()
    log.write(header)
    log.flush()
    tail: deque[bytes] = deque(maxlen=40)
    proc = subprocess.Popen(
        argv, cwd=cwd, env=env or child_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    pending = b""
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        log.write(chunk)
        log.flush()
        pending += chunk
        *lines, pending = pending.replace(b"\r", b"\n").split(b"\n")
        tail.extend(line for line in lines if line.strip())
    proc.stdout.close()
    rc = proc.wait()
    if pending.strip():
        tail.append(pending)
    if rc != 0:
        last = b"\n".join(list(tail)[-15:]).decode(errors="replace")
        raise TrainError(
            f"{what} failed (exit code {rc}); full output in {log_name}. Last lines:\n{last}"
        )


def dpo_metrics(model_dir: Path) -> dict:
    """The last logged DPO metrics (trainer_log.jsonl only has loss and accuracy)."""
    state = model_dir / "trainer_state.json"
    if not state.exists():
        return {}
    history = json.loads(state.read_text(encoding="utf-8")).get("log_history", [])
    logged = [h for h in history if "rewards/margins" in h]
    if not logged:
        return {}
    keys = ("rewards/accuracies", "rewards/margins", "rewards/chosen", "rewards/rejected")
    return {k.replace("/", "_"): logged[-1][k] for k in keys if k in logged[-1]}


def chat_template_of(model_dir: Path) -> str | None:
    jinja = model_dir / "chat_template.jinja"
    if jinja.exists():
        return jinja.read_text(encoding="utf-8")
    cfg = model_dir / "tokenizer_config.json"
    if cfg.exists():
        tmpl = json.loads(cfg.read_text(encoding="utf-8")).get("chat_template")
        if isinstance(tmpl, str):
            return tmpl
    return None


def check_model_dir(model_dir: Path, base_dir: Path) -> dict:
    """The output must load as is in transformers/vLLM: config, weights, tokenizer, chat template."""
    missing = [f for f in MODEL_FILES if not (model_dir / f).exists()]
    if not list(model_dir.glob("*.safetensors")):
        missing.append("*.safetensors")
    if not ((model_dir / "tokenizer.json").exists() or (model_dir / "tokenizer.model").exists()):
        missing.append("tokenizer.json")
    if missing:
        raise TrainError(f"trained model in {model_dir} lacks {missing}")
    base_tmpl, new_tmpl = chat_template_of(base_dir), chat_template_of(model_dir)
    if base_tmpl is not None and new_tmpl is None:
        raise TrainError(f"trained model in {model_dir} lost the chat template of {base_dir}")
    return {"chat_template_unchanged": base_tmpl == new_tmpl}


def publish(src: Path, out: Path, info: dict) -> None:
    """Write lance_train.json into src, move src to out atomically, copy logs beside out."""
    write_json(src / "lance_train.json", info)
    if out.exists() or out.is_symlink():
        if out.is_dir() and not out.is_symlink():
            shutil.rmtree(out)
        else:
            out.unlink()
    out.parent.mkdir(parents=True, exist_ok=True)
    for path in src.iterdir():  # the trainer writes weights 0600; make them readable like the rest
        if path.is_file():
            path.chmod(path.stat().st_mode | 0o444)
    os.replace(src, out)
    for old in [out.parent / f"{out.name}.{n}" for n in ("trainer_log.jsonl", "lance_train.json")] + list(
        out.parent.glob(f"{out.name}.training_*.png")
    ):
        old.unlink(missing_ok=True)  # copies from an earlier run
    beside = ["trainer_log.jsonl", "lance_train.json"] + sorted(p.name for p in out.glob("training_*.png"))
    for name in beside:
        if (out / name).exists():
            shutil.copy2(out / name, out.parent / f"{out.name}.{name}")


STALE = ("lance_train.json", "lance_train_config.yaml", "trainer_log.jsonl", "trainer_state.json",
         "train_results.json", "all_results.json", "training_args.bin")
RUN_FILES = ("trainer_log", "trainer_state", "training_", "train_results", "all_results")


def dump_yaml(path: Path, obj: dict) -> None:
    """Atomic: a kill while train.yaml is rewritten on resume leaves the old one, never half."""
    write_text_atomic(path, yaml.safe_dump(obj, sort_keys=False, allow_unicode=True))


def carry_over(in_dir: Path, dest: Path) -> None:
    """An empty data set: the model goes on unchanged, without the files of its own training."""
    shutil.copytree(in_dir, dest, symlinks=False)
    for name in [*STALE, *(p.name for p in dest.glob("training_*.png"))]:
        (dest / name).unlink(missing_ok=True)


def require_deepspeed(settings: dict) -> None:
    """A DeepSpeed config needs DeepSpeed in this (the training) environment: stop before training."""
    if settings.get("deepspeed") and importlib.util.find_spec("deepspeed") is None:
        raise TrainError(f"train.deepspeed is {settings['deepspeed']!r}, but DeepSpeed is not installed in "
                         f"{sys.prefix}: the workflow builds the training environment with it "
                         "(envs/llamafactory-deepspeed.txt); an interpreter of your own (LANCE_PY_LLAMAFACTORY) "
                         "needs `pip install --no-build-isolation deepspeed==0.16.4`")


def prepare(work: Path, stage: str, in_dir: Path, data: Path, template_file: str, settings: dict) -> dict:
    """The work folder: the data with its dataset_info.json, and train.yaml. Returns the config;
    with LoRA the trainer writes an adapter, merged into work/output by `export`."""
    data_dir = work / "data"
    data_dir.mkdir()
    shutil.copy2(data, data_dir / f"{stage}.json")
    write_json(data_dir / "dataset_info.json", dataset_info_file(stage, f"{stage}.json"))
    template = yaml.safe_load(Path(template_file).read_text(encoding="utf-8")) or {}
    cfg = build_train_config(stage, template, settings, model_path=str(in_dir), dataset_dir=str(data_dir),
                             output_dir=str(work / "output"), use_cpu=not has_accelerator())
    if cfg.get("deepspeed"):  # the trainer runs in the work folder: the config's absolute path
        cfg["deepspeed"] = str(Path(cfg["deepspeed"]).resolve())
    if cfg["finetuning_type"] == "lora":
        cfg["output_dir"] = str(work / "adapter")
    dump_yaml(work / "train.yaml", cfg)
    return cfg


def run_trainer(work: Path, cfg: dict, log: str | None, env: dict | None = None) -> dict | None:
    """`llamafactory-cli train` (and `export` for LoRA), output streamed to `log`, in `env`
    (default: child_env()). Returns the export config, if any."""
    cli = cli_path()
    log_path = Path(log).resolve() if log else None
    if log_path:
        log_path.parent.mkdir(parents=True, exist_ok=True)
    log_name = str(log_path) if log_path else "the output above"
    with open(log_path, "ab") if log_path else contextlib.nullcontext(sys.stdout.buffer) as sink:
        env = env or child_env()
        if env.get("FORCE_TORCHRUN"):
            print(f"training on {env['NPROC_PER_NODE']} GPUs (torchrun)", flush=True)
        run_streamed([cli, "train", str(work / "train.yaml")], sink, work, "llamafactory-cli train", log_name, env)
        if cfg["finetuning_type"] != "lora":
            return None
        adapter = Path(cfg["output_dir"])
        export_cfg = build_export_config(cfg, adapter_dir=str(adapter), export_dir=str(work / "output"))
        dump_yaml(work / "export.yaml", export_cfg)
        run_streamed([cli, "export", str(work / "export.yaml")], sink, work, "llamafactory-cli export", log_name,
                     env)
    for name in os.listdir(adapter):  # trainer logs, plots, results of the adapter run
        if name.startswith(RUN_FILES):
            shutil.copy2(adapter / name, work / "output" / name)
    return export_cfg


def training_facts(final: Path, stage: str) -> dict:
    """Losses, steps and runtime of a finished run, read from the trainer's own files."""
    rows = read_jsonl_lenient(final / "trainer_log.jsonl")
    losses = [r["loss"] for r in rows if isinstance(r.get("loss"), (int, float))]
    results_file = final / "train_results.json"
    results = json.loads(results_file.read_text(encoding="utf-8")) if results_file.exists() else {}
    facts = {"final_loss": losses[-1] if losses else None, "first_loss": losses[0] if losses else None,
             "train_loss": results.get("train_loss"), "train_runtime": results.get("train_runtime"),
             "steps": rows[-1].get("current_steps") if rows else None}
    return {**facts, **(dpo_metrics(final) if stage == "dpo" else {})}


def run_fingerprint(stage: str, in_dir: Path, data: Path, template_file: str, settings: dict) -> str:
    """Everything that decides a training run: a work folder of another run is never resumed."""
    parts = {"stage": stage, "model": model_fingerprint(str(in_dir)),
             "data": hashlib.sha256(data.read_bytes()).hexdigest(),
             "template": Path(template_file).read_text(encoding="utf-8"), "settings": settings}
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def drop_checkpoints(output_dir: Path) -> None:
    for ckpt in output_dir.glob("checkpoint-*"):
        shutil.rmtree(ckpt)


def with_tracking(cfg: dict, env: dict, tracking: str, out: Path, stage: str) -> tuple[dict, dict, dict | None]:
    """`cfg` and `env` with config ``tracking`` applied, and what lance_train.json records of it;
    a tracker whose package this environment lacks is left off with a WARNING."""
    if tracking not in ("none", *TRACKER_PACKAGES):
        raise TrainError(f"tracking: {tracking!r} is not one of none, {', '.join(TRACKER_PACKAGES)}")
    if tracking != "none" and importlib.util.find_spec(TRACKER_PACKAGES[tracking]) is None:
        note = (f"tracking: {tracking}: the {TRACKER_PACKAGES[tracking]} package is not installed in "
                f"{sys.prefix}: this job trains without it (add it to envs/llamafactory.txt)")
        print(f"WARNING: {note}", flush=True)
        return {**cfg, "report_to": "none"}, env, {"backend": tracking, "dir": None, "note": note}
    log_dir, shared = tracking_dirs(out, stage)
    keys, env = tracking_options(tracking, log_dir, shared, log_dir.relative_to(shared).as_posix(), env)
    cfg = {k: v for k, v in cfg.items() if k != "run_name"} | keys
    if tracking == "none":
        return cfg, env, None
    log_dir.mkdir(parents=True, exist_ok=True)
    return cfg, env, {"backend": tracking, "dir": str(log_dir)}


def train(stage: str, model: str, data: str, out: str, template_file: str, settings: dict,
          log: str | None = None, keep_work: bool = False, min_steps: int = 0, tracking: str = "none") -> dict:
    """Train `stage` from `model` on `data` into `out` (see the module docstring); the optimizer
    steps it plans are printed first, with a WARNING under `min_steps` (0: never); ``tracking``:
    config ``tracking``, the trainer's report_to."""
    in_dir, data, out = Path(model).resolve(), Path(data).resolve(), Path(out).resolve()
    work, t0 = Path(str(out) + ".work"), time.time()
    if not (in_dir / "config.json").exists():
        raise TrainError(f"--model {in_dir}: no config.json, not a model directory")
    n = count_examples(data)
    info = {"stage": stage, "skipped": False, "reason": None, "n_examples": n, "base_model": str(in_dir),
            "data": str(data), "seconds": None, "final_loss": None, "resumed_from": None}
    fingerprint = run_fingerprint(stage, in_dir, data, template_file, settings)
    state = resumable(work, fingerprint) if n and work.exists() else None
    if work.exists() and state is None:
        shutil.rmtree(work)  # an earlier run of other data or settings, or one without a usable checkpoint
    final = work / "output"
    if n == 0:
        work.mkdir(parents=True)
        carry_over(in_dir, final)
        info.update(skipped=True, reason="skipped: empty dataset", seconds=round(time.time() - t0, 1))
        publish(final, out, info)
        shutil.rmtree(work)
        return info
    require_deepspeed(settings)
    if state is None:
        work.mkdir(parents=True)
        cfg = prepare(work, stage, in_dir, data, template_file, settings)
        write_text_atomic(work / RUN_STAMP, fingerprint + "\n")  # last: the work folder is complete
    else:
        resume, cfg = state
        cfg["resume_from_checkpoint"] = str(resume)
        dump_yaml(work / "train.yaml", cfg)
        info["resumed_from"] = resume.name
        print(f"resuming the killed {stage} run from {resume}", flush=True)
    gpus = accelerator_count()
    cfg, env, tracked = with_tracking(cfg, child_env(gpus), tracking, out, stage)
    if tracked:
        info["tracking"] = tracked
    dump_yaml(work / "train.yaml", cfg)
    plan = step_plan(n, cfg, processes(env, gpus))
    info.update(planned_steps=plan.steps, step_plan=plan.as_dict(), few_steps=too_few(plan, min_steps))
    for line in plan_lines(plan, min_steps, f"train {stage}"):
        print(line, flush=True)
    export_cfg = run_trainer(work, cfg, log, env)
    drop_checkpoints(Path(cfg["output_dir"]))
    cfg.pop("resume_from_checkpoint", None)
    info.update(check_model_dir(final, in_dir))
    info.update(training_facts(final, stage), finetuning_type=cfg["finetuning_type"], template=cfg["template"],
                reference_model=str(in_dir) if stage == "dpo" else None,
                llamafactory_config={"train": cfg, "export": export_cfg}, seconds=round(time.time() - t0, 1))
    dump_yaml(final / "lance_train_config.yaml", cfg)
    publish(final, out, info)
    if not keep_work:
        shutil.rmtree(work)
    return info
