"""review_seed / review_new, one shard: the model judges every (prompt, response) pair of the
shard's records n times (vLLM); `gather` merges the shards into the stage's target.

review.mode "free": the score is parsed from the judge's text; "constrained": the score itself
is decoded under a choice constraint (see lancekit.data.review). review_seed of iterations after
the first reuses the scores stored in the seed unless review.rereview_seed is set. Finished
chunks of requests are kept in <shard file>.progress.jsonl and not sent again by a rerun.
"""

from _cli import Timer, load_job
from lancekit.core.io import read_json, write_json
from lancekit.core.settings import load
from lancekit.data import records
from lancekit.data.prompts import Prompts
from lancekit.data.requests import token_stats
from lancekit.data.review import (
    ReviewSettings,
    apply_reviews,
    merge_score_pass,
    reuse_reviews,
    review_requests,
    score_requests,
    too_long_warnings,
)
from lancekit.generation import progress as progress_file
from lancekit.generation import shards
from lancekit.generation.progress import Progress
from lancekit.generation.settings import GenerationSettings


def judge(recs: list[dict], prompts: Prompts, review: ReviewSettings, generation: GenerationSettings, model: str,
          progress: Progress, stage: str, chunk: int) -> tuple[list[dict], dict]:
    from lancekit.generation.run import LazyEngine, run_requests

    first = review_requests(recs, prompts, review, generation.seed, stage)
    engine = LazyEngine(model, generation)
    comps = run_requests(engine, first, generation.sampling, review.max_tokens, stage, progress, chunk)
    for warning in too_long_warnings(recs, comps):
        print(warning, flush=True)
    if review.needs_score_pass:
        second = score_requests(first, comps, generation.seed, stage)
        more = run_requests(engine, second, generation.sampling, 0, f"{stage} scores", progress, chunk)
        comps = merge_score_pass(first, comps, more)
    recs, _ = apply_reviews(recs, comps, stage, model, review)
    return recs, token_stats(comps)


def main() -> None:
    job = load_job(__doc__)
    p, stage = job.params, job.params["stage"]
    review = load(ReviewSettings, p["review"], "review")
    generation = load(GenerationSettings, p["generation"], "generation")
    shard, n = int(job.wildcards.shard), int(job.wildcards.n)
    timer = Timer(f"{stage} {shards.shard_name(shard, n)}")
    recs = shards.select(read_json(job.input.records), shard, n)
    tally = {}
    if stage == "review_seed" and int(job.wildcards.t) > 1 and not review.rereview_seed:
        reuse_reviews(recs)  # checks every record has its stored review
        tally["reused_scores"] = 1
    elif recs:
        prompts = Prompts.load({"system": job.input.system, "review": job.input.review})
        progress = progress_file.for_shard(job.output.shard, p["model"], generation, "review")
        recs, tokens = judge(recs, prompts, review, generation, p["model"], progress, stage, p["chunk"])
        progress.finish()
        tally.update(tokens, **progress.tally())
    tally["seconds"] = round(timer.done(), 1)
    write_json(job.output.shard, {"shard": shard, "shards": n, "tally": tally,
                                  "items": [records.restaged(r, stage) for r in recs]})


if __name__ == "__main__":
    main()
