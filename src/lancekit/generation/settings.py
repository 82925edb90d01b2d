"""What every vLLM stage (review_seed, generate, review_new) reads of the config, as typed settings
(lancekit.core.settings): the arguments of vllm.LLM (config ``vllm``, but not its resources:
``kvcache_gib`` and ``chunk_size`` change no output), the sampling, the run's seed, and the
model's trust and name."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Sampling:
    temperature: float
    top_p: float


@dataclass(frozen=True)
class VLLMArgs:
    dtype: str = "auto"
    max_model_len: int = 4096
    tensor_parallel_size: int = 1
    gpu_memory_utilization: float = 0.85
    in_process: bool = False    # CPU: the engine's core and worker in the stage's own process
    extra: dict = field(default_factory=dict)   # more keyword arguments for vllm.LLM


@dataclass(frozen=True)
class GenerationSettings:
    vllm: VLLMArgs
    sampling: Sampling
    seed: int
    trust_remote_code: bool = False
    base_model: str = ""    # the config's model.base: a hub id is no input file, its name is what changes


def generation_settings(config: dict) -> GenerationSettings:
    """The settings of a vLLM stage, from the whole (validated) config."""
    vllm = {k: v for k, v in config["vllm"].items() if k not in ("kvcache_gib", "chunk_size")}
    return GenerationSettings(
        vllm=VLLMArgs(**vllm),
        sampling=Sampling(config["sampling"]["temperature"], config["sampling"]["top_p"]),
        seed=config["sampling"]["seed"],
        trust_remote_code=config["model"]["trust_remote_code"], base_model=config["model"]["base"])
