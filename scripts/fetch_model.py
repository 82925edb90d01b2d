"""fetch_base_model: a hub model that is not in the Hugging Face cache, downloaded once (on the
submit host) into results/base_model at the configured revision, which every job then reads
(run with the main environment's python: huggingface_hub). Only when downloads are allowed
(HF_HUB_OFFLINE=0); the commit it got is written beside the weights (lance_hub.json)."""

import json
import os
import shutil
from pathlib import Path

from _cli import load_job


def main() -> None:
    job = load_job(__doc__)
    p, out = job.params, Path(job.output.model)
    if os.environ.get("HF_HUB_OFFLINE", "1") != "0":
        raise SystemExit(f"error: model.base {p['repo_id']} is not in the Hugging Face cache and downloads are "
                         "off: run again with HF_HUB_OFFLINE=0 to fetch it")
    from huggingface_hub import HfApi, snapshot_download

    tmp = out.with_name(f"{out.name}.tmp-{os.getpid()}")
    if tmp.exists():
        shutil.rmtree(tmp)
    print(f"fetching {p['repo_id']} at {p['revision'] or 'main'} into {out}", flush=True)
    snapshot_download(repo_id=p["repo_id"], revision=p["revision"], local_dir=tmp)
    commit = HfApi().model_info(p["repo_id"], revision=p["revision"]).sha
    (tmp / "lance_hub.json").write_text(json.dumps({"repo_id": p["repo_id"], "revision": p["revision"],
                                                    "commit": commit}, indent=1) + "\n")
    if out.exists():
        shutil.rmtree(out)
    os.replace(tmp, out)
    print(f"done: {out} (commit {commit})", flush=True)


if __name__ == "__main__":
    main()
