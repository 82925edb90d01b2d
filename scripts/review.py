"""review_seed / review_new: the model judges every (prompt, response) pair n times (vLLM)."""

from _cli import Timer, parser

from lancekit import stages
from lancekit.io import read_json, write_json
from lancekit.prompts import Prompts


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--stage", choices=["review_seed", "review_new"], required=True)
    ap.add_argument("--input", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--stats", required=True)
    args = ap.parse_args()
    p, timer = args.params, Timer(args.stage)
    records = read_json(args.input)
    threshold = p["split_threshold"] if args.stage == "review_seed" else None
    if args.stage == "review_seed" and not p["rereview"]:
        records, stats = stages.reuse_reviews(records, threshold)
    else:
        from lancekit.engine_run import open_engine, run_requests

        prefix = p.get("response_prefix")
        reqs = stages.review_requests(records, Prompts.load(p["prompts"]), p["samples"], p["seed"], args.stage, prefix)
        comps = []
        if reqs:
            engine = open_engine(args.model, p["vllm"], p["seed"])
            comps = run_requests(engine, reqs, p["sampling"], p["max_tokens"], args.stage)
        records, stats = stages.apply_reviews(records, comps, args.stage, args.model, threshold, prefix)
    for r in records:
        r["lineage"] = {**r["lineage"], "stage": args.stage}
    stats["seconds"] = round(timer.done(), 1)
    write_json(args.out, records)
    write_json(args.stats, stats)


if __name__ == "__main__":
    main()
