"""Export (config ``export``): chosen iterations' training sets and models, with their cards
(lancekit.report.cards), staged as the exact folder pushed to the Hugging Face Hub:

    results/export/<name>/data/    the dataset repository <repo>: README.md (the collection's card),
                                   lance_config.yaml, <run>/{sft.json, dpo.json, README.md, lance_config.yaml}
    results/export/<name>/model/   the model repository <repo>: README.md, lance_config.yaml,
                                   <run>/ (M_t's folder, its card as README.md, lance_config.yaml)

<run> is ``iter0`` (Seed_0 and M_0) or ``<method>/iter<t>``. Files are hard links where the file
system allows (a 7B model is not copied), else copies. Only with ``export.push`` (and a network:
HF_HUB_OFFLINE=0) does ``push`` upload, with ``huggingface_hub``, imported only then.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from types import SimpleNamespace

from .. import methods
from ..methods.runs import M0, parse_run, run_key
from . import cards

EXPORT_ROOT = "results/export"
# what never goes to the Hub from a model folder: training checkpoints, and the trainer's own
# README.md (the card replaces it)
SKIP_IN_MODEL = ("checkpoint-*", "README.md", cards.CONFIG_FILE)


def run_pattern(names) -> str:
    """The ``run`` wildcard of the card rules: iter0 or <method>/iter<t> (no replicates)."""
    return rf"{M0}|(?:{'|'.join(names)})/iter[1-9]\d*"


def model_folder(config: dict, run: str) -> str | None:
    """M_t's folder of a run (M_0: None when train.m0 is off: it is the base model itself)."""
    if run == M0:
        return "results/iter0/sft_model" if config["train"]["m0"] else None
    return f"results/{run}/{methods.get(run.split('/')[0]).model_dir}"


def model_folders(config: dict, run: str) -> list[str]:
    """Every model folder of a run that gets a card (LANCE's SFT model and its DPO model)."""
    if run == M0:
        return ["sft_model"] if config["train"]["m0"] else []
    method = methods.get(run.split("/")[0])
    return [f for f, stage in (("sft_model", "train_sft"), ("model", "train_dpo")) if method.has(stage)]


def all_runs(config: dict, names=None, iterations=None) -> list[str]:
    """iter0 and <method>/iter<t> of the configured methods (or ``names``), every iteration they
    run (or those of ``iterations`` they reach)."""
    names = list(config["methods"]) if names is None else names
    wanted = (lambda t: True) if iterations is None else (lambda t: t in iterations)
    runs = [M0] if wanted(0) else []
    for m in names:
        runs += [run_key(m, t) for t in range(1, methods.get(m).iterations(config["iters"]) + 1) if wanted(t)]
    return runs


def all_cards(config: dict) -> list[str]:
    """Every card of the run (the `cards` target)."""
    return [f"results/{run}/cards/{folder}/README.md" for run in all_runs(config)
            for folder in ("data", *model_folders(config, run))]


def card_inputs(run: str, seed: str) -> dict:
    """What a card counts: the run's sets, the seed file and its stage statistics."""
    method, t = parse_run(run)
    stages = ["seed"] if t == 0 else [s for s in methods.DATA_STAGES if methods.get(method).has(s)]
    d = f"results/{run}"
    return {"sft": f"{d}/sft.json", "dpo": f"{d}/dpo.json", "seed": seed,
            "stats": [f"{d}/stats/{s}.json" for s in stages]}


def card_models(run: str, folder: str, paths: Mapping[str, Callable]) -> dict:
    """Generator and judge of a run's data (M_{t-1}; no judge where the method reviews nothing)
    and a model folder's training start, from the workflow's model paths (``paths``: model(t,
    method), sft_start(wildcards), dpo_start(wildcards), base())."""
    method, t = parse_run(run)
    if t == 0:
        return {"generator": None, "judge": None, "start": paths["base"]()}
    m, generator, wc = methods.get(method), paths["model"](t - 1, method), SimpleNamespace(method=method, t=str(t))
    start = {"sft_model": paths["sft_start"], "model": paths["dpo_start"]}.get(folder)
    return {"generator": generator, "judge": generator if m.has("review_seed") or m.has("review_new") else None,
            "start": start(wc) if start else None}


