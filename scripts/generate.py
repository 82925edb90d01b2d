"""generate: new instructions (+ their responses) for low-score seeds, negatives for high-score
seeds, all sampled from the iteration's generator model on vLLM."""

from _cli import Timer, parser

from lancekit import stages
from lancekit.io import read_json, write_json
from lancekit.prompts import Prompts


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--input", required=True, help="reviewed seed")
    ap.add_argument("--model", required=True)
    ap.add_argument("--iteration", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--stats", required=True)
    args = ap.parse_args()
    p, timer = args.params, Timer("generate")
    seeds = read_json(args.input)
    prompts = Prompts.load(p["prompts"])
    low, high = stages.split(seeds, p["split_threshold"])
    first = stages.first_requests(low, high, prompts, p["generate"], p["seed"])
    groups, tokens = [], stages.token_stats([])
    if first:
        from lancekit.engine_run import open_engine, run_requests

        engine = open_engine(args.model, p["vllm"], p["seed"])
        comps = run_requests(engine, first, p["sampling"], p["max_tokens"], "instructions+negatives")
        groups = stages.build_groups(low, high, comps, args.iteration, args.model,
                                     p["generate"].get("response_prefix"))
        second = stages.response_requests(groups, prompts, p["generate"], p["seed"])
        comps2 = run_requests(engine, second, p["sampling"], p["max_tokens"], "responses") if second else []
        stages.attach_responses(groups, comps2, args.iteration)
        for part in (stages.token_stats(comps), stages.token_stats(comps2)):
            tokens = {k: tokens[k] + part[k] for k in tokens}
    stats = stages.generate_stats(groups, len(seeds), tokens)
    stats["seconds"] = round(timer.done(), 1)
    write_json(args.out, groups)
    write_json(args.stats, stats)


if __name__ == "__main__":
    main()
