"""Staging benchmark data as it comes upstream (lancekit.evaluation.staging): the vendored slices
of tests/data/benchmarks, missing and malformed files named with file, record and field, and (with
LANCE_BENCHMARKS naming a full copy of the upstream files) the full sets' counts."""

import json
import os
import shutil
from pathlib import Path

import pytest

from lancekit.evaluation.staging import PARTS, StagingError, plan, stage

SLICES = Path(__file__).resolve().parents[1] / "data" / "benchmarks"
# every benchmark with a vendored slice (full MATH has none), MMLU on the two subjects sliced
ALL = [b for b in PARTS if b not in ("math", "mmlu")] + [
    {"name": "mmlu", "subsets": ["abstract_algebra", "high_school_geography"]}]


@pytest.fixture
def source(tmp_path):
    """A writable copy of the vendored slices."""
    dst = tmp_path / "upstream"
    shutil.copytree(SLICES, dst)
    return dst


def test_the_vendored_slices_stage_byte_for_byte_and_are_reported_as_slices(tmp_path):
    assert plan(SLICES, ALL) == []
    report = stage(SLICES, tmp_path / "cache", ALL)
    assert set(report) == set(PARTS) - {"math"}
    expected_records = {"gsm8k/test.jsonl": 8, "gsm8k/train.jsonl": 5, "mmlu/dev": 10, "mmlu/val": 4,
                        "mmlu/test": 8, "truthfulqa/mc_task.json": 6, "mgsm/mgsm_sw.tsv": 6,
                        "minerva_math/test.jsonl": 4, "olympiadbench/test.jsonl": 4, "math500/test.jsonl": 4,
                        "ARC/ARC-c/ARC-Challenge-Test.jsonl": 8, "ARC/ARC-c/ARC-Challenge-Train.jsonl": 25,
                        "winogrande/dev.jsonl": 8, "winogrande/dev-labels.lst": 8, "winogrande/train_xs.jsonl": 9}
    flat = {target: entry for parts in report.values() for target, entry in parts.items()}
    for target, n in expected_records.items():
        assert flat[target]["records"] == n, target
    assert not any(entry["complete"] for entry in flat.values())  # slices, and the report says so
    assert flat["mmlu/test"]["files"] == 2 and flat["mmlu/test"]["expected"] == [14079, 14042]
    for name, parts in PARTS.items():
        for part in parts if name != "math" else ():
            if part.target not in flat:  # MGSM's other languages
                assert part.subset and part.subset not in ("de", "fr", "sw", "es")
                continue
            src = next(SLICES / s for s in part.sources if (SLICES / s).exists())
            files = sorted(src.glob(part.glob)) if part.glob else [src]
            for f in files:
                dst = tmp_path / "cache" / "data" / part.target / (f.name if part.glob else "")
                assert dst.read_bytes() == f.read_bytes(), dst


def test_only_the_benchmarks_asked_for_are_staged(tmp_path):
    report = stage(SLICES, tmp_path / "cache", ["gsm8k", "arith"])  # arith ships with the project
    assert list(report) == ["gsm8k"]
    assert sorted(p.name for p in (tmp_path / "cache" / "data").iterdir()) == ["gsm8k"]


def test_missing_files_are_all_named_before_anything_is_copied(source, tmp_path):
    (source / "mgsm" / "mgsm_sw.tsv").unlink()
    shutil.rmtree(source / "mmlu" / "data" / "val")
    problems = plan(source, ["gsm8k", "mgsm", "mmlu", "arith"])
    assert len(problems) == 2
    assert "mgsm/mgsm_sw.tsv not found" in problems[0] and "benchmark mgsm" in problems[0]
    assert "mmlu/data/val not found" in problems[1]
    with pytest.raises(StagingError) as err:
        stage(source, tmp_path / "cache", ["gsm8k", "mgsm", "mmlu"])
    assert "mgsm_sw.tsv" in str(err.value) and "mmlu/data/val" in str(err.value)
    assert not (tmp_path / "cache").exists()


