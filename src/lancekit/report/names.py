"""The names the report shows: methods (from the methods table), benchmarks, models and the
paper's benchmark groups."""

from __future__ import annotations

from ..evaluation.registry import BENCHMARK_GROUPS
from ..methods import TABLE
from ..methods.runs import parse_run

BENCH_NAMES = {"arc_c": "ARC", "hellaswag": "HellaSwag", "mmlu": "MMLU", "truthfulqa": "TruthfulQA",
               "gsm8k": "GSM8K", "winogrande": "Winogrande", "math": "MATH", "math500": "MATH-500", "mgsm": "MGSM",
               "olympiadbench": "OlympiadBench", "minerva_math": "Minerva", "bbh": "BBH",
               "humaneval": "HumanEval", "ceval": "C-Eval", "cmmlu": "CMMLU",
               "avg": "Avg", "maths_avg": "Maths Avg"}


def method_name(method: str) -> str:
    return TABLE[method].display if method in TABLE else method


def bench_name(bench: str) -> str:
    return BENCH_NAMES.get(bench, bench)


def group(name: str) -> list[str]:
    return list(BENCHMARK_GROUPS.get(name, ()))


def run_label(run: str) -> str:
    """base / M_0 / M_t (the method is said elsewhere)."""
    method, t = parse_run(run)
    return "base" if method == "base" else f"M_{t}"


def model_label(method: str, t: int | None) -> str:
    """Row label of the headline tables: base, SFT (M_0), LANCE (M_4)."""
    if method == "base":
        return "base"
    if method == "m0" or t == 0:
        return "SFT (M_0)"
    return f"{method_name(method)} (M_{t})"
