import os
import shutil
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

from snakemake.utils import validate
from snakemake_interface_executor_plugins.settings import DeploymentMethod

from lancekit import methods
from lancekit.core import envs
from lancekit.core.io import leftovers
from lancekit.core.paths import REPO
from lancekit.core.provenance import code_version
from lancekit.generation.settings import generation_settings
from lancekit.methods.runs import parse_run, pattern, split_seed
from lancekit.core.base_model import cached_snapshot
from lancekit.data import authors
from lancekit.pipeline.config_check import (
    benchmark_names,
    check_config,
    config_error,
    is_local_model,
    missing_data,
    staged_files,
)
from lancekit.pipeline import layout
from lancekit.pipeline.environ import hub_source, job_environment
from lancekit.pipeline import wiring
from lancekit.pipeline.wiring import Engine, as_json, env_stamp, job_spec

# The config is checked before any job runs; defaults (the paper's constants) are filled in.
validate(config, "../../config/config.schema.yaml")


def repo_path(path):
    """A configured file: an absolute path (or ~) as given, a relative one from the checkout
    (the shipped seed, prompts and templates). Relative paths stay relative, so moving the
    checkout and the results together reruns nothing."""
    p = Path(path).expanduser()
    return str(p) if p.is_absolute() else os.path.relpath(REPO / p)


check_config(config, repo_path)

USE_CONDA = DeploymentMethod.CONDA in workflow.deployment_settings.deployment_method
# Every job's environment (offline engines, caches in .cache/, lancekit on PYTHONPATH, the
# interpreters, the user's Hugging Face cache): one pure function, lancekit.pipeline.environ.
# Interpreters and entry points reach the shell as environment variables, not as params: where
# the checkout or a venv lives must not decide a rerun (params do), only what the code says
# (`code`) and the settings.
os.environ.update(
    job_environment(config, os.environ, cwd=Path.cwd(), python=sys.executable, use_conda=USE_CONDA)
)

# A hub model: its snapshot in the user's Hugging Face cache, or else fetched into
# results/base_model by fetch_base_model (downloads allowed, HF_HUB_OFFLINE=0).
HUB_CACHE, DOWNLOADS = hub_source(os.environ)
HUB_SNAPSHOT = (
    cached_snapshot(config["model"]["base"], config["model"]["revision"], HUB_CACHE)
    if config["model"]["base"] != "embedded" and not is_local_model(config["model"]["base"])
    else None
)

# Benchmark data: staged from eval.data (upstream files) into results/benchmark_data by the
# stage_benchmarks job, which every evaluation reads; without eval.data, $COMPASS_DATA_CACHE.
BENCHMARK_DATA = layout.BENCHMARK_DATA if config["eval"]["data"] else None

# Data the user stages (the paper's seed, a hub model's weights, benchmark data): a dry run
# plans every job as if it were there (missing_data and fetch_base_model stand in for them), a
# real run stops on start, before any job (check_staged_data).
MISSING_DATA = missing_data(
    config,
    repo_path,
    hub_cache=HUB_CACHE,
    downloads=DOWNLOADS,
    fetched=Path("results/base_model/config.json").is_file(),
    compass_data_cache=os.environ.get("COMPASS_DATA_CACHE"),
)
# the files among them (seed, extra SFT file, the authors' prompt file), by config key
STAGED = staged_files(config, repo_path)
MISSING_FILES = [p for p in STAGED.values() if not Path(p).is_file()]
for _problem in MISSING_DATA:
    print(
        f"WARNING {_problem}. A dry run plans the jobs as if it were there; a real run stops "
        "before any job.",
        file=sys.stderr,
    )


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
    for engine in ENGINES.values():
        if engine.threads > max(sizes):
            raise ValueError(
                f"config resources.{engine.name}.threads = {engine.threads}, but the largest node of "
                f"this SLURM cluster has {max(sizes)} CPUs (sinfo): its jobs would wait in the queue "
                "for ever"
            )


# jobs that read nothing the user stages: building the environments and fetching the model may
# come first (the README's checklist), before the seed and the benchmark data are there
SETUP_RULES = {"setup_env", "envs", "fetch_base_model"}


def check_staged_data():
    """Run on start (never in a dry run): the data the user must stage is there, unless every job
    to run is a set-up job."""
    rules = {job.rule.name for job in workflow.dag.needrun_jobs()}
    if MISSING_DATA and not rules <= SETUP_RULES:
        raise config_error(MISSING_DATA)


def remove_leftovers():
    """Leftovers of jobs that were killed: half-written files, conversion folders, training work
    folders (run on start; Snakemake's lock guarantees no job of another run is writing them)."""
    for left in leftovers(Path("results")):
        shutil.rmtree(left) if left.is_dir() else left.unlink()
        print(f"removed the leftover of a killed job: {left}", file=sys.stderr)


