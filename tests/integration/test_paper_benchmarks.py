"""The paper's benchmarks on real data: the vendored slices (tests/data/benchmarks) staged as they
come upstream, then scored by the real OpenCompass on the converted default model of the shared
run, both backends (vLLM for generation, HF log-likelihood for the choice benchmarks). The
likelihood picks of ARC and WinoGrande are recomputed by a plain transformers forward pass, and
every likelihood item is scored again on the vLLM server's prompt log-probabilities
(eval.likelihood: vllm) and compared option by option."""

import json
import os
import re
import subprocess

import pytest

from lancekit.evaluation.choice import arc_items, pick, winogrande_items
from lancekit.evaluation.staging import stage
from workflow import ROOT, load, opencompass_python

SLICES = ROOT / "tests/data/benchmarks"
BENCHMARKS = ["arc_c", {"name": "mmlu", "subsets": ["abstract_algebra", "high_school_geography"]}, "truthfulqa",
              "gsm8k", "winogrande", "mgsm", "olympiadbench", "minerva_math", "math500"]
LIKELIHOOD = ["arc_c", "mmlu", "truthfulqa", "winogrande"]
ITEMS = {"arc_c": 8, "mmlu": 8, "truthfulqa": 6, "gsm8k": 8, "winogrande": 8, "mgsm": 24, "olympiadbench": 4,
         "minerva_math": 4, "math500": 4}

SCRIPT = r"""
import json, sys, torch
from transformers import AutoModelForCausalLM, AutoTokenizer
from lancekit.evaluation.opencompass import evaluate

model, work, requests, recompute = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), json.loads(sys.argv[4])
summary = evaluate(model, "paper", requests, {"max_out_len": 96, "batch_size": 8}, work, work + "/summary.json",
                   backend="vllm", vllm={"in_process": True})
# the likelihood benchmarks again, on the vLLM server's prompt log-probabilities (eval.likelihood: vllm)
likelihood = [r for r in requests if (r if isinstance(r, str) else r["name"]) in json.loads(sys.argv[5])]
on_vllm = evaluate(model, "paper", likelihood, {"max_out_len": 96, "batch_size": 8}, work + "-vllm",
                   work + "-vllm/summary.json", backend="vllm", likelihood="vllm", vllm={"in_process": True})
tok = AutoTokenizer.from_pretrained(model)
lm = AutoModelForCausalLM.from_pretrained(model, dtype=torch.float32)
plain = {}
for name, items in recompute.items():
    plain[name] = []
    for item in items:
        lps = []
        for ctx, cont in item["options"]:
            c, k = tok(ctx)["input_ids"], tok(cont, add_special_tokens=False)["input_ids"]
            with torch.no_grad():
                logp = torch.log_softmax(lm(torch.tensor([c + k])).logits[0].float(), -1)
            lps.append(sum(logp[len(c) - 1 + j, t].item() for j, t in enumerate(k)))
        plain[name].append(lps)
print("RESULT " + json.dumps({"summary": summary, "plain": plain, "on_vllm": on_vllm}))
"""


