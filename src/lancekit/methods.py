"""The training sets of the paper's baselines, as pure functions (LANCE's are in annotate.py).
docs/methods.md gives each method's steps, constants and sources.

- Self-Instruct: every new (task, response) pair that passed cleaning is an SFT example.
- I-SHEEP: the pairs whose self-assessed score is at least the threshold are SFT examples.
- SPIN: for every seed prompt, the seed's own response is "chosen" and M_{t-1}'s response
  "rejected", one DPO pair per usable response of the model.

Each returns the same sets as LANCE's annotate ({"new_sft", "new_dpo", "sft", "dpo",
"next_seed"}) and its statistics, so the training and report stages treat every method alike.
Every example keeps the id, parent and root of the record it came from.
"""

from __future__ import annotations

from . import judge
from .records import cumulative, dpo_example, restaged, sft_example


def _long_enough(rec: dict, min_chars: int) -> bool:
    return len(rec["prompt"].strip()) > min_chars and len(rec["response"].strip()) > min_chars


def self_instruct_sets(cleaned: list[dict], prev_sft: list[dict], prev_dpo: list[dict], system: str,
                       min_chars: int, shuffle_seed: int) -> tuple[dict, dict]:
    """SFT on Seed_0 plus every kept new pair (one round, so the previous set is Seed_0's)."""
    new_sft = [sft_example(r, system) for r in cleaned if _long_enough(r, min_chars)]
    out = {"new_sft": new_sft, "new_dpo": [], "sft": cumulative(new_sft, prev_sft, shuffle_seed),
           "dpo": list(prev_dpo), "next_seed": [restaged(r, "annotate") for r in cleaned]}
    stats = {"records_in": len(cleaned), "sft_new": len(new_sft),
             "sft_left_out": {"too_short": len(cleaned) - len(new_sft)},
             "dpo_new": 0, "sft_total": len(out["sft"]), "dpo_total": len(out["dpo"]),
             "next_seed": len(out["next_seed"])}
    return out, stats


def i_sheep_sets(reviewed: list[dict], prev_sft: list[dict], prev_dpo: list[dict], system: str, cfg: dict,
                 min_chars: int, shuffle_seed: int, iteration: int) -> tuple[dict, dict]:
    """Keep the self-assessed pairs scoring at least ``cfg["threshold"]``; SFT on them (and, with
    ``cfg["cumulative"]``, on every earlier iteration's kept pairs too)."""
    left_out = {"no_score": 0, "score_below_threshold": 0, "too_short": 0}
    new_sft = []
    for r in reviewed:
        score = r["review"]["score"]
        if score is None:
            left_out["no_score"] += 1
        elif score < cfg["threshold"]:
            left_out["score_below_threshold"] += 1
        elif not _long_enough(r, min_chars):
            left_out["too_short"] += 1
        else:
            new_sft.append(sft_example(r, system))
    earlier = [e for e in prev_sft if e["iteration"] > 0] if cfg["cumulative"] else []
    sft = cumulative(new_sft, earlier, shuffle_seed + iteration)
    kept = {e["id"] for e in new_sft}
    out = {"new_sft": new_sft, "new_dpo": [], "sft": sft, "dpo": list(prev_dpo),
           "next_seed": [restaged(r, "annotate") for r in reviewed if r["id"] in kept]}
    stats = {"records_in": len(reviewed), "threshold": cfg["threshold"], "sft_new": len(new_sft),
             "sft_left_out": left_out, "dpo_new": 0, "sft_total": len(sft), "dpo_total": len(out["dpo"]),
             "next_seed": len(out["next_seed"]),
             "score_histogram": judge.histogram([r["review"]["score"] for r in reviewed])}
    return out, stats


def spin_sets(groups: list[dict], seeds: list[dict], prev_new_dpo: list[dict], keep_previous: bool,
              shuffle_seed: int, iteration: int) -> tuple[dict, dict]:
    """One DPO pair per seed prompt and usable model response: chosen = the seed's response,
    rejected = the model's. A response that was truncated, is empty, or equals the seed's own
    (nothing to learn from) makes no pair. With ``keep_previous`` the set also holds the
    previous iteration's new pairs (SPIN trains iteration t on t's and t-1's data)."""
    by_id = {s["id"]: s for s in seeds}
    left_out = {"truncated": 0, "empty": 0, "same_as_seed": 0}
    new_dpo = []
    for g in groups:
        seed = by_id[g["seed_id"]]
        for resp in g["responses"]:
            if resp["finish_reason"] != "stop":
                left_out["truncated"] += 1
            elif not resp["text"]:
                left_out["empty"] += 1
            elif resp["text"] == seed["response"].strip():
                left_out["same_as_seed"] += 1
            else:
                new_dpo.append(dpo_example(seed, seed["response"], resp["text"], f"{seed['id']}>{resp['id']}",
                                           iteration))
    dpo = cumulative(new_dpo, prev_new_dpo if keep_previous else [], shuffle_seed + iteration)
    out = {"new_sft": [], "new_dpo": new_dpo, "sft": [], "dpo": dpo, "next_seed": list(seeds)}
    stats = {"records_in": sum(len(g["responses"]) for g in groups), "dpo_new": len(new_dpo),
             "dpo_left_out": left_out, "dpo_prompts_with_pairs": len({d["prompt_id"] for d in new_dpo}),
             "sft_new": 0, "sft_total": 0, "dpo_total": len(dpo), "next_seed": len(seeds),
             "mean_chosen_words": _mean_words([d["chosen"]["value"] for d in new_dpo]),
             "mean_rejected_words": _mean_words([d["rejected"]["value"] for d in new_dpo])}
    return out, stats


def _mean_words(texts: list[str]) -> float | None:
    return round(sum(len(t.split()) for t in texts) / len(texts), 3) if texts else None
