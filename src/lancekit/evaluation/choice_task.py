"""Multiple choice by continuation log-likelihood inside OpenCompass (imported only in the
opencompass env, by dotted path from the generated eval config); the items, prompts and pick are
lancekit.evaluation.choice.

- `ChoiceDataset`: the upstream files of one benchmark (`fmt`: "arc" or "winogrande"; `path` the
  test file, `train` the file of the shots) as items.
- `ChoiceInferencer`: per item, the log-likelihood of every option's continuation after its
  context (the model's `continuation_logprobs`: transformers one item per batch, or a vLLM
  server); the prediction is the picked option's index, the log-likelihoods are kept in the
  predictions file.
- `ChoiceEvaluator`: accuracy = 100 x the share of items whose pick is the gold option.
"""

from __future__ import annotations

import json

from datasets import Dataset
from opencompass.datasets.base import BaseDataset
from opencompass.openicl.icl_evaluator import BaseEvaluator

from lancekit.evaluation.choice import LOADERS, pick
from lancekit.evaluation.truthfulqa_task import ContinuationInferencer


class ChoiceDataset(BaseDataset):

    @staticmethod
    def load(path: str, fmt: str, train: str) -> Dataset:
        items = LOADERS[fmt](path, train)
        # options as JSON text: a column of ragged nested lists is not what Arrow likes
        return Dataset.from_list([{"id": it["id"], "options": json.dumps(it["options"]), "gold": it["gold"],
                                   "norm": it["norm"]} for it in items])


class ChoiceInferencer(ContinuationInferencer):

    task = "log-likelihood multiple choice"

    def item_requests(self, entry, prompt_template):
        options = json.loads(entry["options"])
        return [o[0] for o in options], [o[1] for o in options]

    def item_record(self, entry, prompt_template, contexts, conts, logprobs):
        return {"id": entry["id"], "origin_prompt": contexts[entry["gold"]], "continuations": conts,
                "logprobs": logprobs, "prediction": pick(logprobs, conts, bool(entry["norm"])), "gold": entry["gold"]}


class ChoiceEvaluator(BaseEvaluator):

    def score(self, predictions, references):
        if len(predictions) != len(references):
            return {"error": f"{len(predictions)} predictions for {len(references)} items"}
        correct = [int(p) == int(r) for p, r in zip(predictions, references)]
        return {"accuracy": 100.0 * sum(correct) / len(correct), "details": [{"correct": c} for c in correct]}
