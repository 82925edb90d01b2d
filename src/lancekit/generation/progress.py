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

A torn last line (killed in the middle of a write) is dropped when the file is opened, and so is
any other line that is not a well-formed one (garbled, not UTF-8, completions of the wrong shape;
the log says how many): the lines around it stay. A line whose number of completions is not the
request's is not trusted. Lines no request of the finished stage asked for are dropped when it
finishes. Deleting the file is always safe: it only costs the recomputation.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from ..core.io import write_text_atomic
from ..core.provenance import code_version, model_fingerprint
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


def _is_count(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def _completion_ok(c) -> bool:
    """The shape of one saved completion (vllm_engine.Completion as a dict)."""
    return (isinstance(c, dict) and isinstance(c.get("text"), str) and isinstance(c.get("finish_reason"), str)
            and all(_is_count(c[k]) for k in ("num_tokens", "prompt_tokens") if k in c))


def _row(line: bytes) -> tuple[str, list[dict]] | None:
    """(key, completions) of one progress line, or None when it is not a well-formed one."""
    try:
        row = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    if not isinstance(row, dict) or not isinstance(row.get("k"), str) or not isinstance(row.get("c"), list):
        return None
    if not row["c"] or not all(_completion_ok(c) for c in row["c"]):
        return None
    return row["k"], row["c"]


class Progress:
    """The progress file of one job target; ``path=None`` keeps nothing (the unchunked call)."""

    def __init__(self, path: str | os.PathLike | None, model: str = "", engine: dict | None = None):
        self.path = Path(path) if path else None
        self.model = model_fingerprint(model) if model else ""
        self.engine = engine or {}
        self.done: dict[str, list[dict]] = {}
        self.used: set[str] = set()
        self.sent = self.resumed = self.chunks = 0
        self.superseded = 0  # lines to lose when the stage finishes: refused by `get`, or keyed twice
        if self.path is not None and self.path.exists():
            self._load()

    @staticmethod
    def beside(target: str | os.PathLike) -> Path:
        return Path(f"{target}.progress.jsonl")

    def _load(self) -> None:
        """Read every whole, well-formed line; skip the others (a torn last line, a garbled or
        non-UTF-8 line, completions of the wrong shape) and keep the good lines after them. The
        file is rewritten without the skipped lines, atomically, only when there are some."""
        data = self.path.read_bytes()
        lines = data.split(b"\n")
        torn = lines.pop()  # b"" when the file ends with a newline, else a line cut by a kill
        keep, bad = [], []
        for lineno, line in enumerate(lines, 1):
            row = _row(line)
            if row is None:
                bad.append(lineno)
                continue
            if row[0] in self.done:  # sent again after a refused line: the later one holds
                self.superseded += 1
            self.done[row[0]] = row[1]
            keep.append(line + b"\n")
        if bad:
            shown = ", ".join(map(str, bad[:10])) + (" ..." if len(bad) > 10 else "")
            print(f"{self.path}: skipped {len(bad)} unreadable line(s) (line {shown}); "
                  "their requests are sent again", flush=True)
        if bad or torn:
            write_text_atomic(self.path, b"".join(keep).decode("utf-8"))

    def key(self, req: dict, sampling: Sampling, max_tokens: int) -> str:
        return request_key(req, sampling, max_tokens, self.model, self.engine)

    def get(self, key: str, n: int | None = None) -> list[dict] | None:
        """The saved completions of a request, or None to send it: a line with other than the
        request's ``n`` samples is not trusted (and goes when the stage finishes)."""
        comps = self.done.get(key)
        if comps is None:
            return None
        if n is not None and len(comps) != n:
            print(f"{self.path}: request {key[:12]}: {len(comps)} saved completion(s), {n} asked for; "
                  "sent again", flush=True)
            del self.done[key]
            self.superseded += 1
            return None
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
        """Drop the lines no request of this run asked for (a changed prompt or setting), and
        those `get` did not trust or a later line replaced."""
        if self.path is None or not self.path.exists():
            return
        stale = set(self.done) - self.used
        if stale or self.superseded:
            keep = "".join(json.dumps({"k": k, "c": c}, ensure_ascii=False) + "\n"
                           for k, c in self.done.items() if k in self.used)
            write_text_atomic(self.path, keep)

    def tally(self) -> dict:
        return {"requests_sent": self.sent, "requests_resumed": self.resumed, "chunks": self.chunks}


def for_shard(shard: str | os.PathLike, model: str, generation: GenerationSettings, script: str) -> Progress:
    """The progress file beside an engine stage's shard target, keyed on the model, the engine's
    settings and the code of scripts/<script>.py (the stage scripts and the rerun tests' stand-in
    engine build it here, so both key it alike)."""
    return Progress(Progress.beside(shard), model, engine_key(generation, code_version(script)))
