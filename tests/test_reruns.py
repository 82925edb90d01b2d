"""A rerun follows every change that can alter an output, and nothing else.

The workflow runs for real through the README's `./lance` in a copy of the repository, with
tests/fake_stage.py standing in for the engines' interpreters (it writes each job's outputs and
nothing else), so Snakemake records true provenance in seconds. Then each kind of change is made
and a dry run says which rules would run and why. "Directly" means for a reason of the rule's
own (its params, code or input files), not because an upstream job reruns.
"""

import os
import re
import shutil
import signal
import subprocess
import time

import pytest
from conftest import ROOT

from lancekit import envs

COPY = ("workflow", "src", "scripts", "config", "data", "envs", "lance", "tests/fake_stage.py")


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
        fake = str(root / "tests" / "fake_stage.py")
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("LANCE_")}
        self.env.update({f"LANCE_PY_{e}": fake for e in ("MAIN", "VLLM", "LLAMAFACTORY", "OPENCOMPASS")})
        (root / "cfg.yaml").write_text(f"iters: 2\nenv_dir: {env_dir}\n")

    def lance(self, *args, check=True):
        proc = subprocess.run([str(self.root / "lance"), "--configfile", "cfg.yaml", *args], cwd=self.root,
                              env=self.env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if check and proc.returncode != 0:
            raise AssertionError(proc.stdout[-6000:])
        return proc.stdout

    def plan(self, *config):
        """{rule: [reasons]} of the jobs a dry run would start."""
        out = self.lance("-n", *(("--config", *config) if config else ()))
        if "Nothing to be done" in out:
            return {}
        plan = {}
        for block in re.split(r"\n(?=(?:local)?rule \w+:)", out):
            m = re.match(r"(?:local)?rule (\w+):", block)
            reason = re.search(r"reason: (.*)", block)
            if m and reason and m.group(1) != "all":
                plan.setdefault(m.group(1), []).append(reason.group(1))
        return plan


def directly(plan):
    own = set()
    for rule, reasons in plan.items():
        if any(not r.startswith("Input files updated by another job") for r in reasons):
            own.add(rule)
    return own


@pytest.fixture
def checkout(tmp_path):
    root = tmp_path / "lance"
    _copy_repo(root)
    env_dir = tmp_path / "envs"
    for engine in ("vllm", "llamafactory", "opencompass"):
        ready = envs.env_path(engine, root, root=env_dir) / envs.READY
        ready.parent.mkdir(parents=True)
        ready.write_text("stand-in for the rerun tests\n")
    co = Checkout(root, env_dir)
    co.lance()  # every job, with the fake interpreters
    assert co.plan() == {}
    return co


def edit(path, text="\n"):
    time.sleep(0.01)
    with open(path, "a") as f:
        f.write(text)


def test_prompt_edits_rerun_the_stages_that_use_them(checkout):
    edit(checkout.root / "config/prompts/review.txt")
    plan = checkout.plan()
    assert directly(plan) == {"review_seed", "review_new"}, plan
    assert all("review.txt" in r for rule in ("review_seed", "review_new") for r in plan[rule][:1])
    edit(checkout.root / "config/prompts/negative.txt")
    assert directly(checkout.plan()) == {"review_seed", "review_new", "generate"}


def test_template_edit_reruns_training(checkout):
    edit(checkout.root / "config/train/dpo.yaml", "# a comment\n")
    assert directly(checkout.plan()) == {"train_dpo"}


@pytest.mark.parametrize("module,rules", [
    ("src/lancekit/rouge.py", {"clean"}),
    ("src/lancekit/judge.py", {"review_seed", "review_new", "annotate"}),
    ("src/lancekit/oc_eval_utils.py", {"evaluate"}),
    ("scripts/train.py", {"train_sft", "train_dpo"}),
    ("scripts/report.py", {"report"}),
])
def test_code_edits_rerun_exactly_the_stages_that_run_the_code(checkout, module, rules):
    edit(checkout.root / module, "# changed\n")
    plan = checkout.plan()
    assert directly(plan) == rules, plan
    assert all(any("Params have changed" in r for r in plan[rule]) for rule in rules)


@pytest.mark.parametrize("change,rules", [
    ("split_threshold=6.5", {"generate", "annotate"}),
    ("sampling={max_tokens: 100}", {"generate"}),
    ("review={max_parse_failure_rate: 0.5}", {"review_seed", "review_new", "annotate"}),
    ("clean={rouge_limit: 0.6}", {"clean"}),
    ("annotate={dpo_gap: 1.0}", {"annotate"}),
    ("vllm={kvcache_gib: 3}", set()),
    ("resources={vllm: {threads: 1}}", set()),
])
def test_config_changes_rerun_only_the_stages_that_read_them(checkout, change, rules):
    assert directly(checkout.plan(change)) == rules


def test_moving_the_checkout_or_rebuilding_a_venv_reruns_nothing(checkout, tmp_path):
    ready = envs.env_path("vllm", checkout.root, root=checkout.env_dir) / envs.READY
    ready.unlink()
    ready.write_text("rebuilt\n")
    assert checkout.plan() == {}
    moved = tmp_path / "elsewhere" / "lance"
    moved.parent.mkdir()
    checkout.root.rename(moved)
    co = Checkout(moved, checkout.env_dir)
    co.env.update({f"LANCE_PY_{e}": str(moved / "tests" / "fake_stage.py")
                   for e in ("MAIN", "VLLM", "LLAMAFACTORY", "OPENCOMPASS")})
    assert co.plan() == {}


def test_a_local_base_model_is_an_input(checkout, tmp_path):
    model = tmp_path / "my_model"
    model.mkdir()
    (model / "config.json").write_text("{}\n")
    with open(checkout.root / "cfg.yaml", "a") as f:
        f.write(f"model: {{base: {model}}}\n")
    checkout.lance()
    assert checkout.plan() == {}
    edit(model / "config.json", " ")
    assert directly(checkout.plan()) == {"train_sft", "evaluate"}


def test_a_killed_run_does_not_block_the_next_one(checkout):
    """kill -9 Snakemake in the middle of a job: the plain ./lance goes on, redoing what was cut."""
    edit(checkout.root / "config/prompts/review.txt")
    env = dict(checkout.env, LANCE_PY_MAIN="sleep")  # clean (main env) hangs: kill it there
    proc = subprocess.Popen([str(checkout.root / "lance"), "--configfile", "cfg.yaml", "--cores", "1"],
                            cwd=checkout.root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                            start_new_session=True)
    locks = checkout.root / ".snakemake" / "locks"
    incomplete = checkout.root / ".snakemake" / "incomplete"
    deadline = time.time() + 60
    while time.time() < deadline and not (incomplete.is_dir() and any(incomplete.iterdir())):
        time.sleep(0.2)
    assert any(locks.iterdir()), "the run should hold its lock"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    (checkout.root / "results" / "iter1" / ".clean.json.x1y2.part").write_text("half")
    out = checkout.lance()
    assert "releasing the lock left by a killed run" in out
    assert "removed the leftover of a killed job" in out
    assert not list((checkout.root / "results").rglob("*.part"))
    assert checkout.plan() == {}
