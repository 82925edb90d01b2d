"""Generate (algorithm step 3), the parts every generating method shares: a generation group per
seed record (what the model wrote from it, parsed or not), the second pass that answers new
instructions, and the stage's statistics. What each method asks for first, and how it reads the
answers, is the method's own (lancekit.methods).

A group is ``{"seed_id", "root_id", "branch", "iteration", "generator", "prompt", "response",
"seed_score"}`` plus ``instructions`` (branch "low": new tasks, each with its ``responses``),
``negatives`` (branch "high") or ``responses`` (branch "spin": the model's own answers).
"""

from __future__ import annotations

from . import prompts
from .records import stable_id
from .requests import request_seed


def sample(id_prefix: str, parent: str, k: int, comp: dict, prefix: str, rule: str = "lance") -> dict:
    """One sample of an answer that holds its result after ``Final Answer:`` (read by ``rule``:
    prompts.parse_final_answer)."""
    raw = prefix + comp["text"]
    return {"id": stable_id(id_prefix, parent, str(k)), "sample": k,
            "text": prompts.parse_final_answer(raw, rule), "raw": raw,
            "finish_reason": comp["finish_reason"], "num_tokens": comp.get("num_tokens", 0)}


def group(rec: dict, branch: str, iteration: int, generator: str) -> dict:
    """The group of one seed record, before the samples go in."""
    return {"seed_id": rec["id"], "root_id": rec["lineage"]["root_id"], "branch": branch,
            "iteration": iteration, "generator": generator, "prompt": rec["prompt"],
            "response": rec["response"], "seed_score": (rec.get("review") or {}).get("score")}


def _answerable(ins: dict, keep_truncated: bool = False) -> bool:
    return ins["text"] is not None and (ins["finish_reason"] == "stop" or
                                        (keep_truncated and ins["finish_reason"] == "length"))


def response_requests(groups: list[dict], p: prompts.Prompts, n: int, seed: int,
                      keep_truncated: bool = False) -> list[dict]:
    """Pass 2: the model answers every new instruction that parsed and was not cut off (or, with
    ``keep_truncated``, was), n times."""
    return [{"key": ins["id"], "messages": prompts.answer_messages(p, ins["text"]),
             "n": n, "seed": request_seed(seed, "response", ins["id"])}
            for g in groups if g["branch"] == "low" for ins in g["instructions"]
            if _answerable(ins, keep_truncated)]


def attach_responses(groups: list[dict], completions: list[list[dict]], iteration: int,
                     keep_truncated: bool = False) -> None:
    targets = [ins for g in groups if g["branch"] == "low" for ins in g["instructions"]
               if _answerable(ins, keep_truncated)]
    for ins, comps in zip(targets, completions, strict=True):
        ins["responses"] = [{"id": stable_id(f"t{iteration}r", ins["id"], str(k)), "sample": k,
                             "text": c["text"], "finish_reason": c["finish_reason"],
                             "num_tokens": c.get("num_tokens", 0)} for k, c in enumerate(comps)]


def generate_stats(groups: list[dict], n_seeds: int, tokens: dict) -> dict:
    ins = [i for g in groups if g["branch"] == "low" for i in g["instructions"]]
    neg = [n for g in groups if g["branch"] == "high" for n in g["negatives"]]
    resp = [r for i in ins for r in i["responses"]]
    own = [r for g in groups if g["branch"] == "spin" for r in g["responses"]]
    return {
        "seed_responses": len(own),
        "seed_responses_truncated": sum(1 for r in own if r["finish_reason"] == "length"),
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
