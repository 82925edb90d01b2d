"""One machine, several GPUs, no cluster scheduler: each job gets GPUs of its own (standard library only).

Snakemake's ``--resources gpu=N`` caps how many GPUs the running jobs ask for together (each
engine rule's ``resources: gpu``, config ``resources.<engine>.gpu``), but it hands out no device
ids. So every job that asks for GPUs runs through this module (lancekit.pipeline.wiring.Engine.shell):

    python -m lancekit.core.gpus --gpus N [--engine NAME] -- COMMAND [ARGS...]

It takes an exclusive ``flock`` on N free ids of the pool (one file each under
``.snakemake/lance-gpus/`` in the working directory) and execs the command with
``CUDA_VISIBLE_DEVICES`` set to them. The command inherits the locked files, so the locks last as
long as the job and any process of it that outlives it, and the kernel drops them however it dies
(kill -9 too): no GPU is ever given to two running jobs, whatever was scheduled. A job that finds
too few free ids waits for them (with ``--resources gpu`` it never has to). The ids are taken
under one lock on the pool, all or none, so two waiting jobs never hold part of what the other needs.

The pool: the ids in ``CUDA_VISIBLE_DEVICES`` when the user set it, else the GPUs ``nvidia-smi``
lists (in its order: ``CUDA_DEVICE_ORDER=PCI_BUS_ID`` unless set). The command runs unchanged
(no lock, ``CUDA_VISIBLE_DEVICES`` as it was) when it asks for none, when there is none, and
inside a SLURM job (``SLURM_JOB_ID``): there SLURM pins each job's GPUs itself, and renumbers
them from 0 in every job, so locks by id would only make jobs on different GPUs wait for each
other. ``LANCE_GPU_POOL=local`` says otherwise: ./lance runs inside one SLURM allocation (an
interactive ``salloc``) and shares its GPUs out itself.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import re
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

LOCK_DIR = Path(".snakemake") / "lance-gpus"


def under_slurm(env: Mapping[str, str]) -> bool:
    """Whether SLURM, not this module, pins the job's GPUs (see the module docstring)."""
    return bool(env.get("SLURM_JOB_ID")) and env.get("LANCE_GPU_POOL") != "local"


def visible_ids(value: str) -> list[str]:
    """The ids of a CUDA_VISIBLE_DEVICES value (indices or UUIDs), as CUDA reads it: up to the
    first invalid one (``-1`` hides every GPU)."""
    ids = []
    for item in value.split(","):
        item = item.strip()
        if not item or item.startswith("-"):
            break
        ids.append(item)
    return ids


def nvidia_smi_ids() -> list[str]:
    """The GPU indices nvidia-smi lists; none when it is missing or fails (a machine without GPUs)."""
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=index", "--format=csv,noheader"], text=True,
                             capture_output=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired):
        return []
    if out.returncode != 0:
        print(f"lance: nvidia-smi failed ({out.stderr.strip()[:200]}): the job runs with the GPUs it sees",
              file=sys.stderr, flush=True)
        return []
    return [line.strip() for line in out.stdout.splitlines() if line.strip()]


def pool(env: Mapping[str, str]) -> list[str]:
    """The GPU ids jobs are given from: the user's CUDA_VISIBLE_DEVICES, else nvidia-smi's."""
    if "CUDA_VISIBLE_DEVICES" in env:
        return visible_ids(env["CUDA_VISIBLE_DEVICES"])
    return nvidia_smi_ids()


def lock_file(lock_dir: Path, gpu: str) -> Path:
    """The lock of one id (a UUID may hold characters a file name should not)."""
    return lock_dir / f"gpu-{re.sub(r'[^A-Za-z0-9._-]', '_', gpu)}.lock"


