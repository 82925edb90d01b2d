import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from snakemake.utils import validate
from snakemake_interface_executor_plugins.settings import DeploymentMethod

# The config is checked before any job runs; defaults (the paper's constants) are filled in.
validate(config, "../../config/config.schema.yaml")

REPO = Path(workflow.basedir).parent
# lancekit (src/) for this process and, through PYTHONPATH, for every job's interpreter
sys.path.insert(0, str(REPO / "src"))
from lancekit import envs  # noqa: E402
from lancekit.config_check import check_config, config_error, missing_data  # noqa: E402
from lancekit.io import leftovers  # noqa: E402
from lancekit.provenance import code_version  # noqa: E402


def repo_path(path):
    """A configured file: an absolute path (or ~) as given, a relative one from the checkout
    (the shipped seed, prompts and templates). Relative paths stay relative, so moving the
    checkout and the results together reruns nothing."""
    p = Path(path).expanduser()
    return str(p) if p.is_absolute() else os.path.relpath(REPO / p)


check_config(config, repo_path)

# Data the user stages (the paper's seed): a dry run plans every job as if it were there (rule
# missing_data stands in for it), a real run stops on start, before any job (check_staged_data).
MISSING_DATA = missing_data(config, repo_path)
for _problem in MISSING_DATA:
    print(
        f"WARNING {_problem}. A dry run plans the jobs as if it were there; a real run stops "
        "before any job.",
        file=sys.stderr,
    )

if config["env_dir"]:
    os.environ.update(LANCE_ENV_DIR=str(Path(config["env_dir"]).expanduser().resolve()))

# Engines run offline with every cache inside the working directory (overridable from outside).
_CACHE = Path(".cache").resolve()
for _var, _val in {
    **envs.OFFLINE_ENV,
    "HF_HOME": _CACHE / "huggingface",
    "XDG_CACHE_HOME": _CACHE,
    "VLLM_CACHE_ROOT": _CACHE / "vllm",
    "TORCHINDUCTOR_CACHE_DIR": _CACHE / "torchinductor",
    "TRITON_CACHE_DIR": _CACHE / "triton",
    "MPLCONFIGDIR": _CACHE / "matplotlib",
}.items():
    os.environ.setdefault(_var, str(_val))
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", str(config["vllm"]["kvcache_gib"]))
_pythonpath = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
os.environ.update(PYTHONPATH=os.pathsep.join([str(REPO / "src"), *_pythonpath]))

USE_CONDA = DeploymentMethod.CONDA in workflow.deployment_settings.deployment_method

# Interpreters and entry points reach the shell as environment variables, not as params: where
# the checkout or a venv lives must not decide a rerun (params do), only what the code says
# (the `code` param, lancekit.provenance) and the settings.
# LANCE_PY_<ENGINE> set outside wins (e.g. an engine environment of your own). Otherwise an
# engine's interpreter is found where the job runs (stage_cmd): a CPU login node that submits
# to GPU nodes must not decide the vLLM flavour of the nodes.
os.environ.update(LANCE_SCRIPTS=str(REPO / "scripts"))
os.environ.setdefault("LANCE_PY_MAIN", "python" if USE_CONDA else sys.executable)
if USE_CONDA:
    for _engine in ("vllm", "llamafactory", "opencompass"):
        os.environ.setdefault(f"LANCE_PY_{_engine.upper()}", "python")
# vLLM jobs that ask for GPUs need the CUDA flavour, wherever the workflow is planned (the
# setup_env job builds it on the submit host, which can reach PyPI; the jobs inherit this).
if config["resources"].get("vllm", {}).get("gpu", 0) > 0:
    os.environ.setdefault("LANCE_VLLM_FLAVOUR", "cuda")


