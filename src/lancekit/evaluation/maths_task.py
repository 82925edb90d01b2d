"""OlympiadBench as the Qwen2.5-Math harness has it, inside OpenCompass (imported only in the
opencompass env, by dotted path from the generated eval config): the harness's
`olympiadbench/test.jsonl` (675 English open-ended maths problems, text only) with its reference
answer as the harness reads it, the first entry of `final_answer` without its `$` signs."""

from __future__ import annotations

from datasets import Dataset
from opencompass.datasets.base import BaseDataset

from lancekit.core.io import read_jsonl


class OlympiadBenchDataset(BaseDataset):

    @staticmethod
    def load(path: str) -> Dataset:
        rows = []
        for i, rec in enumerate(read_jsonl(path)):
            answers = rec.get("final_answer")
            if not isinstance(answers, list) or not answers or not isinstance(answers[0], str):
                raise ValueError(f"{path}: record {i}: field 'final_answer' must be a non-empty list of strings")
            rows.append({"problem": rec["question"], "answer": answers[0].strip("$"), "id": str(rec.get("id", i))})
        return Dataset.from_list(rows)
