"""Eval config generation, summary parsing, answer extraction and the arithmetic benchmark.

Pure: nothing here imports OpenCompass (the generated config names its classes by dotted path).
"""

import ast
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lance_testing import ROOT
from lancekit.evaluation.arith import TEMPLATES, make_arith_items
from lancekit.evaluation.postprocess import last_number_postprocess
from lancekit.evaluation.registry import (
    BENCHMARK_GROUPS,
    BENCHMARKS,
    BenchmarkError,
    backend_of,
    check_benchmark_data,
    group_members,
    resolve_benchmarks,
)
from lancekit.evaluation.render import merged_vllm, render_eval_config
from lancekit.evaluation.summary import MissingBenchmarksError, find_summary_csv, parse_summary_csv, require_scores
from lancekit.evaluation.vllm_server import VLLMServer, VLLMServerError, free_port, server_argv, server_env

PAPER_BENCHMARKS = tuple(dict.fromkeys(BENCHMARK_GROUPS["leaderboard"] + BENCHMARK_GROUPS["maths"]))


def _specs(tmp_path):
    arith = tmp_path / "arith.jsonl"
    mc = tmp_path / "mc.jsonl"
    arith.write_text('{"question": "1+1?", "answer": 2}\n')
    mc.write_text('{"question": "q", "A": "a", "B": "b", "C": "c", "D": "d", "answer": "B"}\n')
    return resolve_benchmarks([{"name": "arith", "path": str(arith)}, {"name": "lance_mc", "path": str(mc)}])


def _exec_config(text):
    ns = {}
    exec(compile(text, "eval_config.py", "exec"), ns)  # only literals: no imports without built-ins
    return ns


def test_rendered_config_has_absolute_paths_and_model_settings(tmp_path):
    specs = _specs(tmp_path)
    settings = {"limit": 20, "max_out_len": 128, "batch_size": 4, "num_gpus": 0, "max_num_workers": 1}
    text = render_eval_config("/models/m", "smol", specs, settings)
    ast.parse(text)
    # embedded benchmarks only: nothing for mmengine to import
    assert not [line for line in text.splitlines() if line.startswith(("import ", "from "))]
    ns = _exec_config(text)
    (model,) = ns["models"]
    assert model["type"] == "lancekit.evaluation.models.LanceHFChatModel"
    assert model["path"] == "/models/m" and model["abbr"] == "smol"
    assert model["max_out_len"] == 128 and model["batch_size"] == 4
    assert model["run_cfg"] == {"num_gpus": 0}
    assert model["generation_kwargs"] == {"do_sample": False}
    assert model["model_kwargs"] == {"torch_dtype": "float32", "trust_remote_code": False}
    assert model["tokenizer_kwargs"] == {"trust_remote_code": False}
    ns = _exec_config(render_eval_config("/models/m", "smol", specs, settings, trust_remote_code=True))
    assert ns["models"][0]["model_kwargs"]["trust_remote_code"] is True
    arith, mc = ns["datasets"]
    assert arith["abbr"] == "arith" and arith["path"] == str(tmp_path / "arith.jsonl")
    assert mc["abbr"] == "lance_mc" and mc["path"] == str(tmp_path / "mc.jsonl")
    assert Path(arith["path"]).is_absolute() and Path(mc["path"]).is_absolute()
    assert arith["reader_cfg"]["test_range"] == "[0:20]" == mc["reader_cfg"]["test_range"]
    assert arith["eval_cfg"]["pred_postprocessor"]["type"] == "lancekit.evaluation.postprocess.last_number_postprocess"
    assert mc["eval_cfg"]["pred_postprocessor"] == {
        "type": "opencompass.utils.text_postprocessors.first_option_postprocess", "options": "ABCD"}
    assert mc["reader_cfg"]["input_columns"] == ["question", "A", "B", "C", "D"]
    prompt = arith["infer_cfg"]["prompt_template"]["template"]["round"][0]["prompt"]
    assert "The answer is" in prompt and "{question}" in prompt
    mc_prompt = mc["infer_cfg"]["prompt_template"]["template"]["round"][0]["prompt"]
    assert all("{" + k + "}" in mc_prompt for k in ("question", "A", "B", "C", "D"))


