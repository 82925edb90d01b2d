import json
import os
import sys
from pathlib import Path

from snakemake.utils import validate
from snakemake_interface_executor_plugins.settings import DeploymentMethod

# The config is checked before any job runs; defaults (the paper's constants) are filled in.
validate(config, "../../config/config.schema.yaml")

REPO = Path(workflow.basedir).parent
SCRIPTS = str(REPO / "scripts")
sys.path.insert(0, SCRIPTS)
from lancekit import envs  # noqa: E402

if config["env_dir"]:
    os.environ["LANCE_ENV_DIR"] = str(Path(config["env_dir"]).expanduser().resolve())

# Engines run offline with every cache inside the working directory (overridable from outside).
_CACHE = Path(".cache").resolve()
for _var, _val in {
    "HF_HUB_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "VLLM_NO_USAGE_STATS": "1",
    "HF_HOME": _CACHE / "huggingface",
    "XDG_CACHE_HOME": _CACHE,
    "VLLM_CACHE_ROOT": _CACHE / "vllm",
    "TORCHINDUCTOR_CACHE_DIR": _CACHE / "torchinductor",
    "TRITON_CACHE_DIR": _CACHE / "triton",
    "MPLCONFIGDIR": _CACHE / "matplotlib",
    "TOKENIZERS_PARALLELISM": "false",
}.items():
    os.environ.setdefault(_var, str(_val))
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", str(config["vllm"]["kvcache_gib"]))

USE_CONDA = DeploymentMethod.CONDA in workflow.deployment_settings.deployment_method
MAIN_PY = sys.executable  # the environment running Snakemake (environment.yml / envs/main.txt)


def script(name):
    """Path of an entry point in scripts/ (handed to shell commands as a param)."""
    return str(REPO / "scripts" / f"{name}.py")


wildcard_constraints:
    t=r"\d+",


# --- engines: one environment each ---------------------------------------------------------


def engine_python(engine):
    """Interpreter for an engine's scripts: the venv's, or the conda env's `python`."""
    return "python" if USE_CONDA else str(envs.python_of(engine))


def engine_ready(engine):
    """Input that makes Snakemake build the engine's venv first (nothing under --sdm conda)."""
    return [] if USE_CONDA else [str(envs.env_path(engine) / envs.READY)]


def engine_conda(engine):
    return f"../../envs/{envs.env_name(engine)}.yaml"


def res(engine, key, default):
    return config["resources"].get(engine, {}).get(key, default)


def as_json(obj):
    """Settings handed to a script; Snakemake quotes them ({params.x:q}) for the shell."""
    return json.dumps(obj, sort_keys=True)


# --- models and iterations -----------------------------------------------------------------


def get_base_model():
    """The base model directory: converted from the embedded GGUF, or the configured one."""
    base = config["model"]["base"]
    if base == "embedded":
        return "results/base_model"
    return str(Path(base).expanduser().resolve()) if Path(base).expanduser().exists() else base


def get_base_model_input():
    """The base model as a rule input: only the embedded one is built by a rule."""
    return ["results/base_model"] if config["model"]["base"] == "embedded" else []


def get_model(t):
    """M_t. M_0 is the SFT model of iteration 0: the base model trained on Seed_0 (or the base
    model itself when train.m0 is off)."""
    t = int(t)
    if t == 0:
        return "results/iter0/sft_model" if config["train"]["m0"] else get_base_model()
    return f"results/iter{t}/model"


def get_model_input(t):
    if int(t) == 0 and not config["train"]["m0"]:
        return get_base_model_input()
    return [get_model(t)]


def get_generator(wildcards):
    """The generator, judge and training start of iteration t is M_{t-1}."""
    return get_model(int(wildcards.t) - 1)


def get_generator_input(wildcards):
    return get_model_input(int(wildcards.t) - 1)


def get_seed(wildcards):
    """Seed_{t-1}: Seed_0 for the first iteration, then the previous iteration's next seed."""
    t = int(wildcards.t)
    return "results/iter0/seed.json" if t == 1 else f"results/iter{t - 1}/next_seed.json"


def get_prev_sets(wildcards):
    t = int(wildcards.t)
    return {"prev_sft": f"results/iter{t - 1}/sft.json", "prev_dpo": f"results/iter{t - 1}/dpo.json"}


def repo_path(path):
    """A configured path: as given when it exists (absolute, or from the working directory),
    else relative to the repository (the shipped seed, prompts and templates)."""
    p = Path(path).expanduser()
    return str(p.resolve()) if p.is_absolute() or p.exists() else str(REPO / p)


def prompt_paths():
    return {k: repo_path(v) for k, v in config["prompts"].items()}


def engine_params(max_tokens):
    """Settings every vLLM stage needs."""
    return {
        "vllm": config["vllm"],
        "sampling": config["sampling"],
        "seed": config["sampling"]["seed"],
        "max_tokens": max_tokens,
        "prompts": prompt_paths(),
        "split_threshold": config["split_threshold"],
    }


def get_data_targets(t):
    return [
        f"results/iter{t}/{name}"
        for name in ("sft.json", "dpo.json", "dataset_info.json", "next_seed.json")
    ]


def get_final_targets():
    return ["results/report/report.md"]
