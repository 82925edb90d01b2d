"""Config checks the JSON schema cannot express, run before any job (workflow/rules/common.smk).

The schema already rejects unknown keys, wrong types and values out of range; here:
- ``[min, max]`` pairs with min > max;
- prompt files that do not exist or lack their slots;
- settings that contradict each other.
Every message names the config key.

Data the user stages (the seed, a hub model, benchmark data) is checked apart (`missing_data`): a
dry run plans the jobs as if it were there, a real run stops before any job
(workflow/rules/common.smk).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..core.base_model import HUB_ID, cached_snapshot
from ..evaluation import staging
from ..evaluation.registry import BENCHMARKS, BenchmarkError, check_benchmark_data, resolve_benchmarks
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
    if is_local_model(base) and not (Path(resolve(base)) / "config.json").is_file():
        problems.append(f"model.base: {base} is no model directory (no config.json); "
                        "a hub id starts with neither . nor /")
    elif base != "embedded" and not is_local_model(base) and not HUB_ID.fullmatch(base):
        problems.append(f"model.base: {base!r} is neither 'embedded', a local directory (absolute, or "
                        "starting with ./ ../ ~) nor a hub id <org>/<name>")
    review = config["review"]
    if review["mode"] == "constrained" and review["order"] == "score_first" and review["response_prefix"] not in (
            None, "score:"):
        problems.append(f"review.response_prefix: {review['response_prefix']!r} with review.mode constrained and "
                        "order score_first: the score is decoded right after the prefix, so it must be 'score:' "
                        "(or null)")
    try:
        benchmark_requests(config)
    except BenchmarkError as e:
        problems.append(f"eval.benchmarks: {e}")
    tp, gpus = config["vllm"]["tensor_parallel_size"], (config["resources"].get("vllm") or {}).get("gpu", 0)
    if gpus and tp > gpus:
        problems.append(f"vllm.tensor_parallel_size: {tp} GPUs per engine, but resources.vllm.gpu asks the "
                        f"scheduler for {gpus}")
    if problems:
        raise config_error(problems)


def benchmark_names(config: dict) -> list[str]:
    return [b if isinstance(b, str) else b["name"] for b in config["eval"]["benchmarks"]]


def benchmark_requests(config: dict) -> list[dict]:
    """The configured benchmarks that read staged data, as requests (the shipped ones, whose files
    the workflow makes, left out)."""
    wanted = [b for b in (config.get("eval") or {}).get("benchmarks", [])
              if BENCHMARKS[b if isinstance(b, str) else b["name"]].kind not in ("number", "mc")]
    return resolve_benchmarks(wanted)


def _benchmark_problems(config: dict, resolve: Callable[[str], str], compass_data_cache: str | None) -> list[str]:
    specs = benchmark_requests(config)
    if not specs:
        return []
    data = (config.get("eval") or {}).get("data")
    if data:
        return [f"eval.data: {p}" for p in staging.plan(Path(resolve(data)), specs)]
    problems = check_benchmark_data(specs, compass_data_cache)
    hint = ("; or set eval.data to a folder of the upstream files (docs/evaluation.md, 'Staging the paper's "
            "benchmarks')")
    return [f"eval.benchmarks: {p}{hint}" for p in problems]


def is_local_model(base: str) -> bool:
    """model.base names a local directory when it is absolute or starts with . or ~; anything else
    is 'embedded' or a hub id (decided by the text, never by what exists on disk)."""
    return Path(base).is_absolute() or base.startswith((".", "~"))


def missing_data(config: dict, resolve: Callable[[str], str] = str, *, hub_cache: Path | None = None,
                 downloads: bool = False, fetched: bool = False, compass_data_cache: str | None = None) -> list[str]:
    """What the user stages that is not there, one message each naming the config key: the seed
    file; a hub model that is neither in the Hugging Face cache (``hub_cache``) nor fetched into
    results/base_model (``fetched``) while downloads are off (``downloads``); the benchmarks'
    files, under eval.data (as they come upstream) or else under ``compass_data_cache``."""
    problems = []
    path = config["seed"]["path"]
    if not Path(resolve(path)).is_file():
        problems.append(f"seed.path: file {path} not found. Stage the seed there (a JSON list of "
                        "{\"prompt\", \"response\"} records as the authors' UltraChat3k.json, JSON lines, or "
                        "alpaca; seed.format), or point seed.path at your own file")
    base, revision = config["model"]["base"], config["model"]["revision"]
    if (hub_cache is not None and base != "embedded" and not is_local_model(base) and not downloads
            and not fetched and not cached_snapshot(base, revision, hub_cache)):
        rev = f" --revision {revision}" if revision else ""
        problems.append(f"model.base: {base}{f' at revision {revision}' if revision else ''} is not in the "
                        f"Hugging Face cache ({hub_cache}) and downloads are off. Fetch it once into "
                        f"results/base_model with `HF_HUB_OFFLINE=0 ./lance results/base_model` (and the same "
                        f"--configfile), or into the cache with `huggingface-cli download {base}{rev}`, or point "
                        "HF_HUB_CACHE (or HF_HOME) at the cache that holds it")
    return problems + _benchmark_problems(config, resolve, compass_data_cache)