def test_no_limit_means_no_test_range(tmp_path):
    ns = _exec_config(render_eval_config("/m", "m", _specs(tmp_path), {}))
    assert all("test_range" not in d["reader_cfg"] for d in ns["datasets"])
    with pytest.raises(BenchmarkError):
        render_eval_config("/m", "m", _specs(tmp_path), {"limit": 0})
    with pytest.raises(BenchmarkError, match="unknown eval settings"):
        render_eval_config("/m", "m", _specs(tmp_path), {"max_tokens": 3})


def test_relative_paths_become_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (spec,) = resolve_benchmarks([{"name": "arith", "path": "a.jsonl"}])
    assert spec["path"] == str(tmp_path / "a.jsonl")
    text = render_eval_config("rel_model", "m", [spec], {})
    assert _exec_config(text)["models"][0]["path"] == str(tmp_path / "rel_model")


def test_builtin_benchmarks_import_their_opencompass_configs():
    specs = resolve_benchmarks(["gsm8k", "mmlu"])
    text = render_eval_config("/m", "m", specs, {"limit": 5})
    ast.parse(text)
    assert "with read_base():" in text
    assert "from opencompass.configs.datasets.gsm8k.gsm8k_gen_1d7fe4 import gsm8k_datasets" in text
    assert "from opencompass.configs.datasets.mmlu.mmlu_ppl_ac766d import mmlu_datasets" in text
    assert "test_range='[0:5]'" in text
    # all 57 subjects: the shipped list as it is, its score the plain mean over what ran
    assert "for d in mmlu_datasets]" in text and "if d['abbr'] in" not in text
    assert "summarizer = dict(summary_groups=[dict(name='mmlu', subsets=[d['abbr'] for d in bench_mmlu])])" in text


def _run_body(text: str, **lists) -> dict:
    """Execute a rendered config after its read_base block on stand-in dataset lists."""
    body = text.split("with read_base():")[1].split("\n\n", 1)[1] if "with read_base():" in text else text
    ns = dict(lists)
    exec(body, ns)
    return ns


def test_subsets_pick_datasets_and_make_the_score_their_mean():
    mgsm = [{"abbr": f"mgsm_{lang}", "reader_cfg": {}} for lang in ("bn", "de", "en", "es", "fr", "sw", "zh")]
    (spec,) = resolve_benchmarks(["mgsm"])
    assert spec["subsets"] == ["de", "fr", "sw", "es"]  # the paper's four columns, by default
    ns = _run_body(render_eval_config("/m", "m", [spec], {}), mgsm_datasets=mgsm)
    assert [d["abbr"] for d in ns["datasets"]] == ["mgsm_de", "mgsm_es", "mgsm_fr", "mgsm_sw"]
    assert ns["summarizer"]["summary_groups"] == [{"name": "mgsm", "subsets": ["mgsm_de", "mgsm_es", "mgsm_fr",
                                                                                "mgsm_sw"]}]
    (everything,) = resolve_benchmarks([{"name": "mgsm", "subsets": "all"}])
    assert len(everything["subsets"]) == 11
    mmlu = [{"abbr": f"lukaemon_mmlu_{s}", "reader_cfg": {}} for s in ("anatomy", "virology", "astronomy")]
    (two,) = resolve_benchmarks([{"name": "mmlu", "subsets": ["virology", "anatomy"]}])
    assert two["subsets"] == ["anatomy", "virology"]  # MMLU's order, whatever the request's
    ns = _run_body(render_eval_config("/m", "m", [two], {}, backend="ppl"), mmlu_datasets=mmlu)
    assert [d["abbr"] for d in ns["datasets"]] == ["lukaemon_mmlu_anatomy", "lukaemon_mmlu_virology"]
    for bad, message in ((["klingon"], "unknown subsets"), ([], "non-empty list"), ("de", "non-empty list")):
        with pytest.raises(BenchmarkError, match=message):
            resolve_benchmarks([{"name": "mgsm", "subsets": bad}])
    with pytest.raises(BenchmarkError, match="only applies to"):
        resolve_benchmarks([{"name": "gsm8k", "subsets": ["x"]}])