def check_cluster_fits():
    """On SLURM, an engine that asks more threads than any node has would wait in the queue for
    ever (PENDING, no error, unless slurm.conf has EnforcePartLimits): stop before any job
    (called on start: the executor is known only then)."""
    plugin = workflow.executor_plugin
    if plugin is None or plugin.name != "slurm" or not shutil.which("sinfo"):
        return
    out = subprocess.run(["sinfo", "-h", "-o", "%c"], capture_output=True, text=True)
    sizes = [int(c.rstrip("+")) for c in out.stdout.split() if c.rstrip("+").isdigit()]
    if out.returncode != 0 or not sizes:
        return
    for engine in ("vllm", "llamafactory", "opencompass"):
        threads = res(engine, "threads", 8)
        if threads > max(sizes):
            raise ValueError(
                f"config resources.{engine}.threads = {threads}, but the largest node of this SLURM "
                f"cluster has {max(sizes)} CPUs (sinfo): its jobs would wait in the queue for ever"
            )


def check_staged_data():
    """Run on start (never in a dry run): the data the user must stage is there."""
    if MISSING_DATA:
        raise config_error(MISSING_DATA)


def remove_leftovers():
    """Leftovers of jobs that were killed: half-written files, conversion folders, training work
    folders (run on start; Snakemake's lock guarantees no job of another run is writing them)."""
    for left in leftovers(Path("results")):
        shutil.rmtree(left) if left.is_dir() else left.unlink()
        print(f"removed the leftover of a killed job: {left}", file=sys.stderr)


# --- methods: LANCE, its ablations and the paper's baselines (docs/methods.md) ----------------
# Every method starts from the same M_0 and Seed_0 and writes results/<method>/iter<t>/ with the
# same file names; the stage rules are shared and read the method from the {method} wildcard.

METHODS = ("lance", "lance_sft_only", "lance_dpo_only", "self_instruct", "spin", "i_sheep")
LANCE_FAMILY = ("lance", "lance_sft_only", "lance_dpo_only")
# the stages of one iteration, per method, in order (the rules that make its files)
METHOD_STAGES = {
    "lance": (
        "review_seed",
        "generate",
        "clean",
        "review_new",
        "annotate",
        "train_sft",
        "train_dpo",
    ),
    "lance_sft_only": ("review_seed", "generate", "clean", "review_new", "annotate", "train_sft"),
    "lance_dpo_only": ("review_seed", "generate", "clean", "review_new", "annotate", "train_dpo"),
    "self_instruct": ("generate", "clean", "annotate", "train_sft"),
    "i_sheep": ("generate", "clean", "review_new", "annotate", "train_sft"),
    "spin": ("generate", "annotate", "train_dpo"),
}
# M_t of each method: the output of its last training stage
METHOD_MODEL = {
    m: "model" if st[-1] == "train_dpo" else "sft_model" for m, st in METHOD_STAGES.items()
}
# what generate writes for each method (lancekit.stages): LANCE's two branches, one of them, new
# tasks from K example tasks (Self-Instruct, I-SHEEP), or M_{t-1}'s answer to each seed prompt
GENERATE_MODE = {
    "lance": "lance",
    "lance_sft_only": "lance_low",
    "lance_dpo_only": "lance_high",
    "self_instruct": "self_instruct",
    "i_sheep": "self_instruct",
    "spin": "respond",
}


def method_iters(method):
    """Self-Instruct is one round (the paper plots it flat); the others run `iters` iterations."""
    return min(1, config["iters"]) if method == "self_instruct" else config["iters"]


def has_stage(method, stage):
    return stage in METHOD_STAGES[method]


def method_constraint(stage):
    """The {method} wildcard of a stage's rule: the methods that have the stage."""
    return "|".join(m for m in METHODS if has_stage(m, stage))


def per_method(settings_of):
    """A stage's settings as a function of the method (a plain param of the wildcards, which
    Snakemake records: a change reruns only the method whose settings changed)."""
    return lambda wildcards: as_json(settings_of(wildcards.method))


# --- how a rule hands its job to its script --------------------------------------------------


def as_json(obj):
    return json.dumps(obj, sort_keys=True)


def _named(namedlist):
    out = {}
    for name, value in namedlist.items():
        if isinstance(value, (list, tuple)):
            value = [str(v) for v in value]
            value = value[0] if len(value) == 1 else (value or None)
        out[name] = None if value is None else (value if isinstance(value, list) else str(value))
    return out


