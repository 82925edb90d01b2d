"""OpenCompass's PPL inferencer (MMLU, HellaSwag) with every prompt known before the first is
scored (imported only in the opencompass env, by dotted path from the generated eval config, for
the likelihood benchmarks on vLLM: config eval.likelihood vllm).

OpenCompass 0.5.4's `PPLInferencer` scores label by label: all items' prompts ending in "A",
then all ending in "B", and so on. An item's options share everything but the answer, yet no call
sees two of them. `GroupedPPLInferencer` runs the upstream inference twice: first with the model
recording (`LanceVLLMScorer.recording`: every prompt tokenized exactly as it will be, scores of
zero, the outputs written to a scratch folder), then it hands the model each item's options as
one group (`prefetch_ppl`, which scores them together), then the upstream inference again, whose
calls read the stored log-probabilities. What is written, and every number in it, is upstream's.
A model without `prefetch_ppl` (transformers) and a dataset with `normalizing_str` skip the first
pass.
"""

from __future__ import annotations

import tempfile

from opencompass.openicl.icl_inferencer import PPLInferencer

from lancekit.evaluation.likelihood import item_groups


class GroupedPPLInferencer(PPLInferencer):

    def inference(self, retriever, ice_template=None, prompt_template=None, output_json_filepath=None,
                  output_json_filename=None, normalizing_str=None):
        model = self.model
        grouped = hasattr(model, "prefetch_ppl") and normalizing_str is None
        if grouped:
            labels = self.labels if self.labels is not None else retriever.get_labels(
                ice_template=ice_template, prompt_template=prompt_template)
            with tempfile.TemporaryDirectory() as scratch, model.recording() as recorded:
                super().inference(retriever, ice_template, prompt_template, scratch, "recording")
            model.prefetch_ppl(item_groups(recorded, len(labels)))
        try:
            return super().inference(retriever, ice_template, prompt_template, output_json_filepath,
                                     output_json_filename, normalizing_str)
        finally:
            if grouped:
                model.forget()
