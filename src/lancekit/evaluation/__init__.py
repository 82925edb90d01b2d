"""Evaluation with OpenCompass: the benchmark registry (`registry`), the config it runs
(`render`), its summary (`summary`) and per-item scores (`items`), the adapter that runs it
(`opencompass`) with its local vLLM server (`vllm_server`), the classes OpenCompass imports by
dotted path from the rendered config (`models`, `truthfulqa_task`, `postprocess`: only inside the
opencompass environment), and the benchmarks of our own (`arith`, `truthfulqa`) with the seed
contamination check (`contamination`).

May import: lancekit.core.
"""
