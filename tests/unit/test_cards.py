"""Dataset and model cards (lancekit.report.cards) and the export (lancekit.report.export,
scripts/cards.py, scripts/export.py): front matter that parses back with every required field,
the funnel from canned stage statistics, the config hash, and the exact folder an export stages,
with nothing pushed."""

import copy
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from lance_testing import ROOT
from lancekit.report import cards, export

# the fields a researcher looks for on the Hub, written out here (not read from cards.REQUIRED):
# a card builder that drops one fails this test
DATA_FIELDS = ("license", "size_categories", "task_categories", "tags", "configs", "lance.sizes.sft_examples",
               "lance.sizes.dpo_pairs", "lance.seed.path", "lance.seed.sha256", "lance.generator", "lance.judge",
               "lance.version", "lance.config_hash", "lance.funnel")
MODEL_FIELDS = ("license", "base_model", "library_name", "pipeline_tag", "tags", "lance.sizes.sft_examples",
                "lance.sizes.dpo_pairs", "lance.seed.path", "lance.seed.sha256", "lance.generator", "lance.judge",
                "lance.version", "lance.config_hash", "lance.funnel", "lance.start_model", "lance.training_examples")

# one LANCE iteration's stats/<stage>.json, cut to the counts the funnel reads (and one it ignores)
STATS = {
    "review_seed": {"records_in": 32, "records_out": 32, "votes": 96},
    "generate": {"records_in": 32, "instruction_samples": 40, "responses": 80, "negative_samples": 24,
                 "seed_responses": 0},
    "clean": {"responses_in": 80, "negatives_in": 24, "records_out": 61},
    "review_new": {"records_in": 61, "records_out": 61},
    "annotate": {"records_in": 61, "sft_new": 30, "dpo_new": 9, "sft_total": 62, "dpo_total": 9},
}
CONFIG = {"iters": 2, "methods": ["lance"], "model": {"base": "embedded"}, "seed": {"path": "data/seed/x.json"},
          "train": {"m0": True}, "review": {"samples": 3}, "export": {"push": False}}
VERSION = {"version": "0.2.0", "commit": "abc1234"}
SEED = {"path": "data/seed/x.json", "sha256": "0" * 64}
MODELS = {"generator": "results/iter0/sft_model", "judge": "results/iter0/sft_model"}


def field(front, dotted):
    for part in dotted.split("."):
        assert isinstance(front, dict) and part in front, f"card lacks {dotted}"
        front = front[part]
    return front


def data_card(config=CONFIG, sizes=None):
    return cards.data_card("lance/iter1", "lance", 1, sizes=sizes or {"sft": 62, "dpo": 9}, seed=SEED,
                           models=MODELS, version=VERSION, config=cards.made_config(config), stats=STATS,
                           license="other")


def test_the_funnel_counts_each_stage_in_and_out():
    assert cards.funnel(STATS) == {"review_seed": {"in": 32, "out": 32}, "generate": {"in": 32, "out": 104},
                                   "clean": {"in": 104, "out": 61}, "review_new": {"in": 61, "out": 61},
                                   "annotate": {"in": 61, "out": 39}}
    # SPIN: no review, no clean; a count a stage did not write is None, not 0
    assert cards.funnel({"generate": {"records_in": 5, "seed_responses": 10}, "annotate": {"sft_new": 0}}) == {
        "generate": {"in": 5, "out": 10}, "annotate": {"in": None, "out": 0}}
    assert cards.funnel({"seed": {"records_in_file": 140, "kept": 32}}) == {"seed": {"in": 140, "out": 32}}


