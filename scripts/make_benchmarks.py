"""make_benchmarks: write the embedded arithmetic benchmark (fixed seed, computed answers) and
check that no item of any embedded benchmark appears in the seed set."""

import json

from _cli import load_job
from lancekit.core.io import read_json, read_jsonl, write_json, write_text_atomic
from lancekit.evaluation.arith import make_arith_items
from lancekit.evaluation.contamination import overlaps


def main() -> None:
    job = load_job(__doc__)
    items = make_arith_items(job.params["n"], job.params["seed"])
    seed_texts = [r["prompt"] + "\n" + r["response"] for r in read_json(job.input.seed)]
    report = {}
    for name, questions in (("arith", [it["question"] for it in items]),
                            ("lance_mc", [q["question"] for q in read_jsonl(job.input.mc)])):
        hits = overlaps(questions, seed_texts)
        report[name] = {"items": len(questions), "in_seed": len(hits), "hits": hits[:20]}
        print(f"{name}: {len(questions)} items, {len(hits)} found in the seed")
    if any(r["in_seed"] for r in report.values()):
        raise SystemExit(f"error: benchmark items appear in the seed {job.input.seed}: "
                         + json.dumps({k: v["hits"][:3] for k, v in report.items() if v["in_seed"]}))
    write_text_atomic(job.output.arith, "".join(
        json.dumps({"question": it["question"], "answer": it["answer"]}) + "\n" for it in items))
    write_json(job.output.check, report)


if __name__ == "__main__":
    main()
