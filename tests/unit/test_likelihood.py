"""Likelihood scores from token log-probabilities (lancekit.evaluation.likelihood): the
continuation's sum, OpenCompass's get_ppl written out, and vLLM's prompt log-probabilities read
back; and the vLLM likelihood group of an evaluation (backend_of, the rendered model)."""

import math

import pytest

from lancekit.evaluation import likelihood as lk
from lancekit.evaluation.registry import SERVER_GROUPS, backend_of
from lancekit.evaluation.render import SCORER_MODEL_CLASS, model_config, render_eval_config


def test_a_long_context_loses_its_first_tokens_and_the_continuation_is_kept_whole():
    assert lk.continuation_ids([1, 2, 3, 4], [5, 6], 10) == ([1, 2, 3, 4, 5, 6], 2)
    assert lk.continuation_ids([1, 2, 3, 4], [5, 6], 4) == ([3, 4, 5, 6], 2)
    with pytest.raises(lk.LikelihoodError, match="empty continuation"):
        lk.continuation_ids([1], [], 4)
    with pytest.raises(lk.LikelihoodError, match="leaves no context"):
        lk.continuation_ids([1], [2, 3, 4, 5], 4)


def test_the_continuation_sum_is_over_its_last_tokens_only():
    lps = [-5.0, -0.25, -0.5, -1.0]  # tokens 1..4 of a 5-token sequence
    assert lk.continuation_sum(lps, 2) == -1.5
    assert lk.continuation_sum(lps, 4) == -6.75
    with pytest.raises(lk.LikelihoodError):
        lk.continuation_sum(lps, 5)
    with pytest.raises(lk.LikelihoodError):
        lk.continuation_sum(lps, 0)


def test_mean_nll_is_opencompass_get_ppl_by_hand():
    ids, lps = [7, 8, 9, 10], [-1.0, -2.0, -3.0]
    # no pad in the sequence: the sum over the 3 predicted tokens / all 4 tokens (get_ppl's lens)
    assert lk.mean_nll(ids, lps, pad_id=2) == pytest.approx(6.0 / 4)
    # mask_length 2: the loss from position mask_length - 1 (tokens 2 and 3), lens 4 - 2
    assert lk.mean_nll(ids, lps, pad_id=2, mask_length=2) == pytest.approx(5.0 / 2)
    # a real token equal to the pad id counts neither as a target nor in lens (as in get_ppl)
    assert lk.mean_nll([7, 2, 9, 10], lps, pad_id=2) == pytest.approx((2.0 + 3.0) / 3)
    with pytest.raises(lk.LikelihoodError, match="3 log-probabilities for 3 tokens"):
        lk.mean_nll([7, 8, 9], lps, pad_id=2)


def test_mean_nll_matches_opencompass_get_ppl_on_a_padded_batch():
    """get_ppl's own arithmetic (opencompass 0.5.4 HuggingFaceBaseModel.get_ppl, numpy for
    torch): right-padded rows, cross entropy ignoring the pad target, divided by the non-pad
    count, mask_length masking from position mask_length - 1."""
    np = pytest.importorskip("numpy")
    rng = np.random.default_rng(0)
    pad, vocab = 0, 11
    rows = [[3, 4, 5, 6, 7], [8, 9, 3], [5, 5, 5, 6]]
    masks = [2, 1, 3]
    width = max(map(len, rows))
    batch = np.full((len(rows), width), pad)
    for i, r in enumerate(rows):
        batch[i, :len(r)] = r
    logits = rng.normal(size=(len(rows), width, vocab))
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    labels = batch[:, 1:]
    loss = -np.take_along_axis(logp[:, :-1], labels[..., None], -1)[..., 0] * (labels != pad)
    for with_mask in (False, True):
        lens = (batch != pad).sum(-1).astype(float)
        masked = loss.copy()
        if with_mask:
            m = np.zeros_like(labels)
            for i in range(len(m)):
                m[i, masks[i] - 1:] = 1
            masked, lens = masked * m, lens - np.array(masks)
        expected = masked.sum(-1) / lens
        for i, r in enumerate(rows):
            lps = [float(logp[i, j - 1, r[j]]) for j in range(1, len(r))]
            got = lk.mean_nll(r, lps, pad, masks[i] if with_mask else None)
            assert got == pytest.approx(expected[i], rel=1e-12)


def _choice(ids, lps, extra=None):
    entries = [None] + [{str(t): {"logprob": lp, "rank": 1, "decoded_token": "x"}, **(extra or {})}
                        for t, lp in zip(ids[1:], lps)]
    return {"index": 0, "prompt_logprobs": entries}


