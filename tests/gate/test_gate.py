"""The fast gate, run first by `./lance test` (well under a minute): lint, format, and a dry run
of every shipped config, plus the config mistakes that must stop a run before any job."""

import os
import subprocess
import sys

import pytest
import yaml

from lance_testing import ROOT

SNAKEMAKE = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "workflow" / "Snakefile")]


def run(argv, cwd=ROOT, **kw):
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    return subprocess.run(argv, cwd=cwd, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **kw)


def test_ruff():
    out = run([sys.executable, "-m", "ruff", "check", "src", "scripts", "tests", "benchmarks"])
    assert out.returncode == 0, out.stdout


def test_snakefmt():
    out = run([sys.executable, "-m", "snakefmt", "--check", "workflow"])
    assert out.returncode == 0, out.stdout


def test_snakemake_lint():
    out = run([*SNAKEMAKE, "--lint"])
    assert out.returncode == 0 and "Congratulations" in out.stdout, out.stdout[-4000:]


def dry_run(tmp_path, *configs, config=None):
    files = [str(ROOT / c) for c in configs]
    if config:
        (tmp_path / "extra.yaml").write_text(yaml.safe_dump(config))
        files.append(str(tmp_path / "extra.yaml"))
    return run([*SNAKEMAKE, "--directory", str(tmp_path), "-n", "--cores", "1",
                *(["--configfile", *files] if files else [])], cwd=tmp_path)


SHIPPED_SEED = str(ROOT / "data" / "seed" / "lance_seed.json")


@pytest.mark.parametrize("configs,config,jobs", [
    ((), None, {"train_sft": 4, "train_dpo": 3, "evaluate": 5, "review_seed": 3}),
    (("config/paper.yaml",), {"seed": {"path": SHIPPED_SEED}}, {"train_sft": 5, "train_dpo": 4, "evaluate": 6}),
    (("tests/integration/e2e.yaml",), None, {"train_sft": 2, "train_dpo": 1, "evaluate": 3}),
    # M_0 is a hub model itself: nothing trains it, nothing downloads it
    ((), {"model": {"base": "Qwen/Qwen2-0.5B"}, "train": {"m0": False}, "iters": 1},
     {"train_sft": 1, "evaluate": 3, "prepare_base_model": 0}),
    # no iteration: base and M_0 are trained and evaluated, and the report shows them
    ((), {"iters": 0}, {"train_sft": 1, "evaluate": 2, "review_seed": 0, "report": 1}),
])
def test_shipped_configs_dry_run(tmp_path, configs, config, jobs):
    out = dry_run(tmp_path, *configs, config=config)
    assert out.returncode == 0, out.stdout[-4000:]
    stats = out.stdout[out.stdout.index("Job stats:"):]
    for rule, n in jobs.items():
        found = [line.split() for line in stats.splitlines() if line.split()[:1] == [rule]]
        assert (int(found[0][1]) if found else 0) == n, (rule, stats[:1500])


@pytest.mark.parametrize("config,message", [
    ({"split_threshold": 11}, "split_threshold"),
    ({"annotate": {"sft_threshold": -1}}, "sft_threshold"),
    ({"clean": {"instruction_words": [50, 10]}}, "clean.instruction_words: [min, max] = [50, 10]"),
    ({"iters": 1000}, "iters"),
    ({"train": {"learnig_rate": 1e-5}}, "learnig_rate"),
    ({"eval": {"settings": {"max_out_length": 64}}}, "max_out_length"),
    ({"prompts": {"review": "config/prompts/nope.txt"}}, "prompts.review: file config/prompts/nope.txt not found"),
    ({"seed": {"path": "nowhere/seed.json"}}, "seed.path: file nowhere/seed.json not found"),
    ({"review": {"mode": "strict"}}, "mode"),
    ({"model": {"base": "./nowhere"}}, "model.base: ./nowhere is no model directory"),
])
def test_bad_config_stops_before_any_job(tmp_path, config, message):
    out = dry_run(tmp_path, config=config)
    assert out.returncode != 0 and message in out.stdout, out.stdout[-3000:]
    assert "Job stats" not in out.stdout
