"""The fast gate, run first by `./lance test` (well under a minute): lint, format, and a dry run
of every shipped config, plus the config mistakes that must stop a run before any job."""

import os
import subprocess
import sys
from pathlib import Path

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


def test_architecture_layers():
    """lancekit's subpackages import only the ones below them (.importlinter: import-linter)."""
    out = run([str(Path(sys.executable).parent / "lint-imports"), "--config", str(ROOT / ".importlinter")])
    assert out.returncode == 0 and "Contracts: 1 kept, 0 broken" in out.stdout, out.stdout[-4000:]


def test_no_source_or_rule_file_over_400_lines():
    files = [*(ROOT / "src").rglob("*.py"), *(ROOT / "scripts").glob("*.py"), *(ROOT / "workflow").rglob("*.smk"),
             ROOT / "workflow" / "Snakefile"]
    long = {str(f.relative_to(ROOT)): n for f in files if (n := len(f.read_text().splitlines())) > 400}
    assert not long, long


def test_the_schemas_methods_are_the_methods_table():
    from lancekit.methods import TABLE

    schema = yaml.safe_load((ROOT / "config" / "config.schema.yaml").read_text())
    enum = schema["properties"]["methods"]["items"]["enum"]
    assert sorted(enum) == sorted(TABLE) and len(set(enum)) == len(enum)


def test_the_schemas_benchmarks_are_the_registry():
    from lancekit.evaluation.registry import BENCHMARKS

    schema = yaml.safe_load((ROOT / "config" / "config.schema.yaml").read_text())
    enum = schema["$defs"]["benchmark"]["enum"]
    assert sorted(enum) == sorted(BENCHMARKS) and len(set(enum)) == len(enum)


def test_snakemake_lint():
    out = run([*SNAKEMAKE, "--lint"])
    assert out.returncode == 0 and "Congratulations" in out.stdout, out.stdout[-4000:]


def dry_run(tmp_path, *configs, config=None, options=("--cores", "1")):
    files = [str(ROOT / c) for c in configs]
    if config:
        (tmp_path / "extra.yaml").write_text(yaml.safe_dump(config))
        files.append(str(tmp_path / "extra.yaml"))
    return run([*SNAKEMAKE, "--directory", str(tmp_path), "-n", *options,
                *(["--configfile", *files] if files else [])], cwd=tmp_path)


SHIPPED_SEED = str(ROOT / "data" / "seed" / "lance_seed.json")


@pytest.mark.parametrize("configs,config,jobs", [
    ((), None, {"train_m0": 1, "train_sft": 3, "train_dpo": 3, "evaluate": 5, "review_seed": 3}),
    # six methods, 4 iterations (Self-Instruct: one round), shards: 8 (a GPU each): LANCE and its
    # ablations review the seed; all but Self-Instruct generate 4 times; LANCE x3 and I-SHEEP re-review
    # (its seed and the authors' prompt file are not staged here: the stand-in rule missing_data
    # plans them, and a warning says so; one authors_prompt job per prompt reads the authors' file)
    (("config/paper.yaml",), None,
     {"missing_data": 1, "authors_prompt": 4, "fetch_base_model": 1, "stage_benchmarks": 1, "prepare_seed": 1, "train_m0": 1, "train_sft": 13, "train_dpo": 12, "evaluate": 23, "review_seed": 96, "generate": 168,
      "review_new": 128, "review_seed_gather": 12, "generate_gather": 21, "review_new_gather": 16, "clean": 17,
      "annotate": 21}),
    ((), {"shards": 3, "iters": 1}, {"review_seed": 3, "generate": 3, "review_new": 3, "generate_gather": 1}),
    # the paper's comparison at CPU scale: LANCE, Self-Instruct, SPIN, I-SHEEP, one iteration each
    (("config/compare.yaml",), None, {"train_m0": 1, "train_sft": 3, "train_dpo": 2, "evaluate": 6,
                                       "generate": 4, "review_seed": 1, "review_new": 2}),
    (("tests/integration/e2e.yaml",), None, {"train_m0": 1, "train_sft": 4, "train_dpo": 3, "evaluate": 8,
                                              "generate": 6, "review_seed": 3, "review_new": 4}),
    # M_0 is a hub model itself, not in the cache: nothing trains it, one job would fetch it (a real
    # run stops before any job while downloads are off: test_an_uncached_hub_model_stops_...)
    ((), {"model": {"base": "Qwen/Qwen2-0.5B"}, "train": {"m0": False}, "iters": 1},
     {"train_m0": 0, "train_sft": 1, "evaluate": 3, "prepare_base_model": 0, "fetch_base_model": 1}),
    # the paper's shape at CPU size (the README's measured run): LANCE and SPIN, two iterations, the
    # model by hub id (not cached here: one job would fetch it), the benchmark slices staged
    (("config/paper.yaml", "config/paper_cpu.yaml"), None,
     {"fetch_base_model": 1, "stage_benchmarks": 1, "train_m0": 1, "train_sft": 2, "train_dpo": 4, "evaluate": 6,
      "generate": 4, "review_seed": 2, "review_new": 2, "missing_data": 1, "authors_prompt": 4}),
    # no iteration: base and M_0 are trained and evaluated, and the report shows them
    ((), {"iters": 0}, {"train_m0": 1, "train_sft": 0, "evaluate": 2, "review_seed": 0, "report": 1}),
    # training-seed replicates (train.seeds): M_0 and LANCE's M_1 trained again per seed (SFT, then
    # DPO from that replicate's SFT) and evaluated; the main chain's jobs as without seeds
    ((), {"train": {"seeds": [1, 2]}, "iters": 1},
     {"train_m0": 1, "train_m0_seed": 2, "train_sft": 1, "train_sft_seed": 2, "train_dpo": 1, "train_dpo_seed": 2,
      "evaluate": 3 + 4, "generate": 1, "report": 1}),
])
def test_shipped_configs_dry_run(tmp_path, configs, config, jobs):
    out = dry_run(tmp_path, *configs, config=config)
    assert out.returncode == 0, out.stdout[-4000:]
    stats = out.stdout[out.stdout.index("Job stats:"):]
    for rule, n in jobs.items():
        found = [line.split() for line in stats.splitlines() if line.split()[:1] == [rule]]
        assert (int(found[0][1]) if found else 0) == n, (rule, stats[:1500])


