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

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from . import truthfulqa

STAGE_HINT = (
    "stage it by running OpenCompass once with the same benchmark on a machine with internet "
    "access and COMPASS_DATA_CACHE set (it downloads and unpacks the archive into "
    "$COMPASS_DATA_CACHE/data/), then copy that folder to the same place here"
)


@dataclass(frozen=True)
class Benchmark:
    name: str
    # "number" | "mc" (embedded jsonl) | "opencompass" (a dataset config shipped with OpenCompass) |
    # "lance" (our dataset config over upstream files staged under $COMPASS_DATA_CACHE, built by
    # lancekit.evaluation.render.LANCE_DATASETS)
    kind: str
    description: str = ""
    # how it is scored: "gen" (the model writes an answer; runs on the eval backend, vLLM by
    # default) or "ppl" (the likelihood of each option; always the HF backend, as a base model
    # without chat template)
    scoring: str = "gen"
    module: str = ""                 # built-in: dataset config module, imported inside read_base()
    variable: str = ""               # built-in: the list of dataset dicts it defines
    data: tuple[str, ...] = ()       # paths relative to $COMPASS_DATA_CACHE that must exist
    summary_row: str = ""            # `dataset` column of the summary CSV holding the score
    # several OpenCompass datasets (MMLU subjects, MGSM languages): their abbrs are `prefix` +
    # subset; `subsets` are the ones run unless a request names others (all of them: `all_subsets`);
    # the score is the plain mean over those run
    prefix: str = ""
    subsets: tuple[str, ...] = ()
    all_subsets: tuple[str, ...] = ()
    subset_files: tuple[str, ...] = ()  # files each subset reads, "{s}" = the subset
    shots: str = "0"                 # what precedes each item in the prompt
    # "" when this is the setting of the paper's tables (as far as they say); else why a score is
    # not comparable with the paper's column
    paper: str = ""
    requires: str = ""               # what else it needs offline (packages, caches)
    # expression over one dataset dict `d` of `variable` giving the dict to run (a shot count
    # that has no shipped config); "" = as shipped
    transform: str = ""
    stage: str = ""                  # how to stage its data offline (added to STAGE_HINT)
    test_items: int = 0              # items of the whole public test set (./lance plan counts them)

    @property
    def row(self) -> str:
        return self.summary_row or self.name

    @property
    def multi(self) -> bool:
        """Made of several OpenCompass datasets."""
        return bool(self.prefix)


def _oc(name, module, variable, data, summary_row, description, *, prefix="", requires="", scoring="gen",
        transform="", stage="", shots="0", paper="", subsets=(), all_subsets=(), subset_files=(), test_items=0):
    return Benchmark(name=name, kind="opencompass", description=description, scoring=scoring,
                     module=f"opencompass.configs.datasets.{module}", variable=variable,
                     data=tuple(data), summary_row=summary_row, prefix=prefix, subsets=tuple(subsets),
                     all_subsets=tuple(all_subsets), subset_files=tuple(subset_files), requires=requires,
                     transform=transform, stage=stage, shots=shots, paper=paper, test_items=test_items)


def _ours(name, data, description, *, scoring="gen", shots="0", paper="", stage="", test_items=0):
    return Benchmark(name=name, kind="lance", description=description, scoring=scoring, data=tuple(data),
                     summary_row=name, shots=shots, paper=paper, test_items=test_items,
                     stage=stage or "stage it with `./lance stage-benchmarks` (docs/evaluation.md, "
                                    "'Staging the paper's benchmarks')")


