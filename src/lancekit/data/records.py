"""The one home of a record's shape, its stable id and its lineage.

A record is ``{"id", "prompt", "response", "lineage", ...}``; stages add ``review`` (the judge's
verdict), ``meta`` (a seed's own extra fields) or ``parent_score``. Every record has the same
lineage keys, whatever stage made it:

- ``iteration``: 0 for Seed_0, t for what iteration t generated;
- ``parent_id``: the seed record it was generated from (None for Seed_0);
- ``root_id``: the Seed_0 record at the start of the chain (itself for Seed_0);
- ``stage``: the last stage that wrote it; ``branch``: "low" (new instruction) or "high"
  (negative) for generated records; ``generator``: the model that wrote it;
  ``instruction_id``: the generated instruction a response answers; ``source``: file#index of a
  Seed_0 record.

Ids depend only on text and position in the lineage tree, never on batch order or time, so a
rerun gives the same ids and any training example traces back to its seed through ``root_id``.
"""

from __future__ import annotations

import hashlib
import random

LINEAGE_KEYS = ("iteration", "parent_id", "root_id", "stage", "branch", "generator", "instruction_id",
                "source")


def stable_id(prefix: str, *parts: str) -> str:
    """A short id that depends only on the text: `prefix-<12 hex digits>`."""
    h = hashlib.sha1("\x1f".join(parts).encode("utf-8")).hexdigest()[:12]
    return f"{prefix}-{h}"


def lineage(*, iteration: int, parent_id: str | None, root_id: str, stage: str, branch: str | None = None,
            generator: str | None = None, instruction_id: str | None = None, source: str | None = None) -> dict:
    """The lineage of one record; the same keys for every record."""
    return {"iteration": iteration, "parent_id": parent_id, "root_id": root_id, "stage": stage,
            "branch": branch, "generator": generator, "instruction_id": instruction_id, "source": source}


def seed_record(prompt: str, response: str, source: str, meta: dict) -> dict:
    rid = stable_id("s0", prompt, response)
    return {"id": rid, "prompt": prompt, "response": response,
            "lineage": lineage(iteration=0, parent_id=None, root_id=rid, stage="seed", source=source),
            "meta": meta}


def generated_record(rid: str, prompt: str, response: str, *, parent: dict, iteration: int, branch: str,
                     generator: str, instruction_id: str | None, stage: str = "clean") -> dict:
    """A new (instruction, response) pair or (prompt, negative) pair made from seed ``parent``
    (``{"seed_id", "root_id", "seed_score"}`` of its generation group)."""
    return {"id": rid, "prompt": prompt, "response": response,
            "lineage": lineage(iteration=iteration, parent_id=parent["seed_id"], root_id=parent["root_id"],
                               stage=stage, branch=branch, generator=generator, instruction_id=instruction_id),
            "parent_score": parent["seed_score"]}


def restaged(rec: dict, stage: str) -> dict:
    """The same record, marked as last written by ``stage``."""
    return {**rec, "lineage": {**rec["lineage"], "stage": stage}}


def trace(rec: dict) -> dict:
    """The lineage fields a training example carries: its id, root, parent and iteration."""
    lin = rec["lineage"]
    return {"id": rec["id"], "root_id": lin["root_id"], "parent_id": lin["parent_id"] or "",
            "iteration": lin["iteration"]}


def sft_example(rec: dict, system: str) -> dict:
    """LLaMA-Factory alpaca record (instruction/input/output/system) with id and lineage."""
    return {"instruction": rec["prompt"], "input": "", "output": rec["response"], "system": system,
            **trace(rec)}


def cumulative(new: list[dict], previous: list[dict], seed: int) -> list[dict]:
    """new ∪ previous training examples (by id, new wins), shuffled with a fixed seed."""
    merged = {r["id"]: r for r in previous}
    merged.update({r["id"]: r for r in new})
    out = sorted(merged.values(), key=lambda r: r["id"])
    random.Random(seed).shuffle(out)
    return out


def dpo_example(prompt_rec: dict, chosen: str, rejected: str, pair_id: str, iteration: int, **scores) -> dict:
    """LLaMA-Factory sharegpt ranking record (conversations/chosen/rejected) for a prompt record,
    with the pair's id, the prompt's id and root, the iteration and any scores."""
    return {"conversations": [{"from": "human", "value": prompt_rec["prompt"]}],
            "chosen": {"from": "gpt", "value": chosen}, "rejected": {"from": "gpt", "value": rejected},
            "id": pair_id, "prompt_id": prompt_rec["id"], "root_id": prompt_rec["lineage"]["root_id"],
            **scores, "iteration": iteration}
