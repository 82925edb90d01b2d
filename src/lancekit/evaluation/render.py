"""The OpenCompass config of one evaluation, as Python text (no OpenCompass import here):
`render_eval_config` writes what `opencompass <config.py> -w <work_dir>` runs, for one backend
group of benchmarks (lancekit.evaluation.registry.backend_of), with the model dict of that backend
(`model_config`) and the evaluation settings (`DEFAULT_SETTINGS`, config ``eval.settings``; the
vLLM server's: `DEFAULT_VLLM`, config ``eval.vllm``). Types are dotted import paths, so the
text imports nothing but the built-in dataset configs.
"""

from __future__ import annotations

import os
import pprint
import re
from typing import Any

from . import truthfulqa
from .registry import (
    ARC_FILES,
    BENCHMARKS,
    MATH500_FILE,
    MATH_FILE,
    MINERVA_FILE,
    OLYMPIADBENCH_FILE,
    PROMPT_TEMPLATE,
    SERVER_GROUPS,
    TRUTHFULQA_FILE,
    WINOGRANDE_FILES,
    BenchmarkError,
)

MODEL_CLASS = "lancekit.evaluation.models.LanceHFChatModel"
NUMBER_POSTPROCESS = "lancekit.evaluation.postprocess.last_number_postprocess"

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
    # torch/OpenMP threads of each task process (OMP_NUM_THREADS, set by lancekit.evaluation.opencompass);
    # None keeps the environment's. On a shared 2-core box 1 thread was ~10x faster than 2.
    "num_threads": None,
}

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


# the Qwen2.5-Math harness's chain-of-thought instruction, after the problem (0-shot)
MATH_PROMPT = "{problem}\nPlease reason step by step, and put your final answer within \\boxed{}."
MATH_VERIFY = {"evaluator": {"type": "opencompass.evaluator.MATHVerifyEvaluator"}}
DATA = "$DATA/"  # a path under $COMPASS_DATA_CACHE, joined to it when the config is rendered


def _maths_dataset(name: str, rel: str, answer: str, loader: str = "opencompass.datasets.custom.CustomDataset"):
    def build(test_range):
        d = _jsonl_gen_dataset(name, DATA + rel, ["problem"], answer, MATH_PROMPT, MATH_VERIFY, test_range)
        d["type"] = loader
        return [d]
    return build


def _olympiadbench(test_range):
    # its reference answer is a list (final_answer): our loader keeps the first, as the harness does
    (d,) = _maths_dataset("olympiadbench", OLYMPIADBENCH_FILE, "answer",
                          "lancekit.evaluation.maths_task.OlympiadBenchDataset")(test_range)
    d["reader_cfg"]["input_columns"] = ["problem"]
    return [d]


def _truthfulqa(test_range):
    reader = {"input_columns": ["question"], "output_column": "labels"}
    if test_range:
        reader["test_range"] = test_range
    return [{
        "abbr": "truthfulqa",
        "type": "lancekit.evaluation.truthfulqa_task.TruthfulQAMC2Dataset",
        "path": DATA + TRUTHFULQA_FILE,
        "reader_cfg": reader,
        "infer_cfg": {
            "prompt_template": {"type": PROMPT_TEMPLATE, "template": truthfulqa.PROMPT},
            "retriever": {"type": "opencompass.openicl.icl_retriever.ZeroRetriever"},
            "inferencer": {"type": "lancekit.evaluation.truthfulqa_task.MC2Inferencer"},
        },
        "eval_cfg": {"evaluator": {"type": "lancekit.evaluation.truthfulqa_task.MC2Evaluator"}},
    }]


def _choice(name: str, fmt: str, files: tuple[str, str]):
    def build(test_range):
        reader = {"input_columns": ["options", "norm"], "output_column": "gold"}
        if test_range:
            reader["test_range"] = test_range
        return [{
            "abbr": name,
            "type": "lancekit.evaluation.choice_task.ChoiceDataset",
            "fmt": fmt, "path": DATA + files[0], "train": DATA + files[1],
            "reader_cfg": reader,
            "infer_cfg": {
                # the prompts are built by lancekit.evaluation.choice; the template is unused
                "prompt_template": {"type": PROMPT_TEMPLATE, "template": "{options}"},
                "retriever": {"type": "opencompass.openicl.icl_retriever.ZeroRetriever"},
                "inferencer": {"type": "lancekit.evaluation.choice_task.ChoiceInferencer"},
            },
            "eval_cfg": {"evaluator": {"type": "lancekit.evaluation.choice_task.ChoiceEvaluator"}},
        }]
    return build


