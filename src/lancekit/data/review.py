"""Review (algorithm steps 1 and 5): the model judges (prompt, response) pairs, n votes each.
Records in, requests out; completions in, records with a verdict and statistics out.

``ReviewSettings`` (config ``review``) decides how:
- mode ``free``: the judge writes its review; the score is parsed from the text;
- mode ``constrained``, order ``score_first``: the answer starts with "score:" and the score itself
  is decoded under a choice constraint over " 0" .. " 10" (one engine pass, a few tokens);
- mode ``constrained``, order ``justification_first``: pass 1 writes the justification up to
  "score:" (a stop string), pass 2 continues each justification with "score:" and the constrained
  score.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from ..core import stats
from . import judge, prompts
from .requests import request_seed, token_stats

SCORE_STOP = ["score:", "Score:", "SCORE:"]
SCORE_TOKENS = 4  # " 10" is at most a few tokens, whatever the tokenizer


@dataclass(frozen=True)
class ReviewSettings:
    """Config ``review`` as a review stage reads it (not the health budget: annotate's)."""
    samples: int
    max_tokens: int
    mode: str = "free"                  # free | constrained
    order: str = "justification_first"  # justification_first | score_first
    response_prefix: str | None = None  # what the judge's answer is made to start with
    rereview_seed: bool = False         # review_seed of t > 1: judge again, or reuse stored scores
    parser: str = "lance"               # lance | authors (judge.parse_score)
    no_vote: str = "no_score"           # no_score | zero: the score of a pair with no valid vote

    @property
    def constrained(self) -> bool:
        return self.mode == "constrained"

    @property
    def score_first(self) -> bool:
        return self.order == "score_first"

    @property
    def parse_order(self) -> str:
        """Which valid score of a free-text review counts (judge.parse_score)."""
        return "first" if self.score_first else "last"

    @property
    def prefix(self) -> str:
        """The answer's start: ``response_prefix``, or "score:" for a constrained score-first judge."""
        if self.constrained and self.score_first and not self.response_prefix:
            return "score:"
        return self.response_prefix or ""

    @property
    def needs_score_pass(self) -> bool:
        return self.constrained and not self.score_first


def review_requests(records: list[dict], p: prompts.Prompts, review: ReviewSettings, seed: int,
                    stage: str) -> list[dict]:
    """The first (often only) engine pass of a review: one request per record, n votes each."""
    reqs = []
    for r in records:
        msgs = prompts.review_messages(p, r["prompt"], r["response"])
        if review.prefix:
            msgs.append({"role": "assistant", "content": review.prefix})
        req = {"key": r["id"], "messages": msgs, "n": review.samples,
               "seed": request_seed(seed, stage, r["id"]), "max_tokens": review.max_tokens}
        if review.constrained and review.score_first:
            req.update(choice=list(judge.SCORE_CHOICES), max_tokens=SCORE_TOKENS)
        elif review.constrained:
            req["stop"] = list(SCORE_STOP)
        reqs.append(req)
    return reqs


def _origin(rec: dict) -> str:
    """Where a record comes from, by its lineage: a Seed_0 record's index in the seed file, a
    generated one's seed record (its root); "" without lineage."""
    lin = rec.get("lineage") or {}
    if lin.get("source"):
        file, _, index = lin["source"].rpartition("#")
        return f", {file} record {index}"
    if lin.get("root_id") and lin["root_id"] != rec.get("id"):
        return f", iteration {lin.get('iteration')}, from seed record {lin['root_id']}"
    return ""


def too_long_warnings(records: list[dict], completions: list[list[dict]]) -> list[str]:
    """One warning per record whose judge prompt does not fit the context: it can only ever be
    answered 'prompt_too_long' (index in the shard, id and origin, length in tokens). Seed_0's
    records are warned about already by prepare_seed, on an estimate."""
    return [f"warning: record {i} of the shard ({rec['id']}{_origin(rec)}): the judge prompt is "
            f"{cs[0].get('prompt_tokens')} tokens, more than vllm.max_model_len: it can only ever be "
            "'prompt_too_long'"
            for i, (rec, cs) in enumerate(zip(records, completions, strict=True))
            if cs and cs[0]["finish_reason"] == "prompt_too_long"]


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
                  review: ReviewSettings) -> tuple[list[dict], dict]:
    """Attach a verdict to every record; stats with parse failures and the score histogram."""
    out = []
    for rec, comps in zip(records, completions, strict=True):
        texts = [review.prefix + c["text"] if c["finish_reason"] != "prompt_too_long" else ""
                 for c in comps]
        verdict = judge.aggregate(texts, [c["finish_reason"] for c in comps], review.parse_order, review.parser,
                                  review.no_vote)
        rec = copy.deepcopy(rec)
        rec["review"] = {**verdict.as_dict(), "judge": judge_model, "stage": stage,
                         "mode": review.mode, "texts": texts}
        out.append(rec)
    return out, review_stats(out, token_stats(completions))


def review_stats(records: list[dict], tokens: dict | None = None) -> dict:
    scores = [r["review"]["score"] for r in records]
    too_long = sum(r["review"].get("n_prompt_too_long", 0) for r in records)
    votes = sum(r["review"]["n_parsed"] + r["review"]["n_failed"] for r in records)
    failed = sum(r["review"]["n_failed"] for r in records)
    valid = [s for s in scores if s is not None]
    unscored = sum(1 for s in scores if s is None)
    out = {
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
        out.update(tokens)
    return out


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
                            "mean_score": stats.mean_or_none([s for s in v if s is not None])}
                      for lab, v in sorted(by.items())}}
    if set(by) >= {"good", "mediocre"}:
        good = [s for s in by["good"] if s is not None]
        bad = [s for s in by["mediocre"] if s is not None]
        out["auc_good_vs_mediocre"] = stats.auc_with_interval(good, bad)
    return out


def reuse_reviews(records: list[dict]) -> tuple[list[dict], dict]:
    """Later iterations (reference behaviour): keep the scores stored in the seed."""
    for i, r in enumerate(records):
        if "review" not in r:
            raise ValueError(f"seed record {i} ({r.get('id')}) has no stored review; "
                             "set review.rereview_seed: true")
    out = review_stats(records)
    out["reused_scores"] = True
    return records, out


def record_summary(records: list[dict]) -> dict:
    """Per reviewed record, column by column: id, score, response length (characters), valid
    votes: what the review gather writes into the stage's stats for the report's judge-bias
    table (lancekit.report.judge_bias), the records themselves unchanged."""
    reviews = [r.get("review") or {} for r in records]
    return {"ids": [r["id"] for r in records], "scores": [v.get("score") for v in reviews],
            "chars": [len(r.get("response") or "") for r in records],
            "votes": [list(v.get("votes") or []) for v in reviews]}
