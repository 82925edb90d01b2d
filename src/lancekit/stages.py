"""The data stages of one iteration as pure functions: records in, requests out; completions in,
records and statistics out. The engine call sits in the scripts, between the two halves, so that
every stage here can be tested with canned model text.

A request is ``{"key", "messages", "n", "seed"}``; a completion is
``{"text", "finish_reason", "num_tokens"}``. Completions come back as one list per request.
"""

from __future__ import annotations

import copy
import hashlib
import random

from . import intervals, judge, prompts
from .records import stable_id


def request_seed(base: int, *parts: str) -> int:
    """Per-request sampling seed: depends on the run's seed and the request, not on batch order."""
    h = hashlib.sha256(("\x1f".join([str(base), *parts])).encode()).digest()
    return int.from_bytes(h[:4], "big") & 0x7FFFFFFF


def token_stats(completions: list[list[dict]]) -> dict:
    flat = [c for cs in completions for c in cs]
    return {"samples": len(flat), "generated_tokens": sum(c.get("num_tokens", 0) for c in flat),
            "truncated": sum(1 for c in flat if c["finish_reason"] == "length"),
            "prompt_too_long": sum(1 for c in flat if c["finish_reason"] == "prompt_too_long")}


# --- review (algorithm steps 1 and 5) ------------------------------------------------------
#
# cfg (config `review`): samples, mode ("free" | "constrained"), order ("score_first" |
# "justification_first"), response_prefix, max_tokens.
# - free: the judge writes its review; the score is parsed from the text.
# - constrained, score_first: the answer starts with "score:" and the score itself is decoded
#   under a choice constraint over " 0" .. " 10" (one engine pass, a few tokens).
# - constrained, justification_first: pass 1 writes the justification up to "score:" (a stop
#   string), pass 2 continues each justification with "score:" and the constrained score.

SCORE_STOP = ["score:", "Score:", "SCORE:"]
SCORE_TOKENS = 4  # " 10" is at most a few tokens, whatever the tokenizer


def parse_order(cfg: dict) -> str:
    return "first" if cfg.get("order") == "score_first" else "last"


def _review_prefix(cfg: dict) -> str:
    prefix = cfg.get("response_prefix") or ""
    if cfg.get("mode") == "constrained" and cfg.get("order") == "score_first" and not prefix:
        prefix = "score:"
    return prefix


def review_requests(records: list[dict], p: prompts.Prompts, cfg: dict, seed: int, stage: str) -> list[dict]:
    """The first (often only) engine pass of a review: one request per record, n votes each."""
    prefix = _review_prefix(cfg)
    constrained = cfg.get("mode") == "constrained"
    reqs = []
    for r in records:
        msgs = prompts.review_messages(p, r["prompt"], r["response"])
        if prefix:
            msgs.append({"role": "assistant", "content": prefix})
        req = {"key": r["id"], "messages": msgs, "n": cfg["samples"],
               "seed": request_seed(seed, stage, r["id"]), "max_tokens": cfg["max_tokens"]}
        if constrained and cfg.get("order") == "score_first":
            req.update(choice=list(judge.SCORE_CHOICES), max_tokens=SCORE_TOKENS)
        elif constrained:
            req["stop"] = list(SCORE_STOP)
        reqs.append(req)
    return reqs


def too_long_warnings(records: list[dict], completions: list[list[dict]]) -> list[str]:
    """One warning per record whose judge prompt does not fit the context: it can only ever be
    answered 'prompt_too_long' (index in the input file, id, length in tokens)."""
    return [f"warning: record {i} ({rec['id']}): the judge prompt is {cs[0].get('prompt_tokens')} tokens, "
            "more than vllm.max_model_len: it can only ever be 'prompt_too_long'"
            for i, (rec, cs) in enumerate(zip(records, completions, strict=True))
            if cs and cs[0]["finish_reason"] == "prompt_too_long"]


def needs_score_pass(cfg: dict) -> bool:
    return cfg.get("mode") == "constrained" and cfg.get("order") != "score_first"


def _continued(prefix: str, justification: str) -> str:
    text = (prefix + justification).rstrip()
    return f"{text}\nscore:" if text else "score:"