def test_a_data_card_parses_back_with_every_field():
    front, text = data_card()
    back, body = cards.parse(cards.render(front, text))
    assert back == front and body == text
    for f in DATA_FIELDS:
        field(back, f)
    lance = back["lance"]
    assert lance["sizes"] == {"sft_examples": 62, "dpo_pairs": 9}
    assert lance["seed"] == SEED and lance["generator"] == lance["judge"] == "results/iter0/sft_model"
    assert lance["config_hash"] == cards.config_hash(cards.made_config(CONFIG)) and lance["commit"] == "abc1234"
    assert lance["funnel"]["clean"] == {"in": 104, "out": 61}
    assert back["tags"] == ["lance", "self-evolution", "synthetic"] and back["size_categories"] == ["n<1K"]
    assert cards.data_card("spin/iter1", "spin", 1, sizes={"sft": 0, "dpo": 2}, seed=SEED, models=MODELS,
                           version=VERSION, config=CONFIG, stats={}, license="other")[0]["tags"][:3] == [
        "lance", "self-evolution", "spin"]
    assert back["configs"] == [{"config_name": "sft", "data_files": "sft.json"},
                               {"config_name": "dpo", "data_files": "dpo.json"}]
    assert "| clean | 104 | 61 |" in body and "./lance --configfile lance_config.yaml" in body
    # an empty set is no dataset config (the Hub's viewer cannot read an empty file)
    assert [c["config_name"] for c in data_card(sizes={"sft": 3, "dpo": 0})[0]["configs"]] == ["sft"]


def test_a_model_card_parses_back_with_every_field():
    front, text = cards.model_card("lance/iter1", "lance", 1, folder="model", train={"n_examples": 9},
                                   start_model="results/lance/iter1/sft_model", sizes={"sft": 62, "dpo": 9},
                                   seed=SEED, models=MODELS, version=VERSION, config=cards.made_config(CONFIG),
                                   stats=STATS, license="apache-2.0")
    back, _ = cards.parse(cards.render(front, text))
    for f in MODEL_FIELDS:
        field(back, f)
    assert back["base_model"] == "HuggingFaceTB/SmolLM2-135M-Instruct" and back["license"] == "apache-2.0"
    assert back["lance"]["stage"] == "dpo" and back["lance"]["training_examples"] == 9
    assert "dpo" in back["tags"] and "DPO of `results/lance/iter1/sft_model`" in text


@pytest.mark.parametrize("kind,missing", [("data", "lance.seed.sha256"), ("data", "size_categories"),
                                          ("model", "lance.training_examples"), ("model", "license")])
def test_a_card_without_a_required_field_is_refused(kind, missing):
    front = copy.deepcopy(data_card()[0]) if kind == "data" else cards.model_card(
        "iter0", None, 0, folder="sft_model", train={}, start_model="base", sizes={"sft": 1, "dpo": 0}, seed=SEED,
        models={"generator": None, "judge": None}, version=VERSION, config=cards.made_config(CONFIG), stats={},
        license="other")[0]
    *parents, last = missing.split(".")
    node = front
    for p in parents:
        node = node[p]
    del node[last]
    with pytest.raises(cards.CardError, match=missing.replace(".", r"\.")):
        cards.check_card(front, kind)


def test_the_config_hash_follows_the_config_and_only_what_made_the_data():
    made = cards.made_config(CONFIG)
    assert "export" not in made
    assert cards.config_hash(made) == cards.config_hash(json.loads(json.dumps(made, sort_keys=True)))
    changed = copy.deepcopy(CONFIG)
    changed["review"]["samples"] = 5
    assert cards.config_hash(cards.made_config(changed)) != cards.config_hash(made)
    pushed = {**CONFIG, "export": {"push": True, "repo": "a/b"}}
    assert cards.config_hash(cards.made_config(pushed)) == cards.config_hash(made)
    text = cards.config_yaml(made)
    assert yaml.safe_load(text) == made and cards.config_hash(made) in text.splitlines()[0]


def test_size_categories_are_the_hubs_buckets():
    assert [cards.size_category(n) for n in (0, 999, 1000, 99_999, 100_000, 2 * 10**9)] == [
        "n<1K", "n<1K", "1K<n<10K", "10K<n<100K", "100K<n<1M", "n>1B"]


def test_export_problems_name_their_key():
    config = {**CONFIG, "export": {"push": True, "methods": ["spin"], "iterations": [0, 3]}}
    problems = export.export_problems(config, {})
    assert any(p.startswith("export.methods: spin") for p in problems)
    assert any(p.startswith("export.iterations: 3") for p in problems)
    assert any(p.startswith("export.push") and "export.repo" in p for p in problems)
    assert any(p.startswith("export.push") and "HF_HUB_OFFLINE=0" in p for p in problems)
    ok = {**CONFIG, "export": {"push": True, "repo": "me/run", "iterations": [0, 2]}}
    assert export.export_problems(ok, {"HF_HUB_OFFLINE": "0"}) == []
    assert export.export_problems(ok, {"HF_HUB_OFFLINE": "1"}) != []


