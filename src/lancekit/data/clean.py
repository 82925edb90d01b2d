"""Algorithm step 4: clean the generated data of one seed group. Every drop carries a reason.

Unlike the reference code, the instruction checks run whatever the number of new instructions
in the group (the reference skips them when a group has exactly one).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from . import records
from .rouge import Tokenised, tokenise, too_similar


@dataclass(frozen=True)
class CleanRules:
    instruction_min_words: int = 5
    instruction_max_words: int = 4096
    response_min_words: int = 10
    response_max_words: int = 4096
    rouge_limit: float = 0.70
    # "group": a new instruction is compared with its seed and the group's kept ones (LANCE);
    # "pool": with every seed task and every instruction kept so far (Self-Instruct)
    instruction_scope: str = "group"
    blocked_words: tuple[str, ...] = ()
    # "group": a new response is compared with the seed's response and every response kept in
    # the group (ours); "instruction": with those kept for the same new instruction (authors)
    response_scope: str = "group"
    keep_truncated: bool = False        # a sample cut off at max_tokens is kept (authors) or dropped

    @classmethod
    def from_config(cls, cfg: dict) -> CleanRules:
        return cls(cfg["instruction_words"][0], cfg["instruction_words"][1],
                   cfg["response_words"][0], cfg["response_words"][1], cfg["rouge_limit"],
                   cfg.get("instruction_scope", "group"), tuple(cfg.get("blocked_words", ())),
                   cfg.get("response_similarity", "group"), cfg.get("keep_truncated", False))


def _length_reason(text: str, lo: int, hi: int, what: str) -> str | None:
    n = len(text.split())
    if n < lo:
        return f"{what}_too_short"
    if n > hi:
        return f"{what}_too_long"
    return None


class _Similarity:
    """Texts kept so far in a group (plus the original), each tokenised once. With ``pool``, the
    texts every new one is compared with are the pool's (seed tasks and those kept before)."""

    def __init__(self, original: str, limit: float, what: str, pool: list[Tokenised] | None = None):
        self.original = tokenise(original)
        self.kept: list[Tokenised] = pool if pool is not None else []
        self.limit = limit
        self.what = what

    def reason(self, text: str) -> tuple[str | None, Tokenised]:
        tok = tokenise(text)
        if too_similar(tok, self.original, self.limit)[0]:
            return f"{self.what}_similar_to_seed", tok
        for other in self.kept:
            if too_similar(tok, other, self.limit)[0]:
                return f"{self.what}_similar_to_kept", tok
        return None, tok


def _generation_reason(item: dict, what: str, keep_truncated: bool = False) -> str | None:
    """Generation-time problems recorded in raw: prompt too long, truncation (unless kept), no
    `Final Answer:`."""
    if item.get("finish_reason") == "prompt_too_long":
        return f"{what}_prompt_too_long"
    if item.get("finish_reason") == "length" and not keep_truncated:
        return f"{what}_truncated"
    if item.get("text") is None:
        return f"{what}_no_final_answer"
    return None


def _blocked_reason(text: str, words: tuple[str, ...], what: str) -> str | None:
    """Self-Instruct's filter: a task that names something the model cannot see or make."""
    if words and re.search(r"\b(?:" + "|".join(re.escape(w) for w in words) + r")\b", text, re.IGNORECASE):
        return f"{what}_blocked_word"
    return None


def _check(item: dict, what: str, lo: int, hi: int, sim: _Similarity,
           blocked: tuple[str, ...] = (), keep_truncated: bool = False) -> tuple[str | None, Tokenised | None]:
    """(drop reason or None, tokens): generation problems, then length, then blocked words,
    then similarity."""
    reason = (_generation_reason(item, what, keep_truncated) or _length_reason(item["text"], lo, hi, what)
              or _blocked_reason(item["text"], blocked, what))
    if reason is not None:
        return reason, None
    return sim.reason(item["text"])


