"""One machine, several GPUs (lancekit.core.gpus): each job that asks for GPUs gets ids of its own.

No GPU here: a stand-in ``nvidia-smi`` on PATH lists four, and the jobs are small Python processes
that record the CUDA_VISIBLE_DEVICES they were given and when they ran.
"""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from lancekit.core import gpus
from lancekit.core.paths import SRC
from lancekit.pipeline.wiring import Engine


@pytest.fixture
def four_gpus(tmp_path, monkeypatch):
    """A stand-in nvidia-smi that lists GPUs 0-3, first on PATH; the environment of a job without
    SLURM or a CUDA_VISIBLE_DEVICES of the user's."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    smi = bin_dir / "nvidia-smi"
    smi.write_text('#!/bin/sh\n[ "$1" = "--query-gpu=index" ] || exit 9\nprintf "0\\n1\\n2\\n3\\n"\n')
    smi.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    for var in ("CUDA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER", "SLURM_JOB_ID", "LANCE_GPU_POOL"):
        monkeypatch.delenv(var, raising=False)
    env = dict(os.environ, PYTHONPATH=str(SRC))
    return env


JOB = """import json, os, sys, time
start = time.time()
time.sleep(float(sys.argv[2]))
with open(sys.argv[1], "a") as f:
    f.write(json.dumps({"gpus": os.environ.get("CUDA_VISIBLE_DEVICES"), "start": start, "end": time.time(),
                        "asked": int(sys.argv[3])}) + "\\n")
