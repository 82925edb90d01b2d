"""OpenCompass eval configs and summaries, as plain Python (no OpenCompass import here).

- `BENCHMARKS`: the benchmark registry. Two embedded benchmarks that ship with the project and
  run offline (`arith`: number answers, `lance_mc`: A-D multiple choice) and the paper's
  OpenCompass benchmarks (gsm8k, math, mmlu, arc_c, hellaswag, truthfulqa, bbh, humaneval, ceval,
  cmmlu), each with the dataset-config module of `opencompass==0.5.4`, the data it reads and the
  summary row that holds its score.
- `resolve_benchmarks` / `check_benchmark_data`: turn a request (names, or dicts with a path) into
  dataset specs and fail early, with the fix, when data are missing.
- `render_eval_config`: the config text for `opencompass <config.py> -w <work_dir>`.
- `parse_summary_csv` / `require_scores`: read `<work_dir>/<ts>/summary/summary_<ts>.csv` and
  fail loudly on missing rows (OpenCompass exits 0 even when a task failed).
"""

from __future__ import annotations

import csv
import os
import pprint
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import truthfulqa

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_MC_PATH = REPO_ROOT / "data" / "benchmarks" / "lance_mc.jsonl"
MODEL_CLASS = "lancekit.oc_model.LanceHFChatModel"
NUMBER_POSTPROCESS = "lancekit.oc_eval_utils.last_number_postprocess"

NUMBER_PROMPT = (
    "Solve the following math word problem. Think step by step, then give the final answer as a "
    "single number on the last line, in the form 'The answer is N.'\n\n"
    "Question: {question}"
)
MC_PROMPT = (
    "Answer the following multiple-choice question. Reply with the letter of the correct option "
    "(A, B, C or D) in the form 'The answer is X.'\n\n"
    "Question: {question}\nA. {A}\nB. {B}\nC. {C}\nD. {D}"
)

DEFAULT_SETTINGS: dict[str, Any] = {
    "max_out_len": 256,       # new tokens per answer
    "max_seq_len": 2048,      # prompt + answer, tokens
    "batch_size": 8,
    "num_gpus": 0,            # 0 on CPU (OpenCompass asserts otherwise), 1 on one GPU
    "max_num_workers": 1,     # parallel OpenCompass tasks; each loads its own model copy
    "limit": None,            # first N items of every dataset (tests); None = all
    "dtype": "float32",       # float32 on CPU; bfloat16/float16 on GPU
    "generation_kwargs": {"do_sample": False},  # greedy
    # torch/OpenMP threads of each task process (OMP_NUM_THREADS, set by scripts/evaluate.py);
    # None keeps the environment's. On a shared 2-core box 1 thread was ~10x faster than 2.
    "num_threads": None,
}

STAGE_HINT = (
    "stage it by running OpenCompass once with the same benchmark on a machine with internet "
    "access and COMPASS_DATA_CACHE set (it downloads and unpacks the archive into "
    "$COMPASS_DATA_CACHE/data/), then copy that folder to the same place here"
)


@dataclass(frozen=True)
class Benchmark:
    name: str
    # "number" | "mc" (embedded jsonl) | "opencompass" (built-in dataset config) | "minerva" |
    # "truthfulqa_mc2" (our dataset configs of a file under $COMPASS_DATA_CACHE: CACHE_FILE_DATASETS)
    kind: str
    description: str = ""
    # how OpenCompass scores it: "gen" (the model writes an answer: GenInferencer; runs on the
    # eval backend, vLLM by default) or "ppl" (likelihood of each option: PPL/LL inferencers;
    # always the HF backend, as a base model without chat template)
    mode: str = "gen"
    # built-in OpenCompass benchmarks
    module: str = ""                 # dataset config module, imported inside read_base()
    variable: str = ""               # list of dataset dicts it defines
    data: tuple[str, ...] = ()       # paths relative to $COMPASS_DATA_CACHE that must exist
    summary_row: str = ""            # `dataset` column of the summary CSV holding the score
    summary_groups: tuple[str, str] | None = None  # (module, variable) defining summary_row
    dataset_prefix: str = ""         # dataset abbrs (for item counts) start with this
    requires: str = ""               # what else it needs offline (packages, caches)
    # expression over one dataset dict `d` of `variable` giving the dict to run (a shot count
    # that has no shipped config); "" = as shipped
    transform: str = ""
    stage: str = ""                  # how to stage its data offline (added to STAGE_HINT)

    @property
    def row(self) -> str:
        return self.summary_row or self.name

    @property
    def multi(self) -> bool:
        """Made of several OpenCompass datasets (MMLU subjects, MGSM languages)."""
        return bool(self.summary_groups)


