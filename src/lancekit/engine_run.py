"""Glue between the pure stages and the vLLM adapter: one engine per process, every request of
a call in one batched `chat` (grouped only by samples asked for and stop strings)."""

from __future__ import annotations

import time
from dataclasses import asdict


def open_engine(model: str, vcfg: dict, seed: int, trust_remote_code: bool = False):
    """Load the model once with vLLM (imported here: only the vllm environment has it)."""
    from .vllm_engine import VLLMEngine

    t0 = time.time()
    engine = VLLMEngine(model, seed=seed, dtype=vcfg["dtype"], max_model_len=vcfg["max_model_len"],
                        tensor_parallel_size=vcfg["tensor_parallel_size"],
                        gpu_memory_utilization=vcfg["gpu_memory_utilization"],
                        trust_remote_code=trust_remote_code, extra=vcfg.get("extra") or None)
    print(f"engine ready in {time.time() - t0:.1f} s", flush=True)
    return engine


def batches(requests: list[dict]) -> dict[tuple, list[int]]:
    """Request indices grouped by what one vLLM call shares: samples asked for, stop strings,
    a choice constraint and the token budget."""
    out: dict[tuple, list[int]] = {}
    for i, r in enumerate(requests):
        key = (r["n"], tuple(r.get("stop") or ()), tuple(r.get("choice") or ()), r.get("max_tokens"))
        out.setdefault(key, []).append(i)
    return out


def run_requests(engine, requests: list[dict], sampling: dict, max_tokens: int, desc: str) -> list[list[dict]]:
    """Completions (as dicts) for every request, in request order. A request's own
    ``max_tokens`` wins over the stage's."""
    out: list[list[dict] | None] = [None] * len(requests)
    for (n, stop, choice, own_max), idx in batches(requests).items():
        t0 = time.time()
        results = engine.chat([requests[i]["messages"] for i in idx], n=n,
                              temperature=sampling["temperature"], top_p=sampling["top_p"],
                              max_tokens=own_max or max_tokens, seeds=[requests[i]["seed"] for i in idx],
                              desc=desc, stop=list(stop) or None, choice=list(choice) or None)
        toks = 0
        for i, comps in zip(idx, results, strict=True):
            out[i] = [asdict(c) for c in comps]
            toks += sum(c.num_tokens for c in comps)
        dt = time.time() - t0
        print(f"{desc}: {len(idx)} prompts x {n} samples{' (constrained)' if choice else ''}, "
              f"{toks} tokens in {dt:.1f} s ({toks / max(dt, 1e-9):.0f} tok/s)", flush=True)
    return out  # type: ignore[return-value]
