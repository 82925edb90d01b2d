"""evaluate: score one model (base, M_0 or M_t) with OpenCompass (run with the opencompass
environment's python) and write summary.json: one score per benchmark and their mean."""

import re
import sys

from _cli import load_job
from lancekit.evaluation.opencompass import EvalError, evaluate


def main() -> int:
    job = load_job(__doc__)
    p = job.params
    benchmarks = [{"name": b, "path": getattr(job.input, b)} if hasattr(job.input, b) else b
                  for b in p["benchmarks"]]
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