def job_spec(**derived):
    """The one way each stage hands its job to its script (scripts/_cli.py, load_job), the rule's
    named input and output, its wildcards and values derived from them (functions of the
    wildcards, e.g. the generator model of iteration t), as one JSON argument. Paths are written
    once, in the rule. Settings go in a separate, plain `settings` param: Snakemake records only
    plain params, so only those can trigger a rerun when the config changes."""

    def spec(wildcards, input, output):
        params = {k: (v(wildcards) if callable(v) else v) for k, v in derived.items()}
        # a gather's shard files are found by name (gather_job), not listed: no long commands
        named_inputs = {k: v for k, v in input.items() if k != "shards"}
        return as_json(
            {
                "input": _named(named_inputs),
                "output": _named(output),
                "wildcards": dict(wildcards.items()),
                "params": params,
            }
        )

    return spec


def stage_cmd(engine, script):
    """The shell line of every stage: the engine's interpreter runs scripts/<script>.py on the
    job (params.job) and the stage's settings (params.settings), teeing its output to the log.
    The interpreter is $LANCE_PY_<ENGINE> when set, else found on the machine that runs the job
    (scripts/setup_env.py: the vLLM flavour there, the environment built if missing)."""
    run = (
        f'"$LANCE_SCRIPTS/{script}.py" {{params.job:q}} {{params.settings:q}} 2>&1 | tee {{log:q}}'
    )
    if engine == "main":
        return f'"$LANCE_PY_MAIN" {run}'
    var = f"LANCE_PY_{engine.upper()}"
    find = f'py="${{{{{var}:-}}}}"; [ -n "$py" ] || py=$("$LANCE_PY_MAIN" "$LANCE_SCRIPTS/setup_env.py" {engine}); '
    return f'{find}"$py" {run}'


def code(script):
    """Hash of the script and every lancekit module it runs: a code edit reruns the stage."""
    return code_version(script)


# --- engines: one environment each ---------------------------------------------------------


def env_stamp(engine):
    """results/.envs/<env>.ready: written once the engine's venv (named by its pins) is built."""
    return f"results/.envs/{envs.env_path(engine).name}.ready"


def engine_ready(engine):
    """Input that has the engine's venv built first (nothing under --sdm conda, where Snakemake
    builds the conda env itself). ancient(): building or rebuilding a venv reruns no stage."""
    return [] if USE_CONDA else [ancient(env_stamp(engine))]


def engine_conda(engine):
    """The conda file of an engine's environment (--sdm conda); the main one is environment.yml."""
    if engine == "main":
        return "../../environment.yml"
    return f"../../envs/{envs.env_name(engine)}.yaml"


def res(engine, key, default):
    return (config["resources"].get(engine) or {}).get(key, default)


def engine_resources(engine, runtime):
    """What a cluster scheduler needs of an engine's job (config `resources`, per engine): memory,
    minutes, GPUs as `gpu` (--gpus) or `gres` (--gres=gpu:N) as resources.gpu_request says, and
    the engine's own partition if it has one."""
    out = {"mem_mb": res(engine, "mem_mb", 16000), "runtime": res(engine, "runtime", runtime)}
    gpus = res(engine, "gpu", 0)
    if config["resources"].get("gpu_request", "gpu") == "gres":
        if gpus:
            out["gres"] = f"gpu:{gpus}"
    else:
        out["gpu"] = gpus
    if res(engine, "partition", None):
        out["slurm_partition"] = res(engine, "partition", None)
    return out


# --- models and iterations -----------------------------------------------------------------


def get_base_model():
    """The base model: converted from the embedded GGUF, a local directory, or a hub id."""
    base = config["model"]["base"]
    if base == "embedded":
        return "results/base_model"
    return repo_path(base) if is_local_model(base) else base


def is_local_model(base):
    """model.base names a local directory when it is absolute or starts with . or ~;
    anything else is a hub id (decided by the text, never by what exists on disk)."""
    return Path(base).is_absolute() or base.startswith((".", "~"))


