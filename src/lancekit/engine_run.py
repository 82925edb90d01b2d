"""Glue between the pure stages and the vLLM adapter: one engine per process (loaded only when a
request must actually be sent), requests batched by what one vLLM call shares, sent in chunks
whose completions are saved as each chunk finishes (lancekit.progress)."""

from __future__ import annotations

import time
from dataclasses import asdict

from .progress import Progress


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


class LazyEngine:
    """The engine, loaded on the first chat call: a rerun whose every request is in the progress
    file never pays the model load."""

    def __init__(self, *args, **kwargs):
        self.args, self.kwargs, self._engine = args, kwargs, None

    def chat(self, *args, **kwargs):
        if self._engine is None:
            self._engine = open_engine(*self.args, **self.kwargs)
        return self._engine.chat(*args, **kwargs)


def batches(requests: list[dict]) -> dict[tuple, list[int]]:
    """Request indices grouped by what one vLLM call shares: samples asked for, stop strings,
    a choice constraint and the token budget."""
    out: dict[tuple, list[int]] = {}
    for i, r in enumerate(requests):
        key = (r["n"], tuple(r.get("stop") or ()), tuple(r.get("choice") or ()), r.get("max_tokens"))
        out.setdefault(key, []).append(i)
    return out


def chunked(idx: list[int], size: int) -> list[list[int]]:
    """`idx` in runs of at most `size` (0: one run)."""
    if size <= 0 or size >= len(idx):
        return [idx] if idx else []
    return [idx[i:i + size] for i in range(0, len(idx), size)]


def run_requests(engine, requests: list[dict], sampling: dict, max_tokens: int, desc: str,
                 progress: Progress | None = None, chunk: int = 0) -> list[list[dict]]:
    """Completions (as dicts) for every request, in request order. A request's own
    ``max_tokens`` wins over the stage's. Requests whose completions are in `progress` are not
    sent; the others go in chunks of `chunk` requests (0: all of a batch at once), each saved
    to `progress` as soon as it is done."""
    progress = progress or Progress(None)
    out: list[list[dict] | None] = [None] * len(requests)
    keys = [progress.key(r, sampling, max_tokens) for r in requests]
    pending = []
    for i, k in enumerate(keys):
        comps = progress.get(k)
        if comps is None:
            pending.append(i)
        else:
            out[i] = comps
    resumed = len(requests) - len(pending)
    progress.resumed += resumed
    if resumed:
        print(f"{desc}: {resumed} of {len(requests)} requests resumed from {progress.path}; "
              f"sending {len(pending)}", flush=True)
    for (n, stop, choice, own_max), idx in batches([requests[i] for i in pending]).items():
        for part in chunked([pending[j] for j in idx], chunk):
            t0 = time.time()
            results = engine.chat([requests[i]["messages"] for i in part], n=n,
                                  temperature=sampling["temperature"], top_p=sampling["top_p"],
                                  max_tokens=own_max or max_tokens, seeds=[requests[i]["seed"] for i in part],
                                  desc=desc, stop=list(stop) or None, choice=list(choice) or None)
            rows, toks = [], 0
            for i, comps in zip(part, results, strict=True):
                out[i] = [asdict(c) for c in comps]
                rows.append((keys[i], out[i]))
                toks += sum(c.num_tokens for c in comps)
            progress.save(rows)
            progress.sent += len(part)
            dt = time.time() - t0
            print(f"{desc}: {len(part)} prompts x {n} samples{' (constrained)' if choice else ''}, "
                  f"{toks} tokens in {dt:.1f} s ({toks / max(dt, 1e-9):.0f} tok/s); "
                  f"{sum(o is not None for o in out)}/{len(requests)} done", flush=True)
    return out  # type: ignore[return-value]
