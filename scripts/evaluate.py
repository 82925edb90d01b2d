"""evaluate: score one model (base, M_0 or M_t) with OpenCompass (run with the opencompass
environment's python) and write summary.json: one score per benchmark and their mean."""

import os
import re
import sys
from pathlib import Path

from _cli import load_job
from lancekit.evaluation.opencompass import EvalError, evaluate


def arguments(job) -> dict:
    """The keyword arguments of lancekit's `evaluate` for this job (the rerun tests' stand-in
    engine reads them here too); a staged eval.data folder becomes COMPASS_DATA_CACHE."""
    p = job.params
    benchmarks = [{"name": b, "path": getattr(job.input, b)} if isinstance(b, str) and hasattr(job.input, b) else b
                  for b in p["benchmarks"]]
    if hasattr(job.input, "benchmark_data"):  # staged from eval.data by stage_benchmarks
        os.environ["COMPASS_DATA_CACHE"] = str(Path(job.input.benchmark_data).resolve().parent)
    # the run key (lancekit.methods.runs) may hold a '/' (lance/iter1), which cannot be in an abbr
    abbr = re.sub(r"[^A-Za-z0-9._+-]", "_", str(job.wildcards.run))
    return {"model": p["model"], "abbr": abbr, "benchmarks": benchmarks, "settings": p["eval"],
            "work_dir": p["work_dir"], "trust_remote_code": p["trust_remote_code"],
            "backend": p.get("backend", "hf"), "likelihood": p.get("likelihood", "hf"), "vllm": p.get("vllm")}


def main() -> int:
    job = load_job(__doc__)
    try:
        evaluate(out=job.output.summary, **arguments(job))
    except EvalError as e:
        print(f"[evaluate] ERROR: {e}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