def card_files(run: str, folder: str) -> list[str]:
    return [f"results/{run}/cards/{folder}/README.md", f"results/{run}/cards/{folder}/{cards.CONFIG_FILE}"]


def export_plan(config: dict) -> dict:
    """What the export reads and where each piece lands (a rule's param: a change re-stages)."""
    e = config.get("export") or {}
    runs = all_runs(config, e.get("methods"), e.get("iterations"))
    name = (e.get("repo") or "lance").split("/")[-1]
    data = {run: {"files": [f"results/{run}/sft.json", f"results/{run}/dpo.json"], "card": card_files(run, "data")}
            for run in runs}
    model = {run: {"folder": folder, "card": card_files(run, Path(folder).name)}
             for run in runs if (folder := model_folder(config, run))}
    return {"repo": e.get("repo"), "push": bool(e.get("push")), "private": e.get("private", True),
            "license": e.get("license", "other"), "folder": f"{EXPORT_ROOT}/{name}", "data": data, "model": model}


def plan_inputs(plan: dict) -> list[str]:
    """Every file and folder the export reads (the rule's inputs)."""
    files = [p for d in plan["data"].values() for p in [*d["files"], *d["card"]]]
    return files + [p for m in plan["model"].values() for p in [m["folder"], *m["card"]]]


def export_problems(config: dict, environ: Mapping[str, str]) -> list[str]:
    """Config mistakes of ``export``, each naming its key. Pushing needs the network, which jobs
    do not have unless the user says so the way downloads are allowed: HF_HUB_OFFLINE=0."""
    e = config.get("export") or {}
    problems = [f"export.methods: {m} is not among the configured methods ({', '.join(config['methods'])})"
                for m in e.get("methods") or [] if m not in config["methods"]]
    problems += [f"export.iterations: {t} is beyond iters ({config['iters']})"
                 for t in e.get("iterations") or [] if t > config["iters"]]
    if e.get("push") and not e.get("repo"):
        problems.append("export.push: true, but export.repo (<org>/<name>) is not set")
    if e.get("push") and environ.get("HF_HUB_OFFLINE") != "0":
        problems.append("export.push: true uploads to the Hugging Face Hub, but lance runs offline: start it with "
                        "HF_HUB_OFFLINE=0 (`HF_HUB_OFFLINE=0 ./lance export`), or set export.push: false to only "
                        f"stage {EXPORT_ROOT}/<name>/")
    return problems