def _oc(name, module, variable, data, summary_row, description, *, groups=None, prefix="", requires="",
        mode="gen", transform="", stage=""):
    return Benchmark(name=name, kind="opencompass", description=description, mode=mode,
                     module=f"opencompass.configs.datasets.{module}", variable=variable,
                     data=tuple(data), summary_row=summary_row,
                     summary_groups=(f"opencompass.configs.summarizers.groups.{groups}",
                                     f"{groups}_summary_groups") if groups else None,
                     dataset_prefix=prefix or summary_row, requires=requires, transform=transform,
                     stage=stage)


_PT = "opencompass.openicl.icl_prompt_template.PromptTemplate"
_FIXK = "opencompass.openicl.icl_retriever.FixKRetriever"
_GEN = "opencompass.openicl.icl_inferencer.GenInferencer"
# ARC-Challenge 25-shot (Open LLM Leaderboard v1): the shipped 5-shot ppl config
# (ARC_c_few_shot_ppl: FixKRetriever over the dev file itself) with 25 fixed examples
ARC_25SHOT = ("dict(d, infer_cfg=dict(d['infer_cfg'], retriever=dict(d['infer_cfg']['retriever'], "
              "fix_id_list=list(range(25)))))")
# GSM8K 5-shot (leaderboard v1 style): the first 5 train problems with their worked answers
# ('#### N') as chat turns, then the test question; scored by the shipped Gsm8kEvaluator
GSM8K_5SHOT = ("dict(d, infer_cfg=dict("
               f"ice_template=dict(type={_PT!r}, template=dict(begin='</E>', round=["
               "dict(role='HUMAN', prompt='Question: {question}\\nAnswer:'), "
               "dict(role='BOT', prompt='{answer}\\n')]), ice_token='</E>'), "
               f"retriever=dict(type={_FIXK!r}, fix_id_list=[0, 1, 2, 3, 4]), "
               f"inferencer=dict(type={_GEN!r}, max_out_len=512)))")
# Minerva Math (272 MIT OCW problems, Lewkowycz et al. 2022): no config ships with opencompass
# 0.5.4; a jsonl {problem, solution} (the Qwen2.5-Math evaluation copy) read by CustomDataset,
# MATH's 0-shot prompt and MATHVerifyEvaluator (it parses the \\boxed{} answer of `solution`)
MINERVA_FILE = "data/minerva_math/test.jsonl"
# TruthfulQA mc2: our dataset, inferencer and evaluator (lancekit.oc_truthfulqa), TruthfulQA's
# own mc_task.json
TRUTHFULQA_FILE = truthfulqa.DATA_FILE