PROMPT_TEMPLATE = "opencompass.openicl.icl_prompt_template.PromptTemplate"
_FIXK = "opencompass.openicl.icl_retriever.FixKRetriever"
_GEN = "opencompass.openicl.icl_inferencer.GenInferencer"
# GSM8K 5-shot (leaderboard v1 style): the first 5 train problems with their worked answers
# ('#### N') as chat turns, then the test question; scored by the shipped Gsm8kEvaluator
GSM8K_5SHOT = ("dict(d, infer_cfg=dict("
               f"ice_template=dict(type={PROMPT_TEMPLATE!r}, template=dict(begin='</E>', round=["
               "dict(role='HUMAN', prompt='Question: {question}\\nAnswer:'), "
               "dict(role='BOT', prompt='{answer}\\n')]), ice_token='</E>'), "
               f"retriever=dict(type={_FIXK!r}, fix_id_list=[0, 1, 2, 3, 4]), "
               f"inferencer=dict(type={_GEN!r}, max_out_len=512)))")
# files of our own dataset configs, under $COMPASS_DATA_CACHE (the layout staging writes)
ARC_FILES = ("data/ARC/ARC-c/ARC-Challenge-Test.jsonl", "data/ARC/ARC-c/ARC-Challenge-Train.jsonl")
WINOGRANDE_FILES = ("data/winogrande/dev.jsonl", "data/winogrande/train_xs.jsonl")
MINERVA_FILE = "data/minerva_math/test.jsonl"
MATH_FILE = "data/math/test.jsonl"
MATH500_FILE = "data/math500/test.jsonl"
OLYMPIADBENCH_FILE = "data/olympiadbench/test.jsonl"
TRUTHFULQA_FILE = truthfulqa.DATA_FILE
MMLU_SUBJECTS = (
    "abstract_algebra anatomy astronomy business_ethics clinical_knowledge college_biology college_chemistry "
    "college_computer_science college_mathematics college_medicine college_physics computer_security "
    "conceptual_physics econometrics electrical_engineering elementary_mathematics formal_logic global_facts "
    "high_school_biology high_school_chemistry high_school_computer_science high_school_european_history "
    "high_school_geography high_school_government_and_politics high_school_macroeconomics "
    "high_school_mathematics high_school_microeconomics high_school_physics high_school_psychology "
    "high_school_statistics high_school_us_history high_school_world_history human_aging human_sexuality "
    "international_law jurisprudence logical_fallacies machine_learning management marketing medical_genetics "
    "miscellaneous moral_disputes moral_scenarios nutrition philosophy prehistory professional_accounting "
    "professional_law professional_medicine professional_psychology public_relations security_studies "
    "sociology us_foreign_policy virology world_religions").split()
MGSM_LANGUAGES = ("bn", "de", "en", "es", "fr", "ja", "ru", "sw", "te", "th", "zh")
# the paper's MGSM columns: German, French, Swahili and one its figure mislabels, read as Spanish
MGSM_PAPER = ("de", "fr", "sw", "es")
QWEN_MATH = "the Qwen2.5-Math evaluation harness's copy (github.com/QwenLM/Qwen2.5-Math, evaluation/data/)"

