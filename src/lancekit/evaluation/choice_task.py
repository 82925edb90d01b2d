"""Multiple choice by continuation log-likelihood inside OpenCompass (imported only in the
opencompass env, by dotted path from the generated eval config); the items, prompts and pick are
lancekit.evaluation.choice.

- `ChoiceDataset`: the upstream files of one benchmark (`fmt`: "arc" or "winogrande"; `path` the
  test file, `train` the file of the shots) as items.
- `ChoiceInferencer`: per item, the log-likelihood of every option's continuation after its
  context (`LanceHFBaseModel.continuation_logprobs`, one batch per item); the prediction is the
  picked option's index, the log-likelihoods are kept in the predictions file.
- `ChoiceEvaluator`: accuracy = 100 x the share of items whose pick is the gold option.
"""

from __future__ import annotations

import json
import os

from datasets import Dataset
from opencompass.datasets.base import BaseDataset
from opencompass.openicl.icl_evaluator import BaseEvaluator
from opencompass.openicl.icl_inferencer.icl_base_inferencer import BaseInferencer, dump_results_dict
from tqdm import tqdm

from lancekit.evaluation.choice import LOADERS, pick


class ChoiceDataset(BaseDataset):

    @staticmethod
    def load(path: str, fmt: str, train: str) -> Dataset:
        items = LOADERS[fmt](path, train)
        # options as JSON text: a column of ragged nested lists is not what Arrow likes
        return Dataset.from_list([{"id": it["id"], "options": json.dumps(it["options"]), "gold": it["gold"],
                                   "norm": it["norm"]} for it in items])


class ChoiceInferencer(BaseInferencer):

    def __init__(self, model, max_seq_len=None, batch_size=1, output_json_filepath="./icl_inference_output",
                 output_json_filename="predictions", **kwargs):
        super().__init__(model=model, max_seq_len=max_seq_len, batch_size=batch_size,
                         output_json_filepath=output_json_filepath,
                         output_json_filename=output_json_filename, **kwargs)

    def inference(self, retriever, ice_template=None, prompt_template=None, output_json_filepath=None,
                  output_json_filename=None) -> list:
        out_dir = output_json_filepath or self.output_json_filepath
        out_name = output_json_filename or self.output_json_filename
        if not hasattr(self.model, "continuation_logprobs"):
            raise TypeError(f"log-likelihood multiple choice needs lancekit.evaluation.models.LanceHFBaseModel, "
                            f"not {type(self.model).__name__}")
        results = {}
        for i, entry in enumerate(tqdm(retriever.test_ds, desc="choices", disable=not self.is_main_process)):
            options = json.loads(entry["options"])
            contexts, conts = [o[0] for o in options], [o[1] for o in options]
            logprobs = self.model.continuation_logprobs(contexts, conts)
            results[str(i)] = {"id": entry["id"], "origin_prompt": contexts[entry["gold"]],
                               "continuations": conts, "logprobs": logprobs,
                               "prediction": pick(logprobs, conts, bool(entry["norm"])), "gold": entry["gold"]}
        if self.is_main_process:
            os.makedirs(out_dir, exist_ok=True)
            dump_results_dict(results, os.path.join(out_dir, out_name))
        return [r["prediction"] for r in results.values()]


class ChoiceEvaluator(BaseEvaluator):

    def score(self, predictions, references):
        if len(predictions) != len(references):
            return {"error": f"{len(predictions)} predictions for {len(references)} items"}
        correct = [int(p) == int(r) for p, r in zip(predictions, references)]
        return {"accuracy": 100.0 * sum(correct) / len(correct), "details": [{"correct": c} for c in correct]}