BENCHMARKS: dict[str, Benchmark] = {
    "arith": Benchmark("arith", "number", "arithmetic word problems (lancekit.arith_bench), "
                       "exact match on the last number"),
    "lance_mc": Benchmark("lance_mc", "mc", "general-knowledge multiple choice A-D "
                          "(data/benchmarks/lance_mc.jsonl), exact match on the letter"),
    # --- Open LLM Leaderboard v1 (module names as shipped in opencompass==0.5.4)
    "arc_c": _oc("arc_c", "ARC_c.ARC_c_few_shot_ppl", "ARC_c_datasets",
                 ["data/ARC/ARC-c/ARC-Challenge-Dev.jsonl"], "ARC-c",
                 "ARC-Challenge dev, 25-shot, likelihood of each option (ARC_c_few_shot_ppl with 25 "
                 "fixed examples)", mode="ppl", transform=ARC_25SHOT),
    "hellaswag": _oc("hellaswag", "hellaswag.hellaswag_10shot_ppl_59c85e", "hellaswag_datasets",
                     ["data/hellaswag"], "hellaswag",
                     "HellaSwag val, 10-shot, likelihood of A-D (hellaswag_10shot_ppl_59c85e)", mode="ppl"),
    "mmlu": _oc("mmlu", "mmlu.mmlu_ppl_ac766d", "mmlu_datasets", ["data/mmlu"], "mmlu",
                "MMLU 57 subjects, 5-shot from dev, likelihood of A-D (mmlu_ppl_ac766d); score = "
                "mean over subjects", groups="mmlu", prefix="lukaemon_mmlu_", mode="ppl"),
    "truthfulqa": Benchmark("truthfulqa", "truthfulqa_mc2", "TruthfulQA mc2, 0-shot after the paper's "
                            "6-question QA primer: the likelihood mass on the true answers "
                            "(lancekit.truthfulqa; opencompass 0.5.4 ships only the generation "
                            "variant)", mode="ppl", data=(TRUTHFULQA_FILE,), summary_row="truthfulqa",
                            stage="copy data/mc_task.json of TruthfulQA (github.com/sylinrl/TruthfulQA) "
                                  f"to $COMPASS_DATA_CACHE/{TRUTHFULQA_FILE}"),
    "gsm8k": _oc("gsm8k", "gsm8k.gsm8k_gen_1d7fe4", "gsm8k_datasets", ["data/gsm8k"], "gsm8k",
                 "GSM8K test, 5-shot (first 5 train problems), exact match on the last number "
                 "(gsm8k_gen_1d7fe4 with a FixKRetriever)", transform=GSM8K_5SHOT),
    "winogrande": _oc("winogrande", "winogrande.winogrande_5shot_ll_252f01", "winogrande_datasets",
                      ["data/winogrande"], "winogrande",
                      "Winogrande dev, 5-shot, log-likelihood of the continuation "
                      "(winogrande_5shot_ll_252f01)", mode="ppl"),
    # --- maths suite
    "math": _oc("math", "math.math_gen_a58d9d", "math_datasets", ["data/math"], "math",
                "MATH test, 0-shot (math_gen_a58d9d, MATHVerifyEvaluator)",
                requires="python packages math-verify + latex2sympy2_extended (in envs/opencompass.txt)"),
    "mgsm": _oc("mgsm", "mgsm.mgsm_gen_d967bc", "mgsm_datasets", ["data/mgsm"], "mgsm",
                "MGSM 11 languages, 0-shot (mgsm_gen_d967bc); score = mean over languages",
                groups="mgsm", prefix="mgsm_"),
    "olympiadbench": _oc("olympiadbench", "OlympiadBench.OlympiadBench_0shot_gen_be8b13",
                         "olympiadbench_datasets", ["data/OlympiadBench"], "OlympiadBench",
                         "OlympiadBench, 5 text-only open-ended categories, 0-shot "
                         "(OlympiadBench_0shot_gen_be8b13); score = mean over categories",
                         groups="OlympiadBench", prefix="OlympiadBench_",
                         stage="the OlympiadBench folder has no download in opencompass 0.5.4: put "
                               "the category jsonl files of the OlympiadBench release there"),
    "minerva_math": Benchmark("minerva_math", "minerva", "Minerva Math (272 OCW problems), 0-shot, "
                              "MATH prompt, MATHVerifyEvaluator", data=(MINERVA_FILE,),
                              summary_row="minerva_math",
                              stage="no opencompass config or download exists: copy "
                                    "data/minerva_math/test.jsonl of the Qwen2.5-Math evaluation "
                                    "(github.com/QwenLM/Qwen2.5-Math, evaluation/data) to "
                                    "$COMPASS_DATA_CACHE/data/minerva_math/test.jsonl"),
    # --- other OpenCompass benchmarks (not in the paper's tables)
    "bbh": _oc("bbh", "bbh.bbh_gen", "bbh_datasets", ["data/BBH/data"], "bbh",
               "BIG-Bench Hard 27 tasks, 3-shot CoT (bbh_gen_ee62e9)", groups="bbh", prefix="bbh-"),
    "humaneval": _oc("humaneval", "humaneval.humaneval_gen", "humaneval_datasets",
                     ["data/humaneval/human-eval-v2-20210705.jsonl"], "openai_humaneval",
                     "HumanEval pass@1 (humaneval_openai_sample_evals_gen_dcae0e)",
                     requires="OpenAI's `human_eval` package with code execution enabled "
                              "(not in envs/opencompass.txt)"),
    "ceval": _oc("ceval", "ceval.ceval_gen", "ceval_datasets", ["data/ceval/formal_ceval"], "ceval",
                 "C-Eval val, 52 subjects (ceval_gen_5f30c7)", groups="ceval", prefix="ceval-"),
    "cmmlu": _oc("cmmlu", "cmmlu.cmmlu_gen", "cmmlu_datasets", ["data/cmmlu"], "cmmlu",
                 "CMMLU 67 subjects, 0-shot CoT (cmmlu_0shot_cot_gen_305931)", groups="cmmlu",
                 prefix="cmmlu-"),
}
LEADERBOARD_BENCHMARKS = ("arc_c", "hellaswag", "mmlu", "truthfulqa", "gsm8k", "winogrande")
MATHS_BENCHMARKS = ("gsm8k", "math", "mgsm", "olympiadbench", "minerva_math")
PAPER_BENCHMARKS = tuple(dict.fromkeys(LEADERBOARD_BENCHMARKS + MATHS_BENCHMARKS))
# The paper's averages: plain means of the member benchmarks' scores (each benchmark's score is
# already the mean over its own subsets where it has some: MMLU subjects, MGSM languages,
# OlympiadBench categories). Import these, or call group_scores().
BENCHMARK_GROUPS: dict[str, tuple[str, ...]] = {
    "leaderboard": LEADERBOARD_BENCHMARKS,
    "maths": MATHS_BENCHMARKS,
}