def _write(path, obj):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj) if not isinstance(obj, str) else obj)


def _canned_run(root):
    """results/ of a run with iters 1 (M_0 and LANCE's M_1), as the stages leave it."""
    _write(root / "data/seed/x.json", '[{"instruction": "a", "output": "b"}]')
    _write(root / "results/iter0/sft.json", [{"instruction": "a", "output": "b"}])
    _write(root / "results/iter0/dpo.json", [])
    _write(root / "results/iter0/stats/seed.json", {"records_in_file": 1, "kept": 1})
    d = root / "results/lance/iter1"
    _write(d / "sft.json", [{"instruction": "a", "output": "b"}] * 3)
    _write(d / "dpo.json", [{"instruction": "c", "chosen": "d", "rejected": "e"}])
    for stage, stats in STATS.items():
        _write(d / "stats" / f"{stage}.json", stats)
    for folder in ("results/iter0/sft_model", "results/lance/iter1/sft_model", "results/lance/iter1/model"):
        _write(root / folder / "config.json", {"model_type": "llama"})
        _write(root / folder / "model.safetensors", "weights")
        _write(root / folder / "lance_train.json", {"n_examples": 3})
        _write(root / folder / "README.md", "the trainer's own card")
        _write(root / folder / "checkpoint-2" / "optimizer.pt", "state")


def _script(name, job, settings, cwd, env):
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / f"{name}.py"), json.dumps(job), json.dumps(settings)],
                          cwd=cwd, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_export_stages_the_exact_folder_and_pushes_nothing(tmp_path):
    _canned_run(tmp_path)
    config = {**CONFIG, "iters": 1, "export": {"repo": "me/lance-run", "push": False, "license": "other"}}
    # huggingface_hub stands in as a package that fails on import: staging must not even load it
    fake = tmp_path / "fake_hub" / "huggingface_hub"
    _write(fake / "__init__.py", "raise ImportError('no network library may load while staging')")
    env = dict(os.environ, PYTHONPATH=f"{tmp_path / 'fake_hub'}{os.pathsep}{ROOT / 'src'}", HF_HUB_OFFLINE="1")
    settings = {"config": cards.made_config(config), "license": "other", "seed_path": "data/seed/x.json"}
    for run, folder, start in [("iter0", "data", None), ("iter0", "sft_model", "base"),
                               ("lance/iter1", "data", None), ("lance/iter1", "model", "results/lance/iter1/sft_model")]:
        d = f"results/{run}"
        inputs = {"sft": f"{d}/sft.json", "dpo": f"{d}/dpo.json", "seed": "data/seed/x.json",
                  "stats": [f"{d}/stats/seed.json"] if run == "iter0" else [f"{d}/stats/{s}.json" for s in STATS]}
        if folder != "data":
            inputs["model"] = f"{d}/{folder}"
        gen = None if run == "iter0" else "results/iter0/sft_model"
        _script("cards", {"input": inputs, "output": {"card": f"{d}/cards/{folder}/README.md",
                                                       "config": f"{d}/cards/{folder}/lance_config.yaml"},
                          "params": {"run": run, "folder": folder,
                                     "models": {"generator": gen, "judge": gen, "start": start}}},
                settings, tmp_path, env)
    plan = export.export_plan(config)
    assert plan["folder"] == "results/export/lance-run"
    _script("export", {"input": {}, "output": {"folder": plan["folder"], "manifest": plan["folder"] + ".json"}},
            {"plan": plan}, tmp_path, env)
    out = tmp_path / plan["folder"]
    tree = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    model_files = ["README.md", "config.json", "lance_config.yaml", "lance_train.json", "model.safetensors"]
    assert tree == sorted([
        "data/README.md", "data/lance_config.yaml",
        *[f"data/{run}/{f}" for run in ("iter0", "lance/iter1")
          for f in ("README.md", "dpo.json", "lance_config.yaml", "sft.json")],
        "model/README.md", "model/lance_config.yaml",
        *[f"model/{run}/{f}" for run in ("iter0", "lance/iter1") for f in model_files]])
    # the cards are ours (the trainer's README.md is replaced), and parse back
    front, _ = cards.parse((out / "model/lance/iter1/README.md").read_text())
    assert front["lance"]["run"] == "lance/iter1" and front["lance"]["stage"] == "dpo"
    assert front["lance"]["seed"]["sha256"] == hashlib.sha256((tmp_path / "data/seed/x.json").read_bytes()).hexdigest()
    assert front["lance"]["funnel"]["annotate"] == {"in": 61, "out": 39}
    data, _ = cards.parse((out / "data/README.md").read_text())
    assert [c["data_files"] for c in data["configs"]] == ["iter0/sft.json", "lance/iter1/sft.json", "lance/iter1/dpo.json"]
    assert set(data["lance"]["runs"]) == {"iter0", "lance/iter1"}
    assert yaml.safe_load((out / "model/lance_config.yaml").read_text()) == cards.made_config(config)
    assert (out / "data/lance/iter1/sft.json").read_bytes() == (tmp_path / "results/lance/iter1/sft.json").read_bytes()
    manifest = json.loads((tmp_path / (plan["folder"] + ".json")).read_text())
    assert manifest["pushed"] is False and manifest["commits"] == [] and sorted(manifest["files"]) == tree