def test_subsets_stage_only_what_runs_and_must_be_in_the_files(source, tmp_path):
    report = stage(source, tmp_path / "c1", [{"name": "mgsm", "subsets": ["de", "sw"]}])
    assert sorted(report["mgsm"]) == ["mgsm/mgsm_de.tsv", "mgsm/mgsm_sw.tsv"]
    # MGSM's default is the paper's four languages; the slices have just those
    assert sorted(stage(source, tmp_path / "c2", ["mgsm"])["mgsm"]) == [
        "mgsm/mgsm_de.tsv", "mgsm/mgsm_es.tsv", "mgsm/mgsm_fr.tsv", "mgsm/mgsm_sw.tsv"]
    assert "mgsm/mgsm_en.tsv not found" in plan(source, [{"name": "mgsm", "subsets": ["en"]}])[0]
    # all 57 MMLU subjects by default: the two sliced subjects are not enough
    with pytest.raises(StagingError, match=r"would not find:\n.*data/mmlu/dev/anatomy_dev.csv"):
        stage(source, tmp_path / "c3", ["mmlu"])


def test_a_benchmark_without_upstream_parts_is_read_in_opencompass_layout(source, tmp_path):
    assert "data/hellaswag not found" in plan(source, ["hellaswag"])[0]
    (source / "data" / "hellaswag").mkdir(parents=True)
    (source / "data" / "hellaswag" / "hellaswag.jsonl").write_text('{"query": "q"}\n')
    (source / "data" / "hellaswag" / "hellaswag_train_sampled25.jsonl").write_text('{"query": "q"}\n')
    report = stage(source, tmp_path / "cache", ["hellaswag", "gsm8k"])
    assert report["hellaswag"]["hellaswag"]["opencompass_layout"] is True
    assert (tmp_path / "cache" / "data" / "hellaswag" / "hellaswag.jsonl").read_text() == '{"query": "q"}\n'


def test_the_other_truthfulqa_path_is_found(source, tmp_path):
    # the 817-question file also sits at data/mc_task.json in checkouts older than Jan 2025
    (source / "truthfulqa" / "data" / "v1" / "mc_task.json").rename(source / "truthfulqa" / "data" / "mc_task.json")
    report = stage(source, tmp_path / "cache", ["truthfulqa"])
    assert report["truthfulqa"]["truthfulqa/mc_task.json"]["source"].endswith("truthfulqa/data/mc_task.json")


def _rewrite_jsonl(path: Path, index: int, change) -> None:
    lines = path.read_text().splitlines()
    rec = json.loads(lines[index])
    change(rec)
    lines[index] = json.dumps(rec)
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("bench,rel,index,change,message", [
    ("gsm8k", "gsm8k/grade_school_math/data/test.jsonl", 3, lambda r: r.update(answer="72"),
     "record 3: field 'answer' has no final line '#### <number>'"),
    ("gsm8k", "gsm8k/grade_school_math/data/train.jsonl", 1, lambda r: r.pop("question"),
     "record 1: missing field 'question'"),
    ("arc_c", "arc_challenge/ARC-Challenge/ARC-Challenge-Test.jsonl", 2, lambda r: r.update(answerKey="E"),
     "record 2: field 'answerKey' 'E' is none of the choices' labels"),
    ("arc_c", "arc_challenge/ARC-Challenge/ARC-Challenge-Train.jsonl", 0, lambda r: r.update(question="Why?"),
     "record 0: field 'question' must be"),
    ("winogrande", "winogrande/winogrande_1.1/dev.jsonl", 5, lambda r: r.update(sentence="No blank here."),
     "record 5: field 'sentence' must hold exactly one '_'"),
    ("olympiadbench", "qwen25math/olympiadbench/test.jsonl", 0, lambda r: r.update(final_answer=None),
     "record 0: missing field 'final_answer'"),
])
def test_a_malformed_record_is_named_with_file_record_and_field(source, tmp_path, bench, rel, index, change, message):
    _rewrite_jsonl(source / rel, index, change)
    with pytest.raises(StagingError) as err:
        stage(source, tmp_path / "cache", [bench])
    assert str(source / rel) in str(err.value) and message in str(err.value)
    assert not (tmp_path / "cache").exists()


