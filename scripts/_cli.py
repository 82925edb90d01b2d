"""Shared start of every entry point: import path, JSON params, log to stderr with timings."""

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def parser(doc: str) -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=doc)
    ap.add_argument("--params", type=json.loads, default={}, help="stage settings as JSON")
    return ap


class Timer:
    def __init__(self, name: str):
        self.name, self.t0 = name, time.time()

    def done(self) -> float:
        dt = time.time() - self.t0
        print(f"[{self.name}] finished in {dt:.1f} s", flush=True)
        return dt
