"""OpenCompass chat model that runs with transformers 5 (imported only inside the opencompass env).

`opencompass==0.5.4`'s `HuggingFacewithChatTemplate` (the class `--hf-type chat` uses, in
opencompass/models/huggingface_above_v4_33.py) tokenizes prompt batches with
`tokenizer.batch_encode_plus(...)`, which transformers 5 removed; calling the tokenizer itself
takes the same arguments and returns the same BatchEncoding. Rather than edit site-packages, this
subclass gives the loaded tokenizer instance that one method back and changes nothing else.

The generated eval config refers to it by import path:
    type='lancekit.oc_model.LanceHFChatModel'
(mmengine's registry imports an unknown dotted name), so `scripts/` must be on PYTHONPATH of the
opencompass process and of the task processes it spawns (scripts/evaluate.py sets it).
"""

from __future__ import annotations

from opencompass.models.huggingface_above_v4_33 import HuggingFacewithChatTemplate


def add_batch_encode_plus(tokenizer):
    """Give a transformers-5 tokenizer the removed `batch_encode_plus` (an alias of __call__)."""
    if not hasattr(tokenizer, "batch_encode_plus"):

        def batch_encode_plus(batch_text_or_text_pairs, **kwargs):
            return tokenizer(batch_text_or_text_pairs, **kwargs)

        tokenizer.batch_encode_plus = batch_encode_plus
    return tokenizer


class LanceHFChatModel(HuggingFacewithChatTemplate):
    """HuggingFacewithChatTemplate with the transformers-5 tokenizer shim; nothing else differs."""

    def _load_tokenizer(self, path: str | None, kwargs: dict, pad_token_id: int | None = None):
        super()._load_tokenizer(path, kwargs, pad_token_id)
        add_batch_encode_plus(self.tokenizer)


from opencompass.models.huggingface_above_v4_33 import HuggingFaceBaseModel  # noqa: E402
from opencompass.models.openai_api import OpenAISDK  # noqa: E402


class LanceHFBaseModel(HuggingFaceBaseModel):
    """HuggingFaceBaseModel (no chat template: the likelihood benchmarks, PPL/LL inferencers)
    with the same transformers-5 tokenizer shim."""

    def _load_tokenizer(self, path: str | None, kwargs: dict, pad_token_id: int | None = None):
        super()._load_tokenizer(path, kwargs, pad_token_id)
        add_batch_encode_plus(self.tokenizer)


class LanceOpenAIModel(OpenAISDK):
    """OpenAISDK against our local `vllm serve` (lancekit.oc_vllm).

    Differs from OpenAISDK in one place: the tokenizer that counts prompt tokens is the model's
    own (`tokenizer_path` = the model folder), loaded offline with `trust_remote_code` only when
    the pipeline sets it (OpenAISDK always passes True, and tries tiktoken first)."""

    def __init__(self, *args, trust_remote_code: bool = False, **kwargs):
        self.trust_remote_code = bool(trust_remote_code)
        super().__init__(*args, **kwargs)

    def _init_tokenizer(self):
        from transformers import AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(self.tokenizer_path,
                                                       trust_remote_code=self.trust_remote_code)
        self.tokenizer_type = "hf"
