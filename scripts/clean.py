"""clean: length and ROUGE-L rules of SPEC step 4 within each seed group; every drop has a reason."""

from _cli import Timer, parser

from lancekit import stages
from lancekit.clean import CleanRules
from lancekit.io import read_json, write_json


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--input", required=True, help="raw.json from generate")
    ap.add_argument("--out", required=True)
    ap.add_argument("--drops", required=True)
    ap.add_argument("--stats", required=True)
    args = ap.parse_args()
    timer = Timer("clean")
    items, drops, stats = stages.clean(read_json(args.input), CleanRules.from_config(args.params["clean"]))
    stats["seconds"] = round(timer.done(), 2)
    write_json(args.out, items)
    write_json(args.drops, drops)
    write_json(args.stats, stats)


if __name__ == "__main__":
    main()
