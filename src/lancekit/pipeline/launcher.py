"""What ./lance runs once the main environment exists (./lance only finds or builds it):

    ./lance [snakemake options] [targets]   the pipeline: Snakemake with the shipped defaults
    ./lance test [--fast] [pytest options]  the tests (--fast: the gate and the unit tests only); with the
                                            integration tests, the engines' environments are built in
                                            the background while the cheap tests run
    ./lance envs                            build every engine environment now

Snakemake's own options are Snakemake's: nothing here re-parses them but to find the working
directory (``--directory``/``-d``), with Snakemake's own parser. Note that ``--configfile`` and
``--config`` take several values, so a target after them is read as one of their values: put
targets first, or write ``--configfile=FILE`` (one value) or end the list with another option.

A run that was killed (kill -9, a lost terminal) leaves Snakemake's lock behind and the next run
would refuse to start: when the last run started by ./lance in that directory is no longer
alive, its lock is released first.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from ..core import envs
from ..core.paths import REPO, with_src

# the test suite in the order it runs: cheapest first (tests/conftest.py keeps the order)
TEST_PATHS = ("tests/gate", "tests/unit", "tests/reruns", "tests/integration")
FAST_TEST_PATHS = ("tests/gate", "tests/unit")


def working_directory(args: list[str]) -> Path:
    """The folder a Snakemake command line runs in (its --directory / -d, else here), found by
    Snakemake's own argument parser, so that every spelling it accepts (``--directory=DIR``,
    ``-d DIR``, ``-dDIR``) is understood."""
    if not any(a.startswith(("-d", "--d")) for a in args):
        return Path(".")  # no option that could be it (and no second of Snakemake's start-up)
    from snakemake.cli import get_argument_parser

    parsed, _ = get_argument_parser().parse_known_args(args)
    return Path(parsed.directory or ".")


def test_argv(args: list[str]) -> list[str]:
    """pytest's command line for ``./lance test [--fast] [pytest options]``."""
    fast = "--fast" in args
    rest = [a for a in args if a != "--fast"]
    if not any(not a.startswith("-") for a in rest):  # no paths given: the whole suite (or --fast)
        rest = [*(FAST_TEST_PATHS if fast else TEST_PATHS), *rest]
    return [sys.executable, "-m", "pytest", *rest]


def build_engines_in_background(args: list[str]) -> Path | None:
    """When the tests to run include the integration tests, build the engines' environments in the
    background while the cheap tests run (the integration run would build them first thing; a job
    that needs one waits for the build under its lock, lancekit.core.envs.ensure). Returns the log."""
    paths = [a for a in args if not a.startswith("-")]
    if not any("integration" in p for p in paths):
        return None
    log = Path(tempfile.gettempdir()) / f"lance-envs-{os.getpid()}.log"
    with open(log, "w") as out:
        subprocess.Popen(["nice", "-n", "10", sys.executable, str(REPO / "scripts" / "setup_env.py"), *envs.ENGINES],
                         stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                         env=dict(os.environ, PYTHONPATH=with_src(os.environ.get("PYTHONPATH"))))
    print(f"lance: building the engine environments in the background (log {log})", file=sys.stderr, flush=True)
    return log


def release_stale_lock(directory: Path) -> bool:
    """Release the lock a killed ./lance run left in ``directory``; True when one was released."""
    snakemake_dir = directory / ".snakemake"
    locks = snakemake_dir / "locks"
    if not (locks.is_dir() and any(locks.iterdir())):
        return False
    try:
        last = int((snakemake_dir / "lance.pid").read_text().strip())
        os.kill(last, 0)
        return False  # the run that holds it is alive
    except (OSError, ValueError):
        pass
    print("lance: releasing the lock left by a killed run", file=sys.stderr, flush=True)
    subprocess.run([sys.executable, "-m", "snakemake", "--unlock", "--cores", "1", "-q", "--directory",
                    str(directory)], check=True, stdout=subprocess.DEVNULL)
    return True


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    os.chdir(REPO)
    if args[:1] == ["test"]:
        argv = test_argv(args[1:])
        build_engines_in_background(argv[3:])
        os.execv(sys.executable, argv)
    if args[:1] == ["envs"]:
        os.execv(sys.executable, [sys.executable, "-m", "snakemake", "--cores", "all", "envs", *args[1:]])
    directory = working_directory(args)
    (directory / ".snakemake").mkdir(parents=True, exist_ok=True)
    release_stale_lock(directory)
    (directory / ".snakemake" / "lance.pid").write_text(f"{os.getpid()}\n")
    # exec: Snakemake keeps this pid, the one lance.pid names
    os.execv(sys.executable, [sys.executable, "-m", "snakemake", *args])


if __name__ == "__main__":
    sys.exit(main())
