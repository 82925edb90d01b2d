"""The data stages of one iteration as pure functions: records in, requests out; completions in,
records and statistics out. The engine call sits in the scripts, between the two halves, so that
every stage here can be tested with canned model text.

A request is ``{"key", "messages", "n", "seed"}``; a completion is
``{"text", "finish_reason", "num_tokens"}``. Completions come back as one list per request.
"""

from __future__ import annotations

import copy
import hashlib
from collections import Counter

from . import judge, prompts
from .clean import CleanRules, clean_high_group, clean_low_group
from .seeds import stable_id


def request_seed(base: int, *parts: str) -> int:
    """Per-request sampling seed: depends on the run's seed and the request, not on batch order."""
    h = hashlib.sha256(("\x1f".join([str(base), *parts])).encode()).digest()
    return int.from_bytes(h[:4], "big") & 0x7FFFFFFF


def token_stats(completions: list[list[dict]]) -> dict:
    flat = [c for cs in completions for c in cs]
    return {"samples": len(flat), "generated_tokens": sum(c.get("num_tokens", 0) for c in flat),
            "truncated": sum(1 for c in flat if c["finish_reason"] == "length"),
            "prompt_too_long": sum(1 for c in flat if c["finish_reason"] == "prompt_too_long")}


# --- review (SPEC steps 1 and 5) ------------------------------------------------------------

def review_requests(records: list[dict], p: prompts.Prompts, n: int, seed: int, stage: str,
                    prefix: str | None = None) -> list[dict]:
    """One judge request per record; with `prefix`, the judge's answer starts with it."""
    reqs = []
    for r in records:
        msgs = prompts.review_messages(p, r["prompt"], r["response"])
        if prefix:
            msgs.append({"role": "assistant", "content": prefix})
        reqs.append({"key": r["id"], "messages": msgs, "n": n, "seed": request_seed(seed, stage, r["id"])})
    return reqs


def apply_reviews(records: list[dict], completions: list[list[dict]], stage: str,
                  judge_model: str, threshold: float | None = None,
                  prefix: str | None = None) -> tuple[list[dict], dict]:
    """Attach a verdict to every record; stats with parse failures and the score histogram."""
    out = []
    for rec, comps in zip(records, completions, strict=True):
        texts = [(prefix or "") + c["text"] for c in comps]
        verdict = judge.aggregate(texts, [c["finish_reason"] for c in comps])
        rec = copy.deepcopy(rec)
        rec["review"] = {**verdict.as_dict(), "judge": judge_model, "stage": stage, "texts": texts}
        out.append(rec)
    return out, review_stats(out, threshold, token_stats(completions))


def review_stats(records: list[dict], threshold: float | None, tokens: dict | None = None) -> dict:
    scores = [r["review"]["score"] for r in records]
    votes = sum(r["review"]["n_parsed"] + r["review"]["n_failed"] for r in records)
    failed = sum(r["review"]["n_failed"] for r in records)
    valid = [s for s in scores if s is not None]
    stats = {
        "records_in": len(records), "records_out": len(records),
        "votes": votes, "votes_failed": failed,
        "parse_failure_rate": round(failed / votes, 4) if votes else 0.0,
        "records_without_score": sum(1 for s in scores if s is None),
        "mean_score": round(sum(valid) / len(valid), 4) if valid else None,
        "score_histogram": judge.histogram(scores),
    }
    if threshold is not None:
        high = sum(1 for s in scores if judge.is_high_quality(s, threshold))
        stats["split"] = {"threshold": threshold, "high": high, "low": len(records) - high}
    if tokens:
        stats.update(tokens)
    return stats


def reuse_reviews(records: list[dict], threshold: float) -> tuple[list[dict], dict]:
    """Later iterations (reference behaviour): keep the scores stored in the seed."""
    for i, r in enumerate(records):
        if "review" not in r:
            raise ValueError(f"seed record {i} ({r.get('id')}) has no stored review; "
                             "set review.rereview_seed: true")
    stats = review_stats(records, threshold)
    stats["reused_scores"] = True
    return records, stats