def group_scores(scores: dict[str, float], groups: dict[str, tuple[str, ...]] | None = None) -> dict[str, float | None]:
    """{group: plain mean of its members' scores}; None where a member has no score."""
    out: dict[str, float | None] = {}
    for name, members in (BENCHMARK_GROUPS if groups is None else groups).items():
        vals = [scores.get(m) for m in members]
        out[name] = None if any(v is None for v in vals) else sum(vals) / len(vals)
    return out


def backend_of(benchmark: str, backend: str) -> str:
    """Where one benchmark runs: "vllm" (generation with eval.backend vllm), "hf" (generation
    with eval.backend hf) or "ppl" (likelihood benchmarks: always HF, base-model style)."""
    if backend not in BACKENDS:
        raise BenchmarkError(f"eval backend {backend!r}: expected one of {', '.join(BACKENDS)}")
    if BENCHMARKS[benchmark].mode == "ppl":
        return "ppl"
    return backend


BACKENDS = ("vllm", "hf")


class BenchmarkError(ValueError):
    """A benchmark request that cannot run (unknown name, missing data)."""


class MissingBenchmarksError(RuntimeError):
    """Benchmarks that have no score in OpenCompass's summary."""

    def __init__(self, missing: list[str], csv_path: str | os.PathLike, present: list[str]):
        self.missing = list(missing)
        super().__init__(
            f"OpenCompass produced no score for: {', '.join(missing)} (summary {csv_path}; rows with "
            f"a score: {', '.join(present) or 'none'}). A task failed: see the logs under "
            f"{Path(csv_path).parent.parent / 'logs'}")


# ----------------------------------------------------------------------------- requests


def resolve_benchmarks(request: list, *, default_paths: dict[str, str] | None = None) -> list[dict]:
    """Turn ["arith", {"name": "lance_mc", "path": ...}, "gsm8k"] into dataset specs.

    Each spec is {"name", "kind", "path" (absolute, embedded kinds only)}. Embedded benchmarks
    take their file from the request, else from `default_paths`, else (lance_mc) the repository's
    data/benchmarks/lance_mc.jsonl. Any registry name may be renamed with {"name": new,
    "benchmark": registered} (e.g. two arith files).
    """
    if isinstance(request, (str, dict)):
        request = [request]
    default_paths = dict(default_paths or {})
    default_paths.setdefault("lance_mc", str(DEFAULT_MC_PATH))
    specs, seen = [], set()
    for item in request:
        if isinstance(item, str):
            item = {"name": item}
        if not isinstance(item, dict) or "name" not in item:
            raise BenchmarkError(f"benchmark request {item!r}: expected a name or a dict with 'name'")
        name = str(item["name"])
        registered = str(item.get("benchmark", name))
        if registered not in BENCHMARKS:
            raise BenchmarkError(f"unknown benchmark {registered!r}; known: {', '.join(BENCHMARKS)}")
        if name in seen:
            raise BenchmarkError(f"benchmark {name!r} requested twice")
        seen.add(name)
        bench = BENCHMARKS[registered]
        spec = {"name": name, "kind": bench.kind, "benchmark": registered, "mode": bench.mode}
        if bench.kind in ("number", "mc"):
            path = item.get("path") or default_paths.get(name) or default_paths.get(registered)
            if not path:
                raise BenchmarkError(f"benchmark {name} needs a 'path' to its jsonl file")
            spec["path"] = os.path.abspath(os.fspath(path))
        elif name != registered:
            raise BenchmarkError(f"built-in benchmark {registered} cannot be renamed (its summary "
                                 f"row is fixed by OpenCompass)")
        specs.append(spec)
    return specs