def test_prompt_logprobs_are_read_by_the_prompt_tokens_own_ids():
    ids = [10, 11, 12]
    assert lk.prompt_logprobs(_choice(ids, [-0.5, -1.5]), ids) == [-0.5, -1.5]
    # a top-k entry of another token beside the prompt's own: the prompt's own is taken
    assert lk.prompt_logprobs(_choice(ids, [-0.5, -1.5], {"99": {"logprob": -0.1}}), ids) == [-0.5, -1.5]
    with pytest.raises(lk.LikelihoodError, match=r"2 entries for a prompt of 3 tokens"):
        lk.prompt_logprobs({"prompt_logprobs": [None, {"11": {"logprob": -1.0}}]}, ids)
    with pytest.raises(lk.LikelihoodError, match=r"prompt_logprobs\[2\]: no log-probability of the prompt's token 12"):
        lk.prompt_logprobs(_choice([10, 11, 13], [-0.5, -1.5]), ids)
    with pytest.raises(lk.LikelihoodError, match="is not a log-probability"):
        lk.prompt_logprobs(_choice(ids, [-0.5, math.nan]), ids)
    with pytest.raises(lk.LikelihoodError, match="NoneType"):
        lk.prompt_logprobs({"prompt_logprobs": None}, ids)


def test_likelihood_benchmarks_go_to_the_server_only_when_asked():
    assert backend_of("mmlu", "vllm") == "ppl" == backend_of("truthfulqa", "hf", "hf")
    assert backend_of("mmlu", "hf", "vllm") == "vllm-ppl" == backend_of("winogrande", "vllm", "vllm")
    assert backend_of("gsm8k", "hf", "vllm") == "hf"  # generation follows eval.backend
    assert set(SERVER_GROUPS) == {"vllm", "vllm-ppl"}
    with pytest.raises(ValueError, match="likelihood backend 'tgi'"):
        backend_of("mmlu", "vllm", "tgi")


def test_the_scorer_model_reads_the_tokenizer_here_and_the_weights_from_the_server(tmp_path):
    model = model_config(str(tmp_path), "m", {"max_seq_len": 1024}, backend="vllm-ppl",
                         api_base="http://127.0.0.1:5/v1", concurrency=64)
    assert model["type"] == SCORER_MODEL_CLASS and model["path"] == str(tmp_path)
    assert model["served_name"] == "m" and model["api_base"] == "http://127.0.0.1:5/v1"
    assert model["batch_size"] == model["items_per_call"] == 64 and model["max_seq_len"] == 1024
    assert "model_kwargs" not in model and "key" not in model  # no weights loaded; the key by environment
    with pytest.raises(ValueError, match="api_base"):
        model_config(str(tmp_path), "m", {}, backend="vllm-ppl")
    text = render_eval_config(str(tmp_path), "m", [{"name": "truthfulqa", "kind": "lance", "benchmark": "truthfulqa"}],
                              {}, backend="vllm-ppl", api_base="http://127.0.0.1:5/v1", concurrency=8)
    assert SCORER_MODEL_CLASS in text and "MC2Inferencer" in text


def test_an_opencompass_runs_time_is_parted_by_its_own_log_lines():
    import datetime as dt

    from lancekit.evaluation.task_logs import phases

    launched = dt.datetime(2026, 12, 7, 2, 14, 40).timestamp()
    log = "\n".join([
        "12/07 02:14:43 - OpenCompass - INFO - Current exp folder: /x/20261207_021443",
        "12/07 02:14:46 - OpenCompass - INFO - Start inferencing [base/arith]",
        "[2026-12-07 02:14:46,551] [opencompass.openicl] [INFO] Starting build dataloader",
        "12/07 02:16:15 - OpenCompass - INFO - Start inferencing [base/lance_mc]",
        "12/07 02:16:31 - OpenCompass - INFO - Running 0-th replica of evaluation",
        "12/07 02:16:32 - OpenCompass - INFO - Running 0-th replica of evaluation",
    ])
    ended = dt.datetime(2026, 12, 7, 2, 16, 35).timestamp()
    assert phases(log, launched, ended) == {"start_s": 6.0, "inference_s": 105.0, "evaluation_s": 4.0}
    assert phases("12/07 02:16:32 - OpenCompass - INFO - write summary\n", launched, ended) == {}


def _lp(ctx, tok) -> float:
    """A canned model: a log-probability that depends on the whole context and the token."""
    return -((sum(ctx) * 7 + len(ctx)) % 11 + tok % 5 + 1) / 10


def _full(seq):
    return [_lp(seq[:j], seq[j]) for j in range(1, len(seq))]


def _heads(plan):
    return [([_lp(p[:j], p[j]) for j in range(1, len(p))], {t: _lp(p, t) for t in nxt}) for p, nxt in plan.heads]