def clean_low_group(group: dict, rules: CleanRules,
                    pool: list[Tokenised] | None = None) -> tuple[list[dict], list[dict]]:
    """Low-quality branch: new instructions with their responses.

    Returns (kept pairs, drops). A kept pair is one (instruction, response); a drop is
    {id, reason, level} for an instruction, a response or the whole group. ``pool`` (pool
    scope): the tokenised tasks every new instruction is compared with; kept ones join it.
    An instruction counts as kept (and so blocks similar later ones) only once one of its
    responses is kept.
    """
    kept, drops = [], []
    instr_sim = _Similarity(group["prompt"], rules.rouge_limit, "instruction", pool)
    resp_sim = _Similarity(group["response"], rules.rouge_limit, "response")
    for ins in group.get("instructions", []):
        reason, tok = _check(ins, "instruction", rules.instruction_min_words, rules.instruction_max_words,
                             instr_sim, rules.blocked_words, rules.keep_truncated)
        if reason:
            drops.append({"id": ins["id"], "level": "instruction", "reason": reason,
                          "dropped_responses": len(ins.get("responses", []))})
            continue
        if rules.response_scope == "instruction":
            resp_sim = _Similarity(group["response"], rules.rouge_limit, "response")
        pairs = []
        for resp in ins.get("responses", []):
            reason, rtok = _check(resp, "response", rules.response_min_words, rules.response_max_words, resp_sim,
                                  keep_truncated=rules.keep_truncated)
            if reason:
                drops.append({"id": resp["id"], "level": "response", "reason": reason})
                continue
            resp_sim.kept.append(rtok)
            pairs.append({"id": resp["id"], "instruction_id": ins["id"],
                          "instruction": ins["text"], "response": resp["text"]})
        if not pairs:
            drops.append({"id": ins["id"], "level": "instruction", "reason": "instruction_no_response_left",
                          "dropped_responses": 0})
            continue
        # only now is the instruction kept: one left without a response blocks no later one
        instr_sim.kept.append(tok)
        kept.extend(pairs)
    if not kept:
        drops.append({"id": group["seed_id"], "level": "group", "reason": "group_empty"})
    return kept, drops


def clean_high_group(group: dict, rules: CleanRules) -> tuple[list[dict], list[dict]]:
    """High-quality branch: negatives are responses to the original prompt."""
    kept, drops = [], []
    resp_sim = _Similarity(group["response"], rules.rouge_limit, "negative")
    for neg in group.get("negatives", []):
        reason, tok = _check(neg, "negative", rules.response_min_words, rules.response_max_words, resp_sim,
                             keep_truncated=rules.keep_truncated)
        if reason:
            drops.append({"id": neg["id"], "level": "negative", "reason": reason})
            continue
        resp_sim.kept.append(tok)
        kept.append({"id": neg["id"], "instruction_id": None,
                     "instruction": group["prompt"], "response": neg["text"]})
    if not kept:
        drops.append({"id": group["seed_id"], "level": "group", "reason": "group_empty"})
    return kept, drops


# --- the stage: every group of raw.json -------------------------------------------------------

def clean_groups(groups: list[dict], rules: CleanRules) -> tuple[list[dict], list[dict], dict]:
    """Kept new pairs as records (prompt/response/lineage), every drop, and the counts."""
    items, drops = [], []
    pool = None
    if rules.instruction_scope == "pool":
        pool = [tokenise(p) for p in dict.fromkeys(g["prompt"] for g in groups)]
    for g in groups:
        if g["branch"] == "spin":
            raise ValueError(f"group {g['seed_id']}: SPIN's own responses are not cleaned")
        kept, dropped = clean_low_group(g, rules, pool) if g["branch"] == "low" else clean_high_group(g, rules)
        for d in dropped:
            d.update(seed_id=g["seed_id"], branch=g["branch"])
        drops.extend(dropped)
        for k in kept:
            items.append(records.generated_record(
                k["id"], k["instruction"], k["response"], parent=g, iteration=g["iteration"],
                branch=g["branch"], generator=g["generator"], instruction_id=k["instruction_id"]))
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