def get_model(t, method="lance"):
    """M_t of a method. M_0 (shared by every method) is the SFT model of iteration 0: the base
    model trained on Seed_0 (or the base model itself when train.m0 is off)."""
    t = int(t)
    if t == 0:
        return "results/iter0/sft_model" if config["train"]["m0"] else get_base_model()
    return f"results/{method}/iter{t}/{METHOD_MODEL[method]}"


def needs(model_of):
    """A model-path function (of the wildcards) as an input of a stage, i.e. the model
    directory, including a local base model; nothing for a hub id (its name is in the
    settings instead)."""

    def model_input(wildcards):
        path = model_of(wildcards)
        is_hub_id = path == config["model"]["base"] and not is_local_model(path)
        return [] if is_hub_id else [path]

    return model_input


def get_generator(wildcards):
    """The generator, judge and training start of iteration t is M_{t-1} of the same method."""
    return get_model(int(wildcards.t) - 1, wildcards.method)


def get_seed(wildcards):
    """Seed_{t-1}: Seed_0 for the first iteration, then the previous iteration's next seed
    (LANCE); the other methods start every iteration from Seed_0."""
    t = int(wildcards.t)
    if t == 1 or wildcards.method not in LANCE_FAMILY:
        return "results/iter0/seed.json"
    return f"results/{wildcards.method}/iter{t - 1}/next_seed.json"


def iter_dir(wildcards, t=None):
    """results/<method>/iter<t> (t: this iteration unless given; iteration 0 is shared)."""
    t = int(wildcards.t) if t is None else int(t)
    return "results/iter0" if t == 0 else f"results/{wildcards.method}/iter{t}"


def get_prev_sets(wildcards):
    prev = iter_dir(wildcards, int(wildcards.t) - 1)
    return {"prev_sft": f"{prev}/sft.json", "prev_dpo": f"{prev}/dpo.json"}


def prompt_file(name):
    return repo_path(config["prompts"][name])


def review_settings(stage, method="lance"):
    """What a review stage reads of `review`: not the health budget (annotate's), and
    rereview_seed only in review_seed. I-SHEEP's self-assessment takes its own vote count."""
    other = {"max_parse_failure_rate", "max_unscored_rate"}
    if stage == "review_new":
        other.add("rereview_seed")
    out = {k: v for k, v in config["review"].items() if k not in other}
    if method == "i_sheep":
        out["samples"] = config["i_sheep"]["samples"]
    return out


def review_prompt(method):
    """The prompts key of the judge prompt review_new uses for a method."""
    return "i_sheep_assess" if method == "i_sheep" else "review"


def generate_records(wildcards):
    """What generate works from: the reviewed seed (LANCE), else Seed_0 itself."""
    if wildcards.method in LANCE_FAMILY:
        return f"{iter_dir(wildcards)}/reviewed_seed.json"
    return "results/iter0/seed.json"


GENERATE_PROMPTS = {
    "lance": ("new_instruction", "negative"),
    "lance_low": ("new_instruction",),
    "lance_high": ("negative",),
    "self_instruct": ("self_instruct",),
    "respond": (),
}


def generate_inputs(wildcards):
    mode = GENERATE_MODE[wildcards.method]
    return {"records": generate_records(wildcards)} | {
        k: prompt_file(k) for k in GENERATE_PROMPTS[mode]
    }


def generate_settings(method):
    """What generate reads for a method: only its own mode's settings."""
    mode = GENERATE_MODE[method]
    out = {"mode": mode, "max_tokens": config["sampling"]["max_tokens"], **engine_settings()}
    if mode.startswith("lance"):
        out.update(split_threshold=config["split_threshold"], generate=config["generate"])
    elif mode == "self_instruct":
        si = config["self_instruct"]
        out["self_instruct"] = {k: v for k, v in si.items() if k != "blocked_words"}
        out["generate"] = {"response_prefix": None}
    else:
        out["spin"] = {"responses_per_prompt": config["spin"]["responses_per_prompt"]}
    return out