def test_the_papers_benchmarks_score_the_staged_upstream_slices(run, tmp_path):
    cache = tmp_path / "cache"
    staged = stage(SLICES, cache, BENCHMARKS)
    (cache / "lance_staging.json").write_text(json.dumps({"benchmarks": staged}))
    data = cache / "data"
    recompute = {"arc_c": arc_items(data / "ARC/ARC-c/ARC-Challenge-Test.jsonl",
                                    data / "ARC/ARC-c/ARC-Challenge-Train.jsonl")[:3],
                 "winogrande": winogrande_items(data / "winogrande/dev.jsonl", data / "winogrande/train_xs.jsonl")[:3]}
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), COMPASS_DATA_CACHE=str(cache), HF_HUB_OFFLINE="1")
    out = subprocess.run([opencompass_python(), "-c", SCRIPT, str(run / "base_model"), str(tmp_path / "work"),
                          json.dumps(BENCHMARKS), json.dumps(recompute), json.dumps(LIKELIHOOD)],
                         cwd=tmp_path, env=env, text=True, capture_output=True)
    assert out.returncode == 0, (out.stdout + out.stderr)[-6000:]
    res = json.loads(out.stdout.split("RESULT ", 1)[1])
    summary, plain = res["summary"], res["plain"]
    # every benchmark scored every staged item, on the backend its scoring needs
    assert summary["n_items"] == ITEMS
    assert sorted(summary["runs"]["ppl"]["benchmarks"]) == LIKELIHOOD
    assert sorted(summary["runs"]["vllm"]["benchmarks"]) == ["gsm8k", "math500", "mgsm", "minerva_math",
                                                             "olympiadbench"]
    for name, n in ITEMS.items():
        assert len(summary["items"][name]["scores"]) == n, name
        assert 0 <= summary["scores"][name] <= 100
    # MGSM: the paper's four languages, its score their plain mean
    mgsm = summary["items"]["mgsm"]
    assert sorted(mgsm["datasets"]) == ["mgsm_de", "mgsm_es", "mgsm_fr", "mgsm_sw"]
    per = [100 * sum(mgsm["scores"][6 * k:6 * k + 6]) / 6 for k in range(4)]
    assert summary["scores"]["mgsm"] == pytest.approx(sum(per) / 4, abs=0.01)
    # each score says how it was measured, and that slices are not the paper's sets
    prov = summary["provenance"]
    assert prov["arc_c"]["shots"].startswith("25") and prov["arc_c"]["backend"].startswith("transformers")
    assert "ARC/ARC-c/ARC-Challenge-Test.jsonl staged with 8 of 1172 records" in prov["arc_c"]["not_comparable"]
    assert "2 of the 57 mmlu subsets" in prov["mmlu"]["not_comparable"]
    assert prov["gsm8k"]["backend"].startswith("vLLM") and summary["versions"]["opencompass"] == "0.5.4"
    assert summary["versions"].get("vllm")
    # the likelihood picks are those of a plain, unbatched forward pass
    for name in ("arc_c", "winogrande"):
        predictions = load(next((tmp_path / "work").glob(f"ppl/*/predictions/paper/{name}.json")))
        for i, lps in enumerate(plain[name]):
            got = predictions[str(i)]
            assert len(got["logprobs"]) == len(recompute[name][i]["options"])
            assert got["logprobs"] == pytest.approx(lps, abs=2e-3)
            assert got["prediction"] == pick(lps, [o[1] for o in recompute[name][i]["options"]],
                                             recompute[name][i]["norm"])
            assert summary["items"][name]["scores"][i] == float(got["prediction"] == recompute[name][i]["gold"])
    # generation: the model's answers were read and checked, not empty
    gen = load(next((tmp_path / "work").glob("vllm/*/predictions/paper/gsm8k.json")))
    assert all(len(p["prediction"]) > 20 for p in gen.values()), [p["prediction"] for p in gen.values()]
    # eval.likelihood: vllm: the same items, every option's number and every choice the same
    on_vllm = res["on_vllm"]
    assert list(on_vllm["runs"]) == ["vllm-ppl"] and sorted(on_vllm["runs"]["vllm-ppl"]["benchmarks"]) == LIKELIHOOD
    assert on_vllm["server_start_s"] > 0 and on_vllm["provenance"]["mmlu"]["backend"].startswith("vLLM prompt")
    compared = 0
    for path in sorted((tmp_path / "work").glob("ppl/*/predictions/paper/*.json")):
        hf_items = load(path)
        vl_items = load(next((tmp_path / "work-vllm").glob(f"*/predictions/paper/{path.name}")))
        assert sorted(hf_items) == sorted(vl_items), path.name
        for k, a in hf_items.items():
            b = vl_items[k]
            if "logprobs" in a:  # ours: summed log-likelihoods, the pick (or mc2) from them
                assert b["logprobs"] == pytest.approx(a["logprobs"], abs=2e-3), (path.name, k)
                assert b["prediction"] == pytest.approx(a["prediction"], abs=1e-3), (path.name, k)
            else:  # OpenCompass's PPL inferencer: one mean NLL per label, the lowest picked
                labels = sorted(x for x in a if x.startswith("label:"))
                assert [b[x]["PPL"] for x in labels] == pytest.approx([a[x]["PPL"] for x in labels], abs=1e-4)
                assert b["prediction"] == a["prediction"], (path.name, k)
            compared += 1
    assert compared == sum(ITEMS[b] for b in LIKELIHOOD)
    # MMLU's options differ in the answer letter alone: each item's four were one request
    served = re.findall(r"likelihood on vLLM: (\d+) of (\d+) options served by their item's shared prefix "
                        r"\((\d+) requests\)", (tmp_path / "work-vllm" / "opencompass_paper.log").read_text())
    totals = [sum(int(line[k]) for line in served) for k in range(3)]  # one line per subject
    assert len(served) == 2 and totals == [4 * ITEMS["mmlu"], 4 * ITEMS["mmlu"], ITEMS["mmlu"]], served
    for name in LIKELIHOOD:
        assert on_vllm["items"][name]["scores"] == pytest.approx(summary["items"][name]["scores"], abs=1e-3), name
