"""Config checks the JSON schema cannot express, run before any job (workflow/rules/common.smk).

The schema already rejects unknown keys, wrong types and values out of range; here:
- ``[min, max]`` pairs with min > max;
- prompt files that do not exist or lack their slots;
- settings that contradict each other.
Every message names the config key.

Data the user stages (the seed) is checked apart (`missing_data`): a dry run plans the jobs as if
it were there, a real run stops before any job (workflow/rules/common.smk).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..methods import prompt_slots


class ConfigError(ValueError):
    pass


def config_error(problems: list[str]) -> ConfigError:
    """One error listing every problem, each naming its config key."""
    return ConfigError("bad config:\n  " + "\n  ".join(problems))


def check_config(config: dict, resolve: Callable[[str], str] = str) -> None:
    problems = []
    for key in ("instruction_words", "response_words"):
        lo, hi = config["clean"][key]
        if lo > hi:
            problems.append(f"clean.{key}: [min, max] = [{lo}, {hi}]: min is greater than max")
    for name, path in config["prompts"].items():
        full = Path(resolve(path))
        if not full.is_file():
            problems.append(f"prompts.{name}: file {path} not found")
            continue
        text = full.read_text(encoding="utf-8")
        missing = [s for s in prompt_slots().get(name, ()) if "{" + s + "}" not in text]
        if missing:
            problems.append(f"prompts.{name}: {path} lacks the slot(s) " + ", ".join("{" + s + "}" for s in missing))
    base = config["model"]["base"]
    local = Path(base).is_absolute() or base.startswith((".", "~"))
    if local and not (Path(resolve(base)) / "config.json").is_file():
        problems.append(f"model.base: {base} is no model directory (no config.json); "
                        "a hub id starts with neither . nor /")
    review = config["review"]
    if review["mode"] == "constrained" and review["order"] == "score_first" and review["response_prefix"] not in (
            None, "score:"):
        problems.append(f"review.response_prefix: {review['response_prefix']!r} with review.mode constrained and "
                        "order score_first: the score is decoded right after the prefix, so it must be 'score:' "
                        "(or null)")
    tp, gpus = config["vllm"]["tensor_parallel_size"], (config["resources"].get("vllm") or {}).get("gpu", 0)
    if gpus and tp > gpus:
        problems.append(f"vllm.tensor_parallel_size: {tp} GPUs per engine, but resources.vllm.gpu asks the "
                        f"scheduler for {gpus}")
    if problems:
        raise config_error(problems)


def missing_data(config: dict, resolve: Callable[[str], str] = str) -> list[str]:
    """Input files the user stages that are not there, one message each naming the config key."""
    path = config["seed"]["path"]
    if Path(resolve(path)).is_file():
        return []
    return [f"seed.path: file {path} not found. Stage the seed there (a JSON list of "
            "{\"prompt\", \"response\"} records as the authors' UltraChat3k.json, JSON lines, or alpaca; "
            "seed.format), or point seed.path at your own file"]
