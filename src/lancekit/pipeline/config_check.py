"""Config checks the JSON schema cannot express, run before any job (workflow/rules/common.smk).

The schema already rejects unknown keys, wrong types and values out of range; here:
- ``[min, max]`` pairs with min > max;
- prompt files that do not exist or lack their slots;
- settings that contradict each other.
- the iteration numbers of train.methods.<method>.from_iteration.
Every message names the config key.

Data the user stages (the seed, a hub model, benchmark data) is checked apart (`missing_data`): a
dry run plans the jobs as if it were there, a real run stops before any job
(workflow/rules/common.smk).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

from ..core.base_model import HUB_ID, cached_snapshot
from ..data import authors
from ..evaluation import staging
from ..evaluation.registry import BENCHMARKS, BenchmarkError, check_benchmark_data, resolve_benchmarks
from ..methods import prompt_slots
from ..training.settings import overlay_problems, seed_problems


class ConfigError(ValueError):
    pass


def config_error(problems: list[str]) -> ConfigError:
    """One error listing every problem, each naming its config key."""
    return ConfigError("bad config:\n  " + "\n  ".join(problems))


def non_finite(value, key: str = "") -> list[str]:
    """The keys (dotted, list items by index) whose value is NaN or infinite: the schema's
    minimum and maximum let them through (every comparison with NaN is false)."""
    if isinstance(value, float) and not math.isfinite(value):
        return [key]
    if isinstance(value, dict):
        return [k for name, v in value.items() for k in non_finite(v, f"{key}.{name}" if key else str(name))]
    if isinstance(value, list):
        return [k for i, v in enumerate(value) for k in non_finite(v, f"{key}[{i}]")]
    return []


def check_config(config: dict, resolve: Callable[[str], str] = str) -> None:
    problems = [f"{key}: not a finite number (NaN or infinity)" for key in non_finite(config)]
    for key in ("instruction_words", "response_words"):
        lo, hi = config["clean"][key]
        if lo > hi:
            problems.append(f"clean.{key}: [min, max] = [{lo}, {hi}]: min is greater than max")
    problems += [f"{key}: {value!r} names the authors' repository, but authors.repo is not set (the folder of "
                 "your clone of github.com/Control-derek/LANCE)"
                 for key, value in authors_references(config).items() if not _authors_repo(config)]
    for name, path in config["prompts"].items():
        if authors.is_reference(path):
            prompt_file = authors_prompt_file(config, resolve)
            if not prompt_file or not Path(prompt_file).is_file():
                continue  # not set (above) or not staged yet (missing_data)
            try:
                text = authors.read_prompt(prompt_file, authors.name_of(path))
            except authors.AuthorsError as e:
                problems.append(f"prompts.{name}: {e}")
                continue
        else:
            full = Path(resolve(path))
            if not full.is_file():
                problems.append(f"prompts.{name}: file {path} not found")
                continue
            try:
                text = full.read_text(encoding="utf-8")
            except UnicodeDecodeError as e:
                problems.append(f"prompts.{name}: {path} is not UTF-8 text ({e.reason} at byte {e.start})")
                continue
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
    problems += overlay_problems(config["train"]) + seed_problems(config["train"])
    if problems:
        raise config_error(problems)


def _authors_repo(config: dict) -> str | None:
    return (config.get("authors") or {}).get("repo")


def authors_references(config: dict) -> dict[str, str]:
    """The config values that name something of the authors' repository (authors:...), by key."""
    values = {f"prompts.{k}": v for k, v in config.get("prompts", {}).items()}
    values.update({"seed.path": config["seed"]["path"], "seed.extra_sft": config["seed"].get("extra_sft")})
    return {k: v for k, v in values.items() if authors.is_reference(v)}


def authors_prompt_file(config: dict, resolve: Callable[[str], str] = str) -> str | None:
    """The authors' prompt_template.py when a prompt names it and authors.repo is set, else None."""
    repo = _authors_repo(config)
    if not repo or not any(authors.is_reference(v) for v in config.get("prompts", {}).values()):
        return None
    return resolve(str(Path(repo) / authors.PROMPT_FILE))


def staged_files(config: dict, resolve: Callable[[str], str] = str) -> dict[str, str]:
    """The files the user stages, by config key: the seed, the extra SFT file, the authors'
    prompt file (when named); authors:<path> resolved inside authors.repo."""
    repo = _authors_repo(config)
    out = {"seed.path": resolve(authors.resolve_file(config["seed"]["path"], repo, "seed.path"))}
    if config["seed"].get("extra_sft"):
        out["seed.extra_sft"] = resolve(authors.resolve_file(config["seed"]["extra_sft"], repo, "seed.extra_sft"))
    prompt_file = authors_prompt_file(config, resolve)
    if prompt_file:
        out["authors.repo"] = prompt_file
    return out


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
    staged = staged_files(config, resolve)
    def shown(key: str) -> str:  # the value as configured; an authors: one with where it points
        section, name = key.split(".")
        value = config[section][name]
        return f"{value} ({staged[key]})" if authors.is_reference(value) else value

    if not Path(staged["seed.path"]).is_file():
        problems.append(f"seed.path: file {shown('seed.path')} not found. Stage the seed there (a JSON list of "
                        "{\"prompt\", \"response\"} records as the authors' UltraChat3k.json, JSON lines, or "
                        "alpaca; seed.format), or point seed.path at your own file")
    if "seed.extra_sft" in staged and not Path(staged["seed.extra_sft"]).is_file():
        problems.append(f"seed.extra_sft: file {shown('seed.extra_sft')} not found")
    if "authors.repo" in staged and not Path(staged["authors.repo"]).is_file():
        problems.append(f"authors.repo: {staged['authors.repo']} not found, and config prompts name the authors' "
                        "prompts. Clone their repository: git clone https://github.com/Control-derek/LANCE "
                        f"{_authors_repo(config)}")
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
