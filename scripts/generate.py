"""generate, one shard: new instructions (+ their responses) for the shard's low-score seeds,
negatives for its high-score seeds, all sampled from the iteration's generator model on vLLM;
`gather` merges the shards into raw.json. Finished chunks of requests are kept in
<shard file>.progress.jsonl and not sent again by a rerun."""

from _cli import Timer, load_job
from lancekit import judge, shards, stages
from lancekit.io import read_json, write_json
from lancekit.progress import Progress
from lancekit.prompts import Prompts


def main() -> None:
    job = load_job(__doc__)
    p = job.params
    shard, n = int(job.wildcards.shard), int(job.wildcards.n)
    timer = Timer(f"generate {shards.shard_name(shard, n)}")
    iteration, model = int(job.wildcards.t), p["model"]
    seeds = shards.select(read_json(job.input.reviewed), shard, n)
    prompts = Prompts.load({k: getattr(job.input, k) for k in ("system", "new_instruction", "negative")})
    low, high = judge.split(seeds, p["split_threshold"])
    first = stages.first_requests(low, high, prompts, p["generate"], p["seed"])
    groups, tally = [], stages.token_stats([])
    if first:
        from lancekit.engine_run import LazyEngine, run_requests

        engine = LazyEngine(model, p["vllm"], p["seed"], p["trust_remote_code"])
        progress = Progress(Progress.beside(job.output.shard), model)
        comps = run_requests(engine, first, p["sampling"], p["max_tokens"], "instructions+negatives",
                             progress, p["chunk"])
        groups = stages.build_groups(low, high, comps, iteration, model, p["generate"].get("response_prefix"))
        second = stages.response_requests(groups, prompts, p["generate"], p["seed"])
        comps2 = run_requests(engine, second, p["sampling"], p["max_tokens"], "responses", progress, p["chunk"])
        stages.attach_responses(groups, comps2, iteration)
        progress.finish()
        for part in (stages.token_stats(comps), stages.token_stats(comps2)):
            tally = {k: tally[k] + part[k] for k in tally}
        tally.update(progress.tally())
    tally.update(records_in=len(seeds), low=len(low), high=len(high), seconds=round(timer.done(), 1))
    write_json(job.output.shard, {"shard": shard, "shards": n, "tally": tally, "items": groups})


if __name__ == "__main__":
    main()