def clean_settings(method):
    """LANCE cleans within each seed group; Self-Instruct and I-SHEEP against the whole pool of
    tasks (Seed_0 and every task kept so far) and with Self-Instruct's word filter."""
    out = {"clean": config["clean"]}
    if GENERATE_MODE[method] == "self_instruct":
        out["clean"] = {
            **config["clean"],
            "instruction_scope": "pool",
            "blocked_words": config["self_instruct"]["blocked_words"],
        }
    return out


def annotate_inputs(wildcards):
    """What a method's annotate reads (the previous sets come from get_prev_sets)."""
    d, m = iter_dir(wildcards), wildcards.method
    if m in LANCE_FAMILY:
        return {
            "reviewed_seed": f"{d}/reviewed_seed.json",
            "reviewed_new": f"{d}/reviewed_new.json",
            "seed_stats": f"{d}/stats/review_seed.json",
            "new_stats": f"{d}/stats/review_new.json",
        }
    if m == "i_sheep":
        return {"reviewed_new": f"{d}/reviewed_new.json", "new_stats": f"{d}/stats/review_new.json"}
    if m == "self_instruct":
        return {"cleaned": f"{d}/cleaned.json"}
    spin = {"raw": f"{d}/raw.json", "seed": "results/iter0/seed.json"}
    if int(wildcards.t) > 1:  # SPIN mixes in the previous iteration's pairs
        spin["prev_new_dpo"] = f"{iter_dir(wildcards, int(wildcards.t) - 1)}/new_dpo.json"
    return spin


def annotate_settings(method):
    """What annotate reads for a method (lancekit.annotate for LANCE, lancekit.methods else)."""
    health = {k: config["review"][k] for k in ("max_parse_failure_rate", "max_unscored_rate")}
    if method in LANCE_FAMILY:
        return {
            "method": method,
            "annotate": config["annotate"],
            "split_threshold": config["split_threshold"],
            "health": health,
        }
    out = {"method": method, "shuffle_seed": config["annotate"]["shuffle_seed"]}
    out["min_chars"] = config["annotate"]["min_chars"]
    if method == "i_sheep":
        out.update(
            health=health, i_sheep={k: config["i_sheep"][k] for k in ("threshold", "cumulative")}
        )
    if method == "spin":
        out["spin"] = {"keep_previous": config["spin"]["keep_previous"]}
    return out


def model_settings():
    """What every engine stage reads of `model`: remote code or not, and the base model's name
    (a hub id is no input file: its name is what says the model changed)."""
    return {
        "trust_remote_code": config["model"]["trust_remote_code"],
        "base_model": config["model"]["base"],
    }


def engine_settings():
    """What every vLLM stage reads of the config (not the resources: they do not change outputs)."""
    v = {k: config["vllm"][k] for k in config["vllm"] if k not in ("kvcache_gib", "chunk_size")}
    return {
        "vllm": v,
        # not sampling.max_tokens: that is generate's (the judge has review.max_tokens)
        "sampling": {k: config["sampling"][k] for k in ("temperature", "top_p")},
        "seed": config["sampling"]["seed"],
        **model_settings(),
    }


def train_settings():
    """What a training stage reads of `train` (not save_steps: checkpoints change no output)."""
    s = {k: v for k, v in config["train"].items() if k not in ("m0", "save_steps")}
    s.setdefault("template", config["model"]["template"])
    if config["model"]["default_system"]:
        s.setdefault("default_system", config["model"]["default_system"])
    s["trust_remote_code"] = model_settings()["trust_remote_code"]
    if s.get("deepspeed"):
        s["deepspeed"] = repo_path(s["deepspeed"])
    return s


def train_inputs(wildcards):
    """Files a training stage reads besides its data: a DeepSpeed config (train.deepspeed)."""
    ds = config["train"].get("deepspeed")
    return {"deepspeed": repo_path(ds)} if ds else {}


def train_job_settings(stage):
    return as_json({"stage": stage, "train": train_settings(), **model_settings()})


def get_sft_start(wildcards):
    """SFT of iteration t starts from M_{t-1}; I-SHEEP with i_sheep.start m0 from M_0."""
    t = int(wildcards.t)
    if wildcards.method == "i_sheep" and config["i_sheep"]["start"] == "m0":
        return get_model(0)
    return get_model(t - 1, wildcards.method)


