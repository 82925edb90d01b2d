"""./lance's launcher (lancekit.pipeline.launcher) and the job environment (lancekit.pipeline.environ)."""

import os
import sys
from pathlib import Path

import pytest

from lancekit.core.paths import REPO, SRC
from lancekit.pipeline import environ, launcher


@pytest.mark.parametrize("args,folder", [
    (["--directory", "/x/run", "-n"], "/x/run"),
    (["--directory=/x/run", "-n"], "/x/run"),          # the spelling the old bash loop missed
    (["-d", "/x/run"], "/x/run"),
    (["--configfile", "a.yaml", "b.yaml", "-d", "rel"], "rel"),
    (["-n", "results/iter0/seed.json"], "."),
])
def test_the_working_directory_is_found_as_snakemake_reads_it(args, folder):
    assert launcher.working_directory(args) == Path(folder)


def test_test_command_runs_the_suite_cheapest_first_or_fast():
    assert launcher.test_argv([])[3:] == list(launcher.TEST_PATHS)
    assert launcher.test_argv(["--fast", "-x"])[3:] == [*launcher.FAST_TEST_PATHS, "-x"]
    assert launcher.test_argv(["tests/unit/test_judge.py", "-q"])[3:] == ["tests/unit/test_judge.py", "-q"]
    assert launcher.TEST_PATHS[:2] == launcher.FAST_TEST_PATHS
    assert all((REPO / p).is_dir() for p in launcher.TEST_PATHS)


CONFIG = {"vllm": {"kvcache_gib": 3}, "resources": {"vllm": {"gpu": 0}}, "env_dir": None}


def test_the_job_environment_is_offline_with_caches_in_the_working_directory(tmp_path):
    env = environ.job_environment(CONFIG, {}, cwd=tmp_path, python="/py", use_conda=False)
    assert env["HF_HUB_OFFLINE"] == "1" and env["HF_HOME"] == str(tmp_path / ".cache" / "huggingface")
    assert env["VLLM_CPU_KVCACHE_SPACE"] == "3" and env["LANCE_PY_MAIN"] == "/py"
    assert env["PYTHONPATH"] == str(SRC) and env["LANCE_SCRIPTS"] == str(REPO / "scripts")
    assert "LANCE_PY_VLLM" not in env and "LANCE_VLLM_FLAVOUR" not in env and "LANCE_ENV_DIR" not in env


def test_what_is_set_outside_wins_but_src_comes_first(tmp_path):
    current = {"HF_HOME": "/mine", "PYTHONPATH": f"/other:{SRC}", "LANCE_PY_VLLM": "/my/vllm"}
    env = environ.job_environment(CONFIG, current, cwd=tmp_path, python=sys.executable, use_conda=False)
    assert "HF_HOME" not in env and "LANCE_PY_VLLM" not in env
    assert env["PYTHONPATH"] == f"{SRC}:/other"


def test_conda_gpus_and_env_dir(tmp_path):
    cfg = {**CONFIG, "resources": {"vllm": {"gpu": 1}}, "env_dir": str(tmp_path / "envs")}
    env = environ.job_environment(cfg, {}, cwd=tmp_path, python="/py", use_conda=True)
    assert env["LANCE_PY_MAIN"] == env["LANCE_PY_VLLM"] == env["LANCE_PY_OPENCOMPASS"] == "python"
    assert env["LANCE_VLLM_FLAVOUR"] == "cuda" and env["LANCE_ENV_DIR"] == str(tmp_path / "envs")


def test_a_deepspeed_config_builds_the_training_environment_with_deepspeed(tmp_path, monkeypatch):
    from lancekit.core import envs

    monkeypatch.setenv("LANCE_ENV_DIR", str(tmp_path))
    on = environ.job_environment({**CONFIG, "train": {"deepspeed": "config/train/ds_z3.json"}}, {}, cwd=tmp_path,
                                 python="/py", use_conda=False)
    off = environ.job_environment(CONFIG, {"LANCE_TRAIN_DEEPSPEED": "1"}, cwd=tmp_path, python="/py",
                                  use_conda=False)
    assert on["LANCE_TRAIN_DEEPSPEED"] == "1" and off["LANCE_TRAIN_DEEPSPEED"] == "0"  # the config decides
    monkeypatch.setenv("LANCE_TRAIN_DEEPSPEED", "0")
    plain = envs.env_path("llamafactory")
    monkeypatch.setenv("LANCE_TRAIN_DEEPSPEED", "1")
    with_ds = envs.env_path("llamafactory")
    assert plain.name.startswith("llamafactory-") and with_ds.name.startswith("llamafactory-deepspeed-")
    assert with_ds != plain and envs.spec_files("llamafactory")[-1] == REPO / "envs/llamafactory-deepspeed.txt"
    assert "deepspeed==" in envs.spec_files("llamafactory")[-1].read_text()
    assert envs.env_path("opencompass") == envs.env_path("opencompass")  # the others do not change
    assert "deepspeed" not in envs.env_path("opencompass").name


