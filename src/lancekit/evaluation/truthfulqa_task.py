"""TruthfulQA mc2 inside OpenCompass (imported only in the opencompass env, by dotted path from
the generated eval config). The prompt, data file and score are lancekit.evaluation.truthfulqa.

- `TruthfulQAMC2Dataset`: the staged mc_task.json as a dataset of question/choices/labels.
- `MC2Inferencer`: per question, the summed log-probability of every choice after the prompt
  (the model's `continuation_logprobs`: transformers one question per batch, or a vLLM server);
  the prediction is the mc2 value of that question, the log-probabilities are kept in the
  predictions file.
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
    """Per item, the log-likelihoods of continuations (the model's `continuation_logprobs`:
    LanceHFBaseModel one item per call, LanceVLLMScorer `items_per_call` items at once); a
    subclass says what an item asks (`item_requests`: contexts and continuations) and what its
    record is (`item_record`, with its "prediction")."""

    task = "log-likelihood scoring"

    def __init__(self, model, max_seq_len=None, batch_size=1, output_json_filepath="./icl_inference_output",
                 output_json_filename="predictions", **kwargs):
        super().__init__(model=model, max_seq_len=max_seq_len, batch_size=batch_size,
                         output_json_filepath=output_json_filepath,
                         output_json_filename=output_json_filename, **kwargs)

    def item_requests(self, entry, prompt_template) -> tuple[list[str], list[str]]:
        raise NotImplementedError

    def item_record(self, entry, prompt_template, contexts, conts, logprobs) -> dict:
        raise NotImplementedError

    def inference(self, retriever, ice_template=None, prompt_template=None, output_json_filepath=None,
                  output_json_filename=None) -> list:
        out_dir = output_json_filepath or self.output_json_filepath
        out_name = output_json_filename or self.output_json_filename
        if not hasattr(self.model, "continuation_logprobs"):
            raise TypeError(f"{self.task} needs lancekit.evaluation.models.LanceHFBaseModel or LanceVLLMScorer, "
                            f"not {type(self.model).__name__}")
        entries = list(retriever.test_ds)
        per_call = max(int(getattr(self.model, "items_per_call", 1)), 1)
        results = {}
        with tqdm(total=len(entries), desc=self.task, disable=not self.is_main_process) as bar:
            for start in range(0, len(entries), per_call):
                chunk = entries[start:start + per_call]
                asks = [self.item_requests(e, prompt_template) for e in chunk]
                flat = self.model.continuation_logprobs([c for ctx, _ in asks for c in ctx],
                                                        [c for _, conts in asks for c in conts])
                at = 0
                for i, (entry, (contexts, conts)) in enumerate(zip(chunk, asks)):
                    results[str(start + i)] = self.item_record(entry, prompt_template, contexts, conts,
                                                               flat[at:at + len(conts)])
                    at += len(conts)
                bar.update(len(chunk))
        if self.is_main_process:
            os.makedirs(out_dir, exist_ok=True)
            dump_results_dict(results, os.path.join(out_dir, out_name))
        return [r["prediction"] for r in results.values()]


class MC2Inferencer(ContinuationInferencer):

    task = "truthfulqa mc2"

    def item_requests(self, entry, prompt_template):
        prompt = prompt_template.generate_item(entry)
        conts = [continuation(c) for c in entry["choices"]]
        return [prompt] * len(conts), conts

    def item_record(self, entry, prompt_template, contexts, conts, logprobs):
        return {"origin_prompt": contexts[0], "choices": entry["choices"], "labels": entry["labels"],
                "logprobs": logprobs, "prediction": mc2_score(logprobs, entry["labels"])}


class MC2Evaluator(BaseEvaluator):

    def score(self, predictions, references):
        if len(predictions) != len(references):
            return {"error": f"{len(predictions)} predictions for {len(references)} questions"}
        values = [float(p) for p in predictions]
        return {"mc2": 100.0 * sum(values) / len(values), "details": [{"mc2": v} for v in values]}
