"""make_benchmarks: write the embedded arithmetic benchmark (fixed seed, computed answers) and
check that no item of any embedded benchmark appears in the seed set."""

import json

from _cli import parser

from lancekit.arith_bench import make_arith_items
from lancekit.contamination import overlaps
from lancekit.io import read_json, read_jsonl, write_json, write_text_atomic


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--seed-file", required=True, help="results/iter0/seed.json")
    ap.add_argument("--mc", required=True, help="multiple-choice jsonl shipped with the project")
    ap.add_argument("--arith-out", required=True)
    ap.add_argument("--check-out", required=True)
    args = ap.parse_args()
    items = make_arith_items(args.params["n"], args.params["seed"])
    seed_texts = [r["prompt"] + "\n" + r["response"] for r in read_json(args.seed_file)]
    report = {}
    for name, questions in (("arith", [it["question"] for it in items]),
                            ("lance_mc", [q["question"] for q in read_jsonl(args.mc)])):
        hits = overlaps(questions, seed_texts)
        report[name] = {"items": len(questions), "in_seed": len(hits), "hits": hits[:20]}
        print(f"{name}: {len(questions)} items, {len(hits)} found in the seed")
    if any(r["in_seed"] for r in report.values()):
        raise SystemExit(f"error: benchmark items appear in the seed {args.seed_file}: "
                         + json.dumps({k: v["hits"][:3] for k, v in report.items() if v["in_seed"]}))
    write_text_atomic(args.arith_out, "".join(
        json.dumps({"question": it["question"], "answer": it["answer"]}) + "\n" for it in items))
    write_json(args.check_out, report)


if __name__ == "__main__":
    main()
