"""The evaluation paths beyond the embedded benchmarks, on the real OpenCompass and the converted
default model of the shared run: TruthfulQA mc2 (our likelihood dataset in OpenCompass, on the
HF base-model backend) recomputed by a plain transformers forward pass, and the vLLM backend's
prompts in the HF chat path's form."""

import json
import os
import shutil
import subprocess

import pytest

from lancekit.evaluation.truthfulqa import load_items
from workflow import ROOT, load, opencompass_python

FIXTURE = ROOT / "tests/data/truthfulqa_mc_task.json"

# run in the opencompass env: the pipeline's evaluate(), then each choice's log-probability again,
# one unpadded sequence at a time, straight from transformers
SCRIPT = r"""
import json, sys, torch
from transformers import AutoModelForCausalLM, AutoTokenizer
from lancekit.evaluation.opencompass import evaluate
from lancekit.evaluation.truthfulqa import PROMPT, continuation, load_items, mc2_score

model, work, fixture = sys.argv[1:4]
summary = evaluate(model, "tqa", ["truthfulqa"], {"max_out_len": 8}, work, work + "/summary.json")
tok = AutoTokenizer.from_pretrained(model)
lm = AutoModelForCausalLM.from_pretrained(model, dtype=torch.float32)
plain = []
for item in load_items(fixture):
    ctx = tok(PROMPT.replace("{question}", item["question"]))["input_ids"]
    lps = []
    for choice in item["choices"]:
        cont = tok(continuation(choice), add_special_tokens=False)["input_ids"]
        with torch.no_grad():
            logp = torch.log_softmax(lm(torch.tensor([ctx + cont])).logits[0].float(), -1)
        lps.append(sum(logp[len(ctx) - 1 + j, t].item() for j, t in enumerate(cont)))
    plain.append({"logprobs": lps, "mc2": mc2_score(lps, item["labels"])})
print("RESULT " + json.dumps({"summary": summary, "plain": plain}))
"""


def test_truthfulqa_mc2_in_opencompass_equals_a_plain_forward_pass(run, tmp_path):
    data = tmp_path / "cache/data/truthfulqa"
    data.mkdir(parents=True)
    shutil.copy(FIXTURE, data / "mc_task.json")
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), COMPASS_DATA_CACHE=str(tmp_path / "cache"),
               HF_HUB_OFFLINE="1")
    out = subprocess.run([opencompass_python(), "-c", SCRIPT, str(run / "base_model"), str(tmp_path / "work"),
                          str(FIXTURE)], cwd=tmp_path, env=env, text=True, capture_output=True)
    assert out.returncode == 0, (out.stdout + out.stderr)[-5000:]
    res = json.loads(out.stdout.split("RESULT ", 1)[1])
    summary, plain = res["summary"], res["plain"]
    assert summary["n_items"] == {"truthfulqa": 3} and summary["runs"]["ppl"]["benchmarks"] == ["truthfulqa"]
    items = summary["items"]["truthfulqa"]["scores"]
    assert items == pytest.approx([p["mc2"] for p in plain], abs=1e-4)
    assert summary["scores"]["truthfulqa"] == pytest.approx(100 * sum(items) / 3, abs=0.006)  # the CSV has 2 decimals
    # a score that says something: the questions do not all end at 0 or 1
    assert any(0.05 < s < 0.95 for s in items), items
    # the batched, padded log-probabilities of every choice are the unpadded ones
    predictions = load(next((tmp_path / "work").glob("*/predictions/tqa/truthfulqa.json")))
    choices = [len(i["choices"]) for i in load_items(FIXTURE)]
    for i, p in enumerate(plain):
        assert len(predictions[str(i)]["logprobs"]) == choices[i]
        assert predictions[str(i)]["logprobs"] == pytest.approx(p["logprobs"], abs=2e-3)
        assert len(set(round(x, 3) for x in p["logprobs"])) == choices[i]


def test_vllm_backend_sends_the_hf_chat_paths_messages(run):
    """The HF chat model's template parser ends a dataset's HUMAN turn with a newline; the vLLM
    backend must send that same message (without it, 16 of 200 items scored differently)."""
    predictions = next((run / "lance/iter1/eval/opencompass").glob("*/predictions/*/lance_mc.json"))
    first = load(predictions)["0"]["origin_prompt"]
    assert isinstance(first, list) and len(first) == 1 and first[0]["role"] == "HUMAN", first
    assert first[0]["prompt"].startswith("Answer the following multiple-choice question")
    assert first[0]["prompt"].endswith("D. " + load_mc_first_option_d() + "\n")


def load_mc_first_option_d() -> str:
    with open(ROOT / "data/benchmarks/lance_mc.jsonl") as f:
        return json.loads(f.readline())["D"]
