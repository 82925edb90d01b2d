"""Self-Instruct (Wang et al., 2023), one round: M_0 writes new tasks from K example tasks of the
seed, answers them, the tasks are cleaned against the whole pool (Seed_0 and every task kept so
far) with Self-Instruct's word filter, and every kept pair is an SFT example. docs/methods.md
gives each step, its constant and its source.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from ..data import generate, prompts
from ..data.records import cumulative, restaged, sft_example, stable_id
from ..data.requests import request_seed
from ..generation.settings import Sampling
from .base import Generation, Method

TASK_PREFIX = "Final Answer:"


@dataclass(frozen=True)
class GenerateSettings:
    """Config ``self_instruct`` (but its word filter: clean's)."""
    demos: int                      # example tasks in each prompt
    instructions_per_seed: int      # new tasks sampled per prompt
    responses_per_instruction: int
    temperature: float              # of the task writing
    top_p: float


@dataclass(frozen=True)
class AnnotateSettings:
    min_chars: int
    shuffle_seed: int


def examples_block(tasks: list[str]) -> str:
    """K example tasks for the Self-Instruct prompt, numbered as its paper's prompt does."""
    return "\n".join(f"Task {i}: {' '.join(t.split())}" for i, t in enumerate(tasks, 1))


def self_instruct_messages(p: prompts.Prompts, tasks: list[str]) -> list[dict]:
    return [{"role": "system", "content": p.system},
            {"role": "user", "content": prompts.fill(p.self_instruct, examples=examples_block(tasks))}]


def self_instruct_requests(seeds: list[dict], pool: list[dict], p: prompts.Prompts, cfg: GenerateSettings,
                           seed: int, max_tokens: int) -> list[dict]:
    """Self-Instruct's task writing: one request per seed record (of this shard), whose prompt
    lists K example tasks (``cfg.demos``): the record's own task first, then K-1 others of the
    whole seed (``pool``, in id order: the same whatever the shard) drawn with the request's own
    seed, and asks for one more task on one line (the answer is made to start with ``Final
    Answer:``; the task is its first non-empty line, see build_task_groups);
    ``cfg.instructions_per_seed`` samples each. The record is the new tasks' parent."""
    reqs = []
    for r in seeds:
        rng = random.Random(request_seed(seed, "self_instruct_demos", r["id"]))
        others = [x["prompt"] for x in sorted(pool, key=lambda x: x["id"]) if x["id"] != r["id"]]
        demos = [r["prompt"], *rng.sample(others, min(cfg.demos - 1, len(others)))]
        msgs = self_instruct_messages(p, demos)
        msgs.append({"role": "assistant", "content": TASK_PREFIX})
        reqs.append({"key": r["id"], "messages": msgs, "n": cfg.instructions_per_seed,
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
        g = generate.group(rec, "low", iteration, generator)
        g["instructions"] = []
        for k, c in enumerate(comps):
            text, finish = first_line(c["text"], c["finish_reason"])
            g["instructions"].append({"id": stable_id(f"t{iteration}i", rec["id"], str(k)), "sample": k,
                                      "text": text, "raw": c["text"], "finish_reason": finish,
                                      "num_tokens": c.get("num_tokens", 0), "responses": []})
        groups.append(g)
    return groups


class TaskGeneration(Generation):
    """New tasks from K examples, then one answer per kept task (Self-Instruct and I-SHEEP)."""

    def __init__(self, seeds, pool, p: prompts.Prompts, cfg: GenerateSettings, seed: int, max_tokens: int):
        super().__init__(self_instruct_requests(seeds, pool, p, cfg, seed, max_tokens), "new tasks",
                         sampling=Sampling(cfg.temperature, cfg.top_p))
        self.seeds, self.prompts, self.cfg, self.seed = seeds, p, cfg, seed

    def read(self, completions, iteration, generator):
        return build_task_groups(self.seeds, completions, iteration, generator)

    def second(self, groups):
        return generate.response_requests(groups, self.prompts, self.cfg.responses_per_instruction, self.seed)

    def attach(self, groups, completions, iteration):
        generate.attach_responses(groups, completions, iteration)


def long_enough(rec: dict, min_chars: int) -> bool:
    return len(rec["prompt"].strip()) > min_chars and len(rec["response"].strip()) > min_chars


def self_instruct_sets(cleaned: list[dict], prev_sft: list[dict], prev_dpo: list[dict], system: str,
                       min_chars: int, shuffle_seed: int) -> tuple[dict, dict]:
    """SFT on Seed_0 plus every kept new pair (one round, so the previous set is Seed_0's)."""
    new_sft = [sft_example(r, system) for r in cleaned if long_enough(r, min_chars)]
    out = {"new_sft": new_sft, "new_dpo": [], "sft": cumulative(new_sft, prev_sft, shuffle_seed),
           "dpo": list(prev_dpo), "next_seed": [restaged(r, "annotate") for r in cleaned]}
    stats = {"records_in": len(cleaned), "sft_new": len(new_sft),
             "sft_left_out": {"too_short": len(cleaned) - len(new_sft)},
             "dpo_new": 0, "sft_total": len(out["sft"]), "dpo_total": len(out["dpo"]),
             "next_seed": len(out["next_seed"])}
    return out, stats


class SelfInstruct(Method):
    name, display = "self_instruct", "Self-Instruct"
    stages = ("generate", "clean", "annotate", "train_sft")
    one_round = True   # the paper plots it flat
    generate_prompts = ("self_instruct",)
    prompt_slots = {"self_instruct": ("examples",)}
    GenerateSettings = GenerateSettings
    AnnotateSettings = AnnotateSettings

    def generate_settings(self, config):
        si = config["self_instruct"]
        return GenerateSettings(**{k: v for k, v in si.items() if k != "blocked_words"})

    def generation(self, seeds, pool, p, settings, seed, max_tokens):
        return TaskGeneration(seeds, pool, p, settings, seed, max_tokens)

    def clean_settings(self, config):
        """New tasks are compared with the whole pool of tasks (Seed_0 and every one kept so far),
        and Self-Instruct's word filter applies."""
        return {**config["clean"], "instruction_scope": "pool",
                "blocked_words": config["self_instruct"]["blocked_words"]}

    def annotate_reads(self, iteration, config):
        return ("cleaned",)

    def annotate_settings(self, config):
        return AnnotateSettings(config["annotate"]["min_chars"], config["annotate"]["shuffle_seed"])

    def annotate(self, files, system, settings, iteration):
        return self_instruct_sets(files["cleaned"], files["prev_sft"], files["prev_dpo"], system,
                                  settings.min_chars, settings.shuffle_seed)


METHOD = SelfInstruct()
