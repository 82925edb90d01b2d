"""Clean stage: lance's ROUGE-L filter vs the reference approach (rouge==1.0.1, pairwise, pure Python).

Both run on the same groups in one process; printed: wall time of each, the ratio, and the number
of keep/drop decisions that differ (must be 0).

    python benchmarks/bench_clean.py results/iter1/raw.json        # groups from a real run
    python benchmarks/bench_clean.py --synthetic 300               # groups made from the seed set

Synthetic groups take each seed record as the original and build 4 instructions with 4 responses
each from edited copies of seed texts (words dropped, swapped or replaced at random rates), so
that some candidates are near copies and most are not, as in real model output.
"""

import argparse
import json
import random
import sys
import time
from pathlib import Path

from rouge import Rouge

from lancekit.data.clean import CleanRules, clean_groups
from lancekit.data.seeds import load_seed

ROOT = Path(__file__).resolve().parents[1]


def reference_keep(text: str, original: str, kept: list[str], lo: int, hi: int, limit: float,
                   scorer: Rouge) -> bool:
    """The reference pattern: a length check, then one get_scores call per pair, pure Python."""
    n = len(text.split())
    if n < lo or n > hi:
        return False
    for other in [original, *kept]:
        try:
            s = scorer.get_scores(text, other)[0]["rouge-l"]
        except (ValueError, RecursionError):  # the package raises on empty text
            continue
        if s["r"] > limit or s["p"] > limit or s["f"] > limit:
            return False
    return True


def reference_clean(groups: list[dict], rules: CleanRules) -> set[str]:
    """Ids kept by the reference approach (same rules, same order, no shortcut)."""
    scorer, kept_ids = Rouge(metrics=["rouge-l"]), set()
    for g in groups:
        if g["branch"] == "low":
            kept_ins, kept_resp = [], []
            for ins in g["instructions"]:
                if ins["text"] is None or ins["finish_reason"] == "length":
                    continue
                if not reference_keep(ins["text"], g["prompt"], kept_ins, rules.instruction_min_words,
                                      rules.instruction_max_words, rules.rouge_limit, scorer):
                    continue
                kept_ins.append(ins["text"])
                for r in ins["responses"]:
                    if r["finish_reason"] == "length":
                        continue
                    if reference_keep(r["text"], g["response"], kept_resp, rules.response_min_words,
                                      rules.response_max_words, rules.rouge_limit, scorer):
                        kept_resp.append(r["text"])
                        kept_ids.add(r["id"])
        else:
            kept_neg = []
            for n in g["negatives"]:
                if n["text"] is None or n["finish_reason"] == "length":
                    continue
                if reference_keep(n["text"], g["response"], kept_neg, rules.response_min_words,
                                  rules.response_max_words, rules.rouge_limit, scorer):
                    kept_neg.append(n["text"])
                    kept_ids.add(n["id"])
    return kept_ids


def edit(text: str, rng: random.Random, rate: float, pool: list[str]) -> str:
    words = text.split()
    out = []
    for w in words:
        x = rng.random()
        if x < rate / 3:
            continue
        out.append(rng.choice(pool) if x < 2 * rate / 3 else w)
    if len(out) > 3 and rng.random() < rate:
        i = rng.randrange(len(out) - 1)
        out[i], out[i + 1] = out[i + 1], out[i]
    return " ".join(out)


def synthetic_groups(n: int, seed: int = 0) -> list[dict]:
    records, _ = load_seed(ROOT / "data/seed/lance_seed.json")
    rng = random.Random(seed)
    pool = [w for r in records for w in r["response"].split()]
    groups = []
    for g in range(n):
        base = records[g % len(records)]
        other = lambda: records[rng.randrange(len(records))]  # noqa: E731
        def variant(text_of, base=base, other=other):
            src = text_of(base) if rng.random() < 0.4 else text_of(other())
            return edit(src, rng, rng.choice([0.05, 0.2, 0.5]), pool)
        ins = []
        for k in range(4):
            ins.append({"id": f"g{g}i{k}", "text": variant(lambda r: r["prompt"]), "finish_reason": "stop",
                        "responses": [{"id": f"g{g}i{k}r{j}", "text": variant(lambda r: r["response"]),
                                       "finish_reason": "stop"} for j in range(4)]})
        groups.append({"seed_id": base["id"], "root_id": base["id"], "branch": "low", "iteration": 1,
                       "generator": "synthetic", "prompt": base["prompt"], "response": base["response"],
                       "seed_score": 5.0, "instructions": ins})
        groups.append({"seed_id": base["id"] + "h", "root_id": base["id"], "branch": "high", "iteration": 1,
                       "generator": "synthetic", "prompt": base["prompt"], "response": base["response"],
                       "seed_score": 9.0, "negatives": [
                           {"id": f"g{g}n{k}", "text": variant(lambda r: r["response"]), "finish_reason": "stop"}
                           for k in range(4)]})
    return groups


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("raw", nargs="?", help="raw.json written by the generate stage")
    ap.add_argument("--synthetic", type=int, default=0, help="number of synthetic seed groups (x2 branches)")
    args = ap.parse_args()
    if not args.raw and not args.synthetic:
        ap.error("give a raw.json or --synthetic N")
    groups = json.load(open(args.raw)) if args.raw else synthetic_groups(args.synthetic)
    rules = CleanRules()
    candidates = sum(len(i["responses"]) for g in groups if g["branch"] == "low" for i in g["instructions"])
    candidates += sum(len(g["negatives"]) for g in groups if g["branch"] == "high")

    t0 = time.perf_counter()
    items, _, _ = clean_groups(groups, rules)
    t_ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    ref_ids = reference_clean(groups, rules)
    t_ref = time.perf_counter() - t0

    ours = {i["id"] for i in items}
    differ = len(ours ^ ref_ids)
    print(f"groups: {len(groups)}  candidate responses/negatives: {candidates}  kept: lance {len(ours)}, reference {len(ref_ids)}")
    print(f"lance clean:     {t_ours:8.3f} s")
    print(f"reference clean: {t_ref:8.3f} s   (rouge==1.0.1, one get_scores call per pair)")
    print(f"speed-up: {t_ref / t_ours:.1f}x   differing keep/drop decisions: {differ}")
    sys.exit(1 if differ else 0)


if __name__ == "__main__":
    main()