def test_the_paper_dry_run_lists_everything_not_staged(tmp_path):
    """Seed, model weights and benchmark data: each named with its config key, before any job."""
    out = dry_run(tmp_path, "config/paper.yaml", config={"eval": {"data": str(tmp_path / "upstream")}})
    assert out.returncode == 0, out.stdout[-4000:]
    warnings = [line for line in out.stdout.splitlines() if line.startswith("WARNING ")]
    assert any(w.startswith("WARNING seed.path: file authors:dataset/seed/UltraChat3k.json (")
               and "data/LANCE/dataset/seed/UltraChat3k.json) not found" in w for w in warnings)
    assert any(w.startswith("WARNING authors.repo: ") and "data/LANCE/src/prompt_template.py not found" in w
               and "git clone https://github.com/Control-derek/LANCE data/LANCE" in w for w in warnings)
    assert any(w.startswith("WARNING model.base: Qwen/Qwen2-7B is not in the Hugging Face cache") for w in warnings)
    for path in ("arc_challenge/ARC-Challenge/ARC-Challenge-Test.jsonl", "mmlu/data/test", "mgsm/mgsm_sw.tsv",
                 "qwen25math/olympiadbench/test.jsonl", "winogrande/winogrande_1.1/dev-labels.lst",
                 "data/hellaswag"):
        assert any(w.startswith("WARNING eval.data: benchmark ") and path in w for w in warnings), path
    assert not any("mgsm_bn" in w for w in warnings)  # the paper's four languages only


