"""SPEC step 4: clean the generated data of one seed group. Every drop carries a reason.

Unlike the reference code, the instruction checks run whatever the number of new instructions
in the group (the reference skips them when a group has exactly one).
"""

from __future__ import annotations

from dataclasses import dataclass

from .rouge import Tokenised, tokenise, too_similar


@dataclass(frozen=True)
class CleanRules:
    instruction_min_words: int = 5
    instruction_max_words: int = 4096
    response_min_words: int = 10
    response_max_words: int = 4096
    rouge_limit: float = 0.70

    @classmethod
    def from_config(cls, cfg: dict) -> "CleanRules":
        return cls(cfg["instruction_words"][0], cfg["instruction_words"][1],
                   cfg["response_words"][0], cfg["response_words"][1], cfg["rouge_limit"])


def _length_reason(text: str, lo: int, hi: int, what: str) -> str | None:
    n = len(text.split())
    if n < lo:
        return f"{what}_too_short"
    if n > hi:
        return f"{what}_too_long"
    return None


class _Similarity:
    """Texts kept so far in a group (plus the original), each tokenised once."""

    def __init__(self, original: str, limit: float, what: str):
        self.original = tokenise(original)
        self.kept: list[Tokenised] = []
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


def _generation_reason(item: dict, what: str) -> str | None:
    """Generation-time problems recorded in raw: prompt too long, truncation, no `Final Answer:`."""
    if item.get("finish_reason") == "prompt_too_long":
        return f"{what}_prompt_too_long"
    if item.get("finish_reason") == "length":
        return f"{what}_truncated"
    if item.get("text") is None:
        return f"{what}_no_final_answer"
    return None


def clean_low_group(group: dict, rules: CleanRules) -> tuple[list[dict], list[dict]]:
    """Low-quality branch: new instructions with their responses.

    Returns (kept pairs, drops). A kept pair is one (instruction, response); a drop is
    {id, reason, level} for an instruction, a response or the whole group.
    """
    kept, drops = [], []
    instr_sim = _Similarity(group["prompt"], rules.rouge_limit, "instruction")
    resp_sim = _Similarity(group["response"], rules.rouge_limit, "response")
    for ins in group.get("instructions", []):
        reason = _generation_reason(ins, "instruction") or _length_reason(
            ins["text"], rules.instruction_min_words, rules.instruction_max_words, "instruction")
        tok = None
        if reason is None:
            reason, tok = instr_sim.reason(ins["text"])
        if reason:
            drops.append({"id": ins["id"], "level": "instruction", "reason": reason,
                          "dropped_responses": len(ins.get("responses", []))})
            continue
        instr_sim.kept.append(tok)
        pairs = []
        for resp in ins.get("responses", []):
            reason = _generation_reason(resp, "response") or _length_reason(
                resp["text"], rules.response_min_words, rules.response_max_words, "response")
            rtok = None
            if reason is None:
                reason, rtok = resp_sim.reason(resp["text"])
            if reason:
                drops.append({"id": resp["id"], "level": "response", "reason": reason})
                continue
            resp_sim.kept.append(rtok)
            pairs.append({"id": resp["id"], "instruction_id": ins["id"],
                          "instruction": ins["text"], "response": resp["text"]})
        if not pairs:
            drops.append({"id": ins["id"], "level": "instruction", "reason": "instruction_no_response_left",
                          "dropped_responses": 0})
        kept.extend(pairs)
    if not kept:
        drops.append({"id": group["seed_id"], "level": "group", "reason": "group_empty"})
    return kept, drops


def clean_high_group(group: dict, rules: CleanRules) -> tuple[list[dict], list[dict]]:
    """High-quality branch: negatives are responses to the original prompt."""
    kept, drops = [], []
    resp_sim = _Similarity(group["response"], rules.rouge_limit, "negative")
    for neg in group.get("negatives", []):
        reason = _generation_reason(neg, "negative") or _length_reason(
            neg["text"], rules.response_min_words, rules.response_max_words, "negative")
        tok = None
        if reason is None:
            reason, tok = resp_sim.reason(neg["text"])
        if reason:
            drops.append({"id": neg["id"], "level": "negative", "reason": reason})
            continue
        resp_sim.kept.append(tok)
        kept.append({"id": neg["id"], "instruction_id": None,
                     "instruction": group["prompt"], "response": neg["text"]})
    if not kept:
        drops.append({"id": group["seed_id"], "level": "group", "reason": "group_empty"})
    return kept, drops
