"""export: stage chosen iterations' training sets and models with their cards as the exact folder
the Hugging Face Hub gets (results/export/<name>/data/ and model/), and upload it only with
export.push (lancekit.report.export); the manifest says what was staged and pushed."""

import os
import shutil
from pathlib import Path

from _cli import load_job
from lancekit.core.io import write_json
from lancekit.report import export


def main() -> None:
    job = load_job(__doc__)
    plan = job.params["plan"]
    out = Path(job.output.folder)
    if out.exists():
        shutil.rmtree(out)
    files = export.stage(plan, out)
    urls = export.push(plan, out, os.environ) if plan["push"] else []
    write_json(job.output.manifest, {"repo": plan["repo"], "folder": str(out), "pushed": bool(urls),
                                     "commits": urls, "files": files})
    print(f"[export] {len(files)} files in {out}" + (f"; pushed to {plan['repo']}" if urls else "; not pushed"
                                                    " (export.push: false)"), flush=True)


if __name__ == "__main__":
    main()
