"""Running the real workflow from tests: the README's ./lance in a scratch working directory,
straight through or killed with kill -9 at chosen moments and run again."""

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "tests/integration/e2e.yaml"


# Two jobs at a time, each with the 2 threads e2e.yaml gives every engine: most of a job of this
# tiny run is Python starting and importing (one core), so two side by side keep both cores busy.
# OpenMP threads wait passively, so that two jobs' threads on the same cores do not spin against
# each other (two vLLM engines side by side: 26.8 s for what takes 37.4 s one after the other this
# way, and 34.7 s one after the other with spinning threads).
CORES = "4"
SIDE_BY_SIDE = {"OMP_WAIT_POLICY": "PASSIVE", "KMP_BLOCKTIME": "0"}


def lance_argv(workdir: Path, *args: str, configfile: Path = CONFIG) -> list[str]:
    return [str(ROOT / "lance"), "--directory", str(workdir), "--configfile", str(configfile),
            "--cores", CORES, "--printshellcmds", *args]


def _env() -> dict:
    return ({k: v for k, v in os.environ.items() if not k.startswith("LANCE_PY_")}
            | {"PYTHONUNBUFFERED": "1"} | SIDE_BY_SIDE)


def run_lance(workdir: Path, *args: str, configfile: Path = CONFIG, log: str = "snakemake.out",
              env: dict | None = None):
    """./lance to the end; the whole output is kept in the working directory (pytest shows the
    tail of a failed run)."""
    with open(workdir / log, "w") as out:
        proc = subprocess.run(lance_argv(workdir, *args, configfile=configfile), cwd=ROOT, env=_env() | (env or {}),
                              text=True, stdout=out, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        raise AssertionError(f"./lance failed ({proc.returncode}):\n{(workdir / log).read_text()[-15000:]}")
    return proc


def run_until(workdir: Path, moment: Callable[[], bool], log: str, *targets: str, whole_group: bool = True,
              timeout: float = 1800) -> None:
    """./lance (towards `targets`, else everything) until `moment()` is true, then kill -9: the
    whole process group (Snakemake and the job it runs: a lost node), or Snakemake alone (its job
    runs on, orphaned, to its end)."""
    with open(workdir / log, "w") as out:
        proc = subprocess.Popen(lance_argv(workdir, *targets), cwd=ROOT, env=_env(), stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + timeout
        while not moment():
            if proc.poll() is not None:
                raise AssertionError(f"the run ended before the kill:\n{(workdir / log).read_text()[-8000:]}")
            if time.time() > deadline:
                os.killpg(proc.pid, signal.SIGKILL)
                raise AssertionError(f"the moment to kill never came:\n{(workdir / log).read_text()[-8000:]}")
            time.sleep(0.1)
        if whole_group:
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        while True:  # what is left of the group (an orphaned job) ends on its own
            try:
                os.killpg(proc.pid, 0)
            except ProcessLookupError:
                break
            if time.time() > deadline:
                os.killpg(proc.pid, signal.SIGKILL)
            time.sleep(0.5)


def load(p: Path):
    return json.loads(p.read_text())


def opencompass_python() -> str:
    """The OpenCompass environment's interpreter (built if missing), for tests that run code in it."""
    out = subprocess.run([sys.executable, str(ROOT / "scripts/setup_env.py"), "opencompass"], cwd=ROOT,
                         env=dict(os.environ, PYTHONPATH=str(ROOT / "src")), text=True,
                         capture_output=True, check=True)
    return out.stdout.strip().splitlines()[-1]
