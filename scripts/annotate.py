"""annotate: SFT (alpaca) and DPO (sharegpt ranking) sets for LLaMA-Factory, cumulative with the
previous iteration's, their dataset_info.json, and the next iteration's seed (SPEC step 6)."""

from statistics import mean

from _cli import Timer, parser

from lancekit import annotate, judge, stages
from lancekit.io import read_json, write_json
from lancekit.train_config import dataset_info


def main() -> None:
    ap = parser(__doc__)
    for name in ("reviewed-seed", "reviewed-new", "prev-sft", "prev-dpo", "system-prompt"):
        ap.add_argument(f"--{name}", required=True)
    ap.add_argument("--iteration", type=int, required=True)
    for name in ("sft", "dpo", "new-sft", "new-dpo", "dataset-info", "next-seed", "stats"):
        ap.add_argument(f"--{name}", required=True)
    args = ap.parse_args()
    p, timer = args.params, Timer("annotate")
    seeds, new = read_json(args.reviewed_seed), read_json(args.reviewed_new)
    system = open(args.system_prompt, encoding="utf-8").read().strip()
    new_sft, sft_left_out = annotate.select_sft(new, p["sft_threshold"], p["min_chars"], system)
    _, high = stages.split(seeds, p["split_threshold"])
    negatives = [r for r in new if r["lineage"]["branch"] == "high"]
    new_dpo = annotate.select_dpo(high, negatives, p["dpo_gap"])
    shuffle_seed = p["shuffle_seed"] + args.iteration
    sft = annotate.cumulative(new_sft, read_json(args.prev_sft), shuffle_seed)
    dpo = annotate.cumulative(new_dpo, read_json(args.prev_dpo), shuffle_seed)
    base = seeds if p["next_seed"] == "previous" else [s for s in seeds if s["lineage"]["iteration"] == 0]
    full_next = annotate.next_seed(new, base)
    nxt = annotate.cap(full_next, p.get("next_seed_limit"), shuffle_seed)
    stats = {
        "records_in": len(new),
        "low_in": sum(1 for r in new if r["lineage"]["branch"] == "low"),
        "high_in": len(negatives), "high_seeds": len(high),
        "sft_new": len(new_sft), "sft_left_out": sft_left_out,
        "dpo_new": len(new_dpo),
        "dpo_prompts_with_pairs": len({d["prompt_id"] for d in new_dpo}),
        "negatives_without_score": sum(1 for r in negatives if r["review"]["score"] is None),
        "sft_total": len(sft), "dpo_total": len(dpo), "next_seed": len(nxt),
        "next_seed_left_out": len(full_next) - len(nxt),
        "next_seed_histogram": judge.histogram([r["review"]["score"] for r in nxt]),
        "mean_chosen_words": round(mean(len(d["chosen"]["value"].split()) for d in new_dpo), 1) if new_dpo else None,
        "mean_rejected_words": round(mean(len(d["rejected"]["value"].split()) for d in new_dpo), 1) if new_dpo else None,
        "mean_chosen_score": round(mean(d["chosen_score"] for d in new_dpo), 3) if new_dpo else None,
        "mean_rejected_score": round(mean(d["rejected_score"] for d in new_dpo), 3) if new_dpo else None,
    }
    stats["seconds"] = round(timer.done(), 2)
    write_json(args.new_sft, new_sft)
    write_json(args.new_dpo, new_dpo)
    write_json(args.sft, sft)
    write_json(args.dpo, dpo)
    write_json(args.dataset_info, {"lance_sft": dataset_info("sft", "sft.json"),
                                   "lance_dpo": dataset_info("dpo", "dpo.json")})
    write_json(args.next_seed, nxt)
    write_json(args.stats, stats)


if __name__ == "__main__":
    main()