def score_requests(first: list[dict], completions: list[list[dict]], seed: int, stage: str) -> list[dict]:
    """Pass 2 of a constrained justification-first review: for every vote of pass 1 whose prompt
    fit, the justification continued with "score:" and a constrained score (n=1, its own seed)."""
    reqs = []
    for req, comps in zip(first, completions, strict=True):
        prefix = req["messages"][-1]["content"] if req["messages"][-1]["role"] == "assistant" else ""
        base = req["messages"][:-1] if prefix else req["messages"]
        for k, c in enumerate(comps):
            if c["finish_reason"] == "prompt_too_long":
                continue
            reqs.append({"key": f"{req['key']}#{k}",
                         "messages": base + [{"role": "assistant", "content": _continued(prefix, c["text"])}],
                         "n": 1, "seed": request_seed(seed, stage, "score", req["key"], str(k)),
                         "choice": list(judge.SCORE_CHOICES), "max_tokens": SCORE_TOKENS})
    return reqs


def merge_score_pass(first: list[dict], completions: list[list[dict]],
                     second: list[list[dict]]) -> list[list[dict]]:
    """One completion per vote again: justification + "score:" + the constrained score."""
    it = iter(second)
    merged = []
    for req, comps in zip(first, completions, strict=True):
        prefix = req["messages"][-1]["content"] if req["messages"][-1]["role"] == "assistant" else ""
        out = []
        for c in comps:
            if c["finish_reason"] == "prompt_too_long":
                out.append(c)
                continue
            s = next(it)[0]
            text = _continued(prefix, c["text"])[len(prefix):] + s["text"]
            out.append({"text": text, "finish_reason": s["finish_reason"],
                        "num_tokens": c.get("num_tokens", 0) + s.get("num_tokens", 0),
                        "justification_finish_reason": c["finish_reason"]})
        merged.append(out)
    if next(it, None) is not None:
        raise ValueError("more score completions than votes")
    return merged


def apply_reviews(records: list[dict], completions: list[list[dict]], stage: str, judge_model: str,
                  cfg: dict) -> tuple[list[dict], dict]:
    """Attach a verdict to every record; stats with parse failures and the score histogram."""
    prefix = _review_prefix(cfg)
    order = parse_order(cfg)
    out = []
    for rec, comps in zip(records, completions, strict=True):
        texts = [(prefix or "") + c["text"] if c["finish_reason"] != "prompt_too_long" else ""
                 for c in comps]
        verdict = judge.aggregate(texts, [c["finish_reason"] for c in comps], order)
        rec = copy.deepcopy(rec)
        rec["review"] = {**verdict.as_dict(), "judge": judge_model, "stage": stage,
                         "mode": cfg.get("mode", "free"), "texts": texts}
        out.append(rec)
    return out, review_stats(out, token_stats(completions))


def review_stats(records: list[dict], tokens: dict | None = None) -> dict:
    scores = [r["review"]["score"] for r in records]
    too_long = sum(r["review"].get("n_prompt_too_long", 0) for r in records)
    votes = sum(r["review"]["n_parsed"] + r["review"]["n_failed"] for r in records)
    failed = sum(r["review"]["n_failed"] for r in records)
    valid = [s for s in scores if s is not None]
    unscored = sum(1 for s in scores if s is None)
    stats = {
        "records_in": len(records), "records_out": len(records),
        "votes": votes, "votes_failed": failed, "votes_prompt_too_long": too_long,
        "parse_failure_rate": round(failed / votes, 4) if votes else 0.0,
        "records_without_score": unscored,
        "unscored_rate": round(unscored / len(records), 4) if records else 0.0,
        "mean_score": round(sum(valid) / len(valid), 4) if valid else None,
        "score_histogram": judge.histogram(scores),
        "by_label": label_separation(records),
    }
    if tokens:
        stats.update(tokens)
    return stats


def label_separation(records: list[dict], key: str = "quality") -> dict | None:
    """How well the judge's scores separate a seed's own labels (``meta.quality``: good vs
    mediocre in the shipped seed): mean score per label and the ROC AUC with a bootstrap interval.
    None when the records carry no such label."""
    labelled = [(r.get("meta", {}).get(key), r["review"]["score"]) for r in records
                if isinstance(r.get("meta"), dict) and r["meta"].get(key) is not None]
    if not labelled:
        return None
    by = {}
    for label, score in labelled:
        by.setdefault(str(label), []).append(score)
    out = {"labels": {lab: {"records": len(v), "scored": sum(1 for s in v if s is not None),
                            "mean_score": intervals.mean_or_none([s for s in v if s is not None])}
                      for lab, v in sorted(by.items())}}
    if set(by) >= {"good", "mediocre"}:
        good = [s for s in by["good"] if s is not None]
        bad = [s for s in by["mediocre"] if s is not None]
        out["auc_good_vs_mediocre"] = intervals.auc_with_interval(good, bad)
    return out


