"""Benchmark data as it comes upstream, laid out where the evaluation reads it.

A user stages the public files once, unchanged, in one folder (config ``eval.data``): one
sub-folder per benchmark holding the upstream files under their upstream paths (`PARTS` says
which; docs/evaluation.md lists them with their sources). `plan` finds them and names what is
missing, `stage` reads every record, checks the fields a benchmark needs and the counts of the
full upstream sets, and copies the files to ``<dest>/data/...``, the layout OpenCompass and our
dataset configs read (``$COMPASS_DATA_CACHE``). A file with fewer records than the upstream set is
staged as a slice, and the report says so; a malformed file or record stops the staging, naming
file, record and field. Nothing is converted by hand and nothing is rewritten: the staged bytes
are the upstream bytes.

A benchmark without upstream parts here (HellaSwag, BBH, ...) is read in OpenCompass's own
layout: its ``data/<folder>`` under the same source folder (an OpenCompass data cache), copied as
it is.
"""

from __future__ import annotations

import csv
import io
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..core.io import InputError, read_json, read_jsonl, read_text
from .registry import (
    BENCHMARKS,
    MGSM_LANGUAGES,
    BenchmarkError,
    check_benchmark_data,
    data_paths,
    resolve_benchmarks,
)


class StagingError(InputError):
    """Missing or malformed upstream files (the message names every one)."""


@dataclass(frozen=True)
class Part:
    """One upstream file (or a folder of them: ``glob``) of a benchmark."""
    sources: tuple[str, ...]      # candidate paths under the source folder; the first found wins
    target: str                   # its path under data/ (a folder when ``glob``)
    fmt: str                      # jsonl | json | csv | tsv | lst
    count: int | tuple[int, ...]  # records of the full upstream set (several: known versions)
    fields: tuple[str, ...] = ()  # json(l): fields every record has
    columns: int = 0              # csv / tsv: columns of every row
    glob: str = ""                # the files of a folder part (MMLU's subjects)
    files: int = 0                # how many files the glob finds upstream
    check: Callable[[object], str | None] | None = None  # more about one record: the problem, or None
    subset: str = ""              # staged only when the request runs this subset (MGSM's languages)


def _gsm8k_answer(rec) -> str | None:
    return None if "\n#### " in rec["answer"] else "field 'answer' has no final line '#### <number>'"


def _letter(row) -> str | None:
    return None if row[-1].strip() in ("A", "B", "C", "D") else f"the last column is {row[-1]!r}, not A-D"


def _arc(rec) -> str | None:
    q = rec["question"]
    if not isinstance(q, dict) or not isinstance(q.get("stem"), str) or not isinstance(q.get("choices"), list):
        return "field 'question' must be {'stem': ..., 'choices': [...]} (AI2's ARC layout)"
    labels = [c.get("label") for c in q["choices"] if isinstance(c, dict)]
    if len(labels) < 2 or len(labels) != len(q["choices"]) or rec["answerKey"] not in labels:
        return f"field 'answerKey' {rec['answerKey']!r} is none of the choices' labels {labels}"
    return None


def _winogrande(rec) -> str | None:
    if rec["sentence"].count("_") != 1:
        return "field 'sentence' must hold exactly one '_'"
    if "answer" in rec and str(rec["answer"]) not in ("1", "2"):
        return f"field 'answer' is {rec['answer']!r}, not '1' or '2'"
    return None


def _label(line) -> str | None:
    return None if line.strip() in ("1", "2") else f"label {line.strip()!r} is not 1 or 2"


def _tqa(rec) -> str | None:
    t = rec["mc2_targets"]
    return None if isinstance(t, dict) and t else "field 'mc2_targets' must be {choice: 0|1}"