def check_benchmark_data(specs: list[dict], compass_data_cache: str | None) -> list[str]:
    """Problems that would make OpenCompass try to download or crash; [] when all is in place.
    Each names the exact folder or file to stage and how."""
    problems = []
    for spec in specs:
        bench = BENCHMARKS[spec.get("benchmark", spec["name"])]
        if bench.kind in ("number", "mc"):
            if not os.path.isfile(spec["path"]):
                problems.append(f"benchmark {spec['name']} needs {spec['path']} (not found)")
            continue
        if bench.kind == "opencompass" and not bench.module:
            problems.append(f"benchmark {bench.name} cannot run: {bench.requires}")
            continue
        if bench.data and not compass_data_cache:
            problems.append(f"benchmark {bench.name} needs $COMPASS_DATA_CACHE/{bench.data[0]} but "
                            f"COMPASS_DATA_CACHE is not set; set it to the folder that holds data/")
            continue
        for rel in bench.data:
            full = os.path.join(compass_data_cache, rel)
            if not os.path.exists(full):
                kind = "file" if os.path.splitext(rel)[1] else "folder"
                problems.append(f"benchmark {bench.name} needs the {kind} {full} "
                                f"($COMPASS_DATA_CACHE/{rel}, not found); {bench.stage or STAGE_HINT}")
        if bench.requires and not bench.data:
            problems.append(f"benchmark {bench.name} cannot be checked offline; it needs: {bench.requires}")
    return problems


# ----------------------------------------------------------------------------- rendering


def _test_range(limit) -> str | None:
    if limit is None:
        return None
    limit = int(limit)
    if limit <= 0:
        raise BenchmarkError(f"limit must be a positive number of items, got {limit}")
    return f"[0:{limit}]"


def _jsonl_gen_dataset(abbr: str, path: str, columns: list[str], answer: str, prompt: str,
                       eval_cfg: dict, test_range: str | None) -> dict:
    """A zero-shot generation dataset read from a JSONL file (OpenCompass CustomDataset)."""
    reader = {"input_columns": columns, "output_column": answer}
    if test_range:
        reader["test_range"] = test_range
    return {
        "abbr": abbr,
        "type": "opencompass.datasets.custom.CustomDataset",
        "path": path,
        "reader_cfg": reader,
        "infer_cfg": {
            "prompt_template": {"type": "opencompass.openicl.icl_prompt_template.PromptTemplate",
                                "template": {"round": [{"role": "HUMAN", "prompt": prompt}]}},
            "retriever": {"type": "opencompass.openicl.icl_retriever.ZeroRetriever"},
            "inferencer": {"type": "opencompass.openicl.icl_inferencer.GenInferencer"},
        },
        "eval_cfg": eval_cfg,
    }


def _embedded_dataset(spec: dict, test_range: str | None) -> dict:
    if spec["kind"] == "mc":
        columns, prompt = ["question", "A", "B", "C", "D"], "__PROMPT_MC__"
        eval_cfg = {"evaluator": {"type": "opencompass.openicl.icl_evaluator.AccEvaluator"},
                    "pred_postprocessor": {"type": "opencompass.utils.text_postprocessors.first_option_postprocess",
                                           "options": "ABCD"}}
    else:
        columns, prompt = ["question"], "__PROMPT_NUMBER__"
        eval_cfg = {"evaluator": {"type": "opencompass.datasets.gsm8k.Gsm8kEvaluator"},
                    "pred_postprocessor": {"type": NUMBER_POSTPROCESS}}
    return _jsonl_gen_dataset(spec["name"], spec["path"], columns, "answer", prompt, eval_cfg, test_range)


MATH_PROMPT = "{problem}\nPlease reason step by step, and put your final answer within \\boxed{}."


def _minerva_dataset(compass_data_cache_expr: str, test_range: str | None) -> dict:
    return _jsonl_gen_dataset("minerva_math", compass_data_cache_expr, ["problem"], "solution", MATH_PROMPT,
                              {"evaluator": {"type": "opencompass.evaluator.MATHVerifyEvaluator"}}, test_range)


