"""annotate: SFT (alpaca) and DPO (sharegpt ranking) sets for LLaMA-Factory, cumulative with the
previous iteration's, their dataset_info.json, and the next iteration's seed (algorithm step 6),
as the method builds them (lancekit.methods).

Before anything is written, the judge-health budget is checked on this iteration's review
statistics (the methods that review: LANCE, I-SHEEP's self-assessment): over budget, the run
stops here, before training, and every review stays on disk.
"""

from _cli import Timer, load_job
from lancekit import methods
from lancekit.core.io import read_json, write_json
from lancekit.core.settings import load
from lancekit.data.judge import HealthLimits, health_problems
from lancekit.training.config import dataset_info

# review statistics that annotate reads: (stage, the stats input, the records to name)
REVIEWS = (("review_seed", "seed_stats", "reviewed_seed"), ("review_new", "new_stats", "reviewed_new"))


def check_health(job, limits: HealthLimits, t: int) -> None:
    problems = []
    for stage, stats, records in REVIEWS:
        if hasattr(job.input, stats):
            problems += health_problems(read_json(getattr(job.input, stats)), t, stage, limits,
                                        getattr(job.input, records))
    if problems:
        raise SystemExit("error: the judge is over its health budget, so the run stops before training:\n  "
                         + "\n  ".join(problems) + "\n(raise the limits in config `review` to go on anyway)")


def main() -> None:
    job = load_job(__doc__)
    t, timer, method = int(job.wildcards.t), Timer("annotate"), methods.get(job.wildcards.method)
    settings = load(method.AnnotateSettings, job.params, f"annotate ({method.name})")
    if getattr(settings, "health", None) is not None:
        check_health(job, settings.health, t)
    system = open(job.input.system, encoding="utf-8").read().strip()
    files = {name: read_json(path) for name, path in vars(job.input).items() if name != "system"}
    out, stats = method.annotate(files, system, settings, t)
    stats.update(method=method.name, seconds=round(timer.done(), 2))
    for name, recs in out.items():
        write_json(getattr(job.output, name), recs)
    write_json(job.output.dataset_info, {"lance_sft": dataset_info("sft", "sft.json"),
                                         "lance_dpo": dataset_info("dpo", "dpo.json")})
    write_json(job.output.stats, stats)


if __name__ == "__main__":
    main()
