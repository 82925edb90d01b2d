"""review_seed / review_new, one shard: the model judges every (prompt, response) pair of the
shard's records n times (vLLM); `gather` merges the shards into the stage's target.

review.mode "free": the score is parsed from the judge's text; "constrained": the score itself
is decoded under a choice constraint (see lancekit.stages). review_seed of iterations after the
first reuses the scores stored in the seed unless review.rereview_seed is set. Finished chunks
of requests are kept in <shard file>.progress.jsonl and not sent again by a rerun.
"""

from _cli import Timer, load_job
from lancekit import records, shards, stages
from lancekit.io import read_json, write_json
from lancekit.progress import Progress
from lancekit.prompts import Prompts


def judge(recs: list[dict], prompts: Prompts, p: dict, progress: Progress, stage: str) -> tuple[list[dict], dict]:
    from lancekit.engine_run import LazyEngine, run_requests

    cfg, model = p["review"], p["model"]
    first = stages.review_requests(recs, prompts, cfg, p["seed"], stage)
    engine = LazyEngine(model, p["vllm"], p["seed"], p["trust_remote_code"])
    comps = run_requests(engine, first, p["sampling"], cfg["max_tokens"], stage, progress, p["chunk"])
    for warning in stages.too_long_warnings(recs, comps):
        print(warning, flush=True)
    if stages.needs_score_pass(cfg):
        second = stages.score_requests(first, comps, p["seed"], stage)
        more = run_requests(engine, second, p["sampling"], 0, f"{stage} scores", progress, p["chunk"])
        comps = stages.merge_score_pass(first, comps, more)
    recs, _ = stages.apply_reviews(recs, comps, stage, model, cfg)
    return recs, stages.token_stats(comps)


def main() -> None:
    job = load_job(__doc__)
    stage, p = job.params["stage"], job.params
    shard, n = int(job.wildcards.shard), int(job.wildcards.n)
    timer = Timer(f"{stage} {shards.shard_name(shard, n)}")
    recs = shards.select(read_json(job.input.records), shard, n)
    tally = {}
    if stage == "review_seed" and int(job.wildcards.t) > 1 and not p["review"]["rereview_seed"]:
        stages.reuse_reviews(recs)  # checks every record has its stored review
        tally["reused_scores"] = 1
    elif recs:
        prompts = Prompts.load({"system": job.input.system, "review": job.input.review})
        progress = Progress(Progress.beside(job.output.shard), p["model"])
        recs, tokens = judge(recs, prompts, p, progress, stage)
        progress.finish()
        tally.update(tokens, **progress.tally())
    tally["seconds"] = round(timer.done(), 1)
    write_json(job.output.shard, {"shard": shard, "shards": n, "tally": tally,
                                  "items": [records.restaged(r, stage) for r in recs]})


if __name__ == "__main__":
    main()
