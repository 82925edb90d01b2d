"""I-SHEEP (Liang et al., 2024): M_{t-1} writes tasks and answers them as Self-Instruct does
(config ``self_instruct``), scores its own pairs with its self-assessment prompt, keeps those at or
above the threshold and is trained on them by SFT, from M_0 each time (its code restarts from the
initial model). docs/methods.md gives each step, its constant and its source.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..data import judge, prompts
from ..data.judge import HealthLimits
from ..data.records import cumulative, restaged, sft_example
from . import self_instruct


@dataclass(frozen=True)
class AnnotateSettings:
    min_chars: int
    shuffle_seed: int
    threshold: float        # keep pairs whose self-assessed score is at least this
    cumulative: bool        # train on the kept pairs of every iteration so far
    health: HealthLimits


def i_sheep_sets(reviewed: list[dict], prev_sft: list[dict], prev_dpo: list[dict], system: str,
                 cfg: AnnotateSettings, iteration: int) -> tuple[dict, dict]:
    """Keep the self-assessed pairs scoring at least ``cfg.threshold``; SFT on them (and, with
    ``cfg.cumulative``, on every earlier iteration's kept pairs too)."""
    left_out = {"no_score": 0, "score_below_threshold": 0, "too_short": 0}
    new_sft = []
    for r in reviewed:
        score = r["review"]["score"]
        if score is None:
            left_out["no_score"] += 1
        elif score < cfg.threshold:
            left_out["score_below_threshold"] += 1
        elif not self_instruct.long_enough(r, cfg.min_chars):
            left_out["too_short"] += 1
        else:
            new_sft.append(sft_example(r, system))
    earlier = [e for e in prev_sft if e["iteration"] > 0] if cfg.cumulative else []
    sft = cumulative(new_sft, earlier, cfg.shuffle_seed + iteration)
    kept = {e["id"] for e in new_sft}
    out = {"new_sft": new_sft, "new_dpo": [], "sft": sft, "dpo": list(prev_dpo),
           "next_seed": [restaged(r, "annotate") for r in reviewed if r["id"] in kept]}
    stats = {"records_in": len(reviewed), "threshold": cfg.threshold, "sft_new": len(new_sft),
             "sft_left_out": left_out, "dpo_new": 0, "sft_total": len(sft), "dpo_total": len(out["dpo"]),
             "next_seed": len(out["next_seed"]),
             "score_histogram": judge.histogram([r["review"]["score"] for r in reviewed])}
    return out, stats


class ISheep(self_instruct.SelfInstruct):
    name, display = "i_sheep", "I-SHEEP"
    stages = ("generate", "clean", "review_new", "annotate", "train_sft")
    one_round = False
    review_prompt = "i_sheep_assess"
    prompt_slots = {**self_instruct.SelfInstruct.prompt_slots, "i_sheep_assess": prompts.SLOTS}
    AnnotateSettings = AnnotateSettings

    def sft_from(self, config):
        return config["i_sheep"]["start"]

    def generate_settings(self, config):
        """Self-Instruct's task writing, with I-SHEEP's own number of tasks per seed record if set."""
        own = config["i_sheep"]["instructions_per_seed"]
        settings = super().generate_settings(config)
        return settings if own is None else dataclasses.replace(settings, instructions_per_seed=own)

    def review_settings(self, config, stage):
        """The self-assessment takes its own number of votes."""
        return dataclasses.replace(super().review_settings(config, stage), samples=config["i_sheep"]["samples"])

    def annotate_reads(self, iteration, config):
        return ("reviewed_new", "new_stats")

    def annotate_settings(self, config):
        i = config["i_sheep"]
        return AnnotateSettings(config["annotate"]["min_chars"], config["annotate"]["shuffle_seed"], i["threshold"],
                                i["cumulative"], HealthLimits.from_config(config["review"]))

    def annotate(self, files, system, settings, iteration):
        return i_sheep_sets(files["reviewed_new"], files["prev_sft"], files["prev_dpo"], system, settings, iteration)


METHOD = ISheep()
