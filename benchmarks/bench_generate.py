"""Generation throughput: all prompts in one batched vLLM call vs one call per prompt.

    python benchmarks/bench_generate.py MODEL_DIR [--seed-file data/seed/lance_seed.json] [-k 32]

Loads ONE engine (lancekit.generation.vllm_engine.VLLMEngine) and runs the same K chat prompts in
alternating rounds: batched, looped, batched, ... (``--rounds``, default 3). "batched" is the
pipeline's pattern (one ``chat`` call for all prompts); "looped" is the reference code's pattern
(one call per prompt). Prints generated tokens/s for each round and the ratio of the means.
Run with the vLLM environment's python.
"""

import argparse
import json
import os
import statistics
import threading
import time
from pathlib import Path

FALLBACK_QUESTIONS = [
    "What is the capital of France?", "Explain photosynthesis in two sentences.",
    "Write a haiku about autumn.", "How do I reverse a list in Python?",
    "Why is the sky blue?", "Give three tips for better sleep.",
    "What is the difference between weather and climate?", "Summarise the plot of Hamlet.",
    "What is 17 times 23?", "Suggest a name for a pet turtle.",
    "How does a refrigerator keep food cold?", "What causes the seasons on Earth?",
    "Translate 'good morning' into Spanish and German.", "What is a prime number?",
    "Write a short thank-you note to a teacher.", "How do vaccines work?",
    "List four renewable energy sources.", "What does HTTP stand for?",
    "Describe the water cycle.", "Why do cats purr?",
    "What is the Pythagorean theorem?", "Give a recipe idea using eggs and spinach.",
    "What is inflation in economics?", "How many continents are there? Name them.",
    "Write a limerick about a programmer.", "What is the boiling point of water at sea level?",
    "Explain what a black hole is to a child.", "What are the benefits of regular exercise?",
    "How do I make a good first impression at a job interview?",
    "What is the difference between a virus and a bacterium?",
    "Recommend a strategy for learning a new language.", "Why do leaves change colour in autumn?",
]


def load_prompts(seed_file: Path | None, k: int) -> list[str]:
    """K prompts from the seed file (JSON list of {"prompt", "response"}) or the inline list."""
    if seed_file is not None and seed_file.is_file():
        prompts = [r["prompt"] for r in json.loads(seed_file.read_text())]
        source = str(seed_file)
    else:
        prompts, source = FALLBACK_QUESTIONS, "inline questions"
    prompts = [prompts[i % len(prompts)] for i in range(k)]
    print(f"{k} prompts from {source}", flush=True)
    return prompts


class TreeRSS(threading.Thread):
    """Samples the summed RSS of this process and all its descendants (vLLM's engine core and
    workers) every half second; `peak` holds the largest sum seen, in bytes."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak = 0

    def run(self) -> None:
        import psutil  # a vLLM dependency
        me = psutil.Process()
        while True:
            total = 0
            for p in [me, *me.children(recursive=True)]:
                try:
                    total += p.memory_info().rss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)
            time.sleep(0.5)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("model", help="model directory")
    ap.add_argument("--seed-file", type=Path, default=None)
    ap.add_argument("-k", "--num-prompts", type=int, default=32)
    ap.add_argument("-n", type=int, default=4, help="samples per prompt")
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds, starting batched")
    ap.add_argument("--dtype", default="auto")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import resource
    rss = TreeRSS()
    rss.start()
    t0 = time.time()
    import vllm  # noqa: F401  (timed here; VLLMEngine imports it lazily)

    from lancekit.generation.vllm_engine import VLLMEngine

    t1 = time.time()
    engine = VLLMEngine(args.model, seed=0, dtype=args.dtype, max_model_len=2048)
    print(f"import {t1 - t0:.1f} s, engine ready in {time.time() - t1:.1f} s; "
          f"settings {engine.settings}", flush=True)

    prompts = load_prompts(args.seed_file, args.num_prompts)
    convs = [[{"role": "user", "content": p}] for p in prompts]
    seeds = [1000 + i for i in range(len(convs))]
    sample = dict(n=args.n, temperature=0.7, top_p=0.9, max_tokens=args.max_tokens)

    def batched() -> list:
        return engine.chat(convs, seeds=seeds, **sample)

    def looped() -> list:
        return [engine.chat([c], seeds=[s], **sample)[0] for c, s in zip(convs, seeds)]

    engine.chat(convs[:2], seeds=seeds[:2], **dict(sample, max_tokens=8))  # warm-up
    rates: dict[str, list[float]] = {"batched": [], "looped": []}
    for r in range(args.rounds):
        name, fn = ("batched", batched) if r % 2 == 0 else ("looped", looped)
        t = time.time()
        outs = fn()
        dt = time.time() - t
        toks = sum(c.num_tokens for o in outs for c in o)
        n_len = sum(c.finish_reason == "length" for o in outs for c in o)
        rates[name].append(toks / dt)
        print(f"round {r + 1} {name:8s}: {toks} tokens in {dt:.1f} s = {toks / dt:.1f} tok/s "
              f"({n_len}/{sum(len(o) for o in outs)} hit max_tokens)", flush=True)

    b, lp = rates["batched"], rates["looped"]
    print(f"batched {statistics.mean(b):.1f} tok/s, looped "
          + (f"{statistics.mean(lp):.1f} tok/s, ratio {statistics.mean(b) / statistics.mean(lp):.2f}x"
             if lp else "not run"))
    print(f"peak RSS: this process {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10:.0f} MB,"
          f" process tree {rss.peak / 2**20:.0f} MB (sampled every 0.5 s)")


if __name__ == "__main__":
    main()