BENCHMARKS: dict[str, Benchmark] = {
    "arith": Benchmark("arith", "number", "arithmetic word problems (lancekit.evaluation.arith), "
                       "exact match on the last number", paper="not in the paper", test_items=300),
    "lance_mc": Benchmark("lance_mc", "mc", "general-knowledge multiple choice A-D "
                          "(data/benchmarks/lance_mc.jsonl), exact match on the letter", paper="not in the paper",
                          test_items=127),
    # --- Open LLM Leaderboard v1 (module names as shipped in opencompass==0.5.4)
    "arc_c": _ours("arc_c", ARC_FILES,
                   "ARC-Challenge test (1,172 questions, AI2's release), 25-shot from train, the "
                   "log-likelihood of each option per character (acc_norm; lancekit.evaluation.choice)",
                   scoring="ppl", shots="25: the first 25 train questions with their answers", test_items=1172),
    "hellaswag": _oc("hellaswag", "hellaswag.hellaswag_10shot_ppl_59c85e", "hellaswag_datasets",
                     ["data/hellaswag"], "hellaswag",
                     "HellaSwag val, 10-shot, likelihood of A-D (hellaswag_10shot_ppl_59c85e)", scoring="ppl",
                     shots="10 (as shipped)", test_items=10042),
    "mmlu": _oc("mmlu", "mmlu.mmlu_ppl_ac766d", "mmlu_datasets", ["data/mmlu"], "mmlu",
                "MMLU 57 subjects, 5-shot from dev, likelihood of A-D (mmlu_ppl_ac766d); score = "
                "mean over subjects", prefix="lukaemon_mmlu_", all_subsets=MMLU_SUBJECTS, scoring="ppl",
                subset_files=("data/mmlu/dev/{s}_dev.csv", "data/mmlu/test/{s}_test.csv"),
                shots="5: the subject's dev questions", test_items=14042),
    "truthfulqa": Benchmark("truthfulqa", "lance", "TruthfulQA mc2 (817 questions), 0-shot after the paper's "
                            "6-question QA primer: the likelihood mass on the true answers "
                            "(lancekit.evaluation.truthfulqa; opencompass 0.5.4 ships only the generation "
                            "variant)", scoring="ppl", data=(TRUTHFULQA_FILE,), summary_row="truthfulqa",
                            shots="0, after the 6-question QA primer",
                            stage="stage it with `./lance stage-benchmarks`, or copy data/mc_task.json of "
                                  "TruthfulQA (github.com/sylinrl/TruthfulQA, before Jan 2025: 817 questions) "
                                  f"to $COMPASS_DATA_CACHE/{TRUTHFULQA_FILE}", test_items=817),
    "gsm8k": _oc("gsm8k", "gsm8k.gsm8k_gen_1d7fe4", "gsm8k_datasets", ["data/gsm8k"], "gsm8k",
                 "GSM8K test (1,319), 5-shot (first 5 train problems), exact match on the last number "
                 "(gsm8k_gen_1d7fe4 with a FixKRetriever)", transform=GSM8K_5SHOT,
                 shots="5: the first 5 train problems with their worked answers", test_items=1319),
    "winogrande": _ours("winogrande", WINOGRANDE_FILES,
                        "WinoGrande 1.1 dev (1,267), 5-shot, the log-likelihood of the sentence's rest "
                        "after each option (lancekit.evaluation.choice)", scoring="ppl",
                        shots="5: train_xs items 0, 2, 4, 6, 8, as full sentences", test_items=1267),
    # --- maths suite: MATH, OlympiadBench and Minerva Math as the Qwen2.5-Math harness has them
    "math": _ours("math", (MATH_FILE,), f"MATH test (5,000 problems, {QWEN_MATH}), 0-shot, "
                  "\\boxed{} answer checked by MATHVerifyEvaluator", test_items=5000),
    "math500": _ours("math500", (MATH500_FILE,), "MATH-500 (openai/prm800k's 500-problem MATH test subset), "
                     "0-shot, \\boxed{} answer checked by MATHVerifyEvaluator",
                     paper="MATH-500 is a 500-problem subset of the 5,000 MATH problems of the paper's column",
                     test_items=500),
    "mgsm": _oc("mgsm", "mgsm.mgsm_gen_d967bc", "mgsm_datasets", ["data/mgsm"], "mgsm",
                "MGSM in German, French, Swahili and Spanish (the paper's columns), 0-shot "
                "(mgsm_gen_d967bc); score = mean over the languages", prefix="mgsm_", subsets=MGSM_PAPER,
                all_subsets=MGSM_LANGUAGES, subset_files=("data/mgsm/mgsm_{s}.tsv",), test_items=1000),
    "olympiadbench": _ours("olympiadbench", (OLYMPIADBENCH_FILE,),
                           f"OlympiadBench, English open-ended maths, text only (675 problems, {QWEN_MATH}), "
                           "0-shot, \\boxed{} answer checked by MATHVerifyEvaluator", test_items=675),
    "minerva_math": _ours("minerva_math", (MINERVA_FILE,),
                          f"Minerva Math (272 MIT OCW problems, {QWEN_MATH}), 0-shot, \\boxed{{}} answer "
                          "checked by MATHVerifyEvaluator", test_items=272),
    # --- other OpenCompass benchmarks (not in the paper's tables)
    "bbh": _oc("bbh", "bbh.bbh_gen", "bbh_datasets", ["data/BBH/data"], "bbh",
               "BIG-Bench Hard 27 tasks, 3-shot CoT (bbh_gen_ee62e9)", prefix="bbh-", shots="3 (as shipped)",
               paper="not in the paper", test_items=6511),
    "humaneval": _oc("humaneval", "humaneval.humaneval_gen", "humaneval_datasets",
                     ["data/humaneval/human-eval-v2-20210705.jsonl"], "openai_humaneval",
                     "HumanEval pass@1 (humaneval_openai_sample_evals_gen_dcae0e)",
                     requires="OpenAI's `human_eval` package with code execution enabled "
                              "(not in envs/opencompass.txt)", paper="not in the paper", test_items=164),
    "ceval": _oc("ceval", "ceval.ceval_gen", "ceval_datasets", ["data/ceval/formal_ceval"], "ceval",
                 "C-Eval val, 52 subjects (ceval_gen_5f30c7)", prefix="ceval-", shots="as shipped",
                 paper="not in the paper", test_items=1346),
    "cmmlu": _oc("cmmlu", "cmmlu.cmmlu_gen", "cmmlu_datasets", ["data/cmmlu"], "cmmlu",
                 "CMMLU 67 subjects, 0-shot CoT (cmmlu_0shot_cot_gen_305931)", prefix="cmmlu-",
                 paper="not in the paper", test_items=11582),
}
LEADERBOARD_BENCHMARKS = ("arc_c", "hellaswag", "mmlu", "truthfulqa", "gsm8k", "winogrande")
MATHS_BENCHMARKS = ("gsm8k", "math", "mgsm", "olympiadbench", "minerva_math")
# The paper's averages: plain means of the member benchmarks' scores (each benchmark's score is
# already the mean over its own subsets where it has some: MMLU subjects, MGSM languages). The
# maths average is the paper's: mean(GSM8K, MATH, mean of the MGSM columns, OlympiadBench, Minerva).
BENCHMARK_GROUPS: dict[str, tuple[str, ...]] = {
    "leaderboard": LEADERBOARD_BENCHMARKS,
    "maths": MATHS_BENCHMARKS,
}
# a benchmark that takes a group member's place when the member did not run (its column is then
# labelled not comparable: the benchmark's `paper` says why)
STAND_INS: dict[str, str] = {"math": "math500"}


