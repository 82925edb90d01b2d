"""The SLURM profile on a real cluster: a one-node slurmctld/slurmd of this machine (Debian's
slurm-wlm and munge, installed when missing; tests/integration/slurm_cluster.py). Seed
preparation, the model conversion and review_seed as 2 shard jobs go through
`./lance --workflow-profile workflow/profiles/slurm`, as the README says; the gather runs here.
Skips, with the reason, only where no cluster can be had (not root, no apt-get)."""

import os
import re
import signal
import subprocess

import pytest
from slurm_cluster import SlurmUnavailable, local_slurm

from workflow import CONFIG, ROOT, load

SLURM_CONFIG = ROOT / "tests/integration/slurm.yaml"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    try:
        with local_slurm(tmp_path_factory.mktemp("slurm")) as c:
            yield c
    except SlurmUnavailable as e:
        pytest.skip(f"no SLURM cluster here: {e.reason}")


def lance_on_slurm(wd, cluster, *targets, timeout=1200):
    argv = [str(ROOT / "lance"), "--workflow-profile", str(ROOT / "workflow/profiles/slurm"),
            "--directory", str(wd), "--configfile", str(CONFIG), str(SLURM_CONFIG),
            "--slurm-init-seconds-before-status-checks", "1", *targets]
    env = {k: v for k, v in os.environ.items() if not k.startswith("LANCE_PY_")} | cluster.env
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGINT)  # Snakemake cancels its SLURM jobs on SIGINT, not SIGTERM
        try:
            out, _ = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, _ = proc.communicate()
        raise AssertionError(f"the SLURM run did not finish in {timeout} s:\n{out[-8000:]}") from None
    (wd / "slurm-run.out").write_text(out)
    assert proc.returncode == 0, out[-10000:]
    return out


def slurm_jobs(cluster):
    """{rule: [job fields]} of every job the cluster knows (finished ones stay: MinJobAge)."""
    out = cluster.run("scontrol", "show", "job", "--oneliner").stdout
    jobs = {}
    for line in out.splitlines():
        fields = dict(re.findall(r"(\w+)=(\S*)", line))
        rule = fields.get("Comment", "").removeprefix("rule_").split("_wildcards")[0]
        jobs.setdefault(rule, []).append(fields)
    return jobs


def test_a_sharded_engine_stage_runs_as_slurm_jobs(cluster, tmp_path):
    wd = tmp_path / "wd"
    wd.mkdir()
    out = lance_on_slurm(wd, cluster, "results/lance/iter1/reviewed_seed.json")
    assert "workflow/profiles/slurm" in out
    jobs = slurm_jobs(cluster)
    # engine jobs and the seed went through SLURM; the small steps ran on the submit host
    assert len(jobs.get("review_seed", [])) == 2, jobs.keys()
    assert {"prepare_seed", "prepare_base_model"} <= set(jobs), jobs.keys()
    assert not {"review_seed_gather", "setup_env", "download_base_model"} & set(jobs)
    for job in jobs["review_seed"]:  # config resources.vllm: threads, runtime, memory
        assert job["JobState"] == "COMPLETED", job
        assert job["NumCPUs"] == "1" and job["TimeLimit"] == "00:15:00", job
        # the plugin adds a megabyte or so to an array job's memory for its task table
        assert 6000 <= int(re.search(r"mem=(\d+)M", job["TRES"]).group(1)) <= 6010, job
    # the shards went in as one job array (slurm-array-jobs in the profile)
    assert len({job.get("ArrayJobId") for job in jobs["review_seed"]} - {None}) == 1, jobs["review_seed"]
    for job in jobs["prepare_seed"] + jobs["prepare_base_model"]:  # rules that say nothing: the profile's
        assert job["JobState"] == "COMPLETED", job
        assert job["NumCPUs"] == "1" and job["TimeLimit"] == "01:00:00" and "mem=4000M" in job["TRES"], job
    # the merged target: every seed record once, in seed order, every vote parsed
    seed = load(wd / "results/iter0/seed.json")
    reviewed = load(wd / "results/lance/iter1/reviewed_seed.json")
    assert [r["id"] for r in reviewed] == [r["id"] for r in seed]
    assert all(r["review"]["n_parsed"] == 2 and r["review"]["judge"] == "results/base_model" for r in reviewed)
    stats = load(wd / "results/lance/iter1/stats/review_seed.json")
    assert stats["shards"] == 2 and stats["votes"] == 2 * len(seed) and stats["parse_failure_rate"] == 0.0
    parts = [load(wd / f"results/lance/iter1/shards/review_seed/{i}-of-2.json")["items"] for i in range(2)]
    assert all(parts) and sum(map(len, parts)) == len(seed)  # both shards had work


def test_an_engine_that_asks_more_cpus_than_any_node_stops_before_any_job(cluster, tmp_path):
    big = tmp_path / "big.yaml"
    big.write_text(f"resources: {{vllm: {{threads: {cluster.cpus + 1}}}}}\n")
    before = sum(map(len, slurm_jobs(cluster).values()))
    argv = [str(ROOT / "lance"), "--workflow-profile", str(ROOT / "workflow/profiles/slurm"),
            "--directory", str(tmp_path), "results/lance/iter1/reviewed_seed.json", "--configfile", str(CONFIG), str(big)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("LANCE_PY_")} | cluster.env
    out = subprocess.run(argv, cwd=ROOT, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         timeout=300)
    assert out.returncode != 0
    assert f"resources.vllm.threads = {cluster.cpus + 1}" in out.stdout, out.stdout[-3000:]
    assert sum(map(len, slurm_jobs(cluster).values())) == before, "nothing was submitted"
