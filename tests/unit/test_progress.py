"""Chunked progress: finished chunks are on disk as they finish, a rerun sends only the rest,
and anything that decides a completion changes the key."""

import json
from dataclasses import replace

import pytest

from lancekit.core.provenance import model_fingerprint
from lancekit.generation.progress import Progress, engine_key, request_key
from lancekit.generation.run import run_requests
from lancekit.generation.settings import GenerationSettings, Sampling, VLLMArgs
from lancekit.generation.vllm_engine import Completion

SAMPLING = Sampling(temperature=0.7, top_p=0.9)



def Comp(text):
    return Completion(text, "stop", 2)


class CannedEngine:
    """Answers each conversation with its own text, finishing them in reverse order (as a batched
    engine may); killed (KeyboardInterrupt) after `fail_after` finished conversations."""

    def __init__(self, fail_after=None):
        self.calls, self.sent, self.fail_after = 0, 0, fail_after

    def chat(self, convs, *, n, seeds, on_done=None, **kw):
        self.calls += 1
        out = [[Comp(c[-1]["content"] + f"#{k}") for k in range(n)] for c in convs]
        for i in reversed(range(len(convs))):
            if self.fail_after is not None and self.sent >= self.fail_after:
                raise KeyboardInterrupt("killed")
            self.sent += 1
            if on_done:
                on_done(i, out[i])
        return out


def reqs(k, n=2):
    return [{"key": f"r{i}", "messages": [{"role": "user", "content": f"q{i}"}], "n": n, "seed": i} for i in range(k)]


def test_a_killed_stage_resumes_without_resending_finished_chunks(tmp_path):
    path = tmp_path / "shard.json.progress.jsonl"
    with pytest.raises(KeyboardInterrupt):
        run_requests(CannedEngine(fail_after=7), reqs(10), SAMPLING, 8, "t", Progress(path, "m"), chunk=3)
    before = path.read_bytes()
    assert len(before.splitlines()) == 6  # two whole chunks of three; the seventh was in flight
    engine, progress = CannedEngine(), Progress(path, "m")
    out = run_requests(engine, reqs(10), SAMPLING, 8, "t", progress, chunk=3)
    assert engine.sent == 4 and progress.resumed == 6 and progress.sent == 4
    assert path.read_bytes().startswith(before)  # finished chunks: bytes unchanged
    assert [o[0]["text"] for o in out] == [f"q{i}#0" for i in range(10)]
    progress.finish()
    assert path.read_bytes().startswith(before)
    again = CannedEngine()
    assert run_requests(again, reqs(10), SAMPLING, 8, "t", Progress(path, "m"), chunk=3) == out
    assert again.calls == 0  # nothing left to send: the engine is never asked


def test_chunks_are_saved_as_requests_finish_without_splitting_the_batch(tmp_path):
    engine, progress = CannedEngine(), Progress(tmp_path / "p.jsonl", "m")
    run_requests(engine, reqs(10), SAMPLING, 8, "t", progress, chunk=4)
    assert engine.calls == 1  # one batched run for all ten
    assert progress.chunks == 3 and len((tmp_path / "p.jsonl").read_text().splitlines()) == 10


def test_a_torn_last_line_is_dropped_and_the_rest_kept(tmp_path):
    path = tmp_path / "p.jsonl"
    run_requests(CannedEngine(), reqs(4), SAMPLING, 8, "t", Progress(path, "m"), chunk=2)
    whole = path.read_bytes()
    path.write_bytes(whole + b'{"k": "abc", "c": [{"te')
    engine = CannedEngine()
    run_requests(engine, reqs(5), SAMPLING, 8, "t", Progress(path, "m"), chunk=2)
    assert engine.sent == 1
    assert all(json.loads(line) for line in path.read_text().splitlines())


