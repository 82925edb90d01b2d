"""TruthfulQA mc2 inside OpenCompass (imported only in the opencompass env, by dotted path from
the generated eval config). The prompt, data file and score are lancekit.evaluation.truthfulqa.

- `TruthfulQAMC2Dataset`: the staged mc_task.json as a dataset of question/choices/labels.
- `MC2Inferencer`: per question, the summed log-probability of every choice after the prompt
  (`LanceHFBaseModel.continuation_logprobs`, one batch per question); the prediction is the mc2
  value of that question, the log-probabilities are kept in the predictions file.
- `MC2Evaluator`: mc2 = 100 x the mean over questions; per-question values as `details`.
"""

from __future__ import annotations

import os

from datasets import Dataset
from opencompass.datasets.base import BaseDataset
from opencompass.openicl.icl_evaluator import BaseEvaluator
from opencompass.openicl.icl_inferencer.icl_base_inferencer import BaseInferencer, dump_results_dict
from tqdm import tqdm

from lancekit.evaluation.truthfulqa import continuation, load_items, mc2_score


class TruthfulQAMC2Dataset(BaseDataset):

    @staticmethod
    def load(path: str) -> Dataset:
        return Dataset.from_list(load_items(path))


class ContinuationInferencer(BaseInferencer):
    """Per item, the log-likelihoods of continuations (`LanceHFBaseModel.continuation_logprobs`);
    a subclass says what an item's record is (`item_result`, with its "prediction")."""

    task = "log-likelihood scoring"

    def __init__(self, model, max_seq_len=None, batch_size=1, output_json_filepath="./icl_inference_output",
                 output_json_filename="predictions", **kwargs):
        super().__init__(model=model, max_seq_len=max_seq_len, batch_size=batch_size,
                         output_json_filepath=output_json_filepath,
                         output_json_filename=output_json_filename, **kwargs)

    def item_result(self, entry, prompt_template) -> dict:
        raise NotImplementedError

    def inference(self, retriever, ice_template=None, prompt_template=None, output_json_filepath=None,
                  output_json_filename=None) -> list:
        out_dir = output_json_filepath or self.output_json_filepath
        out_name = output_json_filename or self.output_json_filename
        if not hasattr(self.model, "continuation_logprobs"):
            raise TypeError(f"{self.task} needs lancekit.evaluation.models.LanceHFBaseModel, not "
                            f"{type(self.model).__name__}")
        results = {str(i): self.item_result(entry, prompt_template)
                   for i, entry in enumerate(tqdm(retriever.test_ds, desc=self.task,
                                                  disable=not self.is_main_process))}
        if self.is_main_process:
            os.makedirs(out_dir, exist_ok=True)
            dump_results_dict(results, os.path.join(out_dir, out_name))
        return [r["prediction"] for r in results.values()]


class MC2Inferencer(ContinuationInferencer):

    task = "truthfulqa mc2"

    def item_result(self, entry, prompt_template) -> dict:
        prompt = prompt_template.generate_item(entry)
        conts = [continuation(c) for c in entry["choices"]]
        logprobs = self.model.continuation_logprobs([prompt] * len(conts), conts)
        return {"origin_prompt": prompt, "choices": entry["choices"], "labels": entry["labels"],
                "logprobs": logprobs, "prediction": mc2_score(logprobs, entry["labels"])}


class MC2Evaluator(BaseEvaluator):

    def score(self, predictions, references):
        if len(predictions) != len(references):
            return {"error": f"{len(predictions)} predictions for {len(references)} questions"}
        values = [float(p) for p in predictions]
        return {"mc2": 100.0 * sum(values) / len(values), "details": [{"mc2": v} for v in values]}