def test_the_slurm_profile_plans_the_paper_config(tmp_path):
    """The SLURM profile with the paper config: every shard a job of its own, GPUs asked as the
    config says (threads reach SLURM as --cpus-per-task: tests/integration/test_slurm.py)."""
    profile = ["--workflow-profile", str(ROOT / "workflow/profiles/slurm"), "--printshellcmds"]
    out = dry_run(tmp_path, "config/paper.yaml", config={"seed": {"path": SHIPPED_SEED}}, options=profile)
    assert out.returncode == 0, out.stdout[-4000:]
    assert "workflow/profiles/slurm" in out.stdout
    jobs = out.stdout.split("\nrule ")
    shard = next(j for j in jobs if j.startswith("review_seed:") and "shards/review_seed/7-of-8.json" in j)
    assert "gpu=1" in shard and "mem_mb=128000" in shard and "runtime=720" in shard, shard
    assert "vllm-cuda" in shard  # GPU jobs get the CUDA engine, though this machine has no GPU
    # ... and the interpreter is found where the job runs, not here
    assert 'setup_env.py" vllm' in shard and "/bin/python" not in shard.split("Shell command:")[-1]
    train = next(j for j in jobs if j.startswith("train_sft:"))
    assert "config/train/ds_z3.json" in train  # ZeRO-3 for the 8-GPU training jobs
    gres = dry_run(tmp_path, "config/paper.yaml", options=profile,
                   config={"seed": {"path": SHIPPED_SEED}, "resources": {"gpu_request": "gres"}})
    assert "gres=gpu:8" in gres.stdout and "gres=gpu:1" in gres.stdout, gres.stdout[-3000:]
    # a GPU type and node features, per engine
    typed = dry_run(tmp_path, "config/paper.yaml", options=profile,
                    config={"seed": {"path": SHIPPED_SEED}, "resources": {
                        "llamafactory": {"gpu": 8, "gpu_model": "h100", "constraint": "nvlink"},
                        "vllm": {"gpu": 1, "gpu_model": "a100", "partition": "inference"}}})
    jobs = typed.stdout.split("\nrule ")
    train = next(j for j in jobs if j.startswith("train_sft:"))
    assert "gpu=8" in train and "gpu_model=h100" in train and "constraint=nvlink" in train, train
    shard = next(j for j in jobs if j.startswith("review_seed:"))
    assert "gpu_model=a100" in shard and "slurm_partition=inference" in shard, shard


def test_a_target_after_configfile_with_one_value(tmp_path):
    """`./lance --configfile=x.yaml <target>` (the README's spelling): one value, then the target."""
    out = subprocess.run([str(ROOT / "lance"), f"--directory={tmp_path}", "-n",
                          f"--configfile={ROOT / 'tests/integration/e2e.yaml'}", "results/iter0/seed.json",
                          "--config", "iters=1"],
                         text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=ROOT)
    assert out.returncode == 0, out.stdout[-3000:]
    stats = out.stdout[out.stdout.index("Job stats:"):]
    assert "prepare_seed" in stats and "train_m0" not in stats, stats


@pytest.mark.parametrize("config,message", [
    ({"split_threshold": 11}, "split_threshold"),
    ({"annotate": {"sft_threshold": -1}}, "sft_threshold"),
    ({"clean": {"instruction_words": [50, 10]}}, "clean.instruction_words: [min, max] = [50, 10]"),
    ({"iters": 1000}, "iters"),
    ({"train": {"learnig_rate": 1e-5}}, "learnig_rate"),
    ({"train": {"methods": {"spinn": {"learning_rate": 1e-7}}}}, "spinn"),
    ({"train": {"methods": {"spin": {"from_iteration": {0: {"learning_rate": 1e-7}}}}}},
     "train.methods.spin.from_iteration key 0 is not an iteration number"),
    ({"eval": {"settings": {"max_out_length": 64}}}, "max_out_length"),
    ({"prompts": {"review": "config/prompts/nope.txt"}}, "prompts.review: file config/prompts/nope.txt not found"),
    ({"review": {"mode": "strict"}}, "mode"),
    ({"vllm": {"tensor_parallel_size": 2}, "resources": {"vllm": {"gpu": 1}}}, "vllm.tensor_parallel_size"),
    ({"model": {"base": "./nowhere"}}, "model.base: ./nowhere is no model directory"),
    ({"model": {"base": "no hub id"}}, "model.base: 'no hub id' is neither 'embedded', a local directory"),
    # NaN and infinity pass the schema's bounds (every comparison with NaN is false)
    ({"split_threshold": float("nan")}, "split_threshold: not a finite number"),
    ({"i_sheep": {"threshold": float("nan")}}, "i_sheep.threshold: not a finite number"),
    ({"sampling": {"temperature": float("inf")}}, "On instance['sampling']['temperature']"),  # over its maximum
    ({"train": {"learning_rate": float("inf")}}, "train.learning_rate: not a finite number"),  # no maximum
    ({"prompts": {"review": "authors:ReviewPrompt"}},
     "prompts.review: 'authors:ReviewPrompt' names the authors' repository, but authors.repo is not set"),
])
def test_bad_config_stops_before_any_job(tmp_path, config, message):
    out = dry_run(tmp_path, config=config)
    assert out.returncode != 0 and message in out.stdout, out.stdout[-3000:]
    assert "Job stats" not in out.stdout