def _truthfulqa_dataset(path_expr: str, test_range: str | None) -> dict:
    reader = {"input_columns": ["question"], "output_column": "labels"}
    if test_range:
        reader["test_range"] = test_range
    return {
        "abbr": "truthfulqa",
        "type": "lancekit.oc_truthfulqa.TruthfulQAMC2Dataset",
        "path": path_expr,
        "reader_cfg": reader,
        "infer_cfg": {
            "prompt_template": {"type": _PT, "template": truthfulqa.PROMPT},
            "retriever": {"type": "opencompass.openicl.icl_retriever.ZeroRetriever"},
            "inferencer": {"type": "lancekit.oc_truthfulqa.MC2Inferencer"},
        },
        "eval_cfg": {"evaluator": {"type": "lancekit.oc_truthfulqa.MC2Evaluator"}},
    }


# our own dataset configs of files under $COMPASS_DATA_CACHE: kind -> (file, dataset builder)
CACHE_FILE_DATASETS = {"minerva": (MINERVA_FILE, _minerva_dataset),
                       "truthfulqa_mc2": (TRUTHFULQA_FILE, _truthfulqa_dataset)}


# settings of the vLLM generation backend (config eval.vllm)
DEFAULT_VLLM: dict[str, Any] = {
    "dtype": None,            # None: the eval dtype (settings.dtype), so both backends agree
    "kvcache_gib": 2,         # VLLM_CPU_KVCACHE_SPACE on CPU
    "max_num_seqs": 256,      # requests in flight (OpenCompass sends a whole batch at once)
    "gpu_memory_utilization": 0.85,
    "tensor_parallel_size": 1,
    "startup_timeout": 600,   # seconds until the server must answer
    "extra_args": [],         # more `vllm serve` arguments
}
VLLM_MODEL_CLASS = "lancekit.oc_model.LanceOpenAIModel"
PPL_MODEL_CLASS = "lancekit.oc_model.LanceHFBaseModel"


def merged_vllm(vllm: dict | None) -> dict:
    unknown = set(vllm or {}) - set(DEFAULT_VLLM)
    if unknown:
        raise BenchmarkError(f"unknown eval.vllm settings: {', '.join(sorted(unknown))}; known: "
                             f"{', '.join(DEFAULT_VLLM)}")
    return {**DEFAULT_VLLM, **(vllm or {})}


def model_config(model_path: str, model_abbr: str, settings: dict, trust_remote_code: bool = False,
                 backend: str = "hf", api_base: str | None = None, concurrency: int | None = None) -> dict:
    """The OpenCompass model dict of one backend group: "hf" (chat model, transformers), "ppl"
    (base model without chat template: likelihood benchmarks) or "vllm" (OpenAI-compatible chat
    API of a local `vllm serve`, greedy: temperature 0; the server applies the model's own chat
    template, as the HF chat model does)."""
    s = merged_settings(settings)
    path = os.path.abspath(os.fspath(model_path))
    if backend == "vllm":
        if not api_base:
            raise BenchmarkError("the vllm backend needs the server's api_base")
        n = int(concurrency or s["batch_size"])
        return {
            "type": VLLM_MODEL_CLASS,
            "abbr": model_abbr,
            "path": model_abbr,               # the server's --served-model-name
            "tokenizer_path": path,           # prompt lengths counted with the model's tokenizer
            "trust_remote_code": bool(trust_remote_code),
            "key": "EMPTY",
            "openai_api_base": api_base,
            "query_per_second": 10000,        # no rate limit: a local server
            "max_workers": n,                 # concurrent requests = vLLM's continuous batch
            "batch_size": n,
            "retry": 2,
            "temperature": 0.0,               # greedy
            "max_out_len": int(s["max_out_len"]),
            "max_seq_len": int(s["max_seq_len"]),
            "run_cfg": {"num_gpus": 0},       # the GPU belongs to the server
        }
    model = {
        "type": PPL_MODEL_CLASS if backend == "ppl" else MODEL_CLASS,
        "abbr": model_abbr,
        "path": path,
        # OpenCompass's HF models default to trust_remote_code=True: say it explicitly, both places
        "model_kwargs": {"torch_dtype": s["dtype"], "trust_remote_code": bool(trust_remote_code)},
        "tokenizer_kwargs": {"trust_remote_code": bool(trust_remote_code)},
        "max_out_len": int(s["max_out_len"]),
        "max_seq_len": int(s["max_seq_len"]),
        "batch_size": int(s["batch_size"]),
        "run_cfg": {"num_gpus": int(s["num_gpus"])},
    }
    if backend != "ppl":
        model["generation_kwargs"] = dict(s["generation_kwargs"])
    return model


