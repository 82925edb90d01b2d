"""The generation engine of the data stages: vLLM in this process (`vllm_engine`, import it only
inside the vLLM environment), requests sent in batches and saved in chunks as they finish
(`run`, `progress`), the engine settings every vLLM stage reads (`settings`), and data
parallelism over records (`shards`).

May import: lancekit.core.
"""