def test_data_checks_name_each_subsets_file(tmp_path):
    (spec,) = resolve_benchmarks([{"name": "mmlu", "subsets": ["anatomy", "virology"]}])
    for split in ("dev", "test"):
        (tmp_path / "data" / "mmlu" / split).mkdir(parents=True, exist_ok=True)
        (tmp_path / "data" / "mmlu" / split / f"anatomy_{split}.csv").write_text("q,a,b,c,d,A\n")
    problems = check_benchmark_data([spec], str(tmp_path))
    assert len(problems) == 2 and "data/mmlu/dev/virology_dev.csv" in problems[0]
    assert "data/mmlu/test/virology_test.csv" in problems[1]


def test_registry_covers_the_paper_benchmarks():
    assert set(PAPER_BENCHMARKS) <= set(BENCHMARKS)
    assert PAPER_BENCHMARKS == ("arc_c", "hellaswag", "mmlu", "truthfulqa", "gsm8k", "winogrande",
                                "math", "mgsm", "olympiadbench", "minerva_math")
    for name in PAPER_BENCHMARKS:
        b = BENCHMARKS[name]
        assert b.scoring in ("gen", "ppl") and b.row and b.shots
        assert not b.paper, f"{name} is the paper's setting: nothing says otherwise"
        if b.module:
            assert re.fullmatch(r"opencompass\.configs\.datasets\.\w+\.\w+_(gen|ppl|ll)(_[0-9a-f]{6})?", b.module), b.module
            assert b.variable.endswith("_datasets")
    # likelihood benchmarks (leaderboard style) vs generation
    assert {n for n in PAPER_BENCHMARKS if BENCHMARKS[n].scoring == "ppl"} == {
        "arc_c", "hellaswag", "mmlu", "truthfulqa", "winogrande"}


def test_groups_are_the_papers_averages():
    assert BENCHMARK_GROUPS["leaderboard"] == ("arc_c", "hellaswag", "mmlu", "truthfulqa", "gsm8k", "winogrande")
    assert BENCHMARK_GROUPS["maths"] == ("gsm8k", "math", "mgsm", "olympiadbench", "minerva_math")
    # MATH-500 stands in for MATH where only it ran
    assert group_members("maths", ["gsm8k", "math500", "mgsm"])[1] == "math500"
    assert group_members("maths", ["math", "math500"])[1] == "math"


def test_shot_counts_without_a_shipped_config_are_rendered():
    text = render_eval_config("/m", "m", resolve_benchmarks(["gsm8k"]), {"limit": 5})
    ns = _run_body(text, gsm8k_datasets=[{"abbr": "gsm8k", "reader_cfg": {}, "infer_cfg": {"old": 1}}])
    (gsm,) = ns["datasets"]
    assert gsm["reader_cfg"]["test_range"] == "[0:5]"
    icl = gsm["infer_cfg"]
    assert icl["retriever"]["fix_id_list"] == [0, 1, 2, 3, 4] and "old" not in icl
    assert icl["ice_template"]["template"]["round"][0]["prompt"] == "Question: {question}\nAnswer:"
    assert icl["ice_template"]["ice_token"] == "</E>"


