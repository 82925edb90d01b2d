"""Shared start of every entry point: the job a rule hands over, and a timer.

Every rule calls its script the same way, ``<python> scripts/<stage>.py <job JSON> <settings JSON>``;
the job is made by ``job_spec`` (lancekit.pipeline.wiring) from the rule's own named ``input``,
``output`` and ``wildcards``, so each path is written once, in the rule:

    job = load_job(__doc__)
    seeds = read_json(job.input.seed)
    write_json(job.output.reviewed, ...)
    review = load(ReviewSettings, job.params["review"], "review")   # lancekit.core.settings

``params`` merges the stage's settings (a plain JSON param of the rule, so a config change
reruns the stage) with the values the rule derives from the wildcards.
"""

import argparse
import json
import time
from types import SimpleNamespace


class Job(SimpleNamespace):
    """``input`` / ``output`` / ``wildcards``: attribute access by the rule's names; ``params``: a dict."""


def load_job(doc: str, argv: list[str] | None = None) -> Job:
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("job", type=json.loads, help="the rule's named input/output/wildcards, as JSON")
    ap.add_argument("settings", type=json.loads, nargs="?", default={}, help="the stage's settings, as JSON")
    args = ap.parse_args(argv)
    spec = args.job
    return Job(input=SimpleNamespace(**spec.get("input", {})), output=SimpleNamespace(**spec.get("output", {})),
               wildcards=SimpleNamespace(**spec.get("wildcards", {})),
               params={**args.settings, **spec.get("params", {})})


class Timer:
    def __init__(self, name: str):
        self.name, self.t0 = name, time.time()

    def done(self) -> float:
        dt = time.time() - self.t0
        print(f"[{self.name}] finished in {dt:.1f} s", flush=True)
        return dt