"""


def pinned(asked, record, seconds, cwd, env):
    """One job run as a rule runs it: through the module, which execs the job."""
    return subprocess.Popen([sys.executable, "-m", "lancekit.core.gpus", "--gpus", str(asked), "--engine", "vllm",
                             "--", sys.executable, "-c", JOB, str(record), str(seconds), str(asked)],
                            cwd=cwd, env=env, stderr=subprocess.PIPE, text=True)


def shared_gpus(rows):
    """(id, job a, job b) for every GPU held by two jobs whose [start, end] overlap."""
    return [(g, a, b) for i, a in enumerate(rows) for b in rows[i + 1:]
            for g in set(a["gpus"].split(",")) & set(b["gpus"].split(","))
            if a["start"] < b["end"] and b["start"] < a["end"]]


def test_jobs_run_side_by_side_and_never_share_a_gpu(four_gpus, tmp_path):
    record = tmp_path / "jobs.jsonl"
    asked = [1, 1, 2, 1, 2, 1, 1]  # 9 GPUs asked of 4: some jobs wait for others to end
    procs = [pinned(n, record, 0.6, tmp_path, four_gpus) for n in asked]
    for p in procs:
        assert p.wait(timeout=120) == 0, p.stderr.read()
    rows = [json.loads(line) for line in record.read_text().splitlines()]
    assert sorted(r["asked"] for r in rows) == sorted(asked)
    for r in rows:  # each job got what it asked for, distinct ids of the pool
        ids = r["gpus"].split(",")
        assert len(set(ids)) == len(ids) == r["asked"] and set(ids) <= {"0", "1", "2", "3"}, r
    assert shared_gpus(rows) == []
    assert any(a["start"] < b["end"] and b["start"] < a["end"] for i, a in enumerate(rows) for b in rows[i + 1:]), \
        "the jobs ran one after another: nothing was shown about jobs side by side"
    locks = tmp_path / ".snakemake" / "lance-gpus"  # the default lock folder, in the working directory
    assert sorted(p.name for p in locks.glob("gpu-*.lock")) == [f"gpu-{i}.lock" for i in range(4)]


def test_a_job_killed_with_kill_9_gives_its_gpus_back(four_gpus, tmp_path):
    record = tmp_path / "jobs.jsonl"
    hog = pinned(4, record, 600, tmp_path, four_gpus)
    locks = tmp_path / ".snakemake" / "lance-gpus"
    deadline = time.time() + 60
    while not (locks / "gpu-3.lock").exists() or not (locks / "gpu-3.lock").read_text().strip():
        assert time.time() < deadline and hog.poll() is None, "the job never took its GPUs"
        time.sleep(0.05)
    assert (locks / "gpu-0.lock").read_text().strip() == str(hog.pid)  # the job itself holds them (exec)
    assert gpus.try_take(1, ["0", "1", "2", "3"], locks) is None  # all four are held
    os.kill(hog.pid, signal.SIGKILL)
    hog.wait()
    got = gpus.try_take(4, ["0", "1", "2", "3"], locks)
    assert got is not None and [g for g, _ in got] == ["0", "1", "2", "3"]
    for _, fd in got:
        os.close(fd)


def test_the_users_cuda_visible_devices_is_the_pool(four_gpus, tmp_path):
    env = dict(four_gpus, CUDA_VISIBLE_DEVICES="5,GPU-1a2b")
    first, fds1 = gpus.pinned_env(1, env, tmp_path)
    second, fds2 = gpus.pinned_env(1, env, tmp_path)
    assert (first["CUDA_VISIBLE_DEVICES"], second["CUDA_VISIBLE_DEVICES"]) == ("5", "GPU-1a2b")
    assert "CUDA_DEVICE_ORDER" not in first  # the user's ids, read as the user set them
    assert gpus.try_take(1, ["5", "GPU-1a2b"], tmp_path) is None
    for fd in fds1 + fds2:
        os.close(fd)


def test_nvidia_smis_ids_are_given_in_its_order(four_gpus, tmp_path):
    env, fds = gpus.pinned_env(3, four_gpus, tmp_path)
    assert env["CUDA_VISIBLE_DEVICES"] == "0,1,2" and env["CUDA_DEVICE_ORDER"] == "PCI_BUS_ID"
    for fd in fds:
        os.close(fd)


@pytest.mark.parametrize("asked,extra", [
    (0, {}),                                                   # a job that asks for none
    (2, {"SLURM_JOB_ID": "77", "CUDA_VISIBLE_DEVICES": "0,1"}),  # SLURM pinned the job's GPUs itself
])
def test_nothing_is_pinned_without_a_request_or_under_slurm(four_gpus, tmp_path, asked, extra):
    env = dict(four_gpus, **extra)
    assert gpus.pinned_env(asked, env, tmp_path) == (env, [])
    assert not (tmp_path / "gpu-0.lock").exists()


def test_a_slurm_allocation_that_lance_shares_out_itself(four_gpus, tmp_path):
    env = dict(four_gpus, SLURM_JOB_ID="77", CUDA_VISIBLE_DEVICES="4,5,6", LANCE_GPU_POOL="local")
    pinned_env, fds = gpus.pinned_env(2, env, tmp_path)
    assert pinned_env["CUDA_VISIBLE_DEVICES"] == "4,5"
    for fd in fds:
        os.close(fd)


def test_a_machine_without_gpus_runs_the_job_unchanged(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no nvidia-smi
    env = {"PATH": str(tmp_path)}
    assert gpus.pinned_env(1, env, tmp_path) == (env, [])
    out = subprocess.run([sys.executable, "-m", "lancekit.core.gpus", "--gpus", "1", "--", sys.executable, "-c",
                          "import os; print(os.environ.get('CUDA_VISIBLE_DEVICES'))"],
                         cwd=tmp_path, env={**env, "PYTHONPATH": str(SRC)}, capture_output=True, text=True)
    assert (out.returncode, out.stdout) == (0, "None\n"), out.stderr


def test_more_gpus_than_the_machine_has_names_the_config_key(four_gpus, tmp_path):
    with pytest.raises(SystemExit, match=r"asks for 5 GPUs \(config resources\.llamafactory\.gpu\) .* has 4"):
        gpus.pinned_env(5, four_gpus, tmp_path, engine="llamafactory")


@pytest.mark.parametrize("value,ids", [("0,1", ["0", "1"]), ("", []), ("-1", []), ("2,-1,3", ["2"]),
                                       (" 1 , 2 ", ["1", "2"])])
def test_cuda_visible_devices_is_read_as_cuda_reads_it(value, ids):
    assert gpus.visible_ids(value) == ids


def test_the_count_is_the_rules_own_resource():
    assert [gpus.gpu_count(v) for v in ("3", "gpu:2", "gpu:a100:8")] == [3, 2, 8]


def test_an_engine_that_asks_for_gpus_runs_through_the_allocator_and_a_count_change_reruns_nothing():
    def shell(gpu, request="gpu"):
        return Engine("vllm", {"resources": {"vllm": {"gpu": gpu}, "gpu_request": request}}).shell("review")

    assert "lancekit.core.gpus" not in shell(0)  # a CPU job's command line is as it always was
    assert '"$LANCE_PY_MAIN" -m lancekit.core.gpus --gpus {resources.gpu:q} --engine vllm -- "$py" ' in shell(1)
    assert shell(1) == shell(8)  # Snakemake reruns a job whose command line changed: the count is not in it
    assert "--gpus {resources.gres:q}" in shell(2, "gres")
    # the base model's conversion runs on the CPU and declares no GPUs: it is pinned to none
    assert Engine("vllm", {"resources": {"vllm": {"gpu": 1}}}).shell("convert_model", gpus=False) == shell(0).replace(
        "review", "convert_model")
