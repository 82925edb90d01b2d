"""annotate: SFT (alpaca) and DPO (sharegpt ranking) sets for LLaMA-Factory, cumulative with the
previous iteration's, their dataset_info.json, and the next iteration's seed (algorithm step 6),
as the method builds them: LANCE and its ablations (lancekit.annotate), Self-Instruct, I-SHEEP
and SPIN (lancekit.methods).

Before anything is written, the judge-health budget is checked on this iteration's review
statistics (LANCE; I-SHEEP's self-assessment): over budget, the run stops here, before
training, and every review stays on disk.
"""

from _cli import Timer, load_job
from lancekit import judge, methods
from lancekit.annotate import annotate
from lancekit.io import read_json, write_json
from lancekit.train_config import dataset_info


def check_health(job, p, t: int) -> None:
    problems = []
    for stage, stats, records in (("review_seed", "seed_stats", "reviewed_seed"),
                                  ("review_new", "new_stats", "reviewed_new")):
        if hasattr(job.input, stats):
            problems += judge.health_problems(read_json(getattr(job.input, stats)), t, stage, p["health"],
                                              getattr(job.input, records))
    if problems:
        raise SystemExit("error: the judge is over its health budget, so the run stops before training:\n  "
                         + "\n  ".join(problems) + "\n(raise the limits in config `review` to go on anyway)")


def main() -> None:
    job = load_job(__doc__)
    p, t, timer = job.params, int(job.wildcards.t), Timer("annotate")
    method, inp = p["method"], job.input
    if "health" in p:
        check_health(job, p, t)
    system = open(inp.system, encoding="utf-8").read().strip()
    prev_sft, prev_dpo = read_json(inp.prev_sft), read_json(inp.prev_dpo)
    if method == "self_instruct":
        out, stats = methods.self_instruct_sets(read_json(inp.cleaned), prev_sft, prev_dpo, system,
                                                p["min_chars"], p["shuffle_seed"])
    elif method == "i_sheep":
        out, stats = methods.i_sheep_sets(read_json(inp.reviewed_new), prev_sft, prev_dpo, system, p["i_sheep"],
                                          p["min_chars"], p["shuffle_seed"], t)
    elif method == "spin":
        prev_new = read_json(inp.prev_new_dpo) if hasattr(inp, "prev_new_dpo") else []
        out, stats = methods.spin_sets(read_json(inp.raw), read_json(inp.seed), prev_new, p["spin"]["keep_previous"],
                                       p["shuffle_seed"], t)
    else:
        out, stats = annotate(read_json(inp.reviewed_seed), read_json(inp.reviewed_new), prev_sft, prev_dpo,
                              system, p["annotate"], p["split_threshold"], t)
    stats.update(method=method, seconds=round(timer.done(), 2))
    for name, recs in out.items():
        write_json(getattr(job.output, name), recs)
    write_json(job.output.dataset_info, {"lance_sft": dataset_info("sft", "sft.json"),
                                         "lance_dpo": dataset_info("dpo", "dpo.json")})
    write_json(job.output.stats, stats)


if __name__ == "__main__":
    main()
