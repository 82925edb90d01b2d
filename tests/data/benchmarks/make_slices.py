"""Rebuild the vendored benchmark slices of this folder from a full staged copy of the upstream
files (the layout lancekit.evaluation.staging reads; LANCE_BENCHMARKS names it):

    python3 tests/data/benchmarks/make_slices.py /path/to/benchmarks

The first few records of each file, unchanged. ARC-Challenge and WinoGrande come here only in a
derived instruction format (LLM-Adapters'); their records are rebuilt in the upstream layouts
(AI2's ARC JSON lines; WinoGrande's JSON lines with its label file) from those: see README.md.
"""

import json
import re
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
LICENCES = {"gsm8k": ["LICENSE"], "mmlu": ["LICENSE"], "truthfulqa": ["LICENSE"], "mgsm": ["LICENSE"],
            "qwen25math": ["LICENSE"], "math500": ["LICENSE"], "arc_challenge": ["LICENSE", "DATA_LICENSE"],
            "winogrande": ["LICENSE", "DATA_LICENSE"]}


def head_lines(src: Path, dst: Path, n: int) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    lines = src.read_bytes().splitlines(keepends=True)[:n]
    dst.write_bytes(b"".join(lines))


def arc_item(i: int, derived: dict) -> dict:
    """AI2's layout from LLM-Adapters' prompt: the stem, the options in their order (labelled A, B,
    ... here: the originals' labels and ids are not in the derived file), the answer's label."""
    text = derived["instruction"].removeprefix("Please choose the correct answer to the question: ")
    stem, rest = text.split("\n\n", 1)
    options = re.findall(r"Answer(\d+): (.*?)(?= Answer\d+: |\n\nAnswer format:)", rest, re.S)
    labels = "ABCDEFGH"
    choices = [{"text": t.strip(), "label": labels[int(k) - 1]} for k, t in options]
    answer = labels[int(derived["answer"].removeprefix("answer")) - 1]
    return {"id": f"rebuilt-{i}", "question": {"stem": stem, "choices": choices}, "answerKey": answer}


def winogrande_item(i: int, derived: dict, label: str) -> dict:
    text = derived["instruction"].removeprefix(
        "Please choose the correct answer to fill in the blank to complete the given sentence: ")
    m = re.fullmatch(r"(.*)\n\nOption1: (.*) Option2: (.*) Answer format: option1/option2", text, re.S)
    sentence, o1, o2 = m.groups()
    assert derived["answer"] == f"option{label}", (i, derived["answer"], label)
    return {"qID": f"rebuilt-{i}", "sentence": sentence, "option1": o1, "option2": o2, "answer": label}


def main(src: Path) -> None:
    for folder, names in LICENCES.items():
        for name in names:
            (HERE / folder).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src / folder / name, HERE / folder / name)
    head_lines(src / "gsm8k/grade_school_math/data/test.jsonl", HERE / "gsm8k/grade_school_math/data/test.jsonl", 8)
    head_lines(src / "gsm8k/grade_school_math/data/train.jsonl", HERE / "gsm8k/grade_school_math/data/train.jsonl", 5)
    for subject in ("abstract_algebra", "high_school_geography"):
        for split, n in (("dev", 5), ("val", 2), ("test", 4)):
            head_lines(src / f"mmlu/data/{split}/{subject}_{split}.csv", HERE / f"mmlu/data/{split}/{subject}_{split}.csv", n)
    tqa = json.loads((src / "truthfulqa/data/v1/mc_task.json").read_text())
    (HERE / "truthfulqa/data/v1").mkdir(parents=True, exist_ok=True)
    (HERE / "truthfulqa/data/v1/mc_task.json").write_text(json.dumps(tqa[:6], indent=2, ensure_ascii=False) + "\n")
    for lang in ("de", "fr", "sw", "es"):
        head_lines(src / f"mgsm/mgsm_{lang}.tsv", HERE / f"mgsm/mgsm_{lang}.tsv", 6)
    for name in ("minerva_math", "olympiadbench"):
        head_lines(src / f"qwen25math/{name}/test.jsonl", HERE / f"qwen25math/{name}/test.jsonl", 4)
    head_lines(src / "math500/prm800k/math_splits/test.jsonl", HERE / "math500/prm800k/math_splits/test.jsonl", 4)
    arc = HERE / "arc_challenge/ARC-Challenge"
    arc.mkdir(parents=True, exist_ok=True)
    for split, derived, n in (("Test", "test.json", 8), ("Train", "train.json", 25)):
        items = json.loads((src / "arc_challenge/dataset/ARC-Challenge" / derived).read_text())[:n]
        (arc / f"ARC-Challenge-{split}.jsonl").write_text(
            "".join(json.dumps(arc_item(i, d)) + "\n" for i, d in enumerate(items)))
    wino = HERE / "winogrande/winogrande_1.1"
    wino.mkdir(parents=True, exist_ok=True)
    derived = json.loads((src / "winogrande/dataset/winogrande/test.json").read_text())
    labels = (src / "winogrande/data/winogrande/dev-labels.lst").read_text().split()
    dev = [winogrande_item(i, d, labels[i]) for i, d in enumerate(derived[:8])]
    # dev.jsonl carries the answer as well as dev-labels.lst (only test.jsonl goes without)
    (wino / "dev.jsonl").write_text("".join(json.dumps(r) + "\n" for r in dev))
    (wino / "dev-labels.lst").write_text("".join(f"{r['answer']}\n" for r in dev))
    # the release's train_xs.jsonl is not in the derived copy: 9 more dev items stand in for it
    # (the 5 shots are its items 0, 2, 4, 6, 8)
    xs = [winogrande_item(i, d, labels[i]) for i, d in enumerate(derived[8:17], start=8)]
    (wino / "train_xs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in xs))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
