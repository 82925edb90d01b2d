"""Likelihood scores from per-token log-probabilities (pure: no engine, no OpenCompass import).

Both backends of the likelihood benchmarks score with these functions, so that an item gets the
same number whether its token log-probabilities came from a transformers forward pass
(lancekit.evaluation.models.LanceHFBaseModel) or from a vLLM server's prompt log-probabilities
(lancekit.evaluation.models.LanceVLLMScorer, config ``eval.likelihood: vllm``):

- `continuation_ids`: context and continuation tokenized apart and joined, cut from the left to
  the model's length (the leaderboard harness's way; ARC, Winogrande, TruthfulQA mc2);
  `continuation_sum`: the continuation's summed log-probability.
- `mean_nll`: OpenCompass's `HuggingFaceBaseModel.get_ppl` (opencompass 0.5.4, the PPL
  inferencer of MMLU and HellaSwag) written out: the mean negative log-likelihood of a sequence,
  where positions whose target is the pad token are left out of the sum, the count is the
  sequence's non-pad tokens (its first token included), and ``mask_length`` masks the first
  tokens of both.
- `prompt_logprobs`: the log-probability of each prompt token after the ones before it, read from
  one choice of vLLM's completions response (``prompt_logprobs``: None for the first token, then
  {token id: {"logprob": ...}} holding at least the prompt's own token).

A token's log-probability list ``lps`` has one entry per token after the first: ``lps[j - 1]`` is
log p(ids[j] | ids[:j]).
"""

from __future__ import annotations

import math
from collections.abc import Sequence


class LikelihoodError(ValueError):
    """A response or a sequence that cannot be scored."""


def continuation_ids(ctx_ids: Sequence[int], cont_ids: Sequence[int], max_len: int) -> tuple[list[int], int]:
    """(token ids, continuation length): context then continuation, the first tokens dropped when
    longer than ``max_len``."""
    if not cont_ids:
        raise LikelihoodError("empty continuation")
    if len(cont_ids) >= max_len:
        raise LikelihoodError(f"a continuation of {len(cont_ids)} tokens leaves no context within {max_len}")
    return (list(ctx_ids) + list(cont_ids))[-int(max_len):], len(cont_ids)


def continuation_sum(lps: Sequence[float], n_cont: int) -> float:
    """The summed log-probability of the last ``n_cont`` tokens."""
    if not 0 < n_cont <= len(lps):
        raise LikelihoodError(f"{n_cont} continuation tokens but {len(lps) + 1} tokens in the sequence")
    return float(math.fsum(lps[len(lps) - n_cont:]))


def mean_nll(ids: Sequence[int], lps: Sequence[float], pad_id: int | None, mask_length: int | None = None) -> float:
    """OpenCompass's get_ppl of one sequence (see the module's docstring)."""
    if len(lps) != len(ids) - 1:
        raise LikelihoodError(f"{len(lps)} log-probabilities for {len(ids)} tokens")
    start = 0 if mask_length is None else max(int(mask_length) - 1, 0)
    total = math.fsum(-lp for j, lp in enumerate(lps) if j >= start and ids[j + 1] != pad_id)
    count = sum(1 for t in ids if t != pad_id) - (int(mask_length) if mask_length is not None else 0)
    if count == 0:
        raise LikelihoodError("no token left to score")
    return total / count


def prompt_logprobs(choice: dict, ids: Sequence[int]) -> list[float]:
    """Each prompt token's log-probability from one choice of a vLLM completions response to the
    prompt ``ids`` (its own token's entry: the key is the token id as text)."""
    entries = choice.get("prompt_logprobs")
    if not isinstance(entries, list) or len(entries) != len(ids):
        got = len(entries) if isinstance(entries, list) else type(entries).__name__
        raise LikelihoodError(f"prompt_logprobs: {got} entries for a prompt of {len(ids)} tokens")
    out = []
    for j in range(1, len(ids)):
        entry = entries[j]
        value = entry.get(str(ids[j])) if isinstance(entry, dict) else None
        if not isinstance(value, dict) or not isinstance(value.get("logprob"), (int, float)):
            raise LikelihoodError(f"prompt_logprobs[{j}]: no log-probability of the prompt's token {ids[j]}")
        lp = float(value["logprob"])
        if not lp <= 0.0:  # NaN too
            raise LikelihoodError(f"prompt_logprobs[{j}]: {lp!r} is not a log-probability")
        out.append(lp)
    return out
