"""LANCE (arXiv 2412.15151) and the two data ablations of its authors' code: the model reviews its
seed, writes new instructions with answers for the low-score seeds and deliberately worse answers
(negatives) for the high-score ones, cleans them, reviews them again, and trains SFT then DPO on
what passes. `lance_sft_only` keeps only the low-score branch (SFT), `lance_dpo_only` only the
high-score one (DPO from M_{t-1}). docs/algorithm.md gives every step and constant.

Annotate (algorithm step 6): scores are means rounded to 4 decimals; comparisons against the
thresholds are strict, and the DPO gap is computed on the rounded scores, rounded again, so that
8.3333 - 6.3333 is exactly 2.0 (no pair) and not 2.0000000000000004.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from statistics import mean

from ..data import generate, judge, prompts, records
from ..data.judge import HealthLimits
from ..data.records import cumulative, sft_example
from ..data.requests import request_seed
from .base import Generation, Method


@dataclass(frozen=True)
class NewData:
    """Config ``generate``: how much the model writes per seed, and how its answers are shaped."""
    instructions_per_seed: int
    responses_per_instruction: int
    negatives_per_seed: int
    response_prefix: str | None = None      # the answers start with it (e.g. "Final Answer:")
    instruction_stop: tuple[str, ...] = ()  # stop strings of the new-instruction answers
    keep_truncated: bool = False            # answer (and keep) samples cut off at max_tokens
    final_answer: str = "lance"             # how the answer is read: prompts.parse_final_answer


@dataclass(frozen=True)
class GenerateSettings:
    split_threshold: float
    generate: NewData


@dataclass(frozen=True)
class AnnotateSettings:
    """Config ``annotate`` and the judge-health budget."""
    sft_threshold: float
    dpo_gap: float
    min_chars: int
    next_seed: str                  # "seed0" (authors' code) or "previous"
    next_seed_limit: int | None
    shuffle_seed: int
    health: HealthLimits
    seed1_new_only: bool = False    # Seed_1 = iteration 1's new items only (authors' --first_iter)
    rejected_on_tie: str = "first"  # "first" (a negative) or "last" (the original, authors' code)


# --- generate (algorithm step 3) ---------------------------------------------------------------

def first_requests(low: list[dict], high: list[dict], p: prompts.Prompts, cfg: NewData, seed: int) -> list[dict]:
    """New-instruction requests for low seeds, then negative requests for high seeds.

    With ``cfg.response_prefix`` (e.g. "Final Answer:") the model's answer starts with it;
    ``cfg.instruction_stop`` (e.g. a newline) ends the new-instruction answers.
    """
    stop = list(cfg.instruction_stop or [])
    reqs = [{"key": r["id"], "messages": prompts.new_instruction_messages(p, r["prompt"], r["response"]),
             "n": cfg.instructions_per_seed, "seed": request_seed(seed, "instruction", r["id"]),
             **({"stop": stop} if stop else {})}
            for r in low]
    reqs += [{"key": r["id"], "messages": prompts.negative_messages(p, r["prompt"], r["response"]),
              "n": cfg.negatives_per_seed, "seed": request_seed(seed, "negative", r["id"])}
             for r in high]
    if cfg.response_prefix:
        for r in reqs:
            r["messages"].append({"role": "assistant", "content": cfg.response_prefix})
    return reqs


def build_groups(low: list[dict], high: list[dict], completions: list[list[dict]],
                 iteration: int, generator: str, prefix: str | None = None, rule: str = "lance") -> list[dict]:
    """One group per seed, holding every sample the model wrote (parsed by ``rule`` or not)."""
    prefix = prefix or ""
    groups = []
    for rec, comps in zip(low + high, completions, strict=True):
        branch = "low" if len(groups) < len(low) else "high"
        g = generate.group(rec, branch, iteration, generator)
        if branch == "low":
            g["instructions"] = [dict(generate.sample(f"t{iteration}i", rec["id"], k, c, prefix, rule), responses=[])
                                 for k, c in enumerate(comps)]
        else:
            g["negatives"] = [generate.sample(f"t{iteration}n", rec["id"], k, c, prefix, rule)
                              for k, c in enumerate(comps)]
        groups.append(g)
    return groups


class LanceGeneration(Generation):
    def __init__(self, low, high, p: prompts.Prompts, cfg: NewData, seed: int):
        super().__init__(first_requests(low, high, p, cfg, seed), "instructions+negatives",
                         tally={"low": len(low), "high": len(high)})
        self.low, self.high, self.prompts, self.cfg, self.seed = low, high, p, cfg, seed

    def read(self, completions, iteration, generator):
        return build_groups(self.low, self.high, completions, iteration, generator, self.cfg.response_prefix,
                            self.cfg.final_answer)

    def second(self, groups):
        return generate.response_requests(groups, self.prompts, self.cfg.responses_per_instruction, self.seed,
                                          self.cfg.keep_truncated)

    def attach(self, groups, completions, iteration):
        generate.attach_responses(groups, completions, iteration, self.cfg.keep_truncated)


# --- annotate (algorithm step 6) ---------------------------------------------------------------

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


def select_dpo(high_seeds: list[dict], negatives: list[dict], gap: float, tie: str = "first") -> list[dict]:
    """DPO pairs per high-quality seed (algorithm step 6).

    Candidates: the seed's kept negatives that have a score, in sample order, then the original
    response. `rejected` is the lowest-scored candidate (on ties the first of them, or with
    ``tie`` "last" the last: the authors' stable sort puts the original response last); every
    candidate scoring more than `gap` above it is a `chosen`, one pair each.
    """
    if tie not in ("first", "last"):
        raise ValueError(f"tie must be 'first' or 'last', got {tie!r}")
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
        low_score = min(c[0] for c in cands)
        tied = [c for c in cands if c[0] == low_score]
        rejected = (tied[0] if tie == "first" else tied[-1])[1]
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


def high_seeds(seeds: list[dict], negatives: list[dict]) -> list[dict]:
    """The seeds of the high-score branch: the parents of the negatives, in seed order (generate
    split the seed; annotate does not split it again)."""
    parents = {n["lineage"]["parent_id"] for n in negatives}
    return [s for s in seeds if s["id"] in parents]


def base_seed(seeds: list[dict], cfg: AnnotateSettings, iteration: int,
              first_reviewed: list[dict] | None = None) -> list[dict]:
    """What the next seed carries over besides the new items: Seed_0 as reviewed (``seed0``) or
    this iteration's whole seed (``previous``). With ``seed1_new_only`` (the authors' code),
    nothing after iteration 1, and Seed_0 as M_0 reviewed it (``first_reviewed``: iteration 1's
    reviewed seed) from iteration 2."""
    if cfg.seed1_new_only and iteration == 1:
        return []
    seed0 = [s for s in (first_reviewed if first_reviewed is not None else seeds) if s["lineage"]["iteration"] == 0]
    if cfg.next_seed != "previous":
        return seed0
    ids = {s["id"] for s in seeds}
    return seeds + [s for s in seed0 if s["id"] not in ids]


def annotate(seeds: list[dict], new: list[dict], prev_sft: list[dict], prev_dpo: list[dict], system: str,
             cfg: AnnotateSettings, iteration: int,
             first_reviewed: list[dict] | None = None) -> tuple[dict[str, list[dict]], dict]:
    """The whole stage: {"new_sft", "new_dpo", "sft", "dpo", "next_seed"} and its statistics."""
    new_sft, sft_left_out = select_sft(new, cfg.sft_threshold, cfg.min_chars, system)
    negatives = [r for r in new if r["lineage"]["branch"] == "high"]
    high = high_seeds(seeds, negatives)
    new_dpo = select_dpo(high, negatives, cfg.dpo_gap, cfg.rejected_on_tie)
    shuffle_seed = cfg.shuffle_seed + iteration
    base = base_seed(seeds, cfg, iteration, first_reviewed)
    nxt, left_out = next_seed(new, base, cfg.next_seed_limit, shuffle_seed)
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


# --- the method and its two data ablations -----------------------------------------------------

class Lance(Method):
    evolves_seed = True
    generate_reads = "reviewed_seed"
    GenerateSettings = GenerateSettings
    AnnotateSettings = AnnotateSettings

    def __init__(self, name: str, display: str, branches: tuple[str, ...]):
        self.name, self.display, self.branches = name, display, branches
        training = (("train_sft",) if "low" in branches else ()) + (("train_dpo",) if "high" in branches else ())
        self.stages = ("review_seed", "generate", "clean", "review_new", "annotate", *training)
        self.generate_prompts = tuple(key for branch, key in (("low", "new_instruction"), ("high", "negative"))
                                      if branch in branches)
        # DPO of LANCE starts from (and is referenced to) this iteration's SFT model; without
        # the SFT branch, from M_{t-1}
        self.dpo_from = "sft" if "low" in branches else "previous"

    def generate_settings(self, config):
        return GenerateSettings(config["split_threshold"], NewData(**config["generate"]))

    def gather_settings(self, config):
        return {"split_threshold": config["split_threshold"]}

    def clean_settings(self, config):
        """Config `clean`, and whether samples cut off at max_tokens stay (config `generate`)."""
        return {**config["clean"], "keep_truncated": config["generate"]["keep_truncated"]}

    def generation(self, seeds, pool, p, settings, seed, max_tokens):
        low, high = judge.split(seeds, settings.split_threshold)
        low = low if "low" in self.branches else []
        high = high if "high" in self.branches else []
        return LanceGeneration(low, high, p, settings.generate, seed)

    def annotate_reads(self, iteration, config):
        # Seed_0 as M_0 reviewed it rejoins from iteration 2 when Seed_1 held only new items
        first = ("first_reviewed_seed",) if iteration >= 2 and config["annotate"]["seed1_new_only"] else ()
        return ("reviewed_seed", "reviewed_new", "seed_stats", "new_stats") + first

    def annotate_settings(self, config):
        return AnnotateSettings(**config["annotate"], health=HealthLimits.from_config(config["review"]))

    def annotate(self, files, system, settings, iteration):
        return annotate(files["reviewed_seed"], files["reviewed_new"], files["prev_sft"], files["prev_dpo"],
                        system, settings, iteration, files.get("first_reviewed_seed"))


LANCE = Lance("lance", "LANCE", ("low", "high"))
SFT_ONLY = Lance("lance_sft_only", "LANCE (SFT data only)", ("low",))
DPO_ONLY = Lance("lance_dpo_only", "LANCE (DPO data only)", ("high",))
VARIANTS = (LANCE, SFT_ONLY, DPO_ONLY)
