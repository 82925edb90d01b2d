"""The environment every job of the workflow runs with, as one pure function of the config and
the environment Snakemake was started in (workflow/rules/common.smk applies it once, at parse
time; jobs inherit it):

- engines run offline, with every cache inside the working directory (`.cache/`);
- lancekit is importable (``PYTHONPATH``), and the entry points are found (``LANCE_SCRIPTS``);
- interpreters: ``LANCE_PY_MAIN`` (this Python, or the conda env's under ``--sdm conda``);
  ``LANCE_PY_<ENGINE>`` set outside wins; otherwise an engine's interpreter is found where the job
  runs (a CPU login node that submits to GPU nodes must not decide the vLLM flavour of the nodes);
- vLLM jobs that ask for GPUs use the CUDA flavour, wherever the workflow is planned;
- a hub model is looked up in the user's own Hugging Face cache (``LANCE_HUB_CACHE``), and
  downloads are allowed only when the user said so (``HF_HUB_OFFLINE=0``: ``LANCE_DOWNLOADS``);
- the training environment has DeepSpeed when ``train.deepspeed`` is set (``LANCE_TRAIN_DEEPSPEED``).

Values already set in the environment win over these defaults (except ``LANCE_ENV_DIR`` when
``env_dir`` is configured, and ``PYTHONPATH``, which always gets src/ first).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from ..core.base_model import hub_cache
from ..core.envs import ENGINES, OFFLINE_ENV
from ..core.paths import REPO, with_src


def job_environment(config: dict, current: Mapping[str, str], *, cwd: Path, python: str,
                    use_conda: bool) -> dict[str, str]:
    """The variables to set (a dict to `os.environ.update` with)."""
    cache = Path(cwd).resolve() / ".cache"
    defaults = {
        **OFFLINE_ENV,
        "HF_HOME": cache / "huggingface",
        "XDG_CACHE_HOME": cache,
        "VLLM_CACHE_ROOT": cache / "vllm",
        "TORCHINDUCTOR_CACHE_DIR": cache / "torchinductor",
        "TRITON_CACHE_DIR": cache / "triton",
        "MPLCONFIGDIR": cache / "matplotlib",
        "VLLM_CPU_KVCACHE_SPACE": config["vllm"]["kvcache_gib"],
        "LANCE_PY_MAIN": "python" if use_conda else python,
        # the user's Hugging Face hub cache (model weights), as it was before HF_HOME and
        # XDG_CACHE_HOME point into the working directory: a hub id is read from there, the
        # same folder wherever the workflow is parsed again (a cluster job)
        "LANCE_HUB_CACHE": hub_cache(current),
        "LANCE_DOWNLOADS": "1" if current.get("HF_HUB_OFFLINE") == "0" else "0",
    }
    if use_conda:
        defaults.update({f"LANCE_PY_{engine.upper()}": "python" for engine in ENGINES})
    if (config["resources"].get("vllm") or {}).get("gpu", 0) > 0:
        defaults["LANCE_VLLM_FLAVOUR"] = "cuda"
    out = {k: str(v) for k, v in defaults.items() if k not in current}
    if config.get("env_dir"):
        out["LANCE_ENV_DIR"] = str(Path(config["env_dir"]).expanduser().resolve())
    # the training environment with DeepSpeed (envs/llamafactory-deepspeed.txt) when a job asks for it
    out["LANCE_TRAIN_DEEPSPEED"] = "1" if (config.get("train") or {}).get("deepspeed") else "0"
    out["PYTHONPATH"] = with_src(current.get("PYTHONPATH"))
    out["LANCE_SCRIPTS"] = str(REPO / "scripts")
    return out


def hub_source(env: Mapping[str, str]) -> tuple[Path, bool]:
    """(the user's hub cache, whether downloads are allowed), as job_environment recorded them."""
    return Path(env["LANCE_HUB_CACHE"]), env.get("LANCE_DOWNLOADS") == "1"
