"""The benchmark registry (plain Python, no OpenCompass import): every benchmark `lance` can score,
what it is, how OpenCompass scores it, the data it reads and where its score is, and the checks
that turn a request into dataset specs or name, with the fix, what is missing.

- `BENCHMARKS`: two embedded benchmarks that ship with the project and run offline (`arith`:
  number answers, `lance_mc`: A-D multiple choice) and the paper's OpenCompass benchmarks (the
  leaderboard six, the maths suite, and a few more), each with the dataset-config module of
  `opencompass==0.5.4`, the data it reads and the summary row that holds its score.
- `BENCHMARK_GROUPS`: the paper's two averages.
- `resolve_benchmarks` / `check_benchmark_data`: a request as dataset specs; what data is missing.
- `backend_of`: where a benchmark runs (vLLM or HF generation, HF likelihood).

Rendering the OpenCompass config is lancekit.evaluation.render; reading its summary
lancekit.evaluation.summary.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from . import truthfulqa

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
    scoring: str = "gen"
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
        scoring="gen", transform="", stage=""):
    return Benchmark(name=name, kind="opencompass", description=description, scoring=scoring,
                     module=f"opencompass.configs.datasets.{module}", variable=variable,
                     data=tuple(data), summary_row=summary_row,
                     summary_groups=(f"opencompass.configs.summarizers.groups.{groups}",
                                     f"{groups}_summary_groups") if groups else None,
                     dataset_prefix=prefix or summary_row, requires=requires, transform=transform,
                     stage=stage)


PROMPT_TEMPLATE = "opencompass.openicl.icl_prompt_template.PromptTemplate"
_FIXK = "opencompass.openicl.icl_retriever.FixKRetriever"
_GEN = "opencompass.openicl.icl_inferencer.GenInferencer"
# ARC-Challenge 25-shot (Open LLM Leaderboard v1): the shipped 5-shot ppl config
# (ARC_c_few_shot_ppl: FixKRetriever over the dev file itself) with 25 fixed examples
ARC_25SHOT = ("dict(d, infer_cfg=dict(d['infer_cfg'], retriever=dict(d['infer_cfg']['retriever'], "
              "fix_id_list=list(range(25)))))")
# GSM8K 5-shot (leaderboard v1 style): the first 5 train problems with their worked answers
# ('#### N') as chat turns, then the test question; scored by the shipped Gsm8kEvaluator
GSM8K_5SHOT = ("dict(d, infer_cfg=dict("
               f"ice_template=dict(type={PROMPT_TEMPLATE!r}, template=dict(begin='</E>', round=["
               "dict(role='HUMAN', prompt='Question: {question}\\nAnswer:'), "
               "dict(role='BOT', prompt='{answer}\\n')]), ice_token='</E>'), "
               f"retriever=dict(type={_FIXK!r}, fix_id_list=[0, 1, 2, 3, 4]), "
               f"inferencer=dict(type={_GEN!r}, max_out_len=512)))")
# Minerva Math (272 MIT OCW problems, Lewkowycz et al. 2022): no config ships with opencompass
# 0.5.4; a jsonl {problem, solution} (the Qwen2.5-Math evaluation copy) read by CustomDataset,
# MATH's 0-shot prompt and MATHVerifyEvaluator (it parses the \\boxed{} answer of `solution`)
MINERVA_FILE = "data/minerva_math/test.jsonl"
# TruthfulQA mc2: our dataset, inferencer and evaluator (lancekit.evaluation.truthfulqa_task), TruthfulQA's
# own mc_task.json
TRUTHFULQA_FILE = truthfulqa.DATA_FILE

BENCHMARKS: dict[str, Benchmark] = {
    "arith": Benchmark("arith", "number", "arithmetic word problems (lancekit.evaluation.arith), "
                       "exact match on the last number"),
    "lance_mc": Benchmark("lance_mc", "mc", "general-knowledge multiple choice A-D "
                          "(data/benchmarks/lance_mc.jsonl), exact match on the letter"),
    # --- Open LLM Leaderboard v1 (module names as shipped in opencompass==0.5.4)
    "arc_c": _oc("arc_c", "ARC_c.ARC_c_few_shot_ppl", "ARC_c_datasets",
                 ["data/ARC/ARC-c/ARC-Challenge-Dev.jsonl"], "ARC-c",
                 "ARC-Challenge dev, 25-shot, likelihood of each option (ARC_c_few_shot_ppl with 25 "
                 "fixed examples)", scoring="ppl", transform=ARC_25SHOT),
    "hellaswag": _oc("hellaswag", "hellaswag.hellaswag_10shot_ppl_59c85e", "hellaswag_datasets",
                     ["data/hellaswag"], "hellaswag",
                     "HellaSwag val, 10-shot, likelihood of A-D (hellaswag_10shot_ppl_59c85e)", scoring="ppl"),
    "mmlu": _oc("mmlu", "mmlu.mmlu_ppl_ac766d", "mmlu_datasets", ["data/mmlu"], "mmlu",
                "MMLU 57 subjects, 5-shot from dev, likelihood of A-D (mmlu_ppl_ac766d); score = "
                "mean over subjects", groups="mmlu", prefix="lukaemon_mmlu_", scoring="ppl"),
    "truthfulqa": Benchmark("truthfulqa", "truthfulqa_mc2", "TruthfulQA mc2, 0-shot after the paper's "
                            "6-question QA primer: the likelihood mass on the true answers "
                            "(lancekit.evaluation.truthfulqa; opencompass 0.5.4 ships only the generation "
                            "variant)", scoring="ppl", data=(TRUTHFULQA_FILE,), summary_row="truthfulqa",
                            stage="copy data/mc_task.json of TruthfulQA (github.com/sylinrl/TruthfulQA) "
                                  f"to $COMPASS_DATA_CACHE/{TRUTHFULQA_FILE}"),
    "gsm8k": _oc("gsm8k", "gsm8k.gsm8k_gen_1d7fe4", "gsm8k_datasets", ["data/gsm8k"], "gsm8k",
                 "GSM8K test, 5-shot (first 5 train problems), exact match on the last number "
                 "(gsm8k_gen_1d7fe4 with a FixKRetriever)", transform=GSM8K_5SHOT),
    "winogrande": _oc("winogrande", "winogrande.winogrande_5shot_ll_252f01", "winogrande_datasets",
                      ["data/winogrande"], "winogrande",
                      "Winogrande dev, 5-shot, log-likelihood of the continuation "
                      "(winogrande_5shot_ll_252f01)", scoring="ppl"),
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
# The paper's averages: plain means of the member benchmarks' scores (each benchmark's score is
# already the mean over its own subsets where it has some: MMLU subjects, MGSM languages,
# OlympiadBench categories).
BENCHMARK_GROUPS: dict[str, tuple[str, ...]] = {
    "leaderboard": LEADERBOARD_BENCHMARKS,
    "maths": MATHS_BENCHMARKS,
}


def backend_of(benchmark: str, backend: str) -> str:
    """Where one benchmark runs: "vllm" (generation with eval.backend vllm), "hf" (generation
    with eval.backend hf) or "ppl" (likelihood benchmarks: always HF, base-model style)."""
    if backend not in BACKENDS:
        raise BenchmarkError(f"eval backend {backend!r}: expected one of {', '.join(BACKENDS)}")
    if BENCHMARKS[benchmark].scoring == "ppl":
        return "ppl"
    return backend


BACKENDS = ("vllm", "hf")


class BenchmarkError(ValueError):
    """A benchmark request that cannot run (unknown name, missing data)."""


# ----------------------------------------------------------------------------- requests


def resolve_benchmarks(request: list) -> list[dict]:
    """Turn ["arith", {"name": "lance_mc", "path": ...}, "gsm8k"] into dataset specs.

    Each spec is {"name", "kind", "benchmark", "scoring", "path" (absolute, embedded kinds only)}.
    Embedded benchmarks take their file from the request. Any registry name may be renamed with
    {"name": new, "benchmark": registered} (e.g. two arith files).
    """
    if isinstance(request, (str, dict)):
        request = [request]
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
        spec = {"name": name, "kind": bench.kind, "benchmark": registered, "scoring": bench.scoring}
        if bench.kind in ("number", "mc"):
            path = item.get("path")
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



# ----------------------------------------------------------------------------- datasets of a benchmark


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
