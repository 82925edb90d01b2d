"""review_seed / review_new: the model judges every (prompt, response) pair n times (vLLM).

review.mode "free": the score is parsed from the judge's text; "constrained": the score itself
is decoded under a choice constraint (see lancekit.stages). review_seed of iterations after the
first reuses the scores stored in the seed unless review.rereview_seed is set.
"""

from _cli import Timer, load_job
from lancekit import records, stages
from lancekit.io import read_json, write_json
from lancekit.prompts import Prompts


def judge(recs: list[dict], prompts: Prompts, p: dict, model: str, stage: str) -> tuple[list[dict], dict]:
    from lancekit.engine_run import open_engine, run_requests

    cfg = p["review"]
    first = stages.review_requests(recs, prompts, cfg, p["seed"], stage)
    if not first:
        return stages.apply_reviews(recs, [], stage, model, cfg)
    engine = open_engine(model, p["vllm"], p["seed"], p["trust_remote_code"])
    comps = run_requests(engine, first, p["sampling"], cfg["max_tokens"], stage)
    for warning in stages.too_long_warnings(recs, comps):
        print(warning, flush=True)
    if stages.needs_score_pass(cfg):
        second = stages.score_requests(first, comps, p["seed"], stage)
        comps = stages.merge_score_pass(first, comps, run_requests(engine, second, p["sampling"], 0, f"{stage} scores"))
    return stages.apply_reviews(recs, comps, stage, model, cfg)


def main() -> None:
    job = load_job(__doc__)
    stage, p = job.params["stage"], job.params
    timer = Timer(stage)
    recs = read_json(job.input.records)
    if stage == "review_seed" and int(job.wildcards.t) > 1 and not p["review"]["rereview_seed"]:
        recs, stats = stages.reuse_reviews(recs)
    else:
        prompts = Prompts.load({"system": job.input.system, "review": job.input.review})
        recs, stats = judge(recs, prompts, p, p["model"], stage)
    stats["seconds"] = round(timer.done(), 1)
    write_json(job.output.reviewed, [records.restaged(r, stage) for r in recs])
    write_json(job.output.stats, stats)


if __name__ == "__main__":
    main()
