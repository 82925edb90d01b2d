"""prepare_seed: validate and normalise Seed_0; write it with ids and lineage, as SFT data
(sft_0 = Seed_0, plus the examples of seed.extra_sft when given) and an empty dpo_0. A record
likely too long for the judge's context (vllm.max_model_len) is warned about here, by its index
in the seed file, not first at review_seed after M_0's training."""

from _cli import load_job
from lancekit.core.io import InputError, write_json
from lancekit.data.records import cumulative, sft_example
from lancekit.data.seeds import load_extra_sft, load_seed, too_long_warnings


def main() -> None:
    job = load_job(__doc__)
    p = job.params
    system = open(job.input.system, encoding="utf-8").read().strip()
    try:
        records, stats = load_seed(job.input.seed, p["format"], p["limit"])
        extra = []
        if hasattr(job.input, "extra_sft"):
            extra, stats["extra_sft"] = load_extra_sft(job.input.extra_sft, system, {r["id"] for r in records})
    except InputError as e:
        raise SystemExit(f"error: bad seed input: {e}") from None
    for warning in too_long_warnings(records, p["max_model_len"], system):  # the job param: no rerun
        print(warning, flush=True)
    sft = cumulative([sft_example(r, system) for r in records] + extra, [], p["shuffle_seed"])
    write_json(job.output.seed, records)
    write_json(job.output.sft, sft)
    write_json(job.output.dpo, [])
    write_json(job.output.stats, stats)
    print(f"seed: {stats['kept']} records ({stats['duplicates_dropped']} duplicates dropped)"
          + (f"; sft_0: {len(sft)} examples with {len(extra)} from seed.extra_sft" if extra else ""))


if __name__ == "__main__":
    main()
