"""SPEC step 6: turn re-reviewed pairs into SFT and DPO data, cumulative sets and the next seed.

Scores are means rounded to 4 decimals; comparisons against the thresholds are strict, and the
DPO gap is computed on the rounded scores, rounded again, so that 8.3333 - 6.3333 is exactly
2.0 (no pair) and not 2.0000000000000004.
"""

from __future__ import annotations

import random


def sft_example(rec: dict, system: str) -> dict:
    """LLaMA-Factory alpaca record (instruction/input/output/system) with id and lineage."""
    lin = rec["lineage"]
    return {"instruction": rec["prompt"], "input": "", "output": rec["response"], "system": system,
            "id": rec["id"], "root_id": lin["root_id"], "parent_id": lin["parent_id"] or "",
            "iteration": lin["iteration"]}


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
    """DPO pairs per high-quality seed (SPEC 6).

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
            pairs.append({
                "conversations": [{"from": "human", "value": seed["prompt"]}],
                "chosen": {"from": "gpt", "value": cand["response"]},
                "rejected": {"from": "gpt", "value": rejected["response"]},
                "id": f"{cand['id']}>{rejected['id']}", "prompt_id": seed["id"],
                "root_id": seed["lineage"]["root_id"], "chosen_score": score,
                "rejected_score": low_score,
                "iteration": max(cand["lineage"]["iteration"], rejected["lineage"]["iteration"]),
            })
    return pairs


def cumulative(new: list[dict], previous: list[dict], seed: int) -> list[dict]:
    """new ∪ previous (by id, new wins), shuffled with a fixed seed."""
    merged = {r["id"]: r for r in previous}
    merged.update({r["id"]: r for r in new})
    out = sorted(merged.values(), key=lambda r: r["id"])
    random.Random(seed).shuffle(out)
    return out


def next_seed(new_items: list[dict], base_seed: list[dict]) -> list[dict]:
    """All kept, re-reviewed new items (with their scores), then the base seed's records."""
    ids = {r["id"] for r in new_items}
    return list(new_items) + [r for r in base_seed if r["id"] not in ids]


def cap(records: list[dict], limit: int | None, seed: int) -> list[dict]:
    """At most ``limit`` records: a seeded random sample, kept in input order (None: all)."""
    if limit is None or len(records) <= limit:
        return list(records)
    keep = set(random.Random(seed).sample(range(len(records)), limit))
    return [r for i, r in enumerate(records) if i in keep]