def test_our_dataset_configs_read_the_staged_upstream_files(tmp_path, monkeypatch):
    monkeypatch.setenv("COMPASS_DATA_CACHE", str(tmp_path))
    specs = resolve_benchmarks(["arc_c", "winogrande", "olympiadbench", "math500", "minerva_math", "math"])
    assert not [line for line in render_eval_config("/m", "m", specs, {}).splitlines()
                if line.startswith(("from ", "with "))]  # nothing shipped with OpenCompass
    ns = _exec_config(render_eval_config("/m", "m", specs, {"limit": 3}))
    arc, wino, olympiad, math500, minerva, math = ns["datasets"]
    assert arc["type"] == wino["type"] == "lancekit.evaluation.choice_task.ChoiceDataset"
    assert arc["path"] == str(tmp_path / "data/ARC/ARC-c/ARC-Challenge-Test.jsonl")  # the test split...
    assert arc["train"] == str(tmp_path / "data/ARC/ARC-c/ARC-Challenge-Train.jsonl")  # ...shots from train
    assert (wino["fmt"], wino["path"], wino["train"]) == ("winogrande", str(tmp_path / "data/winogrande/dev.jsonl"),
                                                         str(tmp_path / "data/winogrande/train_xs.jsonl"))
    assert arc["infer_cfg"]["inferencer"]["type"] == "lancekit.evaluation.choice_task.ChoiceInferencer"
    assert olympiad["type"] == "lancekit.evaluation.maths_task.OlympiadBenchDataset"
    assert olympiad["path"] == str(tmp_path / "data/olympiadbench/test.jsonl")
    assert olympiad["reader_cfg"] == {"input_columns": ["problem"], "output_column": "answer", "test_range": "[0:3]"}
    for d, rel in ((math500, "data/math500/test.jsonl"), (minerva, "data/minerva_math/test.jsonl"),
                   (math, "data/math/test.jsonl")):
        assert d["path"] == str(tmp_path / rel) and d["reader_cfg"]["output_column"] == "solution"
        assert d["eval_cfg"]["evaluator"]["type"] == "opencompass.evaluator.MATHVerifyEvaluator"
        prompt = d["infer_cfg"]["prompt_template"]["template"]["round"][0]["prompt"]
        assert prompt.startswith("{problem}\n") and "\\boxed{}" in prompt


def test_provenance_says_how_and_whether_comparable():
    from lancekit.evaluation.measured import comparability, provenance

    (arc,) = resolve_benchmarks(["arc_c"])
    p = provenance(arc, "vllm", {"limit": None})
    assert p["backend"].startswith("transformers log-likelihood") and p["shots"].startswith("25")
    assert p["not_comparable"] == ""
    (mgsm,) = resolve_benchmarks([{"name": "mgsm", "subsets": ["de", "fr"]}])
    assert "2 of the 4 mgsm subsets" in comparability(mgsm, {})
    (m500,) = resolve_benchmarks(["math500"])
    assert "subset of the 5,000" in comparability(m500, {"limit": 4})
    assert "first 4 items" in comparability(m500, {"limit": 4})
    staged = {"arc_c": {"ARC/ARC-c/ARC-Challenge-Test.jsonl": {"records": 8, "expected": [1172], "complete": False}}}
    assert "staged with 8 of 1172 records" in comparability(arc, {}, staged)
    assert provenance(resolve_benchmarks(["gsm8k"])[0], "vllm", {})["backend"].startswith("vLLM")


def test_backends_route_likelihood_benchmarks_to_hf():
    assert backend_of("gsm8k", "vllm") == "vllm" and backend_of("arith", "vllm") == "vllm"
    assert backend_of("gsm8k", "hf") == "hf"
    assert backend_of("mmlu", "vllm") == "ppl" == backend_of("winogrande", "hf")
    with pytest.raises(BenchmarkError):
        backend_of("gsm8k", "tgi")