# --- how a rule hands its job to its script --------------------------------------------------


def code(script):
    """Hash of the script and every lancekit module it runs: a code edit reruns the stage."""
    return code_version(script)


# --- the environments: the main one and one per engine ---------------------------------------


def engine(name, runtime=60):
    """An Engine (lancekit.pipeline.wiring) whose venv stamp is taken as ancient()."""
    e = Engine(name, config, use_conda=USE_CONDA, runtime=runtime)
    e.ready = [ancient(stamp) for stamp in e.ready]
    return e


MAIN = engine("main")
VLLM = engine("vllm", runtime=120)
LLAMAFACTORY = engine("llamafactory", runtime=240)
OPENCOMPASS = engine("opencompass", runtime=120)
ENGINES = {e.name: e for e in (VLLM, LLAMAFACTORY, OPENCOMPASS)}


# --- methods: LANCE, its ablations and the paper's baselines (lancekit.methods) --------------
# Every method starts from the same M_0 and Seed_0 and writes results/<method>/iter<t>/ with the
# same file names; the stage rules are shared and take what a stage does from the methods table.

METHODS = methods.TABLE


def method_iters(method):
    return METHODS[method].iterations(config["iters"])


def method_constraint(stage):
    """The {method} wildcard of a stage's rule: the methods that have the stage."""
    return "|".join(methods.with_stage(stage))


def per_method(settings_of):
    """A stage's settings as a function of the method (a plain param of the wildcards, which
    Snakemake records: a change reruns only the method whose settings changed)."""
    return lambda wildcards: as_json(settings_of(METHODS[wildcards.method]))


# --- models and iterations -----------------------------------------------------------------


def get_base_model():
    """The base model's folder: converted from the embedded GGUF, a local directory, or a hub
    model (its snapshot in the Hugging Face cache, else fetched into results/base_model)."""
    base = config["model"]["base"]
    if is_local_model(base):
        return repo_path(base)
    return str(HUB_SNAPSHOT) if HUB_SNAPSHOT else "results/base_model"


def get_model(t, method):
    """M_t of a method. M_0 (shared by every method) is the SFT model of iteration 0: the base
    model trained on Seed_0 (or the base model itself when train.m0 is off)."""
    t = int(t)
    if t == 0:
        return "results/iter0/sft_model" if config["train"]["m0"] else get_base_model()
    return f"results/{method}/iter{t}/{METHODS[method].model_dir}"


def needs(model_of):
    """A model-path function (of the wildcards) as an input of a stage: the model's directory,
    wherever it is (a hub model's snapshot too: a new snapshot reruns what read the old one)."""
    return lambda wildcards: [model_of(wildcards)]


def get_generator(wildcards):
    """The generator, judge and training start of iteration t is M_{t-1} of the same method."""
    return get_model(int(wildcards.t) - 1, wildcards.method)


SEED_0 = "results/iter0/seed.json"


def iter_dir(wildcards, t=None):
    """results/<method>/iter<t> (t: this iteration unless given; iteration 0 is shared)."""
    t = int(wildcards.t) if t is None else int(t)
    return "results/iter0" if t == 0 else f"results/{wildcards.method}/iter{t}"


def get_seed(wildcards):
    """Seed_{t-1}: Seed_0 for the first iteration, then, for a method that evolves its seed
    (LANCE), the previous iteration's next seed; the others start every iteration from Seed_0."""
    t = int(wildcards.t)
    if t == 1 or not METHODS[wildcards.method].evolves_seed:
        return SEED_0
    return f"{iter_dir(wildcards, t - 1)}/next_seed.json"


def get_prev_sets(wildcards):
    prev = iter_dir(wildcards, int(wildcards.t) - 1)
    return {"prev_sft": f"{prev}/sft.json", "prev_dpo": f"{prev}/dpo.json"}


# prompts named authors:<NAME>: the constant NAME of the authors' prompt_template.py, written
# to results/prompts/<key>.txt in our slot syntax by the authors_prompt job (seed.smk)
AUTHORS_PROMPTS = {
    k: authors.name_of(v) for k, v in config["prompts"].items() if authors.is_reference(v)
}


def prompt_file(name):
    if name in AUTHORS_PROMPTS:
        return f"results/prompts/{name}.txt"
    return repo_path(config["prompts"][name])


def generation_json():
    """What every vLLM stage reads of the config (lancekit.generation.settings)."""
    return asdict(generation_settings(config))


def review_job(method, stage):
    return {
        "stage": stage,
        "review": asdict(method.review_settings(config, stage)),
        "generation": generation_json(),
    }


