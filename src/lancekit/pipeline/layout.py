"""Where the report finds every file of a run (the report rule's inputs and its `layout` param,
lancekit.report.page), as a pure function of the config: the summaries of every evaluated model,
each method's stage statistics and models, and Snakemake's timing file of every job."""

from __future__ import annotations

from collections.abc import Callable

from .. import methods
from ..methods.runs import M0, eval_runs, parse_run, replicate_runs

SHARD_STAGES = ("review_seed", "generate", "review_new")
# the staging report of the benchmark data (eval.data), its data/ folder beside it:
# $COMPASS_DATA_CACHE of every evaluation
BENCHMARK_DATA = "results/benchmark_data/lance_staging.json"


def iterations(config: dict) -> dict[str, int]:
    """How many iterations each configured method runs."""
    return {m: methods.get(m).iterations(config["iters"]) for m in config["methods"]}


def stage_times(config: dict, folder: str, stage: str) -> list[str]:
    """The timing files of one stage's jobs under results/benchmarks/<folder>/ (one per shard for
    the engine stages; workflow/rules/*.smk, `benchmark:`)."""
    if stage in SHARD_STAGES:
        n = config["shards"]
        return [f"results/benchmarks/{folder}/{stage}.{i}-of-{n}.tsv" for i in range(n)]
    return [f"results/benchmarks/{folder}/{stage}.tsv"]


def replicate_model(run: str, seed: int) -> str:
    """The model folder of the replicate of ``run`` (M_0 or M_t) trained with ``seed``: its
    last training stage's output under results/<run>/seed<s>/ (train.seeds)."""
    method, _ = parse_run(run)
    return f"results/{run}/seed{int(seed)}/{'sft_model' if run == M0 else methods.get(method).model_dir}"


def replicates(config: dict, runs) -> dict[str, dict[str, str]]:
    """{run: {seed: summary.json}} of the replicates of every trained model among ``runs`` (M_0
    only when it is trained: train.m0), one per seed of train.seeds."""
    trained = [r for r in runs if r != M0 or config["train"]["m0"]]
    return {run: {str(s): f"results/{key}/eval/summary.json" for s, key in by_seed.items()}
            for run, by_seed in replicate_runs(trained, config["train"]["seeds"]).items() if by_seed}


def report_layout(config: dict, repo_path: Callable[[str], str] = str) -> dict:
    """Every file the report reads, by what it is (see lancekit.report.page)."""
    names, iters = list(config["methods"]), iterations(config)
    summaries = {run: f"results/{run}/eval/summary.json" for run in eval_runs(names, iters)}
    times = {run: {"evaluate": stage_times(config, run, "evaluate")} for run in summaries}
    stats, train = {}, {"": {"0/SFT": "results/iter0/sft_model"} if config["train"]["m0"] else {}}
    if config["train"]["m0"]:
        times["iter0"]["train_sft"] = stage_times(config, "iter0", "train_sft")
    for m in names:
        method = methods.get(m)
        stats[m], train[m] = {}, {}
        for t in range(1, iters[m] + 1):
            d, run = f"results/{m}/iter{t}", f"{m}/iter{t}"
            stats[m][str(t)] = {st: f"{d}/stats/{st}.json" for st in methods.DATA_STAGES if method.has(st)}
            times[run].update({st: stage_times(config, run, st) for st in method.stages})
            if method.has("train_sft"):
                train[m][f"{t}/SFT"] = f"{d}/sft_model"
            if method.has("train_dpo"):
                train[m][f"{t}/DPO"] = f"{d}/model"
    paper = config["report"]["paper"]
    return {"methods": names, "iters": iters, "summaries": summaries, "stats": stats, "train": train,
            "replicates": replicates(config, summaries),
            "times": times, "paper": repo_path(paper) if paper else None,
            "paper_backbone": config["report"]["paper_backbone"],
            "headline_iteration": config["report"]["headline_iteration"]}


def report_inputs(lay: dict) -> dict[str, list[str]]:
    """The same files as the report rule's named inputs."""
    return {
        "summaries": list(lay["summaries"].values()),
        "replicates": [p for by in lay.get("replicates", {}).values() for p in by.values()],
        "stats": [p for by_t in lay["stats"].values() for by in by_t.values() for p in by.values()],
        "models": [p for by in lay["train"].values() for p in by.values()],
        "times": [p for by in lay["times"].values() for files in by.values() for p in files],
        "paper": [lay["paper"]] if lay["paper"] else [],
    }
