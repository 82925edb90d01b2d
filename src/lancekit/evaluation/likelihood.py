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

- `shared_prefix`, `head_served`, `plan_groups`, `request_chunks`, `assemble`,
  `generated_logprob`: the options of one item share all but their
  last tokens (MMLU's and HellaSwag's prompts differ in the answer letter alone). One request for
  the shared prefix, with its prompt log-probabilities and the log-probability of each option's
  next token at the first generated position (``logprob_token_ids``), scores every option whose
  sequence is the prefix and one token: the prefix is computed once instead of once per option.

A token's log-probability list ``lps`` has one entry per token after the first: ``lps[j - 1]`` is
log p(ids[j] | ids[:j]).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple


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


def shared_prefix(seqs: Sequence[Sequence[int]]) -> int:
    """The length of the sequences' longest common prefix, at most the shortest one's length less
    one (every sequence keeps a token after it); 0 for fewer than two sequences."""
    if len(seqs) < 2:
        return 0
    limit = min(len(s) for s in seqs) - 1
    n = 0
    while n < limit and all(s[n] == seqs[0][n] for s in seqs):
        n += 1
    return n


def head_served(seqs: Sequence[Sequence[int]]) -> tuple[int, list[int]]:
    """(prefix length p, indices of the sequences one shared-prefix request scores): those that
    are the prefix and one token, when at least two are (nothing is saved for one)."""
    p = shared_prefix(seqs)
    served = [i for i, s in enumerate(seqs) if len(s) == p + 1] if p > 0 else []
    return (p, served) if len(served) >= 2 else (p, [])


def item_groups(recorded: Sequence, n_labels: int) -> list[list]:
    """Each item's sequences, one per label, from a label-by-label pass over the items (label 0's
    items in order, then label 1's, ...: OpenCompass's PPL inferencer)."""
    if n_labels <= 0 or len(recorded) % n_labels:
        raise LikelihoodError(f"{len(recorded)} recorded prompts do not divide among {n_labels} labels")
    n = len(recorded) // n_labels
    return [[recorded[k * n + i] for k in range(n_labels)] for i in range(n)]


class GroupPlan(NamedTuple):
    """How `plan_groups` scores groups of sequences: ``served[g]`` the indices of group g's
    sequences its shared-prefix request scores (empty: none), ``prefix[g]`` that prefix's length,
    ``heads`` one (prefix ids, next token ids) per group with a request, ``alone`` every other
    sequence, in order."""
    prefix: list[int]
    served: list[list[int]]
    heads: list[tuple[list[int], list[int]]]
    alone: list[list[int]]


def plan_groups(groups: Sequence[Sequence[Sequence[int]]]) -> GroupPlan:
    prefix, served, heads, alone = [], [], [], []
    for g in groups:
        p, ok = head_served(g)
        prefix.append(p)
        served.append(ok)
        if ok:
            heads.append((list(g[0][:p]), sorted({g[i][p] for i in ok})))
        alone += [list(s) for i, s in enumerate(g) if i not in ok]
    return GroupPlan(prefix, served, heads, alone)


def request_chunks(heads: Sequence[tuple[list[int], list[int]]], size: int, max_ids: int) -> list[list[int]]:
    """Indices of ``heads`` in requests of at most ``size`` prefixes whose next tokens together
    number at most ``max_ids`` (one request's ``logprob_token_ids``; the server's --max-logprobs)."""
    out, current, ids = [], [], set()
    for i, (_, nxt) in enumerate(heads):
        if len(nxt) > max_ids:
            raise LikelihoodError(f"{len(nxt)} options' next tokens exceed the server's {max_ids} log-probabilities")
        if current and (len(current) >= size or len(ids | set(nxt)) > max_ids):
            out.append(current)
            current, ids = [], set()
        current.append(i)
        ids |= set(nxt)
    return out + [current] if current else out


def assemble(groups: Sequence[Sequence[Sequence[int]]], plan: GroupPlan,
             head_results: Sequence[tuple[list[float], dict[int, float]]],
             alone_results: Sequence[list[float]]) -> list[list[list[float]]]:
    """Each sequence's ``lps`` from the answers: a served sequence's are its prefix's prompt
    log-probabilities and its last token's generated one; the others' their own request's."""
    heads, alone = iter(head_results), iter(alone_results)
    out = []
    for g, p, served in zip(groups, plan.prefix, plan.served):
        prefix_lps, nxt = next(heads) if served else ([], {})
        if served and len(prefix_lps) != p - 1:
            raise LikelihoodError(f"{len(prefix_lps)} log-probabilities for a prefix of {p} tokens")
        out.append([list(prefix_lps) + [nxt[s[p]]] if i in served else next(alone) for i, s in enumerate(g)])
    return out


def generated_logprob(choice: dict, token_id: int) -> float:
    """The log-probability of ``token_id`` at the first generated position, from one choice of a
    vLLM completions response asked with ``logprob_token_ids`` and ``return_tokens_as_token_ids``
    (its first ``top_logprobs`` entry maps "token_id:<id>" to a log-probability)."""
    logprobs = choice.get("logprobs")
    tops = logprobs.get("top_logprobs") if isinstance(logprobs, dict) else None
    first = tops[0] if isinstance(tops, list) and tops else None
    value = first.get(f"token_id:{int(token_id)}") if isinstance(first, dict) else None
    if not isinstance(value, (int, float)):
        raise LikelihoodError(f"logprobs: no log-probability of token {token_id} at the first generated position")
    if not value <= 0.0:
        raise LikelihoodError(f"logprobs: {value!r} is not a log-probability")
    return float(value)