# our own dataset configs of upstream files under $COMPASS_DATA_CACHE (registry kind "lance")
LANCE_DATASETS = {
    "arc_c": _choice("arc_c", "arc", ARC_FILES),
    "winogrande": _choice("winogrande", "winogrande", WINOGRANDE_FILES),
    "truthfulqa": _truthfulqa,
    "math": _maths_dataset("math", MATH_FILE, "solution"),
    "math500": _maths_dataset("math500", MATH500_FILE, "solution"),
    "minerva_math": _maths_dataset("minerva_math", MINERVA_FILE, "solution"),
    "olympiadbench": _olympiadbench,
}


# settings of the vLLM generation backend (config eval.vllm)
DEFAULT_VLLM: dict[str, Any] = {
    "dtype": None,            # None: the eval dtype (settings.dtype), so both backends agree
    "kvcache_gib": 2,         # VLLM_CPU_KVCACHE_SPACE on CPU
    "max_num_seqs": 256,      # requests in flight (OpenCompass sends a whole batch at once)
    "gpu_memory_utilization": 0.85,
    "tensor_parallel_size": 1,
    "startup_timeout": 600,   # seconds until the server must answer
    "in_process": False,      # CPU: the engine's core in the server's own process
    "extra_args": [],         # more `vllm serve` arguments
}
VLLM_MODEL_CLASS = "lancekit.evaluation.models.LanceOpenAIModel"
PPL_MODEL_CLASS = "lancekit.evaluation.models.LanceHFBaseModel"
SCORER_MODEL_CLASS = "lancekit.evaluation.models.LanceVLLMScorer"
GROUPED_PPL_INFERENCER = "lancekit.evaluation.ppl_task.GroupedPPLInferencer"


def merged_vllm(vllm: dict | None) -> dict:
    unknown = set(vllm or {}) - set(DEFAULT_VLLM)
    if unknown:
        raise BenchmarkError(f"unknown eval.vllm settings: {', '.join(sorted(unknown))}; known: "
                             f"{', '.join(DEFAULT_VLLM)}")
    return {**DEFAULT_VLLM, **(vllm or {})}


