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

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import numpy as np
import requests
from opencompass.models.huggingface_above_v4_33 import HuggingFacewithChatTemplate, _get_meta_template
from tqdm import tqdm


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
from opencompass.utils import get_logger  # noqa: E402

from lancekit.evaluation.likelihood import (  # noqa: E402
    GroupPlan,
    LikelihoodError,
    assemble,
    continuation_ids,
    continuation_sum,
    generated_logprob,
    mean_nll,
    plan_groups,
    prompt_logprobs,
    request_chunks,
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
    the server (completions API, the prompt sent as token ids) instead of a transformers forward
    pass. Loads the tokenizer only.

    - `get_ppl` (OpenCompass's PPL inferencer: MMLU, HellaSwag): the sequences OpenCompass's
      get_ppl tokenizes (add_special_tokens, truncated on the right at max_seq_len), scored by
      lancekit.evaluation.likelihood.mean_nll, its formula. Under
      lancekit.evaluation.ppl_task.GroupedPPLInferencer, every option of every item is known
      before the first call (`recording`), and `prefetch_ppl` scores each item's options together:
      options that differ in their last token alone cost one request for the shared prefix
      (`likelihood.head_served`); `get_ppl` then reads the stored log-probabilities.
    - `continuation_logprobs` (ARC, Winogrande, TruthfulQA mc2): as LanceHFBaseModel, summed by
      likelihood.continuation_sum; `items_per_call` items are scored in one call.
    A request carries up to `chunk` prompts; `in_flight` prompts are at the server at once (its
    max_num_seqs)."""

    # ids asked per request with logprob_token_ids: vLLM's default --max-logprobs
    MAX_TOKEN_IDS = 20

    def __init__(self, path: str, api_base: str, served_name: str, chunk: int = 16, items_per_call: int = 64,
                 in_flight: int = 256, timeout: float = 3600.0, **kwargs):
        kwargs["tokenizer_only"] = True
        super().__init__(path=path, **kwargs)
        self.api_base, self.served_name = api_base.rstrip("/"), served_name
        self.chunk, self.items_per_call, self.timeout = max(int(chunk), 1), max(int(items_per_call), 1), timeout
        self.in_flight = max(int(in_flight), 1)
        self._recorded: list[list[int]] | None = None
        self._stored: dict[bytes, list[float]] = {}

    def _post(self, prompts: list[list[int]], **extra) -> list[dict]:
        body = {"model": self.served_name, "prompt": prompts, "max_tokens": 1, "temperature": 0.0, **extra}
        headers = {"Authorization": f"Bearer {os.environ.get(API_KEY_ENV, '')}"}
        resp = requests.post(f"{self.api_base}/completions", json=body, headers=headers, timeout=self.timeout)
        if resp.status_code != 200:
            raise RuntimeError(f"vLLM server {self.api_base}: HTTP {resp.status_code}: {resp.text[:500]}")
        choices = sorted(resp.json()["choices"], key=lambda c: c["index"])
        if len(choices) != len(prompts):
            raise RuntimeError(f"vLLM server: {len(choices)} choices for {len(prompts)} prompts")
        return choices

    def _request(self, seqs: list[list[int]]) -> list[list[float]]:
        return [prompt_logprobs(c, ids) for c, ids in zip(self._post(seqs, prompt_logprobs=0), seqs)]

    def _concurrently(self, fn, jobs: list) -> list:
        workers = max(min(len(jobs), self.in_flight // self.chunk), 1)
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(fn, jobs))

    def token_logprobs(self, seqs: list[list[int]]) -> list[list[float]]:
        chunks = [seqs[i:i + self.chunk] for i in range(0, len(seqs), self.chunk)]
        return [lp for part in self._concurrently(self._request, chunks) for lp in part]

    def _heads(self, heads: list[tuple[list[int], list[int]]]) -> list[tuple[list[float], dict[int, float]]]:
        """For each (prefix, next token ids): the prefix's own log-probabilities and each next
        token's log-probability after it (one request of up to `chunk` prefixes)."""
        ids = sorted({t for _, nxt in heads for t in nxt})
        choices = self._post([p for p, _ in heads], prompt_logprobs=0, logprobs=0, logprob_token_ids=ids,
                             return_tokens_as_token_ids=True)
        return [(prompt_logprobs(c, p), {t: generated_logprob(c, t) for t in nxt})
                for c, (p, nxt) in zip(choices, heads)]

    def score_groups(self, groups: list[list[list[int]]], plan: GroupPlan) -> list[list[list[float]]]:
        """Each token's log-probability in each sequence of each group (one item's options), as
        `plan` (likelihood.plan_groups of `groups`) says: one shared-prefix request for the served
        options, the others alone."""
        chunks = [[plan.heads[i] for i in c] for c in request_chunks(plan.heads, self.chunk, self.MAX_TOKEN_IDS)]
        solo = [plan.alone[i:i + self.chunk] for i in range(0, len(plan.alone), self.chunk)]
        done = self._concurrently(lambda job: job[0](job[1]), [(self._heads, c) for c in chunks] +
                               [(self._request, c) for c in solo])
        return assemble(groups, plan, [x for part in done[:len(chunks)] for x in part],
                        [x for part in done[len(chunks):] for x in part])

    @contextmanager
    def recording(self):
        """Inside, `get_ppl` only keeps the sequences it is given (and answers zeros): the PPL
        inferencer's first pass, which learns every prompt before any is scored."""
        self._recorded = []
        try:
            yield self._recorded
        finally:
            self._recorded = None

    def prefetch_ppl(self, groups: list[list[list[int]]]) -> None:
        """Score each group's sequences (`score_groups`) and keep them for `get_ppl`."""
        self._stored = {}
        options = served = requests = 0
        step = max(4 * self.in_flight, self.chunk)  # a few server batches between progress updates
        with tqdm(total=len(groups), desc="likelihood: items scored on vLLM") as bar:
            for start in range(0, len(groups), step):
                part = groups[start:start + step]
                plan = plan_groups(part)
                for g, lps in zip(part, self.score_groups(part, plan)):
                    self._stored.update((_key(s), lp) for s, lp in zip(g, lps))
                options += sum(len(g) for g in part)
                served += sum(len(s) for s in plan.served)
                requests += len(plan.heads)
                bar.update(len(part))
        get_logger().info(f"likelihood on vLLM: {served} of {options} options served by their item's shared prefix "
                          f"({requests} requests), {options - served} scored alone")

    def forget(self) -> None:
        self._stored = {}

    def get_ppl(self, inputs, mask_length=None):
        messages = _convert_base_messages(inputs)
        limit = int(self.max_seq_len)
        seqs = [self.tokenizer(m, add_special_tokens=True, truncation=True, max_length=limit)["input_ids"]
                for m in messages]
        if self._recorded is not None:
            self._recorded.extend(seqs)
            return np.zeros(len(seqs))
        found = [self._stored.get(_key(s)) for s in seqs]
        missing = [s for s, lp in zip(seqs, found) if lp is None]
        fresh = iter(self.token_logprobs(missing) if missing else [])
        lps = [lp if lp is not None else next(fresh) for lp in found]
        pad = self.tokenizer.pad_token_id
        masks = mask_length if mask_length is not None else [None] * len(seqs)
        return np.array([mean_nll(ids, lp, pad, m) for ids, lp, m in zip(seqs, lps, masks)])


def _key(ids: list[int]) -> bytes:
    return hashlib.blake2b(np.asarray(ids, dtype=np.int64).tobytes(), digest_size=16).digest()


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
