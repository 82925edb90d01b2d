"""generate, one shard, sampled from the iteration's generator model on vLLM (the mode is the
method's, see docs/methods.md):
- lance (lance_low / lance_high: one branch only): new instructions (+ their responses) for the
  shard's low-score seeds, negatives for its high-score seeds;
- self_instruct (Self-Instruct, I-SHEEP): new tasks written from K example tasks of the seed,
  then answered;
- respond (SPIN): the model's own answer to every seed prompt.
`gather` merges the shards into raw.json. Finished chunks of requests are kept in
<shard file>.progress.jsonl and not sent again by a rerun."""

from _cli import Timer, load_job
from lancekit import judge, shards, stages
from lancekit.io import read_json, write_json
from lancekit.progress import Progress
from lancekit.prompts import Prompts

PROMPT_KEYS = ("system", "new_instruction", "negative", "self_instruct")


def main() -> None:
    job = load_job(__doc__)
    p, mode = job.params, job.params["mode"]
    shard, n = int(job.wildcards.shard), int(job.wildcards.n)
    timer = Timer(f"generate {shards.shard_name(shard, n)}")
    iteration, model = int(job.wildcards.t), p["model"]
    pool = read_json(job.input.records)
    seeds = shards.select(pool, shard, n)
    prompts = Prompts.load({k: getattr(job.input, k) for k in PROMPT_KEYS if hasattr(job.input, k)})
    tally = {}
    if mode.startswith("lance"):
        low, high = judge.split(seeds, p["split_threshold"])
        low, high = (low, []) if mode == "lance_low" else ([], high) if mode == "lance_high" else (low, high)
        first = stages.first_requests(low, high, prompts, p["generate"], p["seed"])
        tally.update(low=len(low), high=len(high))
        first_sampling, gen_cfg = p["sampling"], p["generate"]
    elif mode == "self_instruct":
        si = p["self_instruct"]
        first = stages.self_instruct_requests(seeds, pool, prompts, si, p["seed"], p["max_tokens"])
        first_sampling = {"temperature": si["temperature"], "top_p": si["top_p"]}
        gen_cfg = {"responses_per_instruction": si["responses_per_instruction"]}
    else:
        first = stages.respond_requests(seeds, prompts, p["spin"]["responses_per_prompt"], p["seed"])
        first_sampling = p["sampling"]
    groups, tokens = [], stages.token_stats([])
    if first:
        from lancekit.engine_run import LazyEngine, run_requests

        engine = LazyEngine(model, p["vllm"], p["seed"], p["trust_remote_code"])
        progress = Progress(Progress.beside(job.output.shard), model)
        what = "seed responses" if mode == "respond" else "instructions+negatives"
        comps = run_requests(engine, first, first_sampling, p["max_tokens"], what, progress, p["chunk"])
        comps2 = []
        if mode == "respond":
            groups = stages.build_respond_groups(seeds, comps, iteration, model)
        else:
            if mode == "self_instruct":
                groups = stages.build_task_groups(seeds, comps, iteration, model)
            else:
                groups = stages.build_groups(low, high, comps, iteration, model,
                                             p["generate"].get("response_prefix"))
            second = stages.response_requests(groups, prompts, gen_cfg, p["seed"])
            comps2 = run_requests(engine, second, p["sampling"], p["max_tokens"], "responses", progress,
                                  p["chunk"])
            stages.attach_responses(groups, comps2, iteration)
        progress.finish()
        for part in (stages.token_stats(comps), stages.token_stats(comps2)):
            tokens = {k: tokens[k] + part[k] for k in tokens}
        tally.update(progress.tally())
    tally.update(tokens, records_in=len(seeds), seconds=round(timer.done(), 1))
    write_json(job.output.shard, {"shard": shard, "shards": n, "tally": tally, "items": groups})


if __name__ == "__main__":
    main()
