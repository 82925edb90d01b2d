"""A base model given as a hub id, read from a Hugging Face cache in the hub layout: M_0's training
and the base model's evaluation run for real through the workflow on the snapshot folder, with no
conversion and no download (the cache is built here from the shared run's converted model)."""

import shutil

from workflow import load, run_lance

REPO_ID = "lance-test/smollm2-135m"
COMMIT = "5f1b2c3d4e5f60718293a4b5c6d7e8f901234567"


def test_a_hub_model_from_the_cache_trains_and_is_evaluated(run, tmp_path):
    folder = tmp_path / "hub" / f"models--{REPO_ID.replace('/', '--')}"
    snap = folder / "snapshots" / COMMIT
    shutil.copytree(run / "base_model", snap)
    (folder / "refs").mkdir()
    (folder / "refs" / "main").write_text(COMMIT)
    wd = tmp_path / "wd"
    wd.mkdir()
    run_lance(wd, "results/iter0/sft_model", "results/base/eval/summary.json", "--config",
              f"model={{'base': '{REPO_ID}'}}", "iters=0", env={"HF_HUB_CACHE": str(tmp_path / "hub")})
    info = load(wd / "results/iter0/sft_model/lance_train.json")
    assert info["base_model"] == str(snap) and info["skipped"] is False and info["steps"] >= 1, info
    summary = load(wd / "results/base/eval/summary.json")
    assert summary["model"] == str(snap) and summary["n_items"] == {"arith": 6, "lance_mc": 6}
    assert not (wd / "results/base_model").exists(), "nothing converted, nothing fetched"
    out = (wd / "snakemake.out").read_text()
    assert "prepare_base_model" not in out and "fetch_base_model" not in out
