"""generate: new instructions (+ their responses) for low-score seeds, negatives for high-score
seeds, all sampled from the iteration's generator model on vLLM."""

from _cli import Timer, load_job
from lancekit import judge, stages
from lancekit.io import read_json, write_json
from lancekit.prompts import Prompts


def main() -> None:
    job = load_job(__doc__)
    p, timer = job.params, Timer("generate")
    iteration, model = int(job.wildcards.t), p["model"]
    seeds = read_json(job.input.reviewed)
    prompts = Prompts.load({k: getattr(job.input, k) for k in ("system", "new_instruction", "negative")})
    low, high = judge.split(seeds, p["split_threshold"])
    first = stages.first_requests(low, high, prompts, p["generate"], p["seed"])
    groups, tokens = [], stages.token_stats([])
    if first:
        from lancekit.engine_run import open_engine, run_requests

        engine = open_engine(model, p["vllm"], p["seed"], p["trust_remote_code"])
        comps = run_requests(engine, first, p["sampling"], p["max_tokens"], "instructions+negatives")
        groups = stages.build_groups(low, high, comps, iteration, model, p["generate"].get("response_prefix"))
        second = stages.response_requests(groups, prompts, p["generate"], p["seed"])
        comps2 = run_requests(engine, second, p["sampling"], p["max_tokens"], "responses") if second else []
        stages.attach_responses(groups, comps2, iteration)
        for part in (stages.token_stats(comps), stages.token_stats(comps2)):
            tokens = {k: tokens[k] + part[k] for k in tokens}
    stats = stages.generate_stats(groups, len(seeds), tokens)
    stats["split"] = {"threshold": p["split_threshold"], "low": len(low), "high": len(high)}
    stats["seconds"] = round(timer.done(), 1)
    write_json(job.output.raw, groups)
    write_json(job.output.stats, stats)


if __name__ == "__main__":
    main()