def group_members(group: str, ran: list[str]) -> list[str]:
    """A group's benchmarks, each replaced by its stand-in where only the stand-in ran."""
    return [STAND_INS[b] if b not in ran and STAND_INS.get(b) in ran else b for b in BENCHMARK_GROUPS[group]]


def backend_of(benchmark: str, backend: str, likelihood: str = "hf") -> str:
    """Where one benchmark runs: "vllm" (generation with eval.backend vllm), "hf" (generation
    with eval.backend hf), "ppl" (likelihood benchmarks with eval.likelihood hf: transformers,
    base-model style) or "vllm-ppl" (likelihood benchmarks with eval.likelihood vllm: a vLLM
    server's prompt log-probabilities, the same tokens and scores)."""
    if backend not in BACKENDS:
        raise BenchmarkError(f"eval backend {backend!r}: expected one of {', '.join(BACKENDS)}")
    if likelihood not in BACKENDS:
        raise BenchmarkError(f"eval likelihood backend {likelihood!r}: expected one of {', '.join(BACKENDS)}")
    if BENCHMARKS[benchmark].scoring == "ppl":
        return "vllm-ppl" if likelihood == "vllm" else "ppl"
    return backend


BACKENDS = ("vllm", "hf")
# the backend groups that run against a local vLLM server (one server per evaluation job)
SERVER_GROUPS = ("vllm", "vllm-ppl")


class BenchmarkError(ValueError):
    """A benchmark request that cannot run (unknown name, missing data)."""


