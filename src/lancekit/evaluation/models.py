"""OpenCompass chat model that runs with transformers 5 (imported only inside the opencompass env).

`opencompass==0.5.4`'s `HuggingFacewithChatTemplate` (the class `--hf-type chat` uses, in
opencompass/models/huggingface_above_v4_33.py) tokenizes prompt batches with
`tokenizer.batch_encode_plus(...)`, which transformers 5 removed; calling the tokenizer itself
takes the same arguments and returns the same BatchEncoding. Rather than edit site-packages, this
subclass gives the loaded tokenizer instance that one method back and changes nothing else.

The generated eval config refers to it by import path:
    type='lancekit.evaluation.models.LanceHFChatModel'
(mmengine's registry imports an unknown dotted name), so lancekit (src/) must be on PYTHONPATH of
the opencompass process and of the task processes it spawns (lancekit.evaluation.opencompass
sets it).
"""

from __future__ import annotations

from opencompass.models.huggingface_above_v4_33 import HuggingFacewithChatTemplate, _get_meta_template


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

    def continuation_logprobs(self, contexts: list[str], conts: list[str]) -> list[float]:
        """Summed log-probability of each continuation's tokens after its context, one forward
        pass for the batch (TruthfulQA mc2, lancekit.evaluation.truthfulqa_task). Context and continuation
        are tokenized apart and joined, as the leaderboard's harness does; a sequence longer
        than max_seq_len loses tokens from the left of the context. (OpenCompass's own
        `get_loglikelihood` masks the first len(continuation) tokens and averages, which is
        not this.)"""
        import torch

        seqs = []
        for ctx, cont in zip(contexts, conts, strict=True):
            ctx_ids = self.tokenizer(ctx, add_special_tokens=True)["input_ids"]
            cont_ids = self.tokenizer(cont, add_special_tokens=False)["input_ids"]
            if not cont_ids:
                raise ValueError(f"empty continuation {cont!r}")
            ids = (ctx_ids + cont_ids)[-int(self.max_seq_len):]
            seqs.append((ids, len(cont_ids)))
        width = max(len(ids) for ids, _ in seqs)
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        input_ids = torch.full((len(seqs), width), pad, dtype=torch.long)
        mask = torch.zeros((len(seqs), width), dtype=torch.long)
        for row, (ids, _) in enumerate(seqs):
            input_ids[row, :len(ids)] = torch.tensor(ids)
            mask[row, :len(ids)] = 1
        device = self.model.device
        with torch.no_grad():
            logits = self.model(input_ids=input_ids.to(device), attention_mask=mask.to(device)).logits
        logprobs = torch.log_softmax(logits.float(), dim=-1).cpu()
        out = []
        for row, (ids, n_cont) in enumerate(seqs):
            n = len(ids)
            # token j is predicted by position j - 1
            targets = torch.tensor(ids[n - n_cont:])
            picked = logprobs[row, n - n_cont - 1:n - 1].gather(1, targets[:, None])
            out.append(float(picked.sum()))
        return out


class LanceOpenAIModel(OpenAISDK):
    """OpenAISDK against our local `vllm serve` (lancekit.evaluation.vllm_server).

    Differs from OpenAISDK in two places, so that the server sees the very chat messages the HF
    backend (LanceHFChatModel) feeds its chat template:
    - prompts are parsed with the HF chat model's own meta template (`_get_meta_template`), not
      OpenAISDK's template-less parser. The HF parser turns a dataset's HUMAN turn into a role
      message ending in "\n"; the template-less one joins the turns into one string without it.
      Without it 16 of 200 items of the 135M model scored differently (benchmarks/bench_eval.py).
    - the tokenizer that counts prompt tokens is the model's own (`tokenizer_path` = the model
      folder), loaded offline with `trust_remote_code` only when the pipeline sets it (OpenAISDK
      always passes True, and tries tiktoken first)."""

    def __init__(self, *args, trust_remote_code: bool = False, meta_template: dict | None = None,
                 **kwargs):
        self.trust_remote_code = bool(trust_remote_code)
        super().__init__(*args, meta_template=meta_template, **kwargs)
        self.template_parser = _get_meta_template(meta_template)

    def _init_tokenizer(self):
        from transformers import AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(self.tokenizer_path,
                                                       trust_remote_code=self.trust_remote_code)
        self.tokenizer_type = "hf"