def test_an_engine_says_what_its_jobs_ask_of_a_cluster():
    from lancekit.pipeline.wiring import Engine

    cfg = {"resources": {"vllm": {"threads": 4, "gpu": 2, "partition": "gpu", "mem_mb": 9000}}}
    e = Engine("vllm", cfg, runtime=120)
    assert e.threads == 4 and e.resources == {"mem_mb": 9000, "runtime": 120, "gpu": 2, "slurm_partition": "gpu"}
    assert e.ready and e.ready[0].startswith("results/.envs/vllm-") and e.conda.startswith("../../envs/vllm-")
    gres = Engine("vllm", {"resources": {**cfg["resources"], "gpu_request": "gres"}})
    assert gres.resources["gres"] == "gpu:2" and "gpu" not in gres.resources
    assert Engine("main", {"resources": {}}, use_conda=True).ready == []
    assert Engine("main", {"resources": {}}).shell("clean").startswith('"$LANCE_PY_MAIN" "$LANCE_SCRIPTS/clean.py"')
    assert 'py="${{LANCE_PY_OPENCOMPASS:-}}"' in Engine("opencompass", {"resources": {}}).shell("evaluate")


def test_engine_environments_are_built_ahead_only_for_the_integration_tests(monkeypatch, tmp_path):
    started = []
    monkeypatch.setattr(launcher.subprocess, "Popen", lambda argv, **kw: started.append(argv))
    monkeypatch.setattr(launcher.tempfile, "gettempdir", lambda: str(tmp_path))
    assert launcher.build_engines_in_background(["tests/gate", "tests/unit", "-x"]) is None and not started
    log = launcher.build_engines_in_background(list(launcher.TEST_PATHS))
    assert log is not None and log.parent == tmp_path
    assert started and started[0][-3:] == ["vllm", "llamafactory", "opencompass"] and started[0][0] == "nice"


@pytest.mark.parametrize("args,runs", [
    ([], True), (["--cores", "2", "results/report/report.md"], True), (["-j4", "-p"], True),
    (["-n"], False), (["-np"], False), (["--dry-run"], False), (["--detailed-summary"], False),
    (["--configfile", "a.yaml", "-n", "t"], False), (["--unlock"], False), (["--lint=json"], False),
])
def test_only_a_command_that_runs_jobs_takes_or_releases_locks(args, runs):
    assert launcher.runs_jobs(args) is runs


def test_the_run_lock_is_held_by_one_run_at_a_time_and_dropped_with_it(tmp_path):
    (tmp_path / ".snakemake").mkdir()
    first = launcher.hold_run_lock(tmp_path)
    assert first is not None and launcher.hold_run_lock(tmp_path) is None   # flock: per open file
    os.close(first)                                                         # the run ended
    again = launcher.hold_run_lock(tmp_path)
    assert again is not None
    os.close(again)


def test_a_target_after_config_is_refused_with_the_way_to_write_it(capsys):
    assert launcher.misplaced_targets(["--config", "iters=3", "results/report/index.html"]) == [
        "results/report/index.html"]
    assert launcher.misplaced_targets(["-C", "iters=3", "seed.limit=8", "-n", "all"]) == []  # -n ends the list
    assert launcher.misplaced_targets(["all", "--config", "iters=3"]) == []
    assert launcher.misplaced_targets(["--configfile", "config/paper.yaml", "all"]) == []  # a file's value
    assert launcher.main(["--config", "iters=3", "all"]) == 2
    err = capsys.readouterr().err
    assert "all after --config is not KEY=VALUE" in err and "./lance all --config iters=3" in err
