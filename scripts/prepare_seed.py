"""prepare_seed: validate and normalise Seed_0; write it with ids and lineage, as SFT data
(sft_0 = Seed_0) and an empty dpo_0."""

from _cli import parser

from lancekit import annotate
from lancekit.io import InputError, write_json
from lancekit.seeds import load_seed


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--seed-file", required=True)
    ap.add_argument("--system-prompt", required=True)
    for name in ("seed", "sft", "dpo", "stats"):
        ap.add_argument(f"--{name}", required=True)
    args = ap.parse_args()
    try:
        records, stats = load_seed(args.seed_file, args.params["format"], args.params["limit"])
    except InputError as e:
        raise SystemExit(f"error: bad seed input: {e}")
    system = open(args.system_prompt, encoding="utf-8").read().strip()
    sft = annotate.cumulative([annotate.sft_example(r, system) for r in records], [], args.params["shuffle_seed"])
    write_json(args.seed, records)
    write_json(args.sft, sft)
    write_json(args.dpo, [])
    write_json(args.stats, stats)
    print(f"seed: {stats['kept']} records ({stats['duplicates_dropped']} duplicates dropped)")


if __name__ == "__main__":
    main()