# ----------------------------------------------------------------------------- requests


def resolve_benchmarks(request: list) -> list[dict]:
    """Turn ["arith", {"name": "lance_mc", "path": ...}, "gsm8k"] into dataset specs.

    Each spec is {"name", "kind", "benchmark", "scoring", "path" (absolute, embedded kinds only),
    "subsets" (benchmarks of several datasets: the ones to run)}. Embedded benchmarks take their
    file from the request. Any registry name may be renamed with {"name": new, "benchmark":
    registered} (e.g. two arith files). A benchmark of several datasets runs its default subsets
    (MGSM: the paper's four languages; MMLU: all 57 subjects) unless the request names others:
    {"name": "mmlu", "subsets": ["anatomy", ...]}, or "all".
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
        if bench.multi and bench.all_subsets:
            spec["subsets"] = _subsets(bench, item.get("subsets"))
        elif item.get("subsets") is not None:
            raise BenchmarkError(f"benchmark {name}: 'subsets' only applies to benchmarks made of several "
                                 f"datasets ({', '.join(b for b, x in BENCHMARKS.items() if x.all_subsets)})")
        specs.append(spec)
    return specs


def _subsets(bench: Benchmark, asked) -> list[str]:
    if asked is None:
        return list(bench.subsets or bench.all_subsets)
    if asked == "all":
        return list(bench.all_subsets)
    if isinstance(asked, str) or not isinstance(asked, list) or not asked:
        raise BenchmarkError(f"benchmark {bench.name}: 'subsets' must be a non-empty list or \"all\", got {asked!r}")
    unknown = [a for a in asked if a not in bench.all_subsets]
    if unknown:
        known = ", ".join(bench.all_subsets)
        raise BenchmarkError(f"benchmark {bench.name}: unknown subsets {unknown}; known: {known}")
    return [a for a in bench.all_subsets if a in asked]  # the module's order


def data_fingerprint(specs: list[dict], compass_data_cache: str | None) -> str:
    """Names, sizes and times of every file the requests read (the shipped benchmarks' jsonl,
    the staged files and folders under the cache): an edited or regenerated benchmark file
    changes it."""
    parts = []
    for spec in specs:
        bench = BENCHMARKS[spec.get("benchmark", spec["name"])]
        paths = ([spec["path"]] if bench.kind in ("number", "mc") else
                 [os.path.join(compass_data_cache or "", rel) for rel in data_paths(spec)])
        for path in map(Path, paths):
            files = sorted(f for f in path.rglob("*") if f.is_file()) if path.is_dir() else [path]
            for f in files:
                st = f.stat() if f.is_file() else None
                parts.append(f"{f}:{st.st_size}:{st.st_mtime_ns}" if st else f"{f}:missing")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def data_paths(spec: dict) -> list[str]:
    """The paths under $COMPASS_DATA_CACHE one benchmark request reads (its subsets' files where
    it has several datasets)."""
    bench = BENCHMARKS[spec.get("benchmark", spec["name"])]
    if bench.subset_files and spec.get("subsets"):
        return [f.format(s=sub) for sub in spec["subsets"] for f in bench.subset_files]
    return list(bench.data)


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
        paths = data_paths(spec)
        if paths and not compass_data_cache:
            problems.append(f"benchmark {bench.name} needs $COMPASS_DATA_CACHE/{paths[0]} but "
                            f"COMPASS_DATA_CACHE is not set; set it to the folder that holds data/")
            continue
        for rel in paths:
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
    its summary row (one dataset), or, for benchmarks made of several datasets, those of its
    subsets (or the result files' names with its prefix), sorted: the same order for every model."""
    bench = BENCHMARKS[spec.get("benchmark", spec["name"])]
    if bench.kind in ("number", "mc"):
        return [spec["name"]]
    if not bench.multi:
        return [bench.row]
    if spec.get("subsets"):
        return sorted(bench.prefix + s for s in spec["subsets"])
    return sorted(f for f in result_files if f.startswith(bench.prefix))