def model_config(model_path: str, model_abbr: str, settings: dict, trust_remote_code: bool = False,
                 backend: str = "hf", api_base: str | None = None, concurrency: int | None = None) -> dict:
    """The OpenCompass model dict of one backend group: "hf" (chat model, transformers), "ppl"
    (base model without chat template: likelihood benchmarks), "vllm" (OpenAI-compatible chat
    API of a local `vllm serve`, greedy: temperature 0; the server applies the model's own chat
    template, as the HF chat model does; its API key comes from the environment, key="ENV") or
    "vllm-ppl" (the likelihood benchmarks on the same server's prompt log-probabilities: the base
    model's tokenizer and scores, LanceVLLMScorer)."""
    s = merged_settings(settings)
    path = os.path.abspath(os.fspath(model_path))
    if backend in SERVER_GROUPS:
        if not api_base:
            raise BenchmarkError(f"the {backend} backend needs the server's api_base")
        n = int(concurrency or s["batch_size"])  # requests in flight: the server's batch
    if backend == "vllm-ppl":
        return {
            "type": SCORER_MODEL_CLASS,
            "abbr": model_abbr,
            "path": path,                     # the tokenizer (the weights are the server's)
            "api_base": api_base,
            "served_name": model_abbr,        # the server's --served-model-name
            "tokenizer_kwargs": {"trust_remote_code": bool(trust_remote_code)},
            "max_seq_len": int(s["max_seq_len"]),
            # prompts per call of OpenCompass's PPL inferencer, items per call of ours: enough to
            # keep the server's batch full (vLLM's max_num_seqs)
            "batch_size": n,
            "items_per_call": n,
            "in_flight": n,                   # prompts the scorer keeps at the server
            "run_cfg": {"num_gpus": 0},       # the GPU belongs to the server
        }
    if backend == "vllm":
        return {
            "type": VLLM_MODEL_CLASS,
            "abbr": model_abbr,
            "path": model_abbr,               # the server's --served-model-name
            "tokenizer_path": path,           # prompt lengths counted with the model's tokenizer
            "trust_remote_code": bool(trust_remote_code),
            # the server's per-run key is read from $OPENAI_API_KEY (vllm_server.API_KEY_ENV): never
            # written here, so neither this file nor OpenCompass's copies of it hold the key
            "key": "ENV",
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
        "# Generated by lancekit.evaluation.render.render_eval_config; do not edit by hand.",
        f"# Run: opencompass <this file> -w <work_dir> --max-num-workers {int(s['max_num_workers'])}",
        "# Needs src/ on PYTHONPATH (model class and postprocessor are imported by dotted path).",
    ]
    builtins = list(dict.fromkeys(BENCHMARKS[d.get("benchmark", d["name"])] for d in datasets
                                  if d["kind"] == "opencompass"))
    if builtins:
        lines += ["from mmengine.config import read_base", "", "with read_base():"]
        lines += [f"    from {b.module} import {b.variable}" for b in builtins]
    kinds = {d["kind"] for d in datasets}
    lines.append("")
    if "number" in kinds:
        lines.append(f"prompt_number = {NUMBER_PROMPT!r}")
    if "mc" in kinds:
        lines.append(f"prompt_mc = {MC_PROMPT!r}")
    lines += ["", _assign("models", [model]), ""]
    parts, groups = [], []
    for spec in datasets:
        bench = BENCHMARKS[spec.get("benchmark", spec["name"])]
        var = f"bench_{spec['name']}"
        if spec["kind"] == "opencompass":
            expr = bench.transform or "d"
            if test_range:
                expr = f"dict({expr}, reader_cfg=dict(d['reader_cfg'], test_range={test_range!r}))"
            source = bench.variable
            if spec.get("subsets") is not None and list(spec["subsets"]) != list(bench.all_subsets):
                abbrs = [bench.prefix + s for s in spec["subsets"]]
                source = f"[d for d in {bench.variable} if d['abbr'] in {abbrs!r}]"
            if backend == "vllm-ppl" and bench.scoring == "ppl":
                # each item's options scored together on the server (lancekit.evaluation.ppl_task)
                source = f"[{expr} for d in {source}]"
                expr = (f"dict(d, infer_cfg=dict(d['infer_cfg'], inferencer=dict(d['infer_cfg']['inferencer'], "
                        f"type={GROUPED_PPL_INFERENCER!r})))")
            lines.append(f"{var} = [{expr} for d in {source}]" if expr != "d" or source != bench.variable
                         else f"{var} = list({source})")
            if bench.multi:
                # the score: the plain mean over the datasets that ran
                groups.append(f"dict(name={bench.row!r}, subsets=[d['abbr'] for d in {var}])")
        elif spec["kind"] == "lance":
            text = _assign(var, LANCE_DATASETS[bench.name](test_range))
            # the data folder joined now: mmengine would dump an imported module into the config
            root = os.environ.get("COMPASS_DATA_CACHE", ".")
            lines.append(re.sub(r"'\$DATA/([^']*)'", lambda m, r=root: repr(os.path.join(r, m.group(1))), text))
        else:
            text = _assign(var, [_embedded_dataset(spec, test_range)])
            lines.append(text.replace("'__PROMPT_NUMBER__'", "prompt_number").replace("'__PROMPT_MC__'", "prompt_mc"))
        parts.append(f"*{var}")
        lines.append("")
    lines.append("datasets = [" + ", ".join(parts) + "]")
    if groups:
        lines += ["", "summarizer = dict(summary_groups=[" + ", ".join(groups) + "])"]
    return "\n".join(lines) + "\n"