def try_take(n: int, ids: list[str], lock_dir: Path) -> list[tuple[str, int]] | None:
    """N free ids of ``ids`` with their locked file descriptors, or None (and nothing held)."""
    got: list[tuple[str, int]] = []
    for gpu in ids:
        fd = os.open(lock_file(lock_dir, gpu), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        got.append((gpu, fd))
        if len(got) == n:
            return got
    for _, fd in got:
        os.close(fd)
    return None


def acquire(n: int, ids: list[str], lock_dir: Path, *, poll: float = 1.0) -> list[tuple[str, int]]:
    """Wait until N ids of ``ids`` are free and lock them: [(id, fd)]. Each fd holds its id's
    lock until every process that has it open closes it (or dies). The ids are taken all at once
    under the pool's own lock, so that no job holds some while it waits for more."""
    lock_dir.mkdir(parents=True, exist_ok=True)
    waited = False
    while True:
        with open(lock_dir / "pool.lock", "a") as guard:  # closed (unlocked) before the job starts
            fcntl.flock(guard, fcntl.LOCK_EX)
            got = try_take(n, ids, lock_dir)
        if got is not None:
            for _, fd in got:  # who holds it, for a person who looks
                os.ftruncate(fd, 0)
                os.write(fd, f"{os.getpid()}\n".encode())
            return got
        if not waited:
            print(f"lance: waiting for {n} free GPU(s) of {','.join(ids)} (the others' locks: {lock_dir}/)",
                  file=sys.stderr, flush=True)
            waited = True
        time.sleep(poll)


def pinned_env(n: int, env: Mapping[str, str], lock_dir: Path, *, engine: str = "<engine>",
               poll: float = 1.0) -> tuple[dict[str, str], list[int]]:
    """The job's environment and the lock fds to keep open: CUDA_VISIBLE_DEVICES set to N
    locked ids of the pool, or the environment as it was when there is nothing to pin."""
    env = dict(env)
    if n <= 0 or under_slurm(env):
        return env, []
    from_smi = "CUDA_VISIBLE_DEVICES" not in env
    ids = pool(env)
    if not ids:
        return env, []
    if n > len(ids):
        raise SystemExit(f"lance: the job asks for {n} GPUs (config resources.{engine}.gpu) but this "
                         f"machine's pool (CUDA_VISIBLE_DEVICES, else nvidia-smi) has {len(ids)}: {','.join(ids)}")
    got = acquire(n, ids, lock_dir, poll=poll)
    env["CUDA_VISIBLE_DEVICES"] = ",".join(gpu for gpu, _ in got)
    if from_smi:
        env.setdefault("CUDA_DEVICE_ORDER", "PCI_BUS_ID")  # the ids as nvidia-smi numbers them
    return env, [fd for _, fd in got]


def gpu_count(value: str) -> int:
    """N of ``N`` or of a gres ``gpu[:model]:N`` (the job's resource, as the rule names it)."""
    return int(value.rsplit(":", 1)[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m lancekit.core.gpus",
                                     description="run a command on GPUs of its own (module docstring)")
    parser.add_argument("--gpus", type=gpu_count, required=True,
                        help="how many GPUs the command needs: N, or a SLURM gres (gpu[:model]:N)")
    parser.add_argument("--engine", default="<engine>", help="the engine, named in errors (resources.<engine>.gpu)")
    parser.add_argument("--lock-dir", type=Path, default=LOCK_DIR)
    argv = list(sys.argv[1:] if argv is None else argv)
    split = argv.index("--") if "--" in argv else len(argv)
    a, command = parser.parse_args(argv[:split]), argv[split + 1:]  # the command's own options stay its own
    if not command:
        parser.error("no command given: ... -- COMMAND [ARGS...]")
    env, fds = pinned_env(a.gpus, os.environ, a.lock_dir, engine=a.engine)
    for fd in fds:
        os.set_inheritable(fd, True)  # the job keeps the locks: they go when it goes
    if fds:
        print(f"lance: this job runs on GPU(s) {env['CUDA_VISIBLE_DEVICES']} (CUDA_VISIBLE_DEVICES)",
              file=sys.stderr, flush=True)
    os.execvpe(command[0], command, env)


if __name__ == "__main__":
    main()
