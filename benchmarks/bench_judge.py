"""The judge on the same seeds, three ways, in one process on one engine: parse failures, records
without a score, how well the scores separate the seed's good / mediocre labels (ROC AUC with a
95 % bootstrap interval), and the time each way takes.

    PYTHONPATH=src $(PYTHONPATH=src python3 scripts/setup_env.py vllm) benchmarks/bench_judge.py \\
        results/iter0/sft_model [--seed-file data/seed/lance_seed.json] [-k 32] [--samples 3]

Ways (the same review prompts, per-request seeds and sampling settings):
- free:        config/prompts/review.txt, answer starts with "score:", 64 free tokens, text parsed
               (the embedded default before constrained decoding);
- constrained: the same prompt, the score decoded under a choice constraint over 0..10
               (the embedded default now);
- cot+constrained: config/prompts/review_cot.txt (justification first), 96 free tokens up to
               "score:", then the constrained score.
"""

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

from lancekit.data import review as rv
from lancekit.data.prompts import Prompts
from lancekit.data.review import ReviewSettings
from lancekit.data.seeds import load_seed
from lancekit.generation.run import open_engine, run_requests
from lancekit.generation.settings import GenerationSettings, Sampling, VLLMArgs

ROOT = Path(__file__).resolve().parents[1]
SAMPLING = Sampling(temperature=0.7, top_p=0.9)
WAYS = {
    "free": ("review.txt", ReviewSettings(samples=3, mode="free", order="score_first", response_prefix="score:",
                                          max_tokens=64)),
    "constrained": ("review.txt", ReviewSettings(samples=3, mode="constrained", order="score_first",
                                                 response_prefix="score:", max_tokens=64)),
    "cot+constrained": ("review_cot.txt", ReviewSettings(samples=3, mode="constrained", order="justification_first",
                                                         response_prefix=None, max_tokens=96)),
}


def review(engine, seeds, prompt_file, cfg: ReviewSettings, seed):
    prompts = Prompts.load({"system": ROOT / "config/prompts/system.txt", "review": ROOT / "config/prompts" / prompt_file})
    t0 = time.time()
    first = rv.review_requests(seeds, prompts, cfg, seed, "review_seed")
    comps = run_requests(engine, first, SAMPLING, cfg.max_tokens, "review")
    if cfg.needs_score_pass:
        second = rv.score_requests(first, comps, seed, "review_seed")
        comps = rv.merge_score_pass(first, comps, run_requests(engine, second, SAMPLING, 0, "scores"))
    _, stats = rv.apply_reviews(seeds, comps, "review_seed", "bench", cfg)
    return stats, time.time() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("--seed-file", default=str(ROOT / "data/seed/lance_seed.json"))
    ap.add_argument("-k", type=int, default=32, help="first K seed records (the default config uses 32)")
    ap.add_argument("--samples", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--json", help="also write the table here")
    args = ap.parse_args()
    seeds, _ = load_seed(args.seed_file, limit=args.k)
    engine = open_engine(args.model, GenerationSettings(VLLMArgs(max_model_len=2048), SAMPLING, args.seed))
    rows = {}
    for name, (prompt_file, cfg) in WAYS.items():
        stats, seconds = review(engine, seeds, prompt_file, replace(cfg, samples=args.samples), args.seed)
        auc = stats["by_label"]["auc_good_vs_mediocre"]
        rows[name] = {"votes": stats["votes"], "failed": stats["votes_failed"],
                      "failure rate": stats["parse_failure_rate"], "no score": stats["records_without_score"],
                      "mean good": stats["by_label"]["labels"]["good"]["mean_score"],
                      "mean mediocre": stats["by_label"]["labels"]["mediocre"]["mean_score"],
                      "AUC": auc["auc"], "AUC 95% CI": [auc["low"], auc["high"]],
                      "scored good/mediocre": [auc["n_pos"], auc["n_neg"]], "seconds": round(seconds, 1)}
    base = rows["free"]["seconds"]
    print(f"\n{len(seeds)} seed records x {args.samples} votes, model {args.model}, one engine\n")
    print("| way | failed votes | no score | mean good | mean mediocre | AUC [95% CI] | seconds | time vs free |")
    print("|---|---|---|---|---|---|---|---|")
    for name, r in rows.items():
        lo, hi = r["AUC 95% CI"]
        print(f"| {name} | {r['failed']}/{r['votes']} | {r['no score']}/{len(seeds)} | {r['mean good']} | "
              f"{r['mean mediocre']} | {r['AUC']} [{lo}, {hi}] | {r['seconds']} | {r['seconds'] / base:.2f}x |")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
