"""generate, one shard, sampled from the iteration's generator model on vLLM, as the method asks
(lancekit.methods: LANCE's new instructions and negatives, Self-Instruct's and I-SHEEP's new
tasks, SPIN's own answers): a first pass of requests, read back into generation groups, then,
for the methods that have one, a second pass that answers the new instructions. `gather`
merges the shards into raw.json. Finished chunks of requests are kept in
<shard file>.progress.jsonl and not sent again by a rerun."""

from _cli import Timer, load_job
from lancekit import methods
from lancekit.core.io import read_json, write_json
from lancekit.core.settings import load
from lancekit.data.prompts import Prompts
from lancekit.data.requests import token_stats
from lancekit.generation import progress as progress_file
from lancekit.generation import shards
from lancekit.generation.settings import GenerationSettings


def main() -> None:
    job = load_job(__doc__)
    p, method = job.params, methods.get(job.wildcards.method)
    generation = load(GenerationSettings, p["generation"], "generation")
    settings = load(method.GenerateSettings, p["method"], method.name)
    shard, n = int(job.wildcards.shard), int(job.wildcards.n)
    timer = Timer(f"generate {shards.shard_name(shard, n)}")
    iteration, model = int(job.wildcards.t), p["model"]
    pool = read_json(job.input.records)
    seeds = shards.select(pool, shard, n)
    # every named input but the records and the model is a prompt template, by its config key
    templates = {k: v for k, v in vars(job.input).items() if k not in ("records", "model")}
    prompts = Prompts.load(templates, methods.prompt_slots())
    plan = method.generation(seeds, pool, prompts, settings, generation.seed, p["max_tokens"])
    tally = dict(plan.tally)
    groups, tokens = [], token_stats([])
    if plan.first:
        from lancekit.generation.run import LazyEngine, run_requests

        engine = LazyEngine(model, generation)
        progress = progress_file.for_shard(job.output.shard, model, generation, "generate")
        comps = run_requests(engine, plan.first, plan.sampling or generation.sampling, p["max_tokens"], plan.what,
                             progress, p["chunk"])
        groups = plan.read(comps, iteration, model)
        second = plan.second(groups)
        comps2 = run_requests(engine, second, generation.sampling, p["max_tokens"], "responses", progress,
                              p["chunk"]) if second else []
        plan.attach(groups, comps2, iteration)
        progress.finish()
        for part in (token_stats(comps), token_stats(comps2)):
            tokens = {k: tokens[k] + part[k] for k in tokens}
        tally.update(progress.tally())
    tally.update(tokens, records_in=len(seeds), seconds=round(timer.done(), 1))
    write_json(job.output.shard, {"shard": shard, "shards": n, "tally": tally, "items": groups})


if __name__ == "__main__":
    main()
