"""annotate: SFT (alpaca) and DPO (sharegpt ranking) sets for LLaMA-Factory, cumulative with the
previous iteration's, their dataset_info.json, and the next iteration's seed (algorithm step 6).

Before anything is written, the judge-health budget is checked on this iteration's review
statistics: over budget, the run stops here, before training, and every review stays on disk.
"""

from _cli import Timer, load_job
from lancekit import judge
from lancekit.annotate import annotate
from lancekit.io import read_json, write_json
from lancekit.train_config import dataset_info


def main() -> None:
    job = load_job(__doc__)
    p, t, timer = job.params, int(job.wildcards.t), Timer("annotate")
    problems = []
    for stage, stats_file, records_file in (("review_seed", job.input.seed_stats, job.input.reviewed_seed),
                                            ("review_new", job.input.new_stats, job.input.reviewed_new)):
        problems += judge.health_problems(read_json(stats_file), t, stage, p["health"], records_file)
    if problems:
        raise SystemExit("error: the judge is over its health budget, so the run stops before training:\n  "
                         + "\n  ".join(problems) + "\n(raise the limits in config `review` to go on anyway)")
    system = open(job.input.system, encoding="utf-8").read().strip()
    out, stats = annotate(read_json(job.input.reviewed_seed), read_json(job.input.reviewed_new),
                          read_json(job.input.prev_sft), read_json(job.input.prev_dpo), system,
                          p["annotate"], p["split_threshold"], t)
    stats["seconds"] = round(timer.done(), 2)
    for name, recs in out.items():
        write_json(getattr(job.output, name), recs)
    write_json(job.output.dataset_info, {"lance_sft": dataset_info("sft", "sft.json"),
                                         "lance_dpo": dataset_info("dpo", "dpo.json")})
    write_json(job.output.stats, stats)


if __name__ == "__main__":
    main()