# --- generate (SPEC step 3) -----------------------------------------------------------------

def split(records: list[dict], threshold: float) -> tuple[list[dict], list[dict]]:
    low = [r for r in records if not judge.is_high_quality(r["review"]["score"], threshold)]
    high = [r for r in records if judge.is_high_quality(r["review"]["score"], threshold)]
    return low, high


def first_requests(low: list[dict], high: list[dict], p: prompts.Prompts, cfg: dict, seed: int) -> list[dict]:
    """New-instruction requests for low seeds, then negative requests for high seeds.

    With ``cfg["response_prefix"]`` (e.g. "Final Answer:") the model's answer starts with it;
    ``cfg["instruction_stop"]`` (e.g. a newline) ends the new-instruction answers.
    """
    stop = list(cfg.get("instruction_stop") or [])
    reqs = [{"key": r["id"], "messages": prompts.new_instruction_messages(p, r["prompt"]),
             "n": cfg["instructions_per_seed"], "seed": request_seed(seed, "instruction", r["id"]),
             **({"stop": stop} if stop else {})}
            for r in low]
    reqs += [{"key": r["id"], "messages": prompts.negative_messages(p, r["prompt"], r["response"]),
              "n": cfg["negatives_per_seed"], "seed": request_seed(seed, "negative", r["id"])}
             for r in high]
    if cfg.get("response_prefix"):
        for r in reqs:
            r["messages"].append({"role": "assistant", "content": cfg["response_prefix"]})
    return reqs


def _sample(id_prefix: str, parent: str, k: int, comp: dict, prefix: str) -> dict:
    raw = prefix + comp["text"]
    return {"id": stable_id(id_prefix, parent, str(k)), "sample": k,
            "text": prompts.parse_final_answer(raw), "raw": raw,
            "finish_reason": comp["finish_reason"], "num_tokens": comp.get("num_tokens", 0)}


def _group(rec: dict, branch: str, iteration: int, generator: str) -> dict:
    return {"seed_id": rec["id"], "root_id": rec["lineage"]["root_id"], "branch": branch,
            "iteration": iteration, "generator": generator, "prompt": rec["prompt"],
            "response": rec["response"], "seed_score": rec["review"]["score"]}


def build_groups(low: list[dict], high: list[dict], completions: list[list[dict]],
                 iteration: int, generator: str, prefix: str | None = None) -> list[dict]:
    """One group per seed, holding every sample the model wrote (parsed or not)."""
    prefix = prefix or ""
    groups = []
    for rec, comps in zip(low + high, completions, strict=True):
        branch = "low" if len(groups) < len(low) else "high"
        g = _group(rec, branch, iteration, generator)
        if branch == "low":
            g["instructions"] = [dict(_sample(f"t{iteration}i", rec["id"], k, c, prefix), responses=[])
                                 for k, c in enumerate(comps)]
        else:
            g["negatives"] = [_sample(f"t{iteration}n", rec["id"], k, c, prefix) for k, c in enumerate(comps)]
        groups.append(g)
    return groups


def _answerable(ins: dict) -> bool:
    return ins["text"] is not None and ins["finish_reason"] == "stop"


def response_requests(groups: list[dict], p: prompts.Prompts, cfg: dict, seed: int) -> list[dict]:
    return [{"key": ins["id"], "messages": prompts.answer_messages(p, ins["text"]),
             "n": cfg["responses_per_instruction"], "seed": request_seed(seed, "response", ins["id"])}
            for g in groups if g["branch"] == "low" for ins in g["instructions"] if _answerable(ins)]


def attach_responses(groups: list[dict], completions: list[list[dict]], iteration: int) -> None:
    targets = [ins for g in groups if g["branch"] == "low" for ins in g["instructions"] if _answerable(ins)]
    for ins, comps in zip(targets, completions, strict=True):
        ins["responses"] = [{"id": stable_id(f"t{iteration}r", ins["id"], str(k)), "sample": k,
                             "text": c["text"], "finish_reason": c["finish_reason"],
                             "num_tokens": c.get("num_tokens", 0)} for k, c in enumerate(comps)]