def merged_settings(settings: dict | None) -> dict:
    unknown = set(settings or {}) - set(DEFAULT_SETTINGS)
    if unknown:
        raise BenchmarkError(f"unknown eval settings: {', '.join(sorted(unknown))}; known: "
                             f"{', '.join(DEFAULT_SETTINGS)}")
    out = dict(DEFAULT_SETTINGS)
    out.update({k: v for k, v in (settings or {}).items()})
    return out


def _assign(name: str, value) -> str:
    """`name = <Python literal>`, wrapped by pprint and indented under the opening bracket."""
    prefix = f"{name} = "
    text = pprint.pformat(value, width=110 - len(prefix), sort_dicts=False)
    return prefix + text.replace("\n", "\n" + " " * len(prefix))


def render_eval_config(model_path: str, model_abbr: str, datasets: list[dict], settings: dict,
                       trust_remote_code: bool = False, *, backend: str = "hf",
                       api_base: str | None = None, concurrency: int | None = None) -> str:
    """Python config text for `opencompass <file> -w <work_dir>`.

    `datasets` are specs from `resolve_benchmarks` ({"name", "kind", "path"?}), all of one
    backend group (`backend_of`); `backend` picks the model (see `model_config`). Types are
    dotted import paths (strings), so the text has no imports except the built-in dataset configs.
    """
    if not datasets:
        raise BenchmarkError("no benchmarks to evaluate")
    s = merged_settings(settings)
    test_range = _test_range(s["limit"])
    model = model_config(model_path, model_abbr, s, trust_remote_code, backend, api_base, concurrency)
    lines = [
        "# Generated by lancekit.oc_config.render_eval_config; do not edit by hand.",
        f"# Run: opencompass <this file> -w <work_dir> --max-num-workers {int(s['max_num_workers'])}",
        "# Needs src/ on PYTHONPATH (model class and postprocessor are imported by dotted path).",
    ]
    builtins = [BENCHMARKS[d.get("benchmark", d["name"])] for d in datasets if d["kind"] == "opencompass"]
    groups = [b.summary_groups for b in builtins if b.summary_groups]
    if builtins:
        lines += ["from mmengine.config import read_base", "", "with read_base():"]
        lines += [f"    from {b.module} import {b.variable}" for b in builtins]
        lines += [f"    from {mod} import {var}" for mod, var in groups]
    kinds = {d["kind"] for d in datasets}
    lines.append("")
    if "number" in kinds:
        lines.append(f"prompt_number = {NUMBER_PROMPT!r}")
    if "mc" in kinds:
        lines.append(f"prompt_mc = {MC_PROMPT!r}")
    cache_kinds = [k for k in CACHE_FILE_DATASETS if k in kinds]
    if cache_kinds:
        lines.append("import os")
    for kind in cache_kinds:
        lines.append(f"{kind}_path = os.path.join(os.environ.get('COMPASS_DATA_CACHE', '.'), "
                     f"{CACHE_FILE_DATASETS[kind][0]!r})")
    lines += ["", _assign("models", [model]), ""]
    parts = []
    for spec in datasets:
        bench = BENCHMARKS[spec.get("benchmark", spec["name"])]
        if spec["kind"] == "opencompass":
            var = bench.variable
            expr = bench.transform or "d"
            if test_range:
                expr = f"dict({expr}, reader_cfg=dict(d['reader_cfg'], test_range={test_range!r}))"
            lines.append(f"bench_{spec['name']} = [{expr} for d in {var}]" if expr != "d"
                         else f"bench_{spec['name']} = list({var})")
        elif spec["kind"] in CACHE_FILE_DATASETS:
            build = CACHE_FILE_DATASETS[spec["kind"]][1]
            text = _assign(f"bench_{spec['name']}", [build("__PATH__", test_range)])
            lines.append(text.replace("'__PATH__'", f"{spec['kind']}_path"))
        else:
            text = _assign(f"bench_{spec['name']}", [_embedded_dataset(spec, test_range)])
            lines.append(text.replace("'__PROMPT_NUMBER__'", "prompt_number").replace("'__PROMPT_MC__'", "prompt_mc"))
        parts.append(f"*bench_{spec['name']}")
        lines.append("")
    lines.append("datasets = [" + ", ".join(parts) + "]")
    if groups:
        lines += ["", "summarizer = dict(summary_groups=" + " + ".join(var for _, var in groups) + ")"]
    return "\n".join(lines) + "\n"


