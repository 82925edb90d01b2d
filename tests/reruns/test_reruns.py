"""A rerun follows every change that can alter an output, and nothing else.

The workflow runs for real through the README's `./lance` in a copy of the repository, with
tests/reruns/fake_stage.py standing in for the engines' interpreters (it writes each job's outputs and
nothing else), so Snakemake records true provenance in seconds. Then each kind of change is made
and a dry run says which rules would run and why. "Directly" means for a reason of the rule's
own (its params, code or input files), not because an upstream job reruns.
"""

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from contextlib import contextmanager

import pytest
import yaml

from lance_testing import ROOT
from lancekit.core import envs

COPY = ("workflow", "src", "scripts", "config", "data", "envs", "environment.yml", "lance", "tests/reruns/fake_stage.py")


def _copy_repo(dest):
    for name in COPY:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)


class Checkout:
    """A copy of the repository with fake engine environments, run through its ./lance."""

    def __init__(self, root, env_dir):
        self.root, self.env_dir = root, env_dir
        fake = str(root / "tests" / "reruns" / "fake_stage.py")
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("LANCE_")}
        self.env.update({f"LANCE_PY_{e}": fake for e in ("MAIN", "VLLM", "LLAMAFACTORY", "OPENCOMPASS")})
        self.env["FAKE_STAGE_LOG"] = str(root / "engine_calls.jsonl")
        (root / "cfg.yaml").write_text(f"iters: 2\nmethods: [{', '.join(METHODS)}]\nenv_dir: {env_dir}\n")

    def lance(self, *args, check=True, change=None):
        """./lance with the test config (and, as a second config file, a change of settings)."""
        files = ["cfg.yaml"]
        if change:
            (self.root / "change.yaml").write_text(yaml.safe_dump(change))
            files.append("change.yaml")
        # --configfile takes every value up to the next option: the config files go last
        proc = subprocess.run([str(self.root / "lance"), *args, "--configfile", *files], cwd=self.root,
                              env=self.env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if check and proc.returncode != 0:
            raise AssertionError(proc.stdout[-6000:])
        return proc.stdout

    def plan(self, change=None):
        """{rule: [reasons]} of the jobs a dry run would start."""
        out = self.lance("-n", change=change)
        if "Nothing to be done" in out:
            return {}
        plan = {}
        for block in re.split(r"\n(?=(?:local)?rule \w+:)", out):
            m = re.match(r"(?:local)?rule (\w+):", block)
            reason = re.search(r"reason: (.*)", block)
            if m and reason and m.group(1) != "all":
                plan.setdefault(m.group(1), []).append(reason.group(1))
        return plan

    def reruns_alone(self, rule, target, change=None):
        """Would `rule` rerun for `target` by itself (upstream jobs left as they are)?"""
        out = self.lance("-n", target, "--allowed-rules", rule, change=change)
        return "Nothing to be done" not in out

    def statuses(self, change=None):
        """{output file: (rule, status)} of every job of the run, from one `--detailed-summary`: the
        status says whether the file is out of date for a reason of its own (params or code changed,
        missing), whatever happens upstream of it. Snakemake fills in "updated input files" only for
        a job with no other reason, so that one is checked here as Snakemake checks it: an input
        file of the job's last run newer than its output (the venv stamps are ancient())."""
        rows = {}
        for line in self.lance("--detailed-summary", change=change).splitlines():
            parts = line.split("\t")
            if len(parts) != 8 or parts[0] == "output_file":
                continue
            out, rule, inputs, status = parts[0], parts[2], parts[4], parts[6]
            if status == "ok" and inputs != "-":
                used = [i for i in inputs.split(",") if i and not i.startswith("results/.envs/")]
                if any(self.mtime(i) > self.mtime(out) for i in used if (self.root / i).exists()):
                    status = "updated input files"
            rows[out] = (rule, status)
        assert rows, "the summary lists no job"
        return rows

    def mtime(self, path):
        """A file's time; a folder's (a model) is its newest file's, as Snakemake takes it."""
        p = self.root / path
        if p.is_dir():
            return max([p.stat().st_mtime_ns, *(f.stat().st_mtime_ns for f in p.rglob("*"))])
        return p.stat().st_mtime_ns

    def rerun_alone(self, change=None):
        """The stages that would rerun for a reason of their own (Snakemake names only one reason
        per job in a dry run, "updated by another job" first; the summary gives each file's own)."""
        return {rule for rule, status in self.statuses(change).values() if status != "ok"}

    def rerun_alone_by_method(self, change=None):
        """(rule, method) of the per-method stages that would rerun for a reason of their own."""
        found = set()
        for path, (rule, status) in self.statuses(change).items():
            m = re.match(r"results/(\w+)/iter\d+/", path)
            if status != "ok" and m and rule in ("generate", "clean", "review_new", "annotate"):
                found.add((rule, m.group(1)))
        return found


    def engine_calls_after(self, target, change=None, edit=None, first=()):
        """engine_calls() of one run towards `target` with a change of settings and/or a file
        edited, after a first run (with the arguments `first`) that left the state it finds."""
        self.lance(target, *first)
        self.engine_calls()
        with edited(self.root / edit) if edit else contextlib.nullcontext():
            self.lance(target, change=change)
        return self.engine_calls()

    def engine_calls(self):
        """{shard: replayed?} of the engine stages' jobs since the last call (fake_stage.py)."""
        log = self.root / "engine_calls.jsonl"
        rows = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
        log.unlink(missing_ok=True)
        return {r["shard"]: r["replayed"] for r in rows}


def directly(plan):
    """Rules that a dry run schedules for a reason of their own (the first reason Snakemake names)."""
    return {rule for rule, reasons in plan.items()
            if any(not r.startswith("Input files updated by another job") for r in reasons)}


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """One finished (fake) run: every job, with the fake interpreters. Never changed: the tests
    work on copies of it (a copy keeps every file's time and Snakemake's records, and a moved
    checkout reruns nothing: test_moving_the_checkout_or_rebuilding_a_venv_reruns_nothing)."""
    tmp = tmp_path_factory.mktemp("reruns")
    root = tmp / "lance"
    _copy_repo(root)
    co = Checkout(root, tmp / "envs")  # the fake setup_env jobs write the stamps only
    co.lance()
    assert co.plan() == {}
    return co


def copy_of(finished, dest):
    shutil.copytree(finished.root, dest, symlinks=True)
    co = Checkout(dest, finished.env_dir)
    assert co.plan() == {}
    return co


@pytest.fixture(scope="module")
def checkout(finished, tmp_path_factory):
    """A finished run shared by the tests that only edit and then restore."""
    return copy_of(finished, tmp_path_factory.mktemp("shared") / "lance")


@pytest.fixture
def own_checkout(finished, tmp_path):
    """A finished run for a test that changes it for good."""
    return copy_of(finished, tmp_path / "lance")


@contextmanager
def edited(path, text="\n"):
    """Append to a file for the duration of the block, then restore its bytes and mtime."""
    before, st = path.read_bytes(), path.stat()
    time.sleep(0.01)
    with open(path, "a") as f:
        f.write(text)
    try:
        yield
    finally:
        path.write_bytes(before)
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


METHODS = ("lance", "self_instruct", "spin", "i_sheep")


@pytest.mark.parametrize("path,rules", [
    ("config/prompts/review.txt", {"review_seed", "review_new"}),
    ("config/prompts/negative.txt", {"generate"}),
    ("config/train/dpo.yaml", {"train_dpo"}),
])
def test_prompt_and_template_edits_rerun_the_stages_that_read_them(checkout, path, rules):
    with edited(checkout.root / path):
        plan = checkout.plan()
        assert directly(plan) <= rules and all("Updated input files" in plan[r][0] for r in directly(plan))
        assert checkout.rerun_alone() == rules
    assert checkout.plan() == {}


@pytest.mark.parametrize("module,rules", [
    ("src/lancekit/data/rouge.py", {"clean"}),
    # the report names the methods (the methods table), so it runs every method's code too
    ("src/lancekit/data/judge.py", {"review_seed", "review_new", "generate", "annotate", "review_seed_gather",
                                    "generate_gather", "review_new_gather", "report"}),
    # the engine stages' progress keys (no longer training's or evaluation's: the model
    # fingerprint they use lives with the code version)
    ("src/lancekit/generation/progress.py", {"review_seed", "review_new", "generate"}),
    ("src/lancekit/core/provenance.py", {"review_seed", "review_new", "generate", "train_m0", "train_sft",
                                         "train_dpo", "evaluate"}),
    # one method's module: the stages that run every method's code (the methods table, and the
    # gather steps, which check each generation group's branch against the method's)
    ("src/lancekit/methods/spin.py", {"generate", "annotate", "report", "review_seed_gather", "generate_gather",
                                      "review_new_gather"}),
    ("scripts/train.py", {"train_m0", "train_sft", "train_dpo"}),
])
def test_code_edits_rerun_exactly_the_stages_that_run_the_code(checkout, module, rules):
    with edited(checkout.root / module, "# changed\n"):
        assert checkout.rerun_alone() == rules
        plan = checkout.plan()
        assert directly(plan) <= rules and all("Params have changed" in plan[r][0] for r in directly(plan))
    assert checkout.plan() == {}


@pytest.mark.parametrize("change,rules", [
    ({"split_threshold": 6.5}, {"generate", "generate_gather"}),  # annotate takes generate's split
    # the report's predicted job times (./lance plan) follow max_tokens and the votes
    ({"sampling": {"max_tokens": 100}}, {"generate", "report"}),
    ({"review": {"max_parse_failure_rate": 0.5}}, {"annotate"}),
    ({"report": {"headline_iteration": 2}}, {"report"}),  # the report's layout param, nothing else
    ({"review": {"samples": 2}}, {"review_seed", "review_new", "report"}),
    ({"report": {"cost_device": "h100"}}, {"report"}),
    ({"vllm": {"kvcache_gib": 3}}, set()),
    ({"vllm": {"chunk_size": 7}}, set()),
    ({"resources": {"vllm": {"threads": 1}}}, set()),
])
def test_config_changes_rerun_only_the_stages_that_read_them(checkout, change, rules):
    if rules:
        assert checkout.rerun_alone(change) == rules
    else:
        assert checkout.plan(change) == {}


@pytest.mark.parametrize("change,reruns", [
    # I-SHEEP's threshold: only I-SHEEP's annotate (not LANCE's, whose rule it shares)
    ({"i_sheep": {"threshold": 7.0}}, {("annotate", "i_sheep")}),
    # the task-writing sampling of Self-Instruct, which I-SHEEP's generation shares
    ({"self_instruct": {"temperature": 0.9}}, {("generate", "self_instruct"), ("generate", "i_sheep")}),
    ({"self_instruct": {"blocked_words": ["photo"]}}, {("clean", "self_instruct"), ("clean", "i_sheep")}),
    ({"spin": {"keep_previous": False}}, {("annotate", "spin")}),
    ({"generate": {"negatives_per_seed": 3}}, {("generate", "lance")}),
    ({"i_sheep": {"samples": 2}}, {("review_new", "i_sheep")}),
    # the authors' rules as switches (docs/algorithm.md): each reruns the stage that applies it
    ({"annotate": {"rejected_on_tie": "last"}}, {("annotate", "lance")}),
    ({"generate": {"keep_truncated": True}}, {("generate", "lance"), ("clean", "lance")}),
])
def test_a_method_setting_reruns_only_that_method(checkout, change, reruns):
    assert checkout.rerun_alone_by_method(change) == reruns


def test_the_authors_prompts_are_a_job_of_their_own_that_follows_their_file(own_checkout):
    repo = own_checkout.root / "authors"
    (repo / "src").mkdir(parents=True)
    (repo / "src" / "prompt_template.py").write_text('JUDGE = """Rate <q>{prompt}</q> <r>{response}</r>"""\n')
    change = {"authors": {"repo": "authors"}, "prompts": {"review": "authors:JUDGE"}}
    assert own_checkout.rerun_alone(change) == {"authors_prompt", "review_seed", "review_new"}
    own_checkout.lance("-p", "results/prompts/review.txt", change=change)
    assert own_checkout.rerun_alone(change) == {"review_seed", "review_new"}
    with edited(repo / "src" / "prompt_template.py", "OTHER = 'x'\n"):
        assert "authors_prompt" in own_checkout.rerun_alone(change)


@pytest.mark.parametrize("change,reruns", [
    # a method's training block (train.methods): that method's training jobs only, never M_0's
    ({"train": {"methods": {"spin": {"learning_rate": 1e-6}}}},
     {("train_dpo", "results/spin/iter1/model"), ("train_dpo", "results/spin/iter2/model")}),
    # ... from the iteration it names
    ({"train": {"methods": {"spin": {"from_iteration": {2: {"learning_rate": 1e-7}}}}}},
     {("train_dpo", "results/spin/iter2/model")}),
    ({"train": {"methods": {"i_sheep": {"finetuning_type": "lora"}}}},
     {("train_sft", "results/i_sheep/iter1/sft_model"), ("train_sft", "results/i_sheep/iter2/sft_model")}),
    # the floor of the step-plan warning changes no output
    ({"train": {"min_steps_warning": 5}}, set()),
])
def test_a_methods_training_block_reruns_only_that_methods_training(checkout, change, reruns):
    stale = {(rule, path) for path, (rule, status) in checkout.statuses(change).items() if status != "ok"}
    assert stale == reruns


ENGINE_TARGET = "results/lance/iter1/raw.json"  # iteration 1's seed review and LANCE's generation


@pytest.mark.parametrize("change,edit", [
    ({"vllm": {"max_model_len": 3072}}, None),  # what the prompt_too_long warning tells one to do
    ({"vllm": {"dtype": "float32"}}, None),
    ({"vllm": {"tensor_parallel_size": 2}}, None),
    ({"vllm": {"extra": {"enforce_eager": True}}}, None),
    (None, "src/lancekit/generation/run.py"),  # the engine stages' code
])
def test_a_rerun_for_an_engine_change_sends_every_request_again(own_checkout, change, edit):
    """The progress files stay beside finished shards; a rerun caused by the engine's settings or
    the code must not answer from them (fake_stage.py keys them with the stages' own code)."""
    calls = own_checkout.engine_calls_after(ENGINE_TARGET, change, edit)  # the finished run's progress files
    assert calls and not any(calls.values()), calls


def test_a_shard_redone_with_nothing_changed_is_answered_from_its_progress_file(own_checkout):
    """The other side of the test above: the same stand-in replays what nothing invalidated."""
    own_checkout.lance(ENGINE_TARGET)
    own_checkout.engine_calls()
    # the engine stages alone, so that no model they read is retrained in between
    own_checkout.lance(ENGINE_TARGET, "--forcerun", "review_seed", "generate", "--allowed-rules", "review_seed",
                       "generate", "review_seed_gather", "generate_gather")
    calls = own_checkout.engine_calls()
    assert calls and all(calls.values()), calls


EVAL_TARGET = "results/iter0/eval/summary.json"  # M_0's evaluation
# first, a run folder of this checkout's own (a copied checkout's paths differ: its folders are never gone on in)
EVALUATE_AGAIN = ("--forcerun", "evaluate", "--allowed-rules", "evaluate")


@pytest.mark.parametrize("change,edit", [
    ({"eval": {"arith": {"n": 40}}}, None),  # other benchmark content under the same path
    (None, "data/benchmarks/lance_mc.jsonl"),  # an edited benchmark file
    (None, "src/lancekit/evaluation/postprocess.py"),  # a fix in the evaluation's code
])
def test_a_rerun_evaluation_never_goes_on_in_an_old_run_folder(own_checkout, change, edit):
    """OpenCompass's run folder stays after a finished evaluation; a rerun for new benchmark data
    or new evaluation code must not go on in it (--reuse would bring back the old scores)."""
    calls = own_checkout.engine_calls_after(EVAL_TARGET, change, edit, first=EVALUATE_AGAIN)
    assert calls and not any(calls.values()), calls


def test_a_killed_evaluation_of_the_same_model_and_data_goes_on_in_its_run_folder(own_checkout):
    """The other side: a rerun with nothing changed (as after a kill) goes on where it was."""
    own_checkout.lance(EVAL_TARGET, *EVALUATE_AGAIN)
    own_checkout.engine_calls()
    own_checkout.lance(EVAL_TARGET, *EVALUATE_AGAIN)
    calls = own_checkout.engine_calls()
    assert calls and all(calls.values()), calls


def test_adding_a_method_reruns_nothing_of_the_others(checkout):
    plan = checkout.plan({"methods": [*METHODS, "lance_sft_only"]})
    assert all(r.startswith(("Missing output files", "Input files updated by another job")) for rs in plan.values()
               for r in rs) and "report" in plan, plan
    assert len(plan["train_sft"]) == 2 and "train_dpo" not in plan  # lance_sft_only's 2 iterations


def test_training_seeds_add_replicates_and_rerun_nothing_existing(own_checkout):
    """train.seeds: a seed adds its replicates' training and evaluation jobs; no model of the main
    chain and no replicate already made trains again; dropping a seed reruns only the report."""
    def replicate_jobs(change):
        plan = own_checkout.plan(change)
        assert all(r.startswith(("Missing output files", "Input files updated by another job"))
                   for rs in plan.values() for r in rs), plan
        assert set(plan) == {"train_m0_seed", "train_sft_seed", "train_dpo_seed", "evaluate", "report"}, plan
        return {rule: len(plan[rule]) for rule in plan}

    # M_0; SFT: LANCE 2, Self-Instruct 1, I-SHEEP 2; DPO: LANCE 2, SPIN 2; each of the 8 evaluated
    per_seed = {"train_m0_seed": 1, "train_sft_seed": 5, "train_dpo_seed": 4, "evaluate": 8, "report": 1}
    assert replicate_jobs({"train": {"seeds": [7]}}) == per_seed
    own_checkout.lance(change={"train": {"seeds": [7]}})
    assert own_checkout.plan({"train": {"seeds": [7]}}) == {}
    assert replicate_jobs({"train": {"seeds": [7, 8]}}) == per_seed  # seed 8's only
    assert set(own_checkout.plan()) == {"report"}  # no seeds again: the report names fewer files


def test_more_shards_are_more_engine_jobs_and_rerun_nothing_else_directly(checkout):
    plan = checkout.plan({"shards": 2})
    # 2 shards of each iteration that has the stage: LANCE 2, Self-Instruct 1, SPIN 2, I-SHEEP 2
    for rule, n in (("review_seed", 2), ("generate", 7), ("review_new", 4)):
        assert len(plan[rule]) == 2 * n and all(r.startswith("Missing output files") for r in plan[rule]), plan[rule]
    assert directly(plan) <= {"review_seed", "generate", "review_new", "review_seed_gather", "generate_gather",
                              "review_new_gather"}, plan
    assert checkout.plan() == {}


def test_moving_the_checkout_or_rebuilding_a_venv_reruns_nothing(own_checkout, tmp_path):
    checkout = own_checkout
    stamp = checkout.root / "results" / ".envs" / f"{envs.env_path('vllm', checkout.root).name}.ready"
    time.sleep(0.01)
    stamp.write_text("rebuilt\n")  # the venv was built again
    assert checkout.plan() == {}
    moved = tmp_path / "elsewhere" / "lance"  # the results move with it, as with ./lance
    moved.parent.mkdir()
    checkout.root.rename(moved)
    co = Checkout(moved, checkout.env_dir)
    co.env.update({f"LANCE_PY_{e}": str(moved / "tests" / "reruns" / "fake_stage.py")
                   for e in ("MAIN", "VLLM", "LLAMAFACTORY", "OPENCOMPASS")})
    assert co.plan() == {}


def test_a_local_base_model_is_an_input(own_checkout, tmp_path):
    checkout = own_checkout
    model = tmp_path / "my_model"
    model.mkdir()
    (model / "config.json").write_text("{}\n")
    (model / "model.safetensors").write_text("")  # weights: a config.json alone stops the dry run
    with open(checkout.root / "cfg.yaml", "a") as f:
        f.write(f"model: {{base: {model}}}\n")
    checkout.lance()
    assert checkout.plan() == {}
    time.sleep(0.01)
    (model / "tokenizer.json").write_text("{}\n")  # a file added to the model directory
    assert directly(checkout.plan()) == {"train_m0", "evaluate"}
    assert checkout.reruns_alone("evaluate", "results/base/eval/summary.json")
    assert checkout.reruns_alone("train_m0", "results/iter0/sft_model")


def run_hanging_in_clean(checkout):
    """./lance started after a prompt edit, its clean job hanging (fake_stage); returned once that
    job has started (the process leads its own session, for os.killpg)."""
    with open(checkout.root / "config/prompts/review.txt", "a") as f:
        f.write("\n")
    mark = checkout.root / "clean-started"
    env = dict(checkout.env, FAKE_STAGE_HANG="clean", FAKE_STAGE_MARK=str(mark))
    proc = subprocess.Popen([str(checkout.root / "lance"), "--configfile", "cfg.yaml", "--cores", "1"],
                            cwd=checkout.root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                            start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline and not mark.exists():
        time.sleep(0.2)
    if not mark.exists():
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert mark.exists(), "the clean job should have started"
    return proc


def test_a_killed_run_does_not_block_the_next_one(own_checkout):
    """kill -9 Snakemake in the middle of a job: the plain ./lance goes on, redoing what was cut."""
    checkout = own_checkout
    proc = run_hanging_in_clean(checkout)
    assert any((checkout.root / ".snakemake" / "locks").iterdir()), "the run holds its lock"
    assert any((checkout.root / ".snakemake" / "incomplete").iterdir()), "clean's outputs are incomplete"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    (checkout.root / "results" / "lance" / "iter1" / ".clean.json.x1y2.part").write_text("half")
    out = checkout.lance()
    assert "releasing the lock left by a killed run" in out
    assert "removed the leftover of a killed job" in out
    assert not list((checkout.root / "results").rglob("*.part"))
    assert checkout.plan() == {}


def test_a_dry_run_or_a_second_run_never_breaks_a_live_runs_lock(own_checkout):
    """A live run holds its lock: a dry run beside it changes nothing, a second real run refuses
    to start (Snakemake's own lock message) and removes none of the live run's in-flight files."""
    checkout = own_checkout
    live = run_hanging_in_clean(checkout)
    try:
        part = checkout.root / "results" / "lance" / "iter1" / ".clean.json.live.part"
        part.write_text("being written")
        locks = sorted((checkout.root / ".snakemake" / "locks").iterdir())
        dry = checkout.lance("-n")
        assert "releasing the lock" not in dry
        second = checkout.lance(check=False)
        assert "releasing the lock" not in second
        assert "LockException" in second or "cannot be locked" in second, second[-2000:]
        assert sorted((checkout.root / ".snakemake" / "locks").iterdir()) == locks and part.exists()
        assert live.poll() is None, "the live run goes on"
    finally:
        os.killpg(live.pid, signal.SIGKILL)
        live.wait()
    out = checkout.lance()
    assert "releasing the lock left by a killed run" in out and not part.exists()
    assert checkout.plan() == {}


def test_plain_snakemake_runs_the_same_workflow(checkout):
    """The README's `snakemake --cores all` (in the activated main environment, no wrapper, no
    PYTHONPATH) sees the same workflow as ./lance: the finished run is up to date for it too."""
    env = {k: v for k, v in checkout.env.items() if k != "PYTHONPATH"}
    out = subprocess.run([sys.executable, "-m", "snakemake", "--cores", "all", "--configfile", "cfg.yaml", "-n"],
                         cwd=checkout.root, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert out.returncode == 0, out.stdout[-3000:]
    assert "Nothing to be done" in out.stdout
    assert "workflow/profiles/default" in out.stdout  # rerun-incomplete is on here too


def test_shards_on_a_local_gpu_pool_run_side_by_side_each_on_gpus_of_its_own(tmp_path):
    """The README's `./lance --resources gpu=4` on a machine whose (stand-in) nvidia-smi lists 4
    GPUs: the 4 review shards (resources.vllm.gpu: 1) run at once, none on a GPU that another
    running job holds (lancekit.core.gpus), and the training job gets the 2 it asks for. Asking
    for another number of GPUs afterwards reruns nothing."""
    root = tmp_path / "lance"
    _copy_repo(root)
    co = Checkout(root, tmp_path / "envs")
    smi = tmp_path / "bin" / "nvidia-smi"
    smi.parent.mkdir()
    smi.write_text('#!/bin/sh\nprintf "0\\n1\\n2\\n3\\n"\n')
    smi.chmod(0o755)
    for var in ("CUDA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER", "SLURM_JOB_ID"):
        co.env.pop(var, None)
    co.env.update(PATH=f"{smi.parent}{os.pathsep}{co.env['PATH']}", FAKE_STAGE_GPUS=str(tmp_path / "jobs.jsonl"))
    pool = {"shards": 4, "resources": {"vllm": {"gpu": 1, "threads": 1}, "llamafactory": {"gpu": 2, "threads": 1}}}
    target = "results/lance/iter1/reviewed_seed.json"
    co.lance(target, "--cores", "4", "--resources", "gpu=4", change=pool)
    jobs = [json.loads(line) for line in (tmp_path / "jobs.jsonl").read_text().splitlines()]
    shards, training = [j for j in jobs if j["stage"] == "review"], [j for j in jobs if j["stage"] == "train"]
    assert len(shards) == 4 and all(j["gpus"] in {"0", "1", "2", "3"} for j in shards), shards
    assert training and all(len(set(j["gpus"].split(","))) == 2 for j in training), training
    pinned = [j for j in jobs if j["gpus"] is not None]

    def overlap(a, b):
        return a["start"] < b["end"] and b["start"] < a["end"]

    shared = [(a, b) for i, a in enumerate(pinned) for b in pinned[i + 1:]
              if overlap(a, b) and set(a["gpus"].split(",")) & set(b["gpus"].split(","))]
    assert shared == [], shared
    assert any(overlap(a, b) for i, a in enumerate(shards) for b in shards[i + 1:]), "the shards ran one by one"
    more = {**pool, "resources": {**pool["resources"], "vllm": {"gpu": 2, "threads": 1}}}
    assert "Nothing to be done" in co.lance("-n", target, change=more)
