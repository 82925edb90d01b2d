"""stage_benchmarks: check the benchmark files of eval.data as they come upstream (fields, counts)
and lay them out where OpenCompass reads them: results/benchmark_data/data/..., with
lance_staging.json (what was staged from where, which files are slices of the upstream sets).
Staged beside the target first; the data folder is swapped in once every file checks."""

import shutil
import sys
import tempfile
from pathlib import Path

from _cli import load_job
from lancekit.core.io import write_json
from lancekit.evaluation.staging import StagingError, stage


def main() -> int:
    job = load_job(__doc__)
    out = Path(job.output.report).parent
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".staging-", dir=out))
    try:
        report = stage(Path(job.params["source"]), tmp, job.params["benchmarks"])
    except StagingError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        print(f"[stage_benchmarks] ERROR: {e}", file=sys.stderr, flush=True)
        return 1
    old = out / "data"
    if old.exists():
        shutil.rmtree(old)
    (tmp / "data").rename(old)
    shutil.rmtree(tmp)
    for bench, parts in report.items():
        for target, entry in parts.items():
            what = ("as in OpenCompass's layout" if entry.get("opencompass_layout") else
                    f"{entry['records']} records" + ("" if entry["complete"] else
                                                     f", a slice of {'/'.join(map(str, entry['expected']))}"))
            print(f"[stage_benchmarks] {bench}: data/{target}: {what}")
    write_json(job.output.report, {"source": job.params["source"], "benchmarks": report})
    return 0


if __name__ == "__main__":
    sys.exit(main())