def test_a_missing_seed_is_planned_by_a_dry_run_and_stops_a_real_run_before_any_job(tmp_path):
    message = "seed.path: file nowhere/seed.json not found. Stage the seed there"
    config = {"seed": {"path": "nowhere/seed.json"}, "iters": 1}
    planned = dry_run(tmp_path, config=config)
    assert planned.returncode == 0 and message in planned.stdout, planned.stdout[-3000:]
    stats = planned.stdout[planned.stdout.index("Job stats:"):]
    assert "missing_data" in stats and "prepare_seed" in stats and "train_dpo" in stats, stats
    real = run([*SNAKEMAKE, "--directory", str(tmp_path), "--cores", "1", "--configfile",
                str(tmp_path / "extra.yaml")], cwd=tmp_path)
    assert real.returncode != 0 and message in real.stdout, real.stdout[-3000:]
    assert "localrule" not in real.stdout and "rule prepare_base_model" not in real.stdout, real.stdout[-3000:]
    assert not (tmp_path / "results").exists() and not (tmp_path / "nowhere").exists()


def test_setting_up_runs_before_anything_is_staged(tmp_path):
    """The README's checklist builds the environments first: a run whose jobs are all set-up jobs
    goes ahead while the paper's seed, model and benchmark data are still missing."""
    from lancekit.core import envs

    stamp = f"results/.envs/{envs.env_path('main').name}.ready"
    real = run([*SNAKEMAKE, "--directory", str(tmp_path), "--cores", "1", stamp, "--configfile",
                str(ROOT / "config/paper.yaml")], cwd=tmp_path)
    assert real.returncode == 0 and (tmp_path / stamp).is_file(), real.stdout[-3000:]
    assert "WARNING seed.path: file authors:dataset/seed/UltraChat3k.json (" in real.stdout


def hub_cache_with(tmp_path, repo_id="lance-test/tiny", files=("config.json",)):
    """A Hugging Face cache in the hub layout: models--<org>--<name>/snapshots/<commit>/, refs/main."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    folder = tmp_path / "hub" / f"models--{repo_id.replace('/', '--')}"
    snap = folder / "snapshots" / commit
    snap.mkdir(parents=True)
    for name in files:
        (snap / name).write_text("{}\n")
    (folder / "refs").mkdir()
    (folder / "refs" / "main").write_text(commit)
    return tmp_path / "hub", snap


def test_a_cached_hub_model_is_read_from_its_snapshot(tmp_path):
    cache, snap = hub_cache_with(tmp_path)
    wd = tmp_path / "wd"
    wd.mkdir()
    (wd / "extra.yaml").write_text(yaml.safe_dump({"model": {"base": "lance-test/tiny"}, "iters": 0}))
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), HF_HUB_CACHE=str(cache))
    out = subprocess.run([*SNAKEMAKE, "--directory", str(wd), "-n", "--cores", "1", "--configfile",
                          str(wd / "extra.yaml"), "--printshellcmds"], cwd=wd, env=env, text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert out.returncode == 0 and "WARNING model.base" not in out.stdout, out.stdout[-3000:]
    train = next(j for j in out.stdout.split("\nrule ") if j.startswith("train_m0:"))
    assert str(snap) in train  # the snapshot folder is the job's input and start model
    stats = out.stdout[out.stdout.index("Job stats:"):]
    assert "fetch_base_model" not in stats and "prepare_base_model" not in stats, stats


def test_an_uncached_hub_model_stops_a_real_run_before_any_job_naming_the_fetch(tmp_path):
    cache, _ = hub_cache_with(tmp_path)
    (tmp_path / "extra.yaml").write_text(yaml.safe_dump({"model": {"base": "lance-test/absent"}, "iters": 1}))
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), HF_HUB_CACHE=str(cache), HF_HUB_OFFLINE="1")
    real = subprocess.run([*SNAKEMAKE, "--directory", str(tmp_path), "--cores", "1", "--configfile",
                           str(tmp_path / "extra.yaml")], cwd=tmp_path, env=env, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert real.returncode != 0, real.stdout[-3000:]
    assert f"model.base: lance-test/absent is not in the Hugging Face cache ({cache})" in real.stdout
    assert "HF_HUB_OFFLINE=0 ./lance results/base_model" in real.stdout
    assert "huggingface-cli download lance-test/absent" in real.stdout
    assert "localrule" not in real.stdout and not (tmp_path / "results").exists(), real.stdout[-3000:]