def _link(src: str, dst: str) -> str:
    """A hard link (no copy of a model's weights), else a copy."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)
    return dst


def stage(plan: dict, out: Path) -> dict[str, int]:
    """Lay out ``out`` (data/ and model/ with their cards); {relative path: bytes} of every file."""
    out = Path(out)
    for run, d in plan["data"].items():
        dest = out / "data" / run
        dest.mkdir(parents=True)
        for f in [*d["files"], *d["card"]]:
            _link(f, str(dest / Path(f).name))
    for run, m in plan["model"].items():
        dest = out / "model" / run
        shutil.copytree(m["folder"], dest, copy_function=_link, ignore=shutil.ignore_patterns(*SKIP_IN_MODEL))
        for f in m["card"]:
            _link(f, str(dest / Path(f).name))
    for kind in ("data", "model"):
        if plan[kind]:
            _write_collection_card(plan, out / kind, kind)
    return {p.relative_to(out).as_posix(): p.stat().st_size for p in sorted(out.rglob("*")) if p.is_file()}


def _write_collection_card(plan: dict, folder: Path, kind: str) -> None:
    """The repository's own README.md (the Hub shows the root card): what each <run>/ holds,
    the fields shared by its runs' cards, and lance_config.yaml (the same for every run)."""
    runs = {run: cards.parse((folder / run / "README.md").read_text(encoding="utf-8"))[0] for run in plan[kind]}
    first = next(iter(runs.values()))
    shutil.copy2(folder / next(iter(runs)) / cards.CONFIG_FILE, folder / cards.CONFIG_FILE)
    lance = {k: first["lance"][k] for k in ("seed", "base_model", "version", "commit", "config_hash", "config_file")}
    lance["runs"] = {run: {"method": f["lance"]["method"], "iteration": f["lance"]["iteration"],
                           "sizes": f["lance"]["sizes"]} for run, f in runs.items()}
    tags = list(dict.fromkeys(t for f in runs.values() for t in f["tags"]))
    if kind == "data":
        total = sum(f["lance"]["sizes"]["sft_examples"] + f["lance"]["sizes"]["dpo_pairs"] for f in runs.values())
        front = {"license": plan["license"], "size_categories": [cards.size_category(total)],
                 "task_categories": ["text-generation"], "tags": tags,
                 "configs": [{"config_name": f"{run.replace('/', '-')}-{c['config_name']}",
                              "data_files": f"{run}/{c['data_files']}"}
                             for run, f in runs.items() for c in f["configs"]],
                 "lance": lance}
        how = "Each `<run>/` holds that iteration's `sft.json` and `dpo.json` with their card and config."
    else:
        front = {"license": plan["license"], **({"base_model": first["base_model"]} if "base_model" in first else {}),
                 "library_name": "transformers", "pipeline_tag": "text-generation", "tags": tags, "lance": lance}
        how = ("Each `<run>/` is one iteration's model M_t with its card and config: "
               f"`AutoModelForCausalLM.from_pretrained(\"{plan['repo'] or '<org>/<name>'}\", subfolder=\"<run>\")`.")
    text = (f"# lance: {'training sets' if kind == 'data' else 'models'} of a self-evolution run\n\n{how}\n\n"
            + "".join(f"- `{run}`: {f['lance']['method'] or 'M_0'}, iteration {f['lance']['iteration']}\n"
                      for run, f in runs.items())
            + f"\nEvery run comes from one config, `{cards.CONFIG_FILE}` ({lance['config_hash']}).\n")
    (folder / "README.md").write_text(cards.render(front, text), encoding="utf-8")


def find_token(environ: Mapping[str, str]) -> str | None:
    """$HF_TOKEN, else the token `huggingface-cli login` saved in the user's own Hugging Face home
    (jobs point HF_HOME into .cache/: LANCE_HUB_CACHE is the user's hub cache, inside that home)."""
    if environ.get("HF_TOKEN"):
        return environ["HF_TOKEN"]
    hub = environ.get("LANCE_HUB_CACHE")
    for p in filter(None, [environ.get("HF_TOKEN_PATH"), hub and str(Path(hub).parent / "token")]):
        if Path(p).is_file() and Path(p).read_text().strip():
            return Path(p).read_text().strip()
    return None


def push(plan: dict, out: Path, environ: Mapping[str, str], api=None) -> list[str]:
    """Upload data/ as the dataset repository and model/ as the model repository ``plan['repo']``
    (created, private unless export.private is false); the commit URLs."""
    if environ.get("HF_HUB_OFFLINE") == "1":
        raise RuntimeError("export.push: true, but HF_HUB_OFFLINE=1: start lance with HF_HUB_OFFLINE=0 to upload")
    token = find_token(environ)
    if not token:
        raise RuntimeError("export.push: true, but no Hugging Face token: set HF_TOKEN (a token with write access) "
                           "or run `huggingface-cli login`, or set export.push: false to only stage the folder")
    if api is None:
        from huggingface_hub import HfApi  # only when pushing: staging needs no network library

        api = HfApi(token=token)
    urls = []
    for kind, repo_type in (("data", "dataset"), ("model", "model")):
        if (Path(out) / kind).is_dir():
            api.create_repo(plan["repo"], repo_type=repo_type, private=plan["private"], exist_ok=True)
            info = api.upload_folder(repo_id=plan["repo"], repo_type=repo_type, folder_path=str(Path(out) / kind),
                                     commit_message="lance export")
            urls.append(str(getattr(info, "commit_url", info)))
    return urls
