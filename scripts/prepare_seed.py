"""prepare_seed: validate and normalise Seed_0; write it with ids and lineage, as SFT data
(sft_0 = Seed_0) and an empty dpo_0."""

from _cli import load_job
from lancekit.core.io import InputError, write_json
from lancekit.data.records import cumulative, sft_example
from lancekit.data.seeds import load_seed


def main() -> None:
    job = load_job(__doc__)
    p = job.params
    try:
        records, stats = load_seed(job.input.seed, p["format"], p["limit"])
    except InputError as e:
        raise SystemExit(f"error: bad seed input: {e}") from None
    system = open(job.input.system, encoding="utf-8").read().strip()
    sft = cumulative([sft_example(r, system) for r in records], [], p["shuffle_seed"])
    write_json(job.output.seed, records)
    write_json(job.output.sft, sft)
    write_json(job.output.dpo, [])
    write_json(job.output.stats, stats)
    print(f"seed: {stats['kept']} records ({stats['duplicates_dropped']} duplicates dropped)")


if __name__ == "__main__":
    main()