class FakeApi:
    def __init__(self):
        self.calls = []

    def create_repo(self, repo, **kw):
        self.calls.append(("create", repo, kw["repo_type"], kw["private"]))

    def upload_folder(self, **kw):
        self.calls.append(("upload", kw["repo_id"], kw["repo_type"], Path(kw["folder_path"]).name))
        return f"https://huggingface.co/{kw['repo_id']}/commit/1"


def test_push_uploads_data_and_model_repositories_and_needs_a_token(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "model").mkdir()
    plan = {"repo": "me/run", "private": True}
    api = FakeApi()
    assert len(export.push(plan, tmp_path, {"HF_TOKEN": "t", "HF_HUB_OFFLINE": "0"}, api=api)) == 2
    assert api.calls == [("create", "me/run", "dataset", True), ("upload", "me/run", "dataset", "data"),
                         ("create", "me/run", "model", True), ("upload", "me/run", "model", "model")]
    with pytest.raises(RuntimeError, match="export.push.*HF_TOKEN"):
        export.push(plan, tmp_path, {"HF_HUB_OFFLINE": "0", "HOME": str(tmp_path),
                                     "LANCE_HUB_CACHE": str(tmp_path / "hub")}, api=FakeApi())
    with pytest.raises(RuntimeError, match="export.push.*HF_HUB_OFFLINE"):
        export.push(plan, tmp_path, {"HF_TOKEN": "t", "HF_HUB_OFFLINE": "1"}, api=FakeApi())
    (tmp_path / "token").write_text("saved\n")
    assert export.find_token({"LANCE_HUB_CACHE": str(tmp_path / "hub")}) == "saved"


def test_card_inputs_and_models_follow_the_method():
    paths = {"model": lambda t, m: f"M{t}:{m}", "sft_start": lambda wc: f"sft<-{wc.method}{wc.t}",
             "dpo_start": lambda wc: f"dpo<-{wc.method}{wc.t}", "base": lambda: "base"}
    assert export.card_models("lance/iter2", "model", paths) == {"generator": "M1:lance", "judge": "M1:lance",
                                                                 "start": "dpo<-lance2"}
    # SPIN reviews nothing: no judge
    assert export.card_models("spin/iter1", "model", paths)["judge"] is None
    assert export.card_models("iter0", "sft_model", paths) == {"generator": None, "judge": None, "start": "base"}
    assert export.card_inputs("spin/iter1", "s.json")["stats"] == ["results/spin/iter1/stats/generate.json",
                                                                   "results/spin/iter1/stats/annotate.json"]
    assert export.card_inputs("iter0", "s.json")["stats"] == ["results/iter0/stats/seed.json"]
    assert export.all_cards({**CONFIG, "iters": 1}) == [
        "results/iter0/cards/data/README.md", "results/iter0/cards/sft_model/README.md",
        "results/lance/iter1/cards/data/README.md", "results/lance/iter1/cards/sft_model/README.md",
        "results/lance/iter1/cards/model/README.md"]
