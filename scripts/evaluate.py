"""evaluate: score one model (base, M_0 or M_t) with OpenCompass (run with the opencompass
environment's python) and write summary.json: one score per benchmark and their mean."""

import os
import re
import sys
from pathlib import Path

from _cli import load_job
from lancekit.evaluation.opencompass import EvalError, evaluate


def main() -> int:
    job = load_job(__doc__)
    p = job.params
    benchmarks = [{"name": b, "path": getattr(job.input, b)} if isinstance(b, str) and hasattr(job.input, b) else b
                  for b in p["benchmarks"]]
    if hasattr(job.input, "benchmark_data"):  # staged from eval.data by stage_benchmarks
        os.environ["COMPASS_DATA_CACHE"] = str(Path(job.input.benchmark_data).resolve().parent)
    # the run key (lancekit.methods.runs) may hold a '/' (lance/iter1), which cannot be in an abbr
    abbr = re.sub(r"[^A-Za-z0-9._+-]", "_", str(job.wildcards.run))
    try:
        evaluate(p["model"], abbr, benchmarks, p["eval"], p["work_dir"], job.output.summary,
                 p["trust_remote_code"], backend=p.get("backend", "hf"), vllm=p.get("vllm"))
    except EvalError as e:
        print(f"[evaluate] ERROR: {e}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