def test_stale_lines_are_dropped_when_the_stage_finishes(tmp_path):
    path = tmp_path / "p.jsonl"
    run_requests(CannedEngine(), reqs(4), SAMPLING, 8, "t", Progress(path, "m"), chunk=0)
    p = Progress(path, "m")
    changed = reqs(4)
    changed[0]["messages"][0]["content"] = "edited prompt"
    engine = CannedEngine()
    run_requests(engine, changed, SAMPLING, 8, "t", p, chunk=0)
    assert engine.sent == 1
    p.finish()
    assert len(path.read_text().splitlines()) == 4


@pytest.mark.parametrize("change", [
    lambda r, s: r.update(seed=99), lambda r, s: r.update(key="other"), lambda r, s: r.update(n=5),
    lambda r, s: r.update(stop=["\n"]), lambda r, s: r.update(choice=[" 1"]), lambda r, s: r.update(max_tokens=3),
    lambda r, s: r["messages"].append({"role": "assistant", "content": "x"}),
    lambda r, s: replace(s, temperature=0.1), lambda r, s: replace(s, top_p=0.5),
])
def test_everything_that_decides_a_completion_is_in_the_key(change):
    req = reqs(1)[0]
    k = request_key(req, SAMPLING, 8, "m")
    sampling = change(req, SAMPLING) or SAMPLING
    assert request_key(req, sampling, 8, "m") != k


def test_the_model_is_in_the_key(tmp_path):
    req = reqs(1)[0]
    assert request_key(req, SAMPLING, 8, "a") != request_key(req, SAMPLING, 8, "b")
    assert request_key(req, SAMPLING, 8, "m") != request_key(req, SAMPLING, 9, "m")
    model = tmp_path / "model"
    model.mkdir()
    (model / "model.safetensors").write_bytes(b"12")
    before = model_fingerprint(str(model))
    (model / "model.safetensors").write_bytes(b"1234")  # retrained in place
    assert model_fingerprint(str(model)) != before
    assert model_fingerprint("org/name") == "org/name"


GEN = GenerationSettings(VLLMArgs(), SAMPLING, 1234)


@pytest.mark.parametrize("other,code", [
    (replace(GEN, vllm=VLLMArgs(dtype="bfloat16")), "c1"),
    (replace(GEN, vllm=VLLMArgs(max_model_len=8192)), "c1"),
    (replace(GEN, vllm=VLLMArgs(tensor_parallel_size=2)), "c1"),
    (replace(GEN, vllm=VLLMArgs(in_process=True)), "c1"),
    (replace(GEN, vllm=VLLMArgs(extra={"enable_prefix_caching": False})), "c1"),
    (replace(GEN, trust_remote_code=True), "c1"),
    (GEN, "c2"),                                   # the stage's code changed
])
def test_a_changed_engine_or_code_never_replays_a_finished_target(tmp_path, other, code):
    """The progress file stays beside a finished target: a rerun for an engine setting (raising
    max_model_len after a prompt_too_long warning, say) or a code fix must send every request
    again, not answer it from disk."""
    path = tmp_path / "shard.json.progress.jsonl"
    first = Progress(path, "m", engine_key(GEN, "c1"))
    out = run_requests(CannedEngine(), reqs(3), SAMPLING, 8, "x", first, 2)
    first.finish()
    again = Progress(path, "m", engine_key(GEN, "c1"))
    engine = CannedEngine()
    assert run_requests(engine, reqs(3), SAMPLING, 8, "x", again, 2) == out and engine.sent == 0
    changed = Progress(path, "m", engine_key(other, code))
    engine = CannedEngine()
    run_requests(engine, reqs(3), SAMPLING, 8, "x", changed, 2)
    assert engine.sent == 3 and changed.tally()["requests_resumed"] == 0


# ------------------------------------------------------------------ bad lines (issue #19, §3)

def _file_of(path, k=6, n=2):
    """A finished progress file of k requests (one line each), and its lines."""
    run_requests(CannedEngine(), reqs(k, n), SAMPLING, 8, "t", Progress(path, "m"), chunk=1)
    return path.read_bytes().split(b"\n")[:-1]