def generate_stats(groups: list[dict], n_seeds: int, tokens: dict) -> dict:
    ins = [i for g in groups if g["branch"] == "low" for i in g["instructions"]]
    neg = [n for g in groups if g["branch"] == "high" for n in g["negatives"]]
    resp = [r for i in ins for r in i["responses"]]
    return {
        "records_in": n_seeds,
        "low_seeds": sum(1 for g in groups if g["branch"] == "low"),
        "high_seeds": sum(1 for g in groups if g["branch"] == "high"),
        "instruction_samples": len(ins),
        "instructions_parsed": sum(1 for i in ins if i["text"] is not None),
        "instructions_no_final_answer": sum(1 for i in ins if i["text"] is None),
        "instructions_truncated": sum(1 for i in ins if i["finish_reason"] == "length"),
        "responses": len(resp),
        "responses_truncated": sum(1 for r in resp if r["finish_reason"] == "length"),
        "negative_samples": len(neg),
        "negatives_parsed": sum(1 for n in neg if n["text"] is not None),
        "negatives_no_final_answer": sum(1 for n in neg if n["text"] is None),
        "negatives_truncated": sum(1 for n in neg if n["finish_reason"] == "length"),
        **tokens,
    }


# --- clean (SPEC step 4) --------------------------------------------------------------------

def clean(groups: list[dict], rules: CleanRules) -> tuple[list[dict], list[dict], dict]:
    """Kept new pairs as records (prompt/response/lineage), every drop, and the counts."""
    items, drops = [], []
    for g in groups:
        kept, dropped = (clean_low_group if g["branch"] == "low" else clean_high_group)(g, rules)
        for d in dropped:
            d.update(seed_id=g["seed_id"], branch=g["branch"])
        drops.extend(dropped)
        for k in kept:
            items.append({
                "id": k["id"], "prompt": k["instruction"], "response": k["response"],
                "lineage": {"iteration": g["iteration"], "parent_id": g["seed_id"],
                            "root_id": g["root_id"], "branch": g["branch"], "stage": "clean",
                            "generator": g["generator"], "instruction_id": k["instruction_id"]},
                "parent_score": g["seed_score"],
            })
    return items, drops, clean_stats(groups, items, drops)


def clean_stats(groups: list[dict], items: list[dict], drops: list[dict]) -> dict:
    low = [g for g in groups if g["branch"] == "low"]
    high = [g for g in groups if g["branch"] == "high"]
    ins_in = sum(len(g["instructions"]) for g in low)
    resp_in = sum(len(i["responses"]) for g in low for i in g["instructions"])
    neg_in = sum(len(g["negatives"]) for g in high)
    by_level = {lvl: Counter(d["reason"] for d in drops if d["level"] == lvl)
                for lvl in ("group", "instruction", "response", "negative")}
    with_instruction = sum(d.get("dropped_responses", 0) for d in drops if d["level"] == "instruction")
    kept_ins = {i["lineage"]["instruction_id"] for i in items if i["lineage"]["branch"] == "low"}
    return {
        "groups_in": len(groups),
        "groups_out": len({i["lineage"]["parent_id"] for i in items}),
        "instructions_in": ins_in, "instructions_out": len(kept_ins),
        "responses_in": resp_in,
        "responses_out": sum(1 for i in items if i["lineage"]["branch"] == "low"),
        "responses_dropped_with_instruction": with_instruction,
        "negatives_in": neg_in,
        "negatives_out": sum(1 for i in items if i["lineage"]["branch"] == "high"),
        "records_out": len(items),
        "drops": {lvl: dict(c) for lvl, c in by_level.items()},
    }


# --- annotate (SPEC step 6) is in annotate.py; review_new uses review_requests/apply_reviews ---