def test_broken_json_csv_and_tsv_are_named(source, tmp_path):
    path = source / "math500" / "prm800k" / "math_splits" / "test.jsonl"
    path.write_text(path.read_text() + "{not json\n")
    with pytest.raises(StagingError, match=r"test.jsonl: malformed JSON on line 5"):
        stage(source, tmp_path / "c1", ["math500"])
    csv = source / "mmlu" / "data" / "test" / "abstract_algebra_test.csv"
    csv.write_text(csv.read_text() + "Only a question,A,B,C\n")
    with pytest.raises(StagingError, match=r"abstract_algebra_test.csv: record 4: 4 columns, expected 6"):
        stage(source, tmp_path / "c2", ["mmlu"])
    tsv = source / "mgsm" / "mgsm_de.tsv"
    tsv.write_text(tsv.read_text() + "eine Frage ohne Antwort\n")
    with pytest.raises(StagingError, match=r"mgsm_de.tsv: record 6: 1 columns, expected 2"):
        stage(source, tmp_path / "c3", ["mgsm"])
    tqa = source / "truthfulqa" / "data" / "v1" / "mc_task.json"
    tqa.write_text('{"question": "a dict, not a list"}')
    with pytest.raises(StagingError, match=r"mc_task.json: expected a JSON list of records, got dict"):
        stage(source, tmp_path / "c4", ["truthfulqa"])


def test_winogrande_answers_must_agree_with_the_label_file(source, tmp_path):
    labels = source / "winogrande" / "winogrande_1.1" / "dev-labels.lst"
    lines = labels.read_text().split()
    lines[3] = "1" if lines[3] == "2" else "2"
    labels.write_text("\n".join(lines) + "\n")
    with pytest.raises(StagingError, match=r"dev.jsonl record 3: answer '\d', dev-labels.lst line 4"):
        stage(source, tmp_path / "cache", ["winogrande"])


def test_more_records_than_the_upstream_set_is_not_that_set(source, tmp_path):
    path = source / "qwen25math" / "minerva_math" / "test.jsonl"
    first = path.read_text().splitlines()[0]
    path.write_text("\n".join([first] * 273) + "\n")
    with pytest.raises(StagingError, match=r"273 records, more than the upstream set's 272"):
        stage(source, tmp_path / "cache", ["minerva_math"])


FULL = os.environ.get("LANCE_BENCHMARKS")
# ARC-Challenge and WinoGrande are in that folder only in a derived instruction format
UPSTREAM_LAYOUT = ["gsm8k", "mmlu", "truthfulqa", {"name": "mgsm", "subsets": "all"}, "minerva_math",
                   "olympiadbench", "math500"]


@pytest.mark.skipif(not FULL, reason="set LANCE_BENCHMARKS to a folder holding the full upstream benchmark "
                                     "files (layout: docs/evaluation.md, 'Staging the paper's benchmarks') "
                                     "to check the full sets")
def test_the_full_upstream_sets_stage_complete(tmp_path):
    report = stage(Path(FULL), tmp_path / "cache", UPSTREAM_LAYOUT)
    flat = {target: entry for parts in report.values() for target, entry in parts.items()}
    assert all(entry["complete"] for entry in flat.values()), {t: e for t, e in flat.items() if not e["complete"]}
    assert flat["gsm8k/test.jsonl"]["records"] == 1319
    assert flat["mmlu/test"]["files"] == 57 and flat["mmlu/test"]["records"] in (14079, 14042)
    assert flat["truthfulqa/mc_task.json"]["records"] == 817
    assert [flat[f"mgsm/mgsm_{lang}.tsv"]["records"] for lang in ("de", "fr", "sw", "es")] == [250] * 4
    assert len([t for t in flat if t.startswith("mgsm/")]) == 11
    assert flat["olympiadbench/test.jsonl"]["records"] == 675