def test_vllm_model_is_greedy_openai_api_on_the_served_name(tmp_path):
    specs = _specs(tmp_path)
    text = render_eval_config("/models/m", "smol", specs, {"max_out_len": 64}, backend="vllm",
                              api_base="http://127.0.0.1:9/v1", concurrency=128)
    (model,) = _exec_config(text)["models"]
    assert model["type"] == "lancekit.evaluation.models.LanceOpenAIModel"
    assert model["path"] == "smol" and model["tokenizer_path"] == "/models/m"
    assert model["openai_api_base"] == "http://127.0.0.1:9/v1"
    assert model["key"] == "ENV"  # the server's per-run key, from $OPENAI_API_KEY: never in the file
    assert model["temperature"] == 0.0 and model["max_out_len"] == 64
    assert model["batch_size"] == 128 == model["max_workers"] and model["query_per_second"] >= 1000
    assert model["trust_remote_code"] is False
    with pytest.raises(BenchmarkError):
        render_eval_config("/models/m", "smol", specs, {}, backend="vllm")
    (ppl,) = _exec_config(render_eval_config("/models/m", "smol", specs, {}, backend="ppl"))["models"]
    assert ppl["type"] == "lancekit.evaluation.models.LanceHFBaseModel" and "generation_kwargs" not in ppl


def test_vllm_server_command_and_env():
    vllm = merged_vllm({"kvcache_gib": 3})
    argv = server_argv("/py", "/models/m", "smol", 1234, vllm, dtype="float32", max_model_len=2048)
    assert argv[:3] == ["/py", "-m", "vllm.entrypoints.openai.api_server"]
    assert argv[argv.index("--host") + 1] == "127.0.0.1" and argv[argv.index("--port") + 1] == "1234"
    assert argv[argv.index("--dtype") + 1] == "float32" and "--enforce-eager" in argv
    assert "--trust-remote-code" not in argv
    gpu = server_argv("/py", "/m", "s", 1, {**vllm, "dtype": "bfloat16"}, dtype="float32", max_model_len=8,
                      trust_remote_code=True, on_gpu=True)
    assert "--trust-remote-code" in gpu and "--enforce-eager" not in gpu
    assert gpu[gpu.index("--dtype") + 1] == "bfloat16"
    env = server_env({"PYTHONPATH": "x", "OMP_NUM_THREADS": "1"}, vllm)
    assert env["VLLM_CPU_KVCACHE_SPACE"] == "3" and env["VLLM_USE_V2_MODEL_RUNNER"] == "0"
    assert env["HF_HUB_OFFLINE"] == "1" and "PYTHONPATH" not in env and "OMP_NUM_THREADS" not in env
    assert "VLLM_CPU_KVCACHE_SPACE" not in server_env({}, vllm, on_gpu=True)
    with pytest.raises(BenchmarkError):
        merged_vllm({"kv": 1})


def test_a_vllm_server_that_dies_is_reported_with_its_log(tmp_path):
    argv = [sys.executable, "-c", "import sys; print('boom: no such model'); sys.exit(3)"]
    server = VLLMServer(argv, dict(os.environ), tmp_path / "server.log", free_port(), startup_timeout=30)
    with pytest.raises(VLLMServerError) as e:
        server.start()
    assert "status 3" in str(e.value) and str(tmp_path / "server.log") in str(e.value)
    assert "boom: no such model" in str(e.value)


def test_a_vllm_server_is_stopped_with_its_process_group(tmp_path):
    # a stand-in server: answers /v1/models, and has a child process of its own
    script = tmp_path / "srv.py"
    script.write_text(
        "import http.server, subprocess, sys\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)'])\n"
        "open(sys.argv[2], 'w').write(str(child.pid))\n"
        "class H(http.server.BaseHTTPRequestHandler):\n"
        "    def do_GET(self):\n"
        "        self.send_response(200); self.end_headers(); self.wfile.write(b'{}')\n"
        "http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()\n")
    port = free_port()
    with VLLMServer([sys.executable, str(script), str(port), str(tmp_path / "child")], dict(os.environ),
                    tmp_path / "s.log", port, startup_timeout=60) as server:
        assert server.api_base == f"http://127.0.0.1:{port}/v1"
        pids = [server.proc.pid, int((tmp_path / "child").read_text())]
    time.sleep(0.5)
    assert not [pid for pid in pids if _alive(pid)]


