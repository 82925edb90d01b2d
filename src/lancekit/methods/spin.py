"""SPIN (Chen et al., 2024): M_{t-1} answers every seed prompt; the seed's own response is
"chosen" and the model's "rejected", one DPO pair per usable response; DPO trains M_{t-1} itself,
with M_{t-1} as the reference. docs/methods.md gives each step, its constant and its source.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..data import generate, prompts
from ..data.records import cumulative, dpo_example, stable_id
from ..data.requests import request_seed
from .base import Generation, Method


@dataclass(frozen=True)
class GenerateSettings:
    responses_per_prompt: int       # responses of M_{t-1} per seed prompt


@dataclass(frozen=True)
class AnnotateSettings:
    shuffle_seed: int
    keep_previous: bool             # iteration t also trains on iteration t-1's pairs


def respond_requests(seeds: list[dict], p: prompts.Prompts, n: int, seed: int) -> list[dict]:
    """M_{t-1} answers every seed prompt as it would any user (n samples)."""
    return [{"key": r["id"], "messages": prompts.answer_messages(p, r["prompt"]), "n": n,
             "seed": request_seed(seed, "respond", r["id"])} for r in seeds]


def build_respond_groups(seeds: list[dict], completions: list[list[dict]], iteration: int,
                         generator: str) -> list[dict]:
    """One "spin"-branch group per seed record: the seed's own response and the model's."""
    groups = []
    for rec, comps in zip(seeds, completions, strict=True):
        g = generate.group(rec, "spin", iteration, generator)
        g["responses"] = [{"id": stable_id(f"t{iteration}y", rec["id"], str(k)), "sample": k,
                           "text": c["text"].strip(), "finish_reason": c["finish_reason"],
                           "num_tokens": c.get("num_tokens", 0)} for k, c in enumerate(comps)]
        groups.append(g)
    return groups


class RespondGeneration(Generation):
    def __init__(self, seeds, p: prompts.Prompts, cfg: GenerateSettings, seed: int):
        super().__init__(respond_requests(seeds, p, cfg.responses_per_prompt, seed), "seed responses")
        self.seeds = seeds

    def read(self, completions, iteration, generator):
        return build_respond_groups(self.seeds, completions, iteration, generator)


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


class Spin(Method):
    name, display = "spin", "SPIN"
    stages = ("generate", "annotate", "train_dpo")
    dpo_from = "previous"   # DPO from M_{t-1}, which is also the reference
    GenerateSettings = GenerateSettings
    AnnotateSettings = AnnotateSettings

    def generate_settings(self, config):
        return GenerateSettings(config["spin"]["responses_per_prompt"])

    def generation(self, seeds, pool, p, settings, seed, max_tokens):
        return RespondGeneration(seeds, p, settings, seed)

    def annotate_reads(self, iteration, config):
        # SPIN mixes in the previous iteration's pairs
        return ("raw", "seed") + (("prev_new_dpo",) if iteration > 1 else ())

    def annotate_settings(self, config):
        return AnnotateSettings(config["annotate"]["shuffle_seed"], config["spin"]["keep_previous"])

    def annotate(self, files, system, settings, iteration):
        return spin_sets(files["raw"], files["seed"], files.get("prev_new_dpo", []), settings.keep_previous,
                         settings.shuffle_seed, iteration)


METHOD = Spin()
