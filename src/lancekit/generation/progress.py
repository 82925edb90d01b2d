"""Progress of an engine stage that survives kill -9: every finished chunk of requests is
appended to ``<target>.progress.jsonl`` beside the stage's target (never inside it), flushed and
fsynced before the next chunk starts. A rerun reads the file back and sends only the requests
whose completions are not in it, so a kill loses at most the chunk in flight.

Each line is ``{"k": <key>, "c": [completions]}``. The key is a hash of everything that decides
a completion: the request's id and seed, the filled-in messages, samples, stop strings, choice
constraint, token budget, temperature, top_p, the model (its name, or for a directory the names,
sizes and times of its files), the engine's settings (dtype, context length, tensor parallelism,
in-process or not, its extra arguments, remote code) and the stage's code version. A changed
prompt, setting, engine, model or code never reuses a line, so the file may stay beside a
finished target: a rerun for any of those reasons recomputes every request.

A torn last line (killed in the middle of a write) is dropped when the file is opened; lines no
request of the finished stage asked for are dropped when it finishes. Deleting the file is always
safe: it only costs the recomputation.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from ..core.io import write_text_atomic
from ..core.provenance import model_fingerprint
from .settings import GenerationSettings, Sampling


def engine_key(generation: GenerationSettings, code: str) -> dict:
    """What of the engine and the code decides a completion, besides the request and the model."""
    v = generation.vllm
    return {"dtype": v.dtype, "max_model_len": v.max_model_len, "tensor_parallel_size": v.tensor_parallel_size,
            "in_process": v.in_process, "extra": v.extra, "trust_remote_code": generation.trust_remote_code,
            "code": code}


def request_key(req: dict, sampling: Sampling, max_tokens: int, model: str, engine: dict | None = None) -> str:
    """The key of one request's completions (see the module docstring)."""
    decisive = {"id": req.get("key"), "seed": req["seed"], "messages": req["messages"], "n": req["n"],
                "stop": list(req.get("stop") or []), "choice": list(req.get("choice") or []),
                "max_tokens": req.get("max_tokens") or max_tokens,
                "temperature": sampling.temperature, "top_p": sampling.top_p, "model": model,
                "engine": engine or {}}
    text = json.dumps(decisive, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class Progress:
    """The progress file of one job target; ``path=None`` keeps nothing (the unchunked call)."""

    def __init__(self, path: str | os.PathLike | None, model: str = "", engine: dict | None = None):
        self.path = Path(path) if path else None
        self.model = model_fingerprint(model) if model else ""
        self.engine = engine or {}
        self.done: dict[str, list[dict]] = {}
        self.used: set[str] = set()
        self.sent = self.resumed = self.chunks = 0
        if self.path is not None and self.path.exists():
            self._load()

    @staticmethod
    def beside(target: str | os.PathLike) -> Path:
        return Path(f"{target}.progress.jsonl")

    def _load(self) -> None:
        data = self.path.read_bytes()
        good = 0
        for line in data.splitlines(keepends=True):
            if not line.endswith(b"\n"):
                break
            try:
                row = json.loads(line)
                self.done[row["k"]] = row["c"]
            except (json.JSONDecodeError, KeyError, TypeError):
                break
            good += len(line)
        if good < len(data):  # a torn or garbled tail: keep what was whole
            write_text_atomic(self.path, data[:good].decode("utf-8"))

    def key(self, req: dict, sampling: Sampling, max_tokens: int) -> str:
        return request_key(req, sampling, max_tokens, self.model, self.engine)

    def get(self, key: str) -> list[dict] | None:
        comps = self.done.get(key)
        if comps is not None:
            self.used.add(key)
        return comps

    def save(self, rows: list[tuple[str, list[dict]]]) -> None:
        """Append one finished chunk, then flush and fsync it."""
        if not rows:
            return
        for key, comps in rows:
            self.done[key] = comps
            self.used.add(key)
        self.chunks += 1
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        text = "".join(json.dumps({"k": k, "c": c}, ensure_ascii=False) + "\n" for k, c in rows)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())

    def finish(self) -> None:
        """Drop the lines no request of this run asked for (a changed prompt or setting)."""
        if self.path is None or not self.path.exists():
            return
        stale = set(self.done) - self.used
        if stale:
            keep = "".join(json.dumps({"k": k, "c": c}, ensure_ascii=False) + "\n"
                           for k, c in self.done.items() if k in self.used)
            write_text_atomic(self.path, keep)

    def tally(self) -> dict:
        return {"requests_sent": self.sent, "requests_resumed": self.resumed, "chunks": self.chunks}