def generate_records(wildcards):
    """What generate works from: this iteration's reviewed seed (LANCE), else Seed_0 itself."""
    if METHODS[wildcards.method].generate_reads == "reviewed_seed":
        return f"{iter_dir(wildcards)}/reviewed_seed.json"
    return SEED_0


def generate_inputs(wildcards):
    method = METHODS[wildcards.method]
    return {"records": generate_records(wildcards)} | {
        k: prompt_file(k) for k in method.generate_prompts
    }


def generate_job(method):
    return {
        "max_tokens": config["sampling"]["max_tokens"],
        "generation": generation_json(),
        "method": asdict(method.generate_settings(config)),
    }


# what annotate may read (lancekit.methods.base.ANNOTATE_FILES): {d} this iteration's folder,
# {prev} the previous one's, {first} iteration 1's
ANNOTATE_FILES = {
    "reviewed_seed": "{d}/reviewed_seed.json",
    "reviewed_new": "{d}/reviewed_new.json",
    "seed_stats": "{d}/stats/review_seed.json",
    "new_stats": "{d}/stats/review_new.json",
    "cleaned": "{d}/cleaned.json",
    "raw": "{d}/raw.json",
    "seed": SEED_0,
    "prev_new_dpo": "{prev}/new_dpo.json",
    "first_reviewed_seed": "{first}/reviewed_seed.json",
}


def annotate_inputs(wildcards):
    """What a method's annotate reads (the previous sets come from get_prev_sets)."""
    t = int(wildcards.t)
    d, prev = iter_dir(wildcards), iter_dir(wildcards, t - 1)
    return {
        name: ANNOTATE_FILES[name].format(d=d, prev=prev, first=iter_dir(wildcards, 1))
        for name in METHODS[wildcards.method].annotate_reads(t, config)
    }


def model_settings():
    """What every engine stage reads of `model`: remote code or not, and the base model's name
    (a hub id is no input file: its name is what says the model changed)."""
    return {
        "trust_remote_code": config["model"]["trust_remote_code"],
        "base_model": config["model"]["base"],
    }


def train_inputs(wildcards):
    """Files a training stage reads besides its data: a DeepSpeed config (train.deepspeed)."""
    ds = config["train"].get("deepspeed")
    return {"deepspeed": repo_path(ds)} if ds else {}


def train_job_settings(stage):
    """A training job's settings, per method and iteration (lancekit.pipeline.wiring)."""
    return wiring.train_settings(config, stage, repo_path, model_settings())


def get_sft_start(wildcards):
    """M_{t-1}, or M_0 or the base model for a method that restarts (I-SHEEP): Method.sft_start."""
    return model_of_run(METHODS[wildcards.method].sft_start(config, int(wildcards.t)))


def get_dpo_start(wildcards):
    """DPO starts from (and is referenced to) this iteration's SFT model (LANCE; a seed replicate's
    own: wildcard s), or from M_{t-1} of the main chain (SPIN, the DPO-data-only ablation)."""
    if METHODS[wildcards.method].dpo_from == "previous":
        return get_model(int(wildcards.t) - 1, wildcards.method)
    seed = getattr(wildcards, "s", None)
    return f"{iter_dir(wildcards)}/{f'seed{seed}/' if seed is not None else ''}sft_model"


def get_final_targets():
    return ["results/report/report.md"]


def model_of_run(run):
    """The model folder of a run key (lancekit.methods.runs), a seed replicate's too."""
    main, seed = split_seed(run)
    method, t = parse_run(main)
    if seed is not None:
        return layout.replicate_model(main, seed)
    return get_base_model() if method == "base" else get_model(t, method)


def get_eval_model(wildcards):
    return model_of_run(wildcards.run)


def embedded_benchmarks():
    """The benchmark files that ship with (or are generated by) the project, as named inputs."""
    files = {
        "arith": "results/benchmarks/arith.jsonl",
        "lance_mc": repo_path(config["eval"]["mc_path"]),
    }
    return {b: files[b] for b in benchmark_names(config) if b in files}


def staging_inputs():
    """The upstream files stage_benchmarks reads (a change to one stages again); none while
    something is missing (the start-up check names it)."""
    from lancekit.evaluation import staging
    from lancekit.pipeline.config_check import benchmark_requests

    source = repo_path(config["eval"]["data"])
    return staging.source_files(Path(source), benchmark_requests(config))


# --- shards: data parallelism of the engine stages (lancekit.generation.shards) -------------


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


def vllm_job(model_of):
    """The job of a vLLM stage: its model and its chunk size (requests per saved chunk of
    progress; not a setting: it changes no output, so it reruns nothing)."""
    return job_spec(model=model_of, chunk=config["vllm"]["chunk_size"])