PARTS: dict[str, tuple[Part, ...]] = {
    "gsm8k": (
        Part(("gsm8k/grade_school_math/data/test.jsonl",), "gsm8k/test.jsonl", "jsonl", 1319,
             ("question", "answer"), check=_gsm8k_answer),
        Part(("gsm8k/grade_school_math/data/train.jsonl",), "gsm8k/train.jsonl", "jsonl", 7473,
             ("question", "answer"), check=_gsm8k_answer),
    ),
    # hendrycks/test: the pre-release data/ (14,079 test rows) or the released tarball (14,042)
    "mmlu": tuple(
        Part((f"mmlu/data/{split}",), f"mmlu/{split}", "csv", counts, columns=6, glob=f"*_{split}.csv", files=57,
             check=_letter)
        for split, counts in (("dev", (285,)), ("val", (1542, 1531)), ("test", (14079, 14042)))
    ),
    # sylinrl/TruthfulQA: the 817-question set of published results (data/mc_task.json until its
    # Jan-2025 revision, which has 790)
    "truthfulqa": (
        Part(("truthfulqa/data/v1/mc_task.json", "truthfulqa/data/mc_task.json"), "truthfulqa/mc_task.json", "json",
             817, ("question", "mc2_targets"), check=_tqa),
    ),
    "mgsm": tuple(Part((f"mgsm/mgsm_{lang}.tsv",), f"mgsm/mgsm_{lang}.tsv", "tsv", 250, columns=2, subset=lang)
                  for lang in MGSM_LANGUAGES),
    # QwenLM/Qwen2.5-Math, evaluation/data/
    "minerva_math": (
        Part(("qwen25math/minerva_math/test.jsonl",), "minerva_math/test.jsonl", "jsonl", 272,
             ("problem", "solution")),
    ),
    "olympiadbench": (
        Part(("qwen25math/olympiadbench/test.jsonl",), "olympiadbench/test.jsonl", "jsonl", 675,
             ("question", "final_answer")),
    ),
    "math": (
        Part(("qwen25math/math/test.jsonl",), "math/test.jsonl", "jsonl", 5000, ("problem", "solution")),
    ),
    # openai/prm800k, prm800k/math_splits/test.jsonl
    "math500": (
        Part(("math500/prm800k/math_splits/test.jsonl",), "math500/test.jsonl", "jsonl", 500, ("problem", "answer")),
    ),
    # AI2's ARC release (ARC-V1-Feb2018-2.zip), the Challenge set's JSON lines
    "arc_c": tuple(
        Part((f"arc_challenge/ARC-Challenge/ARC-Challenge-{split}.jsonl",
              f"arc_challenge/ARC-V1-Feb2018-2/ARC-Challenge/ARC-Challenge-{split}.jsonl"),
             f"ARC/ARC-c/ARC-Challenge-{split}.jsonl", "jsonl", count, ("question", "answerKey"), check=_arc)
        for split, count in (("Test", 1172), ("Train", 1119))
    ),
    # allenai/winogrande, winogrande_1.1.zip: the dev set, its label file, and train_xs for the shots
    "winogrande": (
        Part(("winogrande/winogrande_1.1/dev.jsonl",), "winogrande/dev.jsonl", "jsonl", 1267,
             ("sentence", "option1", "option2", "answer"), check=_winogrande),
        Part(("winogrande/winogrande_1.1/dev-labels.lst",), "winogrande/dev-labels.lst", "lst", 1267,
             check=_label),
        Part(("winogrande/winogrande_1.1/train_xs.jsonl",), "winogrande/train_xs.jsonl", "jsonl", 160,
             ("sentence", "option1", "option2", "answer"), check=_winogrande),
    ),
}


def _winogrande_labels(records: dict[str, list]) -> str | None:
    """dev.jsonl's answers and dev-labels.lst, line by line."""
    dev, labels = records["winogrande/dev.jsonl"], records["winogrande/dev-labels.lst"]
    if len(dev) != len(labels):
        return f"dev.jsonl has {len(dev)} records, dev-labels.lst {len(labels)} labels"
    for i, (rec, label) in enumerate(zip(dev, labels)):
        if str(rec["answer"]) != label.strip():
            return f"dev.jsonl record {i}: answer {rec['answer']!r}, dev-labels.lst line {i + 1}: {label.strip()!r}"
    return None


# checks across the files of one benchmark: {target: records} -> the problem, or None
AGREE: dict[str, Callable[[dict[str, list]], str | None]] = {"winogrande": _winogrande_labels}


def _specs(benchmarks: list) -> list[dict]:
    """The requests of benchmarks that read staged data (those shipped with the project do not)."""
    def embedded(item) -> bool:
        name = item if isinstance(item, str) else (item.get("benchmark") or item.get("name"))
        return name in BENCHMARKS and BENCHMARKS[name].kind in ("number", "mc")
    try:
        return resolve_benchmarks([b for b in benchmarks if not embedded(b)])
    except BenchmarkError as e:
        raise StagingError(str(e)) from None


def _parts(spec: dict) -> tuple[Part, ...]:
    subsets = spec.get("subsets")
    return tuple(p for p in PARTS.get(spec["benchmark"], ()) if not p.subset or subsets is None or p.subset in subsets)


def _passthrough(spec: dict) -> list[str]:
    """Paths a benchmark without upstream parts reads, in OpenCompass's layout (its data/...)."""
    if spec["kind"] in ("number", "mc") or spec["benchmark"] in PARTS:
        return []
    return data_paths(spec)


def found(source: Path, part: Part) -> Path | None:
    """The first of a part's candidate paths that is there under the source folder."""
    for rel in part.sources:
        path = Path(source) / rel
        if (path.is_dir() and part.glob) or (path.is_file() and not part.glob):
            return path
    return None


