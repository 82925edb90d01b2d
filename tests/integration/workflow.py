"""Running the real workflow from tests: Snakemake in a scratch working directory."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_snakemake(workdir: Path, configfile: str, *targets: str, extra: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    argv = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "workflow/Snakefile"),
            "--directory", str(workdir), "--configfile", str(ROOT / "config/config.yaml"), str(ROOT / configfile),
            "--cores", "all", "--printshellcmds", *extra, *targets]
    env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONPATH=str(ROOT / "src"))
    proc = subprocess.run(argv, cwd=workdir, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    # keep the whole output for a failed run: pytest shows it
    (workdir / "snakemake.out").write_text(proc.stdout)
    if proc.returncode != 0:
        raise AssertionError(f"snakemake failed ({proc.returncode}):\n{proc.stdout[-15000:]}")
    return proc


def load(p: Path):
    return json.loads(p.read_text())
