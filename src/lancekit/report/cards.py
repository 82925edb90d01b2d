"""Dataset and model cards in the Hugging Face Hub's format (YAML front matter, then text) for
each iteration's training sets and each model folder, written with the resolved config beside
them (``lance_config.yaml``): whoever finds a set or a model on the Hub can rerun what made it.

Pure, but for ``lance_version`` (git): the card rules' job (scripts/cards.py) reads the files,
these functions say what the card holds. The front matter keeps the Hub's own keys (license,
size_categories, task_categories, tags, base_model, configs) at the top level and everything of
``lance`` under one key, ``lance``; a card that lacks a required field is refused (``check_card``).
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import subprocess
import tomllib
from pathlib import Path

import yaml

from ..core.base_model import HUB_ID
from ..core.paths import REPO

CONFIG_FILE = "lance_config.yaml"
# the config block that changes nothing made (where the cards go), left out of the card's config
NOT_MADE_BY = ("export",)
# the embedded default is SmolLM2-135M-Instruct (lancekit.core.base_model), as the Hub names it
EMBEDDED_HUB_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"

# each stage's funnel: what came in and what went out, each the sum of these keys of its
# stats/<stage>.json (the counts the stages already write: lancekit.data, lancekit.methods)
FUNNEL = {
    "seed": (("records_in_file",), ("kept",)),
    "review_seed": (("records_in",), ("records_out",)),
    "generate": (("records_in",), ("responses", "negative_samples", "seed_responses")),
    "clean": (("responses_in", "negatives_in"), ("records_out",)),
    "review_new": (("records_in",), ("records_out",)),
    "annotate": (("records_in",), ("sft_new", "dpo_new")),
}
FUNNEL_MEANING = {
    "seed": "records in the seed file -> Seed_0",
    "review_seed": "seed records -> scored by the judge",
    "generate": "seed records -> generated texts (responses, negatives, own answers)",
    "clean": "generated texts -> kept by the length and ROUGE-L rules",
    "review_new": "kept texts -> scored by the judge",
    "annotate": "scored records -> new SFT examples + new DPO pairs",
}
# Hub size buckets (datasets' size_categories), by number of examples
SIZE_BUCKETS = ((10**3, "n<1K"), (10**4, "1K<n<10K"), (10**5, "10K<n<100K"), (10**6, "100K<n<1M"),
                (10**7, "1M<n<10M"), (10**8, "10M<n<100M"), (10**9, "100M<n<1B"))
COMMON_FIELDS = ("license", "tags", "lance.run", "lance.iteration", "lance.seed.path", "lance.seed.sha256",
                 "lance.generator", "lance.judge", "lance.base_model", "lance.version", "lance.config_hash",
                 "lance.config_file", "lance.funnel", "lance.sizes.sft_examples", "lance.sizes.dpo_pairs")
REQUIRED = {
    "data": (*COMMON_FIELDS, "size_categories", "task_categories", "configs"),
    "model": (*COMMON_FIELDS, "library_name", "pipeline_tag", "lance.stage", "lance.start_model",
              "lance.training_examples"),
}


class CardError(ValueError):
    pass


def made_config(config: dict) -> dict:
    """The resolved config that made the sets and models: all of it but ``NOT_MADE_BY``."""
    return {k: copy.deepcopy(v) for k, v in config.items() if k not in NOT_MADE_BY}


def config_hash(config: dict) -> str:
    """sha256 of the config as canonical JSON (sorted keys): equal configs, equal hashes."""
    text = json.dumps(config, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def config_yaml(config: dict) -> str:
    """lance_config.yaml: the config as ``--configfile`` reads it, its hash in the first line."""
    head = (f"# the resolved lance config that made this ({config_hash(config)});\n"
            f"# rerun: ./lance --configfile {CONFIG_FILE} at lance's commit in the card\n")
    return head + yaml.safe_dump(config, sort_keys=True, allow_unicode=True)


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def lance_version(repo: Path = REPO) -> dict:
    """pyproject.toml's version and, where the checkout is a git clone, ``git describe``."""
    version = tomllib.loads((repo / "pyproject.toml").read_text())["project"]["version"]
    try:
        out = subprocess.run(["git", "describe", "--always", "--dirty", "--tags"], cwd=repo,
                             capture_output=True, text=True, timeout=10)
        commit = out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else None
    except (OSError, subprocess.SubprocessError):
        commit = None
    return {"version": version, "commit": commit}


def funnel(stats: dict[str, dict]) -> dict[str, dict]:
    """{stage: {"in": n, "out": m}} of the stages with statistics, in the pipeline's order; a
    count the stage did not write is None."""
    def count(s: dict, keys) -> int | None:
        found = [s[k] for k in keys if isinstance(s.get(k), int)]
        return sum(found) if found else None
    return {stage: {"in": count(stats[stage], ins), "out": count(stats[stage], outs)}
            for stage, (ins, outs) in FUNNEL.items() if stage in stats}


def size_category(n: int) -> str:
    for limit, name in SIZE_BUCKETS:
        if n < limit:
            return name
    return "n>1B"


def hub_base_model(base: str) -> str | None:
    """The base model as the Hub names it (``base_model``): None for a local folder."""
    if base == "embedded":
        return EMBEDDED_HUB_ID
    return base if HUB_ID.fullmatch(base) else None