def plan(source: Path, benchmarks: list) -> list[str]:
    """What is missing for these benchmarks (names or requests, as config ``eval.benchmarks``)
    under the source folder, one message each; [] when every file is there. The benchmarks that
    ship with the project need nothing."""
    problems = []
    under = f"under eval.data ({Path(source).resolve()})"
    for spec in _specs(benchmarks):
        name = spec["name"]
        for part in _parts(spec):
            if found(source, part) is None:
                problems.append(f"benchmark {name}: {' or '.join(part.sources)} not found {under} "
                                "(docs/evaluation.md, 'Staging the paper's benchmarks', says where each file "
                                "comes from)")
        for rel in _passthrough(spec):
            if not (Path(source) / rel).exists():
                problems.append(f"benchmark {name}: {rel} not found {under} (no upstream layout is read for "
                                "it; put OpenCompass's data folder of it there)")
    return problems


def _records(path: Path, fmt: str) -> list:
    try:
        if fmt == "jsonl":
            return read_jsonl(path)
        if fmt == "json":
            data = read_json(path)
            if not isinstance(data, list):
                raise StagingError(f"{path}: expected a JSON list of records, got {type(data).__name__}")
            return data
        text = read_text(path)
    except StagingError:
        raise
    except InputError as e:
        raise StagingError(str(e)) from None
    if fmt in ("csv", "tsv"):
        return list(csv.reader(io.StringIO(text), delimiter="," if fmt == "csv" else "\t"))
    return [line for line in text.splitlines() if line.strip()]  # lst


def check_file(path: Path, part: Part) -> list:
    """The records of one upstream file, every one checked; StagingError names the first problem."""
    records = _records(path, part.fmt)
    for i, rec in enumerate(records):
        where = f"{path}: record {i}"
        if part.fields:
            if not isinstance(rec, dict):
                raise StagingError(f"{where}: expected an object, got {type(rec).__name__}")
            for field in part.fields:
                if field not in rec or rec[field] in (None, ""):
                    raise StagingError(f"{where}: missing field '{field}'")
        if part.columns and len(rec) != part.columns:
            raise StagingError(f"{where}: {len(rec)} columns, expected {part.columns}")
        problem = part.check(rec) if part.check else None
        if problem:
            raise StagingError(f"{where}: {problem}")
    return records


def _files(source: Path, part: Part) -> tuple[Path, list[Path]]:
    src = found(source, part)
    files = sorted(src.glob(part.glob)) if part.glob else [src]
    if part.glob and part.files and len(files) > part.files:
        raise StagingError(f"{src}: {len(files)} files match {part.glob}, the upstream set has {part.files}")
    return src, files


def source_files(source: Path, benchmarks: list) -> list[str]:
    """Every upstream file staging these benchmarks reads (what is missing is left out: `plan`
    names it)."""
    out = []
    for spec in _specs(benchmarks):
        for part in _parts(spec):
            src = found(source, part)
            if src is not None:
                out += [str(f) for f in (sorted(src.glob(part.glob)) if part.glob else [src])]
        for rel in _passthrough(spec):
            src = Path(source) / rel
            if src.is_file():
                out.append(str(src))
            elif src.is_dir():
                out += [str(p) for p in sorted(src.rglob("*")) if p.is_file()]
    return out


def stage(source: Path, dest: Path, benchmarks: list) -> dict:
    """Check every part of these benchmarks, then copy them to ``dest/data/``; the report
    {benchmark: {target: {"source", "records", "expected", "files", "complete"}}}. Nothing is
    copied unless every file checks."""
    problems = plan(source, benchmarks)
    if problems:
        raise StagingError("benchmark data missing:\n  " + "\n  ".join(problems))
    report: dict = {}
    copies: list[tuple[Path, Path]] = []
    specs = _specs(benchmarks)
    for spec in specs:
        name = spec["benchmark"]
        read: dict[str, list] = {}
        for rel in _passthrough(spec):
            src = Path(source) / rel
            files = [src] if src.is_file() else sorted(p for p in src.rglob("*") if p.is_file())
            copies += [(f, Path(dest) / f.relative_to(source)) for f in files]
            report.setdefault(name, {})[rel.removeprefix("data/")] = {"source": str(src), "opencompass_layout": True,
                                                                     "complete": True}
        for part in _parts(spec):
            src, files = _files(source, part)
            read[part.target] = [r for f in files for r in check_file(f, part)]
            records, expected = len(read[part.target]), part.count if isinstance(part.count, tuple) else (part.count,)
            if records > max(expected):
                raise StagingError(f"{src}: {records} records, more than the upstream set's {max(expected)}")
            target = Path(dest) / "data" / part.target
            copies += [(f, target / f.name if part.glob else target) for f in files]
            report.setdefault(name, {})[part.target] = {
                "source": str(src), "records": records, "expected": list(expected), "files": len(files),
                "complete": records in expected and (not part.files or len(files) == part.files)}
        problem = AGREE[name](read) if name in AGREE else None
        if problem:
            raise StagingError(f"benchmark {name} under {source}: {problem}")
    for src, target in copies:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, target)
    # what the evaluation will read, subsets included (an MMLU subject missing from the files)
    problems = check_benchmark_data(specs, str(dest))
    if problems:
        raise StagingError("staged, but the evaluation would not find:\n  " + "\n  ".join(problems))
    return report
