"""Algorithm step 6: turn re-reviewed pairs into SFT and DPO data, cumulative sets and the next seed.

Scores are means rounded to 4 decimals; comparisons against the thresholds are strict, and the
DPO gap is computed on the rounded scores, rounded again, so that 8.3333 - 6.3333 is exactly
2.0 (no pair) and not 2.0000000000000004.
"""

from __future__ import annotations

import random
from statistics import mean

from . import judge, records
from .records import cumulative, sft_example


def select_sft(new_items: list[dict], threshold: float, min_chars: int,
               system: str) -> tuple[list[dict], dict[str, int]]:
    """New low-branch pairs with score > threshold and both strings longer than min_chars.

    Returns (examples, counts of the reasons the other low-branch pairs were left out).
    """
    out, left_out = [], {"no_score": 0, "score_not_above_threshold": 0, "too_short": 0}
    for rec in new_items:
        if rec["lineage"]["branch"] != "low":
            continue
        score = rec["review"]["score"]
        if score is None:
            left_out["no_score"] += 1
        elif not score > threshold:
            left_out["score_not_above_threshold"] += 1
        elif len(rec["prompt"].strip()) <= min_chars or len(rec["response"].strip()) <= min_chars:
            left_out["too_short"] += 1
        else:
            out.append(sft_example(rec, system))
    return out, left_out


def select_dpo(high_seeds: list[dict], negatives: list[dict], gap: float) -> list[dict]:
    """DPO pairs per high-quality seed (algorithm step 6).

    Candidates: the seed's kept negatives that have a score, in sample order, then the original
    response. `rejected` is the lowest-scored candidate (the first one on ties); every candidate
    scoring more than `gap` above it is a `chosen`, one pair each.
    """
    by_parent: dict[str, list[dict]] = {}
    for neg in negatives:
        by_parent.setdefault(neg["lineage"]["parent_id"], []).append(neg)
    pairs = []
    for seed in high_seeds:
        cands = [(n["review"]["score"], n) for n in by_parent.get(seed["id"], [])
                 if n["review"]["score"] is not None]
        cands.append((seed["review"]["score"], seed))
        if len(cands) < 2:
            continue
        low_score, rejected = min(cands, key=lambda c: c[0])
        for score, cand in cands:
            if cand is rejected or round(score - low_score, 4) <= gap:
                continue
            pairs.append(records.dpo_example(
                seed, cand["response"], rejected["response"], f"{cand['id']}>{rejected['id']}",
                max(cand["lineage"]["iteration"], rejected["lineage"]["iteration"]),
                chosen_score=score, rejected_score=low_score))
    return pairs


def next_seed(new_items: list[dict], base_seed: list[dict], limit: int | None, seed: int) -> tuple[list[dict], int]:
    """The next iteration's seed: the kept, re-reviewed new items, then the whole base seed.

    ``limit`` caps the new items only (a seeded random sample, kept in input order); the base
    seed (Seed_0, or Seed_{t-1}) is always carried over whole, so it never shrinks across
    iterations. Returns (records, number of new items left out by the cap).
    """
    kept = cap(new_items, limit, seed)
    ids = {r["id"] for r in kept}
    return kept + [r for r in base_seed if r["id"] not in ids], len(new_items) - len(kept)


def cap(items: list[dict], limit: int | None, seed: int) -> list[dict]:
    """At most ``limit`` records: a seeded random sample, kept in input order (None: all)."""
    if limit is None or len(items) <= limit:
        return list(items)
    keep = set(random.Random(seed).sample(range(len(items)), limit))
    return [r for i, r in enumerate(items) if i in keep]


def _mean(values: list[float]) -> float | None:
    return round(mean(values), 3) if values else None


def annotate(seeds: list[dict], new: list[dict], prev_sft: list[dict], prev_dpo: list[dict], system: str,
             cfg: dict, split_threshold: float, iteration: int) -> tuple[dict[str, list[dict]], dict]:
    """The whole stage: {"new_sft", "new_dpo", "sft", "dpo", "next_seed"} and its statistics.

    ``cfg`` is config ``annotate`` (sft_threshold, dpo_gap, min_chars, next_seed,
    next_seed_limit, shuffle_seed).
    """
    new_sft, sft_left_out = select_sft(new, cfg["sft_threshold"], cfg["min_chars"], system)
    _, high = judge.split(seeds, split_threshold)
    negatives = [r for r in new if r["lineage"]["branch"] == "high"]
    new_dpo = select_dpo(high, negatives, cfg["dpo_gap"])
    shuffle_seed = cfg["shuffle_seed"] + iteration
    base = seeds if cfg["next_seed"] == "previous" else [s for s in seeds if s["lineage"]["iteration"] == 0]
    nxt, left_out = next_seed(new, base, cfg.get("next_seed_limit"), shuffle_seed)
    out = {"new_sft": new_sft, "new_dpo": new_dpo,
           "sft": cumulative(new_sft, prev_sft, shuffle_seed), "dpo": cumulative(new_dpo, prev_dpo, shuffle_seed),
           "next_seed": [records.restaged(r, "annotate") if r["lineage"]["iteration"] == iteration else r
                         for r in nxt]}
    stats = {
        "records_in": len(new),
        "low_in": sum(1 for r in new if r["lineage"]["branch"] == "low"),
        "high_in": len(negatives), "high_seeds": len(high),
        "sft_new": len(new_sft), "sft_left_out": sft_left_out,
        "dpo_new": len(new_dpo),
        "dpo_prompts_with_pairs": len({d["prompt_id"] for d in new_dpo}),
        "negatives_without_score": sum(1 for r in negatives if r["review"]["score"] is None),
        "sft_total": len(out["sft"]), "dpo_total": len(out["dpo"]), "next_seed": len(nxt),
        "next_seed_new": len(nxt) - len(base), "next_seed_base": len(base),
        "next_seed_base_share": round(len(base) / len(nxt), 4) if nxt else None,
        "next_seed_left_out": left_out,
        "next_seed_histogram": judge.histogram([r["review"]["score"] for r in nxt]),
        "mean_chosen_words": _mean([len(d["chosen"]["value"].split()) for d in new_dpo]),
        "mean_rejected_words": _mean([len(d["rejected"]["value"].split()) for d in new_dpo]),
        "mean_chosen_score": _mean([d["chosen_score"] for d in new_dpo]),
        "mean_rejected_score": _mean([d["rejected_score"] for d in new_dpo]),
    }
    return out, stats