def _rerun(path, k=6, n=2):
    engine, progress = CannedEngine(), Progress(path, "m")
    out = run_requests(engine, reqs(k, n), SAMPLING, 8, "t", progress, chunk=1)
    return engine, progress, out


@pytest.mark.parametrize("bad", [
    b'{"k": "abc", "c": [{"te',                  # garbled
    b"\xff\xfe not utf-8 \x80",                   # not UTF-8: raised on every rerun before
    b"",                                          # an empty line
    b"[1, 2]", b'{"k": 3, "c": []}', b'{"c": []}',
])
def test_a_bad_line_in_the_middle_keeps_the_good_lines_after_it(tmp_path, capsys, bad):
    path = tmp_path / "p.jsonl"
    lines = _file_of(path)
    path.write_bytes(b"\n".join(lines[:2] + [bad] + lines[2:]) + b"\n")
    engine, progress, out = _rerun(path)
    assert engine.sent == 0 and progress.resumed == 6          # nothing lost after the bad line
    assert [o[0]["text"] for o in out] == [f"q{i}#0" for i in range(6)]
    assert path.read_bytes() == b"\n".join(lines) + b"\n"      # rewritten without it
    assert f"{path}: skipped 1 unreadable line(s) (line 3)" in capsys.readouterr().out


def test_a_sound_file_is_not_rewritten(tmp_path):
    path = tmp_path / "p.jsonl"
    _file_of(path)
    before = path.stat().st_mtime_ns, path.stat().st_ino
    Progress(path, "m")
    assert (path.stat().st_mtime_ns, path.stat().st_ino) == before


@pytest.mark.parametrize("spoil", [
    lambda c: [],                                             # no completion
    lambda c: c[:1],                                          # fewer than n = 2
    lambda c: c + c[:1],                                      # more than n
    lambda c: "text",                                         # not a list
    lambda c: [c[0], "text"],                                 # a completion that is no object
    lambda c: [{k: v for k, v in c[0].items() if k != "finish_reason"}, c[1]],
    lambda c: [{k: v for k, v in c[0].items() if k != "text"}, c[1]],
    lambda c: [dict(c[0], text=None), c[1]],
    lambda c: [dict(c[0], finish_reason=1), c[1]],
    lambda c: [dict(c[0], num_tokens="2"), c[1]],
])
def test_a_line_with_malformed_completions_is_never_trusted(tmp_path, spoil):
    path = tmp_path / "p.jsonl"
    lines = _file_of(path)
    row = json.loads(lines[3])
    lines[3] = json.dumps({"k": row["k"], "c": spoil(row["c"])}).encode()
    path.write_bytes(b"\n".join(lines) + b"\n")
    engine, progress, out = _rerun(path)
    assert engine.sent == 1 and progress.resumed == 5
    assert [len(o) for o in out] == [2] * 6 and out[3][1]["text"] == "q3#1"
    progress.finish()
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(rows) == 6 and all(len(r["c"]) == 2 and "finish_reason" in r["c"][0] for r in rows)
    engine, progress, _ = _rerun(path)
    assert engine.sent == 0


def test_a_killed_rerun_after_a_refused_line_keeps_the_new_answer(tmp_path):
    """The refused line stays in the file until the stage finishes; the line sent again after it
    holds when the rerun is killed before that."""
    path = tmp_path / "p.jsonl"
    lines = _file_of(path)
    row = json.loads(lines[0])
    lines[0] = json.dumps({"k": row["k"], "c": row["c"][:1]}).encode()
    path.write_bytes(b"\n".join(lines) + b"\n")
    _rerun(path)  # no finish(): killed
    assert len(path.read_text().splitlines()) == 7
    engine, progress, out = _rerun(path)
    assert engine.sent == 0 and len(out[0]) == 2
    progress.finish()
    assert len(path.read_text().splitlines()) == 6
