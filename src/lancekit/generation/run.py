"""Glue between the pure stages and the vLLM adapter: one engine per process (loaded only when a
request must actually be sent), requests batched by what one vLLM call shares, and completions
saved in chunks as they finish (lancekit.progress)."""

from __future__ import annotations

import os
import time
from dataclasses import asdict

from .progress import Progress
from .settings import GenerationSettings, Sampling


def open_engine(model: str, engine: GenerationSettings):
    """Load the model once with vLLM (imported here: only the vllm environment has it)."""
    from .vllm_engine import VLLMEngine

    t0 = time.time()
    v = engine.vllm
    llm = VLLMEngine(model, seed=engine.seed, dtype=v.dtype, max_model_len=v.max_model_len,
                     tensor_parallel_size=v.tensor_parallel_size, gpu_memory_utilization=v.gpu_memory_utilization,
                     trust_remote_code=engine.trust_remote_code, in_process=v.in_process, extra=v.extra or None)
    print(f"engine ready in {time.time() - t0:.1f} s", flush=True)
    return llm


class LazyEngine:
    """The engine, loaded on the first chat call: a rerun whose every request is in the progress
    file never pays the model load."""

    def __init__(self, model: str, engine: GenerationSettings):
        self.model, self.settings, self._engine = model, engine, None

    def chat(self, *args, **kwargs):
        if self._engine is None:
            self._engine = open_engine(self.model, self.settings)
        return self._engine.chat(*args, **kwargs)


def batches(requests: list[dict]) -> dict[tuple, list[int]]:
    """Request indices grouped by what one vLLM call shares: samples asked for, stop strings,
    a choice constraint and the token budget."""
    out: dict[tuple, list[int]] = {}
    for i, r in enumerate(requests):
        key = (r["n"], tuple(r.get("stop") or ()), tuple(r.get("choice") or ()), r.get("max_tokens"))
        out.setdefault(key, []).append(i)
    return out


# LANCE_TRACE_REQUESTS=<file>: one line per request the engine finished (the fault-injection
# benchmark counts the ones finished twice); unset in every run of the pipeline itself
TRACE = os.environ.get("LANCE_TRACE_REQUESTS")


def run_requests(engine, requests: list[dict], sampling: Sampling, max_tokens: int, desc: str,
                 progress: Progress | None = None, chunk: int = 0) -> list[list[dict]]:
    """Completions (as dicts) for every request, in request order. A request's own
    ``max_tokens`` wins over the stage's. Requests whose completions are in `progress` are not
    sent. The others go to the engine in one batched run per batch group, and as they finish,
    every `chunk` of them (0: all of the group) is saved to `progress` at once: saving never
    splits the engine's batch, so it costs no throughput."""
    progress = progress or Progress(None)
    out: list[list[dict] | None] = [None] * len(requests)
    keys = [progress.key(r, sampling, max_tokens) for r in requests]
    pending = []
    for i, k in enumerate(keys):
        comps = progress.get(k, requests[i]["n"])  # a saved line with other than n samples is not trusted
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
        part = [pending[j] for j in idx]
        size = chunk if chunk > 0 else len(part)
        done: list[tuple[str, list[dict]]] = []

        def finished(j: int, comps, part=part, size=size, done=done) -> None:
            i = part[j]
            out[i] = [asdict(c) for c in comps]
            done.append((keys[i], out[i]))
            if TRACE:  # benchmarks/bench_faults.py: which finished requests a kill made the engine redo
                with open(TRACE, "a") as f:
                    f.write(f"{progress.path}\t{keys[i]}\n")
            if len(done) >= size:
                progress.save(done)
                done.clear()

        t0 = time.time()
        results = engine.chat([requests[i]["messages"] for i in part], n=n, temperature=sampling.temperature,
                              top_p=sampling.top_p, max_tokens=own_max or max_tokens,
                              seeds=[requests[i]["seed"] for i in part], desc=desc, stop=list(stop) or None,
                              choice=list(choice) or None, on_done=finished)
        for j, comps in enumerate(results):  # an engine that hands nothing over as it goes
            if out[part[j]] is None:
                finished(j, comps)
        progress.save(done)
        progress.sent += len(part)
        toks = sum(c["num_tokens"] for i in part for c in out[i])
        dt = time.time() - t0
        print(f"{desc}: {len(part)} prompts x {n} samples{' (constrained)' if choice else ''}, "
              f"{toks} tokens in {dt:.1f} s ({toks / max(dt, 1e-9):.0f} tok/s); "
              f"{sum(o is not None for o in out)}/{len(requests)} done", flush=True)
    return out  # type: ignore[return-value]