def get_dpo_start(wildcards):
    """DPO of LANCE starts from (and is referenced to) this iteration's SFT model; SPIN and the
    DPO-data-only ablation train M_{t-1} itself, with M_{t-1} as the reference."""
    if wildcards.method in ("spin", "lance_dpo_only"):
        return get_model(int(wildcards.t) - 1, wildcards.method)
    return f"{iter_dir(wildcards)}/sft_model"


def get_final_targets():
    return ["results/report/report.md"]


def eval_runs():
    """Every evaluated model: base, M_0, and M_1..M_T of each method (Self-Instruct: M_1)."""
    return ["base", "iter0"] + [
        f"{m}/iter{t}" for m in config["methods"] for t in range(1, method_iters(m) + 1)
    ]


def get_eval_model(wildcards):
    run = wildcards.run
    if run == "base":
        return get_base_model()
    method, _, it = run.rpartition("/")
    return get_model(int(it[4:]), method or "lance")


def embedded_benchmarks():
    """The benchmark files that ship with (or are generated by) the project, as named inputs."""
    files = {
        "arith": "results/benchmarks/arith.jsonl",
        "lance_mc": repo_path(config["eval"]["mc_path"]),
    }
    return {b: files[b] for b in config["eval"]["benchmarks"] if b in files}


# --- shards: data parallelism of the engine stages (lancekit.shards) -------------------------


def shard_dir(stage):
    return lambda wc: f"{iter_dir(wc)}/shards/{stage}"


def shard_files(stage):
    """The shard files a gather merges: <i>-of-<n>.json for i < config `shards`."""
    n = config["shards"]
    return lambda wc: [f"{iter_dir(wc)}/shards/{stage}/{i}-of-{n}.json" for i in range(n)]


def gather_job(stage):
    """What a gather reads besides its named inputs: where the shards are and how many
    (the files are found by name, so a thousand shards make no long command line)."""
    return job_spec(shards=config["shards"], shard_dir=shard_dir(stage))


def engine_job(model_of):
    """The job of a vLLM stage: its model and its chunk size (requests per saved chunk of
    progress; not a setting: it changes no output, so it reruns nothing)."""
    return job_spec(model=model_of, chunk=config["vllm"]["chunk_size"])


DATA_STAGES = ("review_seed", "generate", "clean", "review_new", "annotate")


def report_layout():
    """Every file the report reads, by what it is; the rule's inputs are the same files."""
    methods = list(config["methods"])
    summaries = {run: f"results/{run}/eval/summary.json" for run in eval_runs()}
    stats, train = {}, {"": {"0/SFT": "results/iter0/sft_model"} if config["train"]["m0"] else {}}
    for m in methods:
        stats[m], train[m] = {}, {}
        for t in range(1, method_iters(m) + 1):
            d = f"results/{m}/iter{t}"
            stats[m][str(t)] = {
                st: f"{d}/stats/{st}.json" for st in DATA_STAGES if has_stage(m, st)
            }
            if has_stage(m, "train_sft"):
                train[m][f"{t}/SFT"] = f"{d}/sft_model"
            if has_stage(m, "train_dpo"):
                train[m][f"{t}/DPO"] = f"{d}/model"
    return {
        "methods": methods,
        "iters": {m: method_iters(m) for m in methods},
        "summaries": summaries,
        "stats": stats,
        "train": train,
        "benchmarks": "results/benchmarks",
        "shards": config["shards"],
        "paper": repo_path(config["report"]["paper"]) if config["report"]["paper"] else None,
        "paper_backbone": config["report"]["paper_backbone"],
    }


def report_inputs(wildcards):
    lay = report_layout()
    return {
        "summaries": list(lay["summaries"].values()),
        "stats": [p for by_t in lay["stats"].values() for by in by_t.values() for p in by.values()],
        "models": [p for by in lay["train"].values() for p in by.values()],
        "paper": [lay["paper"]] if lay["paper"] else [],
    }