def reuse_reviews(records: list[dict]) -> tuple[list[dict], dict]:
    """Later iterations (reference behaviour): keep the scores stored in the seed."""
    for i, r in enumerate(records):
        if "review" not in r:
            raise ValueError(f"seed record {i} ({r.get('id')}) has no stored review; "
                             "set review.rereview_seed: true")
    stats = review_stats(records)
    stats["reused_scores"] = True
    return records, stats


# --- generate (algorithm step 3) -----------------------------------------------------------------

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
            "response": rec["response"], "seed_score": (rec.get("review") or {}).get("score")}


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


# --- generate for the baselines (docs/methods.md) ------------------------------------------------

TASK_PREFIX = "Final Answer:"


def self_instruct_requests(seeds: list[dict], pool: list[dict], p: prompts.Prompts, cfg: dict, seed: int,
                           max_tokens: int) -> list[dict]:
    """Self-Instruct's task writing: one request per seed record (of this shard), whose prompt
    lists K example tasks (``cfg["demos"]``): the record's own task first, then K-1 others of the
    whole seed (``pool``, in id order: the same whatever the shard) drawn with the request's own
    seed, and asks for one more task on one line (the answer is made to start with ``Final
    Answer:``; the task is its first non-empty line, see build_task_groups);
    ``cfg["instructions_per_seed"]`` samples each. The record is the new tasks' parent."""
    reqs = []
    for r in seeds:
        rng = random.Random(request_seed(seed, "self_instruct_demos", r["id"]))
        others = [x["prompt"] for x in sorted(pool, key=lambda x: x["id"]) if x["id"] != r["id"]]
        demos = [r["prompt"], *rng.sample(others, min(cfg["demos"] - 1, len(others)))]
        msgs = prompts.self_instruct_messages(p, demos)
        msgs.append({"role": "assistant", "content": TASK_PREFIX})
        reqs.append({"key": r["id"], "messages": msgs, "n": cfg["instructions_per_seed"],
                     "seed": request_seed(seed, "instruction", r["id"]), "stop": ["\n\n"],
                     "max_tokens": max_tokens})
    return reqs


def first_line(text: str, finish_reason: str) -> tuple[str | None, str]:
    """The task a Self-Instruct answer holds: its first non-empty line (a small model often
    starts on a new line after the prefix, or runs on into more tasks). The line is complete,
    so not truncated, when a newline follows it."""
    lines = [ln for ln in text.split("\n") if ln.strip()]
    if not lines:
        return None, finish_reason
    complete = finish_reason == "stop" or "\n" in text[text.index(lines[0]) + len(lines[0]):]
    return " ".join(lines[0].split()), "stop" if complete else finish_reason


def build_task_groups(seeds: list[dict], completions: list[list[dict]], iteration: int,
                      generator: str) -> list[dict]:
    """One "low"-branch group per seed record holding the tasks written from its prompt (the
    first line of each answer: no ``Final Answer:`` to find); responses are attached as for LANCE."""
    groups = []
    for rec, comps in zip(seeds, completions, strict=True):
        g = _group(rec, "low", iteration, generator)
        g["instructions"] = []
        for k, c in enumerate(comps):
            text, finish = first_line(c["text"], c["finish_reason"])
            g["instructions"].append({"id": stable_id(f"t{iteration}i", rec["id"], str(k)), "sample": k,
                                      "text": text, "raw": c["text"], "finish_reason": finish,
                                      "num_tokens": c.get("num_tokens", 0), "responses": []})
        groups.append(g)
    return groups


def respond_requests(seeds: list[dict], p: prompts.Prompts, n: int, seed: int) -> list[dict]:
    """SPIN: M_{t-1} answers every seed prompt as it would any user (n samples)."""
    return [{"key": r["id"], "messages": prompts.answer_messages(p, r["prompt"]), "n": n,
             "seed": request_seed(seed, "respond", r["id"])} for r in seeds]


def build_respond_groups(seeds: list[dict], completions: list[list[dict]], iteration: int,
                         generator: str) -> list[dict]:
    """One "spin"-branch group per seed record: the seed's own response and the model's."""
    groups = []
    for rec, comps in zip(seeds, completions, strict=True):
        g = _group(rec, "spin", iteration, generator)
        g["responses"] = [{"id": stable_id(f"t{iteration}y", rec["id"], str(k)), "sample": k,
                           "text": c["text"].strip(), "finish_reason": c["finish_reason"],
                           "num_tokens": c.get("num_tokens", 0)} for k, c in enumerate(comps)]
        groups.append(g)
    return groups


# clean is in clean.py, annotate in annotate.py and methods.py; review_new uses
# review_requests/apply_reviews.
