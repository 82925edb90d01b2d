"""One real run of the whole loop (tiny settings, tests/integration/e2e.yaml), shared by every
integration test: the engines start once per engine stage, not once per test file.

The run is a crash test too. It is killed with kill -9 three times and run again each time
with the README's `./lance`, as a user would after a crash:
1. every process of the run, once M_0's training has written its first checkpoint;
2. every process, once `generate` has its first chunk of completions on disk;
3. Snakemake alone, in the middle of LANCE M_1's evaluation (the job runs on, orphaned, to its end).
The second and third runs aim at LANCE's files only, so that the moment comes soon; the last run
does everything else (the other five methods, the report).
What each kill left behind is recorded in faults.json for tests/integration/test_faults.py.
"""

import json

import pytest

from workflow import run_lance, run_until


@pytest.fixture(scope="session")
def run(tmp_path_factory):
    wd = tmp_path_factory.mktemp("e2e")
    res = wd / "results"
    faults = {}

    ckpt = res / "iter0/sft_model.work/output/checkpoint-1/trainer_state.json"
    run_until(wd, ckpt.is_file, "run1-killed-in-training.out")
    faults["checkpoints_at_kill"] = sorted(p.name for p in ckpt.parents[1].glob("checkpoint-*"))

    progress = res / "lance/iter1/shards/generate/0-of-1.json.progress.jsonl"
    # towards LANCE's generate only: with six methods, the whole run would get there late
    run_until(wd, lambda: progress.is_file() and b"\n" in progress.read_bytes(), "run2-killed-in-generate.out",
              "results/lance/iter1/raw.json")
    (wd / "generate-progress-at-kill.jsonl").write_bytes(progress.read_bytes())

    evaluating = res / "lance/iter1/eval/opencompass/lance_eval.fingerprint"
    run_until(wd, evaluating.is_file, "run3-snakemake-killed.out", "results/lance/iter1/eval/summary.json",
              whole_group=False)
    faults["eval_summary_written_by_orphan"] = (res / "lance/iter1/eval/summary.json").is_file()

    run_lance(wd, log="run4.out")
    (wd / "faults.json").write_text(json.dumps(faults))
    return res