def test_options_that_differ_in_their_last_token_are_scored_by_one_request_for_their_prefix():
    mmlu = [[5, 6, 7, 8, 30], [5, 6, 7, 8, 31], [5, 6, 7, 8, 32], [5, 6, 7, 8, 33]]
    arc = [[5, 6, 9, 40, 41], [5, 6, 9, 42]]              # one tail of two tokens: no saving, alone
    lone = [[1, 2, 3]]                                      # a group of one: alone
    wino = [[3, 4, 50], [3, 4, 51], [3, 4, 51, 52]]        # two served, the longer one alone
    groups = [mmlu, arc, lone, wino]
    plan = lk.plan_groups(groups)
    assert plan.prefix == [4, 3, 0, 2] and plan.served == [[0, 1, 2, 3], [], [], [0, 1]]
    assert plan.heads == [([5, 6, 7, 8], [30, 31, 32, 33]), ([3, 4], [50, 51])]
    assert plan.alone == arc + lone + [[3, 4, 51, 52]]
    out = lk.assemble(groups, plan, _heads(plan), [_full(s) for s in plan.alone])
    # every sequence's log-probabilities are those of scoring it whole
    assert out == [[_full(s) for s in g] for g in groups]
    assert len(plan.heads) + len(plan.alone) == 6 < sum(len(g) for g in groups) == 10  # requests' prompts
    with pytest.raises(lk.LikelihoodError, match="1 log-probabilities for a prefix of 4 tokens"):
        lk.assemble(groups, plan, [([-1.0], {30: -1.0, 31: -1.0, 32: -1.0, 33: -1.0})] + _heads(plan)[1:],
                    [_full(s) for s in plan.alone])


def test_shared_prefixes_keep_a_token_for_every_sequence():
    assert lk.shared_prefix([[1, 2, 3], [1, 2, 3, 4]]) == 2   # [1, 2, 3] keeps its last token
    assert lk.shared_prefix([[1, 2], [3, 4]]) == 0 and lk.shared_prefix([[1, 2]]) == 0
    assert lk.head_served([[1, 2, 3], [1, 2, 4]]) == (2, [0, 1])
    assert lk.head_served([[1, 2, 3], [1, 5, 4]]) == (1, [])   # no sequence is the prefix and one token
    assert lk.head_served([[9, 2], [8, 2]]) == (0, [])         # nothing shared: no empty prompt


def test_requests_hold_at_most_their_size_and_the_servers_token_ids():
    heads = [([1], [10, 11]), ([2], [10, 11]), ([3], [12, 13]), ([4], [14]), ([5], [10])]
    assert lk.request_chunks(heads, 2, 20) == [[0, 1], [2, 3], [4]]
    assert lk.request_chunks(heads, 9, 3) == [[0, 1], [2, 3], [4]]    # {10, 11} + {12, 13} is 4 > 3
    assert lk.request_chunks([], 4, 20) == []
    with pytest.raises(lk.LikelihoodError, match="3 options' next tokens exceed the server's 2"):
        lk.request_chunks([([1], [1, 2, 3])], 4, 2)


def test_a_generated_positions_log_probability_is_read_by_token_id():
    choice = {"logprobs": {"top_logprobs": [{"token_id:7": -0.25, "token_id:9": -3.5}]}}
    assert lk.generated_logprob(choice, 9) == -3.5 and lk.generated_logprob(choice, 7) == -0.25
    with pytest.raises(lk.LikelihoodError, match="no log-probability of token 8"):
        lk.generated_logprob(choice, 8)
    with pytest.raises(lk.LikelihoodError, match="no log-probability of token 7"):
        lk.generated_logprob({"logprobs": None}, 7)
    with pytest.raises(lk.LikelihoodError, match="not a log-probability"):
        lk.generated_logprob({"logprobs": {"top_logprobs": [{"token_id:7": 0.5}]}}, 7)


def test_a_label_by_label_recording_regroups_by_item():
    recorded = ["0A", "1A", "2A", "0B", "1B", "2B"]
    assert lk.item_groups(recorded, 2) == [["0A", "0B"], ["1A", "1B"], ["2A", "2B"]]
    with pytest.raises(lk.LikelihoodError, match="5 recorded prompts do not divide among 2 labels"):
        lk.item_groups(recorded[:5], 2)


def test_likelihood_datasets_of_opencompass_score_each_items_options_together_on_vllm(tmp_path):
    spec = [{"name": "mmlu", "kind": "opencompass", "benchmark": "mmlu", "subsets": ["anatomy"]}]
    on_vllm = render_eval_config(str(tmp_path), "m", spec, {"limit": 3}, backend="vllm-ppl",
                                 api_base="http://127.0.0.1:5/v1", concurrency=8)
    assert "type='lancekit.evaluation.ppl_task.GroupedPPLInferencer'" in on_vllm
    assert "test_range='[0:3]'" in on_vllm and "'in_flight': 8" in on_vllm
    assert "GroupedPPLInferencer" not in render_eval_config(str(tmp_path), "m", spec, {"limit": 3}, backend="ppl")
