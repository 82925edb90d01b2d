"""What ./lance runs once the main environment exists (./lance only finds or builds it):

    ./lance [snakemake options] [targets]   the pipeline: Snakemake with the shipped defaults
    ./lance test [--fast] [pytest options]  the tests (--fast: the gate and the unit tests only); with the
                                            integration tests, the engines' environments are built in
                                            the background while the cheap tests run
    ./lance envs                            build every engine environment now
    ./lance plan [--configfile F] [--device D]  what the run will cost: tokens, GPU-hours, wall time
                                            per stage per iteration (scripts/plan.py)

Snakemake's own options are Snakemake's: nothing here re-parses them but to find the working
directory (``--directory``/``-d``), with Snakemake's own parser. Note that ``--configfile`` and
``--config`` take several values, so a target after them is read as one of their values: put
targets first, or write ``--configfile=FILE`` (one value) or end the list with another option.

A run that was killed (kill -9, a lost terminal) leaves Snakemake's lock behind and the next run
would refuse to start. Every ./lance run that runs jobs holds an exclusive ``flock`` on
``.snakemake/lance.lock`` for its whole life (Snakemake inherits the open file); the kernel
drops it when the run dies, however it dies. The next run that gets that lock knows no ./lance
run is alive there, so Snakemake's lock is stale and is released first; one that does not get it
leaves Snakemake's lock alone (Snakemake then refuses to start, as it should). A dry run or a
summary (``-n``, ``--summary``, ...) runs no job: it neither takes nor releases anything.
"""

from __future__ import annotations

import fcntl
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


def misplaced_targets(args: list[str]) -> list[str]:
    """The values after ``--config``/``-C`` that are not KEY=VALUE: targets written after it,
    which Snakemake would read as config entries and refuse with a bare ValueError."""
    out, in_config = [], False
    for a in args:
        if a.startswith("-"):
            in_config = a in ("--config", "-C")
        elif in_config and "=" not in a:
            out.append(a)
    return out


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


# options with which Snakemake runs no job (and takes no lock of its own)
NO_JOB_OPTIONS = {"-n", "--dry-run", "--dryrun", "--dry_run", "-S", "--summary", "-D", "--detailed-summary",
                  "--list", "-l", "--list-rules", "--list-target-rules", "--lt", "--list-changes", "--lc",
                  "--list-input-changes", "--li", "--list-params-changes", "--lp", "--list-code-changes",
                  "--list-untracked", "--lint", "--dag", "--rulegraph", "--filegraph", "--d3dag", "--unlock",
                  "--report", "--containerize", "--export-cwl", "--print-compilation", "--version", "-v",
                  "--help", "-h"}


def runs_jobs(args: list[str]) -> bool:
    """Whether a Snakemake command line runs jobs: none of NO_JOB_OPTIONS (``--opt=value`` too),
    and no short-option cluster with ``n`` (``-np``)."""
    for a in args:
        if a.split("=", 1)[0] in NO_JOB_OPTIONS:
            return False
        if a.startswith("-") and not a.startswith("--") and a[1:].isalpha() and "n" in a[1:]:
            return False
    return True


def hold_run_lock(directory: Path) -> int | None:
    """An exclusive flock on ``.snakemake/lance.lock`` held by this process and, through exec, by
    Snakemake until it ends; the file descriptor, or None when a live ./lance run holds it."""
    fd = os.open(directory / ".snakemake" / "lance.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    os.set_inheritable(fd, True)  # Snakemake (exec) keeps it, and with it the lock
    return fd


def release_stale_lock(directory: Path, run_lock: int | None) -> bool:
    """Release the lock a killed ./lance run left in ``directory`` when this run holds the run
    lock (``run_lock``: so no other ./lance run is alive there); True when one was released."""
    locks = directory / ".snakemake" / "locks"
    if run_lock is None or not (locks.is_dir() and any(locks.iterdir())):
        return False
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
    if args[:1] == ["plan"]:
        os.execv(sys.executable, [sys.executable, str(REPO / "scripts" / "plan.py"), *args[1:]])
    if args[:1] == ["envs"]:
        os.execv(sys.executable, [sys.executable, "-m", "snakemake", "--cores", "all", "envs", *args[1:]])
    if wrong := misplaced_targets(args):
        print(f"./lance: {' '.join(wrong)} after --config is not KEY=VALUE (Snakemake would read it as a "
              f"config entry): put targets first, e.g. ./lance {wrong[0]} --config iters=3", file=sys.stderr)
        return 2
    if runs_jobs(args):
        directory = working_directory(args)
        (directory / ".snakemake").mkdir(parents=True, exist_ok=True)
        release_stale_lock(directory, hold_run_lock(directory))
    # exec: Snakemake keeps this process, and the run lock's open file with it
    os.execv(sys.executable, [sys.executable, "-m", "snakemake", *args])


if __name__ == "__main__":
    sys.exit(main())