def dataset_abbrs_of(spec: dict, result_files: list[str]) -> list[str]:
    """The OpenCompass dataset abbrs of one benchmark, in a fixed order: its own name (embedded),
    its summary row (one dataset), or, for benchmarks made of several datasets, the result files'
    names with its prefix, sorted (the same order for every model)."""
    bench = BENCHMARKS[spec.get("benchmark", spec["name"])]
    if bench.kind != "opencompass":
        return [spec["name"]]
    if not bench.multi:
        return [bench.row]
    return sorted(f for f in result_files if f.startswith(bench.dataset_prefix))


# ----------------------------------------------------------------------------- summaries


def parse_summary_rows(path: str | os.PathLike) -> list[dict]:
    """Rows of OpenCompass's summary CSV: [{"dataset", "version", "metric", "mode", "scores": {model: str}}]."""
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        try:
            header = next(reader)
        except StopIteration:
            raise ValueError(f"{path}: empty summary CSV") from None
        fixed = ["dataset", "version", "metric", "mode"]
        if [h.strip() for h in header[:4]] != fixed or len(header) < 5:
            raise ValueError(f"{path}: unexpected summary header {header}; expected "
                             f"{fixed + ['<model abbr>', '...']}")
        models = header[4:]
        rows = []
        for raw in reader:
            if not raw or not raw[0].strip():
                continue
            raw = raw + [""] * (len(header) - len(raw))
            rows.append({"dataset": raw[0], "version": raw[1], "metric": raw[2], "mode": raw[3],
                         "scores": dict(zip(models, raw[4:]))})
        return rows


def _to_score(text: str) -> float | None:
    text = (text or "").strip()
    if text in ("", "-"):
        return None
    try:
        return float(text)
    except ValueError:
        return None


def parse_summary_csv(path: str | os.PathLike, model_abbr: str | None = None) -> dict[str, float | None]:
    """{dataset row: score or None} for one model ('-' or blank = missing).

    `model_abbr` picks the model column (default: the only one). A dataset with several metric
    rows keeps the first under its name; every row is also under "<dataset>/<metric>".
    """
    rows = parse_summary_rows(path)
    with open(path, newline="", encoding="utf-8") as f:
        models = next(csv.reader(f))[4:]
    if model_abbr is None:
        if len(models) != 1:
            raise ValueError(f"{path}: several model columns {models}; name one")
        model_abbr = models[0]
    elif model_abbr not in models:
        raise ValueError(f"{path}: no column for model {model_abbr!r} (columns: {models})")
    out: dict[str, float | None] = {}
    for row in rows:
        score = _to_score(row["scores"].get(model_abbr, ""))
        out.setdefault(row["dataset"], score)
        out[f"{row['dataset']}/{row['metric']}"] = score
    return out


def require_scores(parsed: dict[str, float | None], benchmarks: list[str],
                   csv_path: str | os.PathLike = "summary.csv") -> dict[str, float]:
    """{benchmark: score}; raises MissingBenchmarksError naming every benchmark without a score."""
    scores, missing = {}, []
    for name in benchmarks:
        row = BENCHMARKS[name].row if name in BENCHMARKS and BENCHMARKS[name].kind == "opencompass" else name
        value = parsed.get(row)
        if value is None:
            missing.append(name)
        else:
            scores[name] = value
    if missing:
        present = [k for k, v in parsed.items() if v is not None and "/" not in k]
        raise MissingBenchmarksError(missing, csv_path, present)
    return scores


def find_summary_csv(run_dir: str | os.PathLike) -> Path:
    """The summary CSV of one timestamped OpenCompass run folder."""
    run_dir = Path(run_dir)
    found = sorted((run_dir / "summary").glob("summary_*.csv"))
    if not found:
        raise FileNotFoundError(f"no summary CSV under {run_dir / 'summary'}: OpenCompass did not "
                                f"get to its summary step (see {run_dir / 'logs'})")
    return found[-1]
