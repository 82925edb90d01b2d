"""The vLLM adapter of the data stages: the model loaded in this process (import it only inside the
vLLM environment). The evaluation talks to vLLM through a server instead
(lancekit.evaluation.vllm_server).

    engine = VLLMEngine("models/smollm2", seed=0)
    outs = engine.chat(conversations, n=4, temperature=0.7, top_p=0.9, max_tokens=128,
                       seeds=[1000 + i for i in range(len(conversations))])

All conversations of a call go to vLLM in ONE ``llm.chat`` call (continuous batching): on two
CPU cores that is ~3x faster than one call per prompt, on a GPU far more. Each conversation
carries its own ``SamplingParams`` with its own seed, so a sample depends on its seed rather
than on its position in the batch (only approximately on CPU: short outputs were identical
across fresh processes, a few long ones differed).

vLLM spawns worker processes: a script that builds a ``VLLMEngine`` must do so under
``if __name__ == "__main__":``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from ..core.envs import vllm_cpu_env


@dataclass
class Completion:
    """One sampled answer."""
    text: str
    finish_reason: str  # "stop" (end of turn) or "length" (hit max_tokens)
    num_tokens: int
    prompt_tokens: int = 0  # set for "prompt_too_long": the prompt's length in tokens


def cpu_dtype(cpuinfo: str = "/proc/cpuinfo") -> str:
    """The dtype to run vLLM in on this CPU: "bfloat16" with native BF16 support, else "float32".

    With ``avx512_bf16`` or ``amx_bf16`` vLLM's oneDNN kernels run bf16 natively (fp32 ran at
    ~0.75x the speed there). Without them (e.g. AVX2-only CPUs) oneDNN cannot build a bf16
    matmul, vLLM falls back to emulated bf16 in torch and bf16 is the slower choice.
    """
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return "float32"
    flags: set[str] = set()
    for line in text.splitlines():
        if line.startswith("flags"):
            flags.update(line.split(":", 1)[1].split())
            break
    return "bfloat16" if flags & {"avx512_bf16", "amx_bf16"} else "float32"


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


class VLLMEngine:
    """One ``vllm.LLM`` built once and reused for every ``chat`` call."""

    def __init__(self, model_path: str, *, seed: int = 0, dtype: str = "auto",
                 max_model_len: int = 4096, tensor_parallel_size: int = 1,
                 gpu_memory_utilization: float = 0.85, trust_remote_code: bool = False,
                 in_process: bool = False, extra: dict | None = None):
        """Build the engine.

        On a machine without CUDA: ``dtype="auto"`` becomes ``cpu_dtype()`` (vLLM's own "auto"
        would silently run a float32 checkpoint in bf16), eager mode (compiling costs 1-2 min
        per start for no speed-up), chunked prefill off (with per-request seeds it crashed
        batches of 64), and environment defaults that are only set when absent:
        lancekit.core.envs.vllm_cpu_env (a 2 GiB KV cache, the V1 model runner, every CPU of
        this process). With `in_process` (CPU only) the engine core and, with one rank, the worker
        run in this process (``distributed_executor_backend="uni"``): no extra Python to start.
        `extra` is passed to ``vllm.LLM`` last and overrides everything.
        """
        os.environ.setdefault("VLLM_NO_USAGE_STATS", "1")
        os.environ.setdefault("VLLM_DO_NOT_TRACK", "1")
        self.on_gpu = _cuda_available()
        kwargs: dict = dict(model=str(model_path), seed=seed, max_model_len=max_model_len,
                            tensor_parallel_size=tensor_parallel_size,
                            enable_prefix_caching=True, trust_remote_code=trust_remote_code)
        if self.on_gpu:
            kwargs.update(dtype=dtype, gpu_memory_utilization=gpu_memory_utilization)
        else:
            for var, value in vllm_cpu_env(2, tensor_parallel_size, in_process).items():
                os.environ.setdefault(var, value)
            kwargs.update(dtype=cpu_dtype() if dtype == "auto" else dtype, enforce_eager=True,
                          enable_chunked_prefill=False)
            if in_process and tensor_parallel_size == 1:  # the worker in the engine's process, too
                kwargs["distributed_executor_backend"] = "uni"
        kwargs.update(extra or {})
        self.settings = kwargs

        from vllm import LLM  # imported here: importing vLLM alone takes seconds
        self.llm = LLM(**kwargs)
        self.max_model_len = self.llm.llm_engine.model_config.max_model_len
        self.tokenizer = self.llm.get_tokenizer()

    def close(self) -> None:
        """Stop vLLM's engine-core and worker processes now (a process that goes on with other
        work, e.g. a benchmark, must not leave them polling the CPU)."""
        core = getattr(self.llm.llm_engine, "engine_core", None)
        if core is not None and hasattr(core, "shutdown"):
            core.shutdown()

    def prompt_tokens(self, conversation: list[dict]) -> int:
        """Length of a conversation once the chat template is applied."""
        cont = conversation[-1]["role"] == "assistant"
        ids = self.tokenizer.apply_chat_template(conversation, tokenize=True, add_generation_prompt=not cont,
                                                 continue_final_message=cont)
        return len(ids["input_ids"] if isinstance(ids, dict) else ids)

    def chat(self, conversations: list[list[dict]], *, n: int, temperature: float, top_p: float,
             max_tokens: int, seeds: list[int], desc: str = "",
             stop: list[str] | None = None, choice: list[str] | None = None,
             on_done: Callable[[int, list[Completion]], None] | None = None) -> list[list[Completion]]:
        """Sample `n` answers for every conversation, all in one batched vLLM call.

        `conversations` are lists of {"role", "content"} messages (the model's chat template is
        applied, including its default system line); a final assistant message is a prefix the
        model continues. `seeds` gives one seed per conversation; `stop` strings end a sample
        (finish_reason "stop", the string itself left out). `choice` constrains every sample to
        one of the given strings (vLLM structured outputs), e.g. the judge's " 0" .. " 10".
        Returns, in input order, one list of `n` Completions per conversation. With `on_done`,
        ``on_done(i, completions)`` is called as soon as conversation i is finished (all of them
        are still in one continuously batched run): what a crash-safe stage saves as it goes.
        """
        from vllm import SamplingParams
        from vllm.sampling_params import StructuredOutputsParams

        if len(seeds) != len(conversations):
            raise ValueError(f"{len(conversations)} conversations but {len(seeds)} seeds")
        if not conversations:
            return []
        if desc:
            print(f"{desc}: {len(conversations)} conversations x {n} samples", flush=True)
        # vLLM rejects the whole batch when one prompt does not fit: answer those here instead
        lengths = [self.prompt_tokens(c) for c in conversations]
        fits = [k < self.max_model_len for k in lengths]
        if not all(fits):
            print(f"{fits.count(False)} prompt(s) longer than max_model_len={self.max_model_len}: "
                  "skipped (finish_reason 'prompt_too_long')", flush=True)
        idx = [i for i, ok in enumerate(fits) if ok]
        params = [SamplingParams(n=n, temperature=temperature, top_p=top_p,
                                 max_tokens=max_tokens, seed=int(seeds[i]), stop=stop,
                                 structured_outputs=StructuredOutputsParams(choice=list(choice)) if choice else None)
                  for i in idx]
        # a conversation that ends with an assistant message is continued (a response prefix)
        cont = conversations[0][-1]["role"] == "assistant"
        if any((c[-1]["role"] == "assistant") != cont for c in conversations):
            raise ValueError("either every conversation of a call ends with an assistant prefix or none")
        results = [[Completion("", "prompt_too_long", 0, lengths[i])] * n for i in range(len(conversations))]
        if on_done is not None:
            for i in range(len(conversations)):
                if not fits[i]:
                    on_done(i, results[i])
        if not idx:
            return results
        convs = [conversations[i] for i in idx]
        if on_done is None:
            outputs = self.llm.chat(convs, params, use_tqdm=True, add_generation_prompt=not cont,
                                    continue_final_message=cont)
            for i, out in zip(idx, outputs):
                results[i] = _completions(out)
            return results
        # the same batched run, but each conversation is handed over the moment it is finished
        ids = self.llm.enqueue_chat(convs, params, use_tqdm=False, add_generation_prompt=not cont,
                                    continue_final_message=cont)
        # enqueue_chat answers the engine's internal ids ("7-1a2b3c4d"), outputs carry the
        # request's own id ("7"): index by both
        index = dict(zip(ids, idx, strict=True))
        index.update({rid.rsplit("-", 1)[0]: i for rid, i in zip(ids, idx, strict=True)})
        left = set(idx)
        engine = self.llm.llm_engine
        with tqdm(total=len(ids), desc="Processed prompts", dynamic_ncols=True) as bar:
            while engine.has_unfinished_requests():
                for out in engine.step():
                    i = index.get(out.request_id)
                    if out.finished and i in left:
                        left.discard(i)
                        results[i] = _completions(out)
                        on_done(i, results[i])
                        bar.update(1)
        if left:
            raise RuntimeError(f"vLLM finished without {len(left)} of the requests")
        return results


def _completions(out) -> list[Completion]:
    return [Completion(text=c.text, finish_reason=str(c.finish_reason), num_tokens=len(c.token_ids))
            for c in out.outputs]