def _lance_fields(run: str, method: str | None, iteration: int, *, sizes: dict, seed: dict, models: dict,
                  version: dict, config: dict, stats: dict[str, dict]) -> dict:
    return {"run": run, "method": method, "iteration": iteration,
            "sizes": {"sft_examples": sizes["sft"], "dpo_pairs": sizes["dpo"]},
            "seed": {"path": seed["path"], "sha256": seed["sha256"]},
            "generator": models.get("generator"), "judge": models.get("judge"),
            "base_model": config["model"]["base"], "version": version["version"], "commit": version["commit"],
            "config_hash": config_hash(config), "config_file": CONFIG_FILE, "funnel": funnel(stats)}


def _tags(method: str | None, *more: str) -> list[str]:
    return list(dict.fromkeys(["lance", "self-evolution", method or "m0", *more]))


def data_card(run: str, method: str | None, iteration: int, *, sizes: dict, seed: dict, models: dict,
              version: dict, config: dict, stats: dict[str, dict], license: str) -> tuple[dict, str]:
    """(front matter, text) of an iteration's training sets: sft.json (alpaca examples) and
    dpo.json (preference pairs), cumulative as the iteration trains on them."""
    sets = [(name, f"{name}.json") for name, key in (("sft", "sft"), ("dpo", "dpo")) if sizes[key]]
    front = {"license": license, "pretty_name": f"lance {run} training sets",
             "size_categories": [size_category(sizes["sft"] + sizes["dpo"])],
             "task_categories": ["text-generation"], "tags": _tags(method, "synthetic"),
             "configs": [{"config_name": name, "data_files": file} for name, file in sets],
             "lance": _lance_fields(run, method, iteration, sizes=sizes, seed=seed, models=models,
                                    version=version, config=config, stats=stats)}
    text = (f"# lance {run}: training sets\n\n"
            f"The SFT set (`sft.json`, {sizes['sft']} examples) and DPO set (`dpo.json`, {sizes['dpo']} pairs) "
            f"that iteration {iteration} of {method or 'M_0'} trains on, cumulative over the iterations before it, "
            f"in LLaMA-Factory's alpaca and pairwise formats. " + _made_by(models, seed) + _body(front))
    check_card(front, "data")
    return front, text


def model_card(run: str, method: str | None, iteration: int, *, folder: str, train: dict, start_model: str,
               sizes: dict, seed: dict, models: dict, version: dict, config: dict, stats: dict[str, dict],
               license: str) -> tuple[dict, str]:
    """(front matter, text) of a model folder: ``sft_model`` (SFT on sft.json) or ``model`` (DPO on
    dpo.json); ``train`` is its lance_train.json."""
    stage = "dpo" if folder == "model" else "sft"
    front = {"license": license, **({"base_model": b} if (b := hub_base_model(config["model"]["base"])) else {}),
             "library_name": "transformers", "pipeline_tag": "text-generation",
             "tags": _tags(method, stage, "llama-factory"),
             "lance": {**_lance_fields(run, method, iteration, sizes=sizes, seed=seed, models=models,
                                       version=version, config=config, stats=stats),
                       "stage": stage, "folder": folder, "start_model": start_model,
                       "training_examples": train.get("n_examples"), "skipped": bool(train.get("skipped"))}}
    what = "SFT" if stage == "sft" else "DPO"
    text = (f"# lance {run}: {what} model\n\n"
            f"{what} of `{start_model}` on this iteration's `{stage}.json` ({train.get('n_examples')} examples) "
            "with LLaMA-Factory" + (f" (skipped: {train.get('reason')}; the folder is its start model)"
                                    if train.get("skipped") else "") + ". " + _made_by(models, seed) + _body(front))
    check_card(front, "model")
    return front, text


def _made_by(models: dict, seed: dict) -> str:
    if not models.get("generator"):
        return f"Made from the seed `{seed['path']}` alone.\n"
    judge = f", judged by `{models['judge']}`" if models.get("judge") else ""
    return f"Generated by `{models['generator']}`{judge}, from the seed `{seed['path']}`.\n"


def _body(front: dict) -> str:
    lance = front["lance"]
    rows = "".join(f"| {stage} | {c['in']} | {c['out']} | {FUNNEL_MEANING[stage]} |\n"
                   for stage, c in lance["funnel"].items())
    funnel_text = ("\n## Funnel\n\n| stage | in | out | what |\n|---|---|---|---|\n" + rows) if rows else ""
    commit = lance["commit"] or f"version {lance['version']}"
    return (funnel_text + f"\n## Rerun\n\n`{CONFIG_FILE}` beside this card is the resolved config "
            f"({lance['config_hash']}). With lance at `{commit}`:\n\n"
            f"```\n./lance --configfile {CONFIG_FILE}\n```\n")


def _get(front: dict, dotted: str):
    node = front
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            raise KeyError(dotted)
        node = node[part]
    return node


def check_card(front: dict, kind: str) -> None:
    """Refuse a card without one of its ``REQUIRED`` fields (a null generator or judge is a
    field: M_0's data has neither), naming each missing field."""
    missing = []
    for field in REQUIRED[kind]:
        try:
            _get(front, field)
        except KeyError:
            missing.append(field)
    if missing:
        raise CardError(f"{kind} card of {front.get('lance', {}).get('run', '?')}: missing field(s) "
                        + ", ".join(missing))


def render(front: dict, text: str) -> str:
    """README.md: front matter between --- lines, then the text."""
    return "---\n" + yaml.safe_dump(front, sort_keys=False, allow_unicode=True) + "---\n\n" + text


def parse(card: str) -> tuple[dict, str]:
    """(front matter, text) of a README.md written by ``render`` (or any Hub card)."""
    m = re.match(r"---\n(.*?)\n---\n\n?(.*)", card, re.S)
    if not m:
        raise CardError("no YAML front matter (a card starts with a --- line)")
    return yaml.safe_load(m.group(1)) or {}, m.group(2)
