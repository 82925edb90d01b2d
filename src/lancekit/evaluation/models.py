"""lance's OpenCompass models (imported only inside the opencompass env): the transformers-5 chat
and base models, the OpenAI-API model of the vLLM generation backend, and the vLLM likelihood
scorer (LanceVLLMScorer, config eval.likelihood: vllm).

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

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import requests
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


from opencompass.models.huggingface_above_v4_33 import HuggingFaceBaseModel, _convert_base_messages  # noqa: E402
from opencompass.models.openai_api import OpenAISDK  # noqa: E402

from lancekit.evaluation.likelihood import (  # noqa: E402
    LikelihoodError,
    continuation_ids,
    continuation_sum,
    mean_nll,
    prompt_logprobs,
)
from lancekit.evaluation.vllm_server import API_KEY_ENV  # noqa: E402


class LanceHFBaseModel(HuggingFaceBaseModel):
    """HuggingFaceBaseModel (no chat template: the likelihood benchmarks, PPL/LL inferencers)
    with the same transformers-5 tokenizer shim."""

    def _load_tokenizer(self, path: str | None, kwargs: dict, pad_token_id: int | None = None):
        super()._load_tokenizer(path, kwargs, pad_token_id)
        add_batch_encode_plus(self.tokenizer)

    def get_ppl(self, inputs, mask_length=None):
        """OpenCompass's get_ppl (MMLU, HellaSwag), with the batch padded on the right. As shipped
        (opencompass 0.5.4) it pads on the tokenizer's side, which OpenCompass sets to the left for
        generation, and passes no position ids: a shorter sequence's tokens then sit at shifted
        positions and its perplexity depends on the batch it lands in (on the embedded model, an
        MMLU prompt's mean NLL was 1.6809 beside longer ones and 1.6410 alone). Padded on the
        right, every sequence scores as it does alone (the attention mask hides the padding)."""
        side = self.tokenizer.padding_side
        self.tokenizer.padding_side = "right"
        try:
            return super().get_ppl(inputs, mask_length)
        finally:
            self.tokenizer.padding_side = side

    def sequences(self, contexts: list[str], conts: list[str]) -> list[tuple[list[int], int]]:
        """(token ids, continuation length) of each context and continuation: tokenized apart and
        joined, as the leaderboard's harness does; a sequence longer than max_seq_len loses
        tokens from the left of the context (lancekit.evaluation.likelihood.continuation_ids)."""
        out = []
        for ctx, cont in zip(contexts, conts, strict=True):
            ctx_ids = self.tokenizer(ctx, add_special_tokens=True)["input_ids"]
            cont_ids = self.tokenizer(cont, add_special_tokens=False)["input_ids"]
            try:
                out.append(continuation_ids(ctx_ids, cont_ids, int(self.max_seq_len)))
            except LikelihoodError as e:
                raise ValueError(f"continuation {cont!r}: {e}") from None
        return out

    def token_logprobs(self, seqs: list[list[int]]) -> list[list[float]]:
        """log p(ids[j] | ids[:j]) for j >= 1 of each sequence: one forward pass for the batch."""
        import torch

        width = max(len(ids) for ids in seqs)
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        input_ids = torch.full((len(seqs), width), pad, dtype=torch.long)
        mask = torch.zeros((len(seqs), width), dtype=torch.long)
        for row, ids in enumerate(seqs):
            input_ids[row, :len(ids)] = torch.tensor(ids)
            mask[row, :len(ids)] = 1
        device = self.model.device
        with torch.no_grad():
            logits = self.model(input_ids=input_ids.to(device), attention_mask=mask.to(device)).logits
        logprobs = torch.log_softmax(logits.float(), dim=-1).cpu()
        # token j is predicted by position j - 1
        return [logprobs[row, :len(ids) - 1].gather(1, torch.tensor(ids[1:])[:, None])[:, 0].tolist()
                for row, ids in enumerate(seqs)]

    def continuation_logprobs(self, contexts: list[str], conts: list[str]) -> list[float]:
        """Summed log-probability of each continuation's tokens after its context (TruthfulQA mc2,
        ARC, Winogrande). (OpenCompass's own `get_loglikelihood` masks the first
        len(continuation) tokens and averages, which is not this.)"""
        seqs = self.sequences(contexts, conts)
        lps = self.token_logprobs([ids for ids, _ in seqs])
        return [continuation_sum(lp, n) for lp, (_, n) in zip(lps, seqs)]


class LanceVLLMScorer(LanceHFBaseModel):
    """The likelihood benchmarks on a local `vllm serve` (config eval.likelihood: vllm): the same
    tokenizer, templates and scores as LanceHFBaseModel, with each token's log-probability from
    the server's prompt log-probabilities (completions API, `prompt_logprobs: 0`, the prompt sent as
    token ids) instead of a transformers forward pass. Loads the tokenizer only.

    - `get_ppl` (OpenCompass's PPL inferencer: MMLU, HellaSwag): the sequences OpenCompass's
      get_ppl tokenizes (add_special_tokens, truncated on the right at max_seq_len), scored by
      lancekit.evaluation.likelihood.mean_nll, its formula.
    - `continuation_logprobs` (ARC, Winogrande, TruthfulQA mc2): as LanceHFBaseModel, summed by
      likelihood.continuation_sum; `items_per_call` items are scored in one call.
    Each call's sequences go to the server as concurrent requests of `chunk` prompts."""

    def __init__(self, path: str, api_base: str, served_name: str, chunk: int = 16, items_per_call: int = 64,
                 timeout: float = 3600.0, **kwargs):
        kwargs["tokenizer_only"] = True
        super().__init__(path=path, **kwargs)
        self.api_base, self.served_name = api_base.rstrip("/"), served_name
        self.chunk, self.items_per_call, self.timeout = max(int(chunk), 1), max(int(items_per_call), 1), timeout

    def _request(self, seqs: list[list[int]]) -> list[list[float]]:
        body = {"model": self.served_name, "prompt": seqs, "max_tokens": 1, "temperature": 0.0,
                "prompt_logprobs": 0}
        headers = {"Authorization": f"Bearer {os.environ.get(API_KEY_ENV, '')}"}
        resp = requests.post(f"{self.api_base}/completions", json=body, headers=headers, timeout=self.timeout)
        if resp.status_code != 200:
            raise RuntimeError(f"vLLM server {self.api_base}: HTTP {resp.status_code}: {resp.text[:500]}")
        choices = sorted(resp.json()["choices"], key=lambda c: c["index"])
        if len(choices) != len(seqs):
            raise RuntimeError(f"vLLM server: {len(choices)} choices for {len(seqs)} prompts")
        return [prompt_logprobs(c, ids) for c, ids in zip(choices, seqs)]

    def token_logprobs(self, seqs: list[list[int]]) -> list[list[float]]:
        chunks = [seqs[i:i + self.chunk] for i in range(0, len(seqs), self.chunk)]
        with ThreadPoolExecutor(max_workers=max(len(chunks), 1)) as pool:
            return [lp for part in pool.map(self._request, chunks) for lp in part]

    def get_ppl(self, inputs, mask_length=None):
        messages = _convert_base_messages(inputs)
        limit = int(self.max_seq_len)
        seqs = [self.tokenizer(m, add_special_tokens=True, truncation=True, max_length=limit)["input_ids"]
                for m in messages]
        lps = self.token_logprobs(seqs)
        pad = self.tokenizer.pad_token_id
        masks = mask_length if mask_length is not None else [None] * len(seqs)
        return np.array([mean_nll(ids, lp, pad, m) for ids, lp, m in zip(seqs, lps, masks)])


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
