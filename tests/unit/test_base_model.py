"""A hub model in the Hugging Face cache (lancekit.core.base_model) and the staging check that
names what is missing (lancekit.pipeline.config_check.missing_data)."""

from pathlib import Path

from lancekit.core.base_model import HUB_ID, cached_snapshot, hub_cache, remove_scratch, scratch_dir
from lancekit.pipeline.config_check import missing_data

COMMIT = "a" * 40


def cache_with(tmp_path, repo_id="org/model", ref="main", config=True):
    folder = tmp_path / f"models--{repo_id.replace('/', '--')}"
    snap = folder / "snapshots" / COMMIT
    snap.mkdir(parents=True)
    if config:
        (snap / "config.json").write_text("{}")
    (folder / "refs").mkdir()
    (folder / "refs" / ref).write_text(COMMIT + "\n")
    return snap


def test_the_cache_is_where_hugging_face_looks():
    assert hub_cache({"HF_HUB_CACHE": "/c/hub", "HF_HOME": "/h"}) == Path("/c/hub")
    assert hub_cache({"HF_HOME": "/h"}) == Path("/h/hub")
    assert hub_cache({"XDG_CACHE_HOME": "/x"}) == Path("/x/huggingface/hub")
    assert hub_cache({}) == Path("~/.cache/huggingface/hub").expanduser()


def test_a_snapshot_by_branch_tag_or_commit(tmp_path):
    snap = cache_with(tmp_path)
    assert cached_snapshot("org/model", None, tmp_path) == snap
    assert cached_snapshot("org/model", "main", tmp_path) == snap
    assert cached_snapshot("org/model", COMMIT, tmp_path) == snap      # a commit needs no ref
    assert cached_snapshot("org/model", "v2", tmp_path) is None        # no such ref
    assert cached_snapshot("org/model", "b" * 40, tmp_path) is None    # no such snapshot
    assert cached_snapshot("org/other", None, tmp_path) is None
    assert cached_snapshot("o/broken", None, tmp_path) is None
    cache_with(tmp_path, "o/broken", config=False)                      # half a download
    assert cached_snapshot("o/broken", None, tmp_path) is None


def test_hub_ids():
    assert HUB_ID.fullmatch("Qwen/Qwen2-7B") and HUB_ID.fullmatch("HuggingFaceTB/SmolLM2-135M-Instruct")
    assert not any(HUB_ID.fullmatch(x) for x in ("embedded", "Qwen2-7B", "a/b/c", "-x/y", "a b/c", "org/"))


def test_a_killed_conversion_leaves_nothing_a_rerun_does_not_remove(tmp_path):
    """The conversion's work folders have fixed names beside the target, so the next start finds
    and removes them, and the random-named ones of older runs that hold only a GGUF file."""
    out = tmp_path / "base_model"
    assert scratch_dir(out, "gguf") == tmp_path / "base_model.tmp-gguf"
    assert scratch_dir(out, "gguf") == scratch_dir(str(out), "gguf")  # the same on every run
    left = [scratch_dir(out, "gguf"), scratch_dir(out, "build"), tmp_path / "base_model.tmp-4242",
            tmp_path / "tmpab12cd"]
    for folder in left:
        folder.mkdir()
    (scratch_dir(out, "gguf") / "m.gguf.tmp-7").write_bytes(b"GGUF")
    (tmp_path / "tmpab12cd" / "SmolLM2-135M-Instruct.Q4_1.gguf").write_bytes(b"GGUF")
    kept = [tmp_path / "tmp_mine", tmp_path / "base_model", tmp_path / "other.tmp-1", tmp_path / "tmpempty"]
    for folder in kept:
        folder.mkdir()
    (tmp_path / "tmp_mine" / "notes.txt").write_text("not a conversion's")
    (out / "config.json").write_text("{}")
    assert remove_scratch(out) == sorted(left)
    assert sorted(p for p in tmp_path.iterdir()) == sorted(kept)
    assert remove_scratch(out) == [] and remove_scratch(tmp_path / "nowhere" / "m") == []


def config(base, revision=None, seed="seed.json"):
    return {"seed": {"path": seed}, "model": {"base": base, "revision": revision}}


def test_what_is_not_staged_is_named_with_the_fix(tmp_path):
    (tmp_path / "seed.json").write_text("[]")
    resolve = lambda p: str(tmp_path / p)  # noqa: E731
    cache_with(tmp_path / "hub")
    assert missing_data(config("org/model"), resolve, hub_cache=tmp_path / "hub") == []
    assert missing_data(config("embedded"), resolve, hub_cache=tmp_path / "hub") == []
    (problem,) = missing_data(config("org/absent", "v1"), resolve, hub_cache=tmp_path / "hub")
    assert problem.startswith("model.base: org/absent at revision v1 is not in the Hugging Face cache")
    assert "huggingface-cli download org/absent --revision v1" in problem
    # downloads allowed, or fetched already into results/base_model: nothing to stage
    assert missing_data(config("org/absent"), resolve, hub_cache=tmp_path / "hub", downloads=True) == []
    assert missing_data(config("org/absent"), resolve, hub_cache=tmp_path / "hub", fetched=True) == []
    seed, model = missing_data(config("org/absent", seed="none.json"), resolve, hub_cache=tmp_path / "hub")
    assert seed.startswith("seed.path: file none.json not found") and model.startswith("model.base:")