def _alive(pid):
    """Running (a killed child whose parent died stays a zombie until init reaps it)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def test_missing_data_fails_early_with_the_fix(tmp_path):
    specs = resolve_benchmarks(["gsm8k", {"name": "arith", "path": str(tmp_path / "none.jsonl")}])
    problems = check_benchmark_data(specs, str(tmp_path))
    assert any(p.startswith(f"benchmark gsm8k needs the folder {tmp_path}/data/gsm8k ($COMPASS_DATA_CACHE/data/gsm8k")
               and "stage it by" in p for p in problems)
    assert any("none.jsonl" in p for p in problems)
    (tmp_path / "data" / "gsm8k").mkdir(parents=True)
    assert check_benchmark_data(resolve_benchmarks(["gsm8k"]), str(tmp_path)) == []
    assert "COMPASS_DATA_CACHE is not set" in check_benchmark_data(resolve_benchmarks(["gsm8k"]), None)[0]


def test_resolve_rejects_unknown_and_duplicates():
    with pytest.raises(BenchmarkError, match="unknown benchmark 'nope'"):
        resolve_benchmarks(["nope"])
    with pytest.raises(BenchmarkError, match="twice"):
        resolve_benchmarks(["gsm8k", "gsm8k"])
    with pytest.raises(BenchmarkError, match="needs a 'path'"):
        resolve_benchmarks(["arith"])
    with pytest.raises(BenchmarkError, match="needs a 'path'"):
        resolve_benchmarks(["lance_mc"])  # the workflow always names the file (eval.mc_path)


# Layout of the real file: <work_dir>/<ts>/summary/summary_<ts>.csv as OpenCompass 0.5.4 wrote it
# for the embedded benchmarks (header: dataset,version,metric,mode,<model abbr>; '-' = no score).
REAL_HEADER = "dataset,version,metric,mode,smollm2-135m"


def _write_summary(tmp_path, rows, header=REAL_HEADER):
    run = tmp_path / "20261125_110330"
    (run / "summary").mkdir(parents=True)
    path = run / "summary" / "summary_20261125_110330.csv"
    path.write_text("\n".join([header] + rows) + "\n")
    return run, path


def test_parse_summary_csv_reads_scores_and_missing(tmp_path):
    run, path = _write_summary(tmp_path, ["arith,3a1ce2,accuracy,gen,15.00",
                                          "lance_mc,-,-,-,-"])
    assert find_summary_csv(run) == path
    parsed = parse_summary_csv(path)
    assert parsed["arith"] == 15.0 and parsed["lance_mc"] is None
    assert parsed["arith/accuracy"] == 15.0
    assert require_scores(parsed, ["arith"], path) == {"arith": 15.0}
    with pytest.raises(MissingBenchmarksError) as err:
        require_scores(parsed, ["arith", "lance_mc", "gsm8k"], path)
    assert err.value.missing == ["lance_mc", "gsm8k"]
    assert "lance_mc, gsm8k" in str(err.value) and "logs" in str(err.value)


def test_parse_summary_csv_builtin_rows_and_model_columns(tmp_path):
    _, path = _write_summary(tmp_path, [
        "openai_humaneval,dcae0e,humaneval_pass@1,gen,1.22",
        "mmlu,-,naive_average,gen,25.10",
        "arc_c,1e0de5,accuracy,gen,30.00",
    ], header="dataset,version,metric,mode,a,b")
    with pytest.raises(ValueError, match="several model columns"):
        parse_summary_csv(path)
    parsed = parse_summary_csv(path, "a")
    assert require_scores(parsed, ["humaneval", "mmlu", "arc_c"], path) == {
        "humaneval": 1.22, "mmlu": 25.1, "arc_c": 30.0}
    with pytest.raises(ValueError, match="no column for model"):
        parse_summary_csv(path, "c")


def test_bad_summary_header_is_reported(tmp_path):
    _, path = _write_summary(tmp_path, ["x,y"], header="name,score")
    with pytest.raises(ValueError, match="unexpected summary header"):
        parse_summary_csv(path)
    with pytest.raises(FileNotFoundError, match="no summary CSV"):
        find_summary_csv(tmp_path / "nowhere")


@pytest.mark.parametrize("text,expected", [
    ("First 3 apples, then 4. The answer is 7.", "7"),
    ("The answer is 1,200 dollars. Later I checked 5 times.", "1200"),
    ("So 12 + 30 = 42", "42"),
    ("The answer is: $18.00", "18"),
    ("It is -5 degrees", "-5"),
    ("I earned 2.5 points.", "2.5"),
    ("no numbers here", ""),
    ("answer is 3. Actually the answer is 4.", "4"),
    # a model that runs on for hundreds of digits: compared as written, no overflow
    ("The answer is " + "9" * 400 + ".", "9" * 400),
    ("1" * 5000, ""),
    ("0.10 and then 7.50", "7.5"),
])
def test_last_number_postprocess(text, expected):
    assert last_number_postprocess(text) == expected


def test_arith_items_are_deterministic_and_prefix_stable():
    a = make_arith_items(60, 1234)
    assert a == make_arith_items(60, 1234)
    assert a[:25] == make_arith_items(25, 1234)
    assert a != make_arith_items(60, 4321)
    assert len({i["question"] for i in a}) == 60
    assert {i["kind"] for i in a} == set(TEMPLATES)
    assert all(isinstance(i["answer"], int) for i in a)


def test_arith_hand_checked_items():
    items = make_arith_items(12, 1234)
    by_q = {i["question"]: i["answer"] for i in items}
    assert by_q["There are 30 students in a school. 10% of them are new this year. How many is that?"] == 3
    assert by_q["At the market, Liam buys 6 bags of rice at $8 each and 5 paperback books at $6 each. "
                "How many dollars does Liam spend in total?"] == 78          # 6*8 + 5*6
    assert by_q["Farid buys 2 apples that cost $3 each and pays with a $10 bill. "
                "How much change, in dollars, does he get back?"] == 4       # 10 - 2*3
    assert by_q["Olga has 10 stickers. She gets 18 more, then gives 19 to a friend. After that, she "
                "doubles the number she has left. How many stickers does Olga have now?"] == 18  # (10+18-19)*2
    assert by_q["A bicycle costs $356. During a sale its price is reduced by 75%. "
                "What is the sale price in dollars?"] == 89                  # 356 * 25 / 100


def _nums(q):
    return [int(x) for x in re.findall(r"\d+", q)]


RECOMPUTE = {
    "shopping_change": lambda n: n[2] - n[0] * n[1],
    "shopping_total": lambda n: n[0] * n[1] + n[2] * n[3],
    "travel_distance": lambda n: n[0] * n[1],
    "travel_time": lambda n: n[0] // n[1],
    "travel_two_legs": lambda n: n[0] * n[1] + n[2] * n[3],
    "sharing_equal": lambda n: n[0] // n[1],
    "sharing_leftover": lambda n: n[0] % n[1],
    "percent_of": lambda n: n[0] * n[1] // 100,
    "discount": lambda n: n[0] * (100 - n[1]) // 100,
    "multi_step": None,
    "savings": lambda n: n[0] * n[1] - n[2],
    "rows_and_extra": lambda n: n[0] * n[1] + n[2] - n[3],
}


def test_arith_answers_recomputed_from_the_question_text():
    for item in make_arith_items(240, 7):
        q, n = item["question"], _nums(item["question"])
        if item["kind"] == "multi_step":
            mult = {"doubles": 2, "triples": 3, "quadruples": 4}[re.search(r"(doubles|triples|quadruples)", q).group(1)]
            expected = (n[0] + n[1] - n[2]) * mult
        else:
            expected = RECOMPUTE[item["kind"]](n)
            if item["kind"] in ("travel_time", "sharing_equal"):
                assert n[0] % n[1] == 0, q
            if item["kind"] in ("percent_of", "discount"):
                assert (n[0] * n[1]) % 100 == 0, q
        assert item["answer"] == expected, q
        assert item["answer"] >= 0, q
        assert last_number_postprocess(f"The answer is {item['answer']}.") == str(item["answer"])


def test_make_benchmarks_cli_writes_the_arith_items(tmp_path):
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps([{"prompt": "Write a haiku about rain.", "response": "Rain on the roof."}]))
    out, check = tmp_path / "arith.jsonl", tmp_path / "check.json"
    job = {"input": {"seed": str(seed), "mc": str(ROOT / "data" / "benchmarks" / "lance_mc.jsonl")},
           "output": {"arith": str(out), "check": str(check)}, "params": {"n": 15, "seed": 1234}}
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    subprocess.run([sys.executable, str(ROOT / "scripts" / "make_benchmarks.py"), json.dumps(job)],
                   check=True, capture_output=True, env=env)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 15 and all(set(r) == {"question", "answer"} for r in rows)
    assert rows == [{"question": i["question"], "answer": i["answer"]} for i in make_arith_items(15, 1234)]


def test_a_killed_evaluation_with_every_result_on_disk_needs_no_server(tmp_path):
    from lancekit.evaluation.opencompass import all_results_on_disk

    specs = _specs(tmp_path) + resolve_benchmarks(["gsm8k"])
    res = tmp_path / "run" / "results" / "m"
    res.mkdir(parents=True)
    for name in ("arith", "lance_mc"):
        (res / f"{name}.json").write_text("{}")
    assert not all_results_on_disk(tmp_path / "run", "m", specs)  # gsm8k's result is missing
    (res / "gsm8k.json").write_text("{}")
    assert all_results_on_disk(tmp_path / "run", "m", specs)
    assert not all_results_on_disk(tmp_path / "run", "m", resolve_benchmarks(["mmlu"]))  # several datasets


def test_an_evaluation_reuses_its_run_folder_only_for_the_same_model_config_data_and_code(tmp_path):
    """A rerun for a fix in the evaluation code or a changed benchmark file under the same path
    must not go on with --reuse in the old run folder (OpenCompass would skip every finished
    task and the old scores would come back)."""
    from lancekit.evaluation.opencompass import reusable_run
    from lancekit.evaluation.registry import data_fingerprint

    mc = tmp_path / "lance_mc.jsonl"
    mc.write_text('{"q": 1}\n')
    cache = tmp_path / "cache"
    (cache / "data" / "gsm8k").mkdir(parents=True)
    (cache / "data" / "gsm8k" / "test.jsonl").write_text("a\n")
    specs = [{"name": "lance_mc", "path": str(mc)}, {"name": "gsm8k"}]
    before = data_fingerprint(specs, str(cache))
    assert data_fingerprint(specs, str(cache)) == before
    time.sleep(0.01)
    mc.write_text('{"q": 2}\n')                                   # an edited shipped benchmark
    edited_mc = data_fingerprint(specs, str(cache))
    (cache / "data" / "gsm8k" / "test.jsonl").write_text("ab\n")  # a restaged upstream file
    assert len({before, edited_mc, data_fingerprint(specs, str(cache))}) == 3

    model = tmp_path / "model"
    model.mkdir()
    work = tmp_path / "eval"
    work.mkdir()
    assert reusable_run(work, "config\ndata A\ncode 1", str(model)) is None
    (work / "20260101_000000").mkdir()                            # the killed run's folder
    assert reusable_run(work, "config\ndata A\ncode 1", str(model)) == work / "20260101_000000"
    assert reusable_run(work, "config\ndata A\ncode 2", str(model)) is None
    assert not (work / "20260101_000000").exists()
