"""The evaluation's local vLLM server (lancekit.evaluation.vllm_server), with stand-ins for vLLM:
it answers only this run's random API key, which never reaches a command line or a file, and it
dies with the process that started it, even one killed with SIGKILL."""

import http.server
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from lancekit.evaluation import opencompass as oc
from lancekit.evaluation import vllm_server as vs
from lancekit.evaluation.registry import resolve_benchmarks
from lancekit.evaluation.render import merged_settings, merged_vllm, render_eval_config

KEY = "k3y-of-this-run"


def _alive(pid):
    """Running (a killed child whose parent died stays a zombie until init reaps it)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def test_each_run_gets_its_own_key():
    keys = {vs.new_api_key() for _ in range(20)}
    assert len(keys) == 20 and all(len(k) >= 40 and k.isascii() and " " not in k for k in keys)


def test_the_key_reaches_the_server_by_its_environment_never_its_command_line():
    """--api-key on the command line would show the key to every user of the node (ps,
    /proc/<pid>/cmdline); vLLM reads the same key from VLLM_API_KEY."""
    vllm = merged_vllm({})
    argv = vs.server_argv("/py", "/models/m", "smol", 1234, vllm, dtype="float32", max_model_len=64)
    env = vs.server_env({"VLLM_API_KEY": "the caller's own", "PATH": "/bin"}, vllm, api_key=KEY)
    assert env[vs.SERVER_KEY_ENV] == KEY and not any(KEY in a for a in argv) and "--api-key" not in argv
    assert vs.SERVER_KEY_ENV not in vs.server_env({"VLLM_API_KEY": "the caller's own"}, vllm)


def test_the_rendered_config_holds_no_key_and_its_fingerprint_none(tmp_path, monkeypatch):
    mc = tmp_path / "mc.jsonl"
    mc.write_text('{"question": "q", "A": "a", "B": "b", "C": "c", "D": "d", "answer": "B"}\n')
    specs = resolve_benchmarks([{"name": "lance_mc", "path": str(mc)}])
    texts = set()
    for key in (KEY, "another run's key"):
        monkeypatch.setenv(vs.API_KEY_ENV, key)
        texts.add(render_eval_config("/m", "smol", specs, {}, backend="vllm", api_base="http://127.0.0.1:9/v1"))
    (text,) = texts  # the reuse fingerprint is made from this text: the key cannot change it
    assert KEY not in text
    ns = {}
    exec(compile(text, "eval.py", "exec"), ns)
    assert ns["models"][0]["key"] == "ENV"  # OpenCompass reads $OPENAI_API_KEY


class _KeyedServer(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        ok = self.headers.get("Authorization") == f"Bearer {KEY}"
        self.send_response(200 if ok else 401)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


def test_the_readiness_check_sends_the_key(tmp_path):
    """A server started with a key answers 401 without it: the check must send it."""
    httpd = http.server.HTTPServer(("127.0.0.1", 0), _KeyedServer)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        port = httpd.server_address[1]
        assert vs.VLLMServer([], {}, tmp_path / "s.log", port, api_key=KEY)._ready()
        assert not vs.VLLMServer([], {}, tmp_path / "s.log", port)._ready()
    finally:
        httpd.shutdown()


def test_the_evaluation_hands_one_fresh_key_to_both_ends(tmp_path, monkeypatch):
    """serving and run_group: the server and OpenCompass get the same key, through their environments only;
    neither the command lines, the log lines nor the config file on disk hold it."""
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    mc = tmp_path / "mc.jsonl"
    mc.write_text('{"question": "q", "A": "a", "B": "b", "C": "c", "D": "d", "answer": "B"}\n')
    specs = resolve_benchmarks([{"name": "lance_mc", "path": str(mc)}])
    seen = {}

    class FakeServer:
        def __init__(self, argv, env, log_path, port, startup_timeout, api_key=None):
            seen.update(server_argv=argv, server_env=env, server_key=api_key)
            self.api_base, self.startup_seconds = f"http://127.0.0.1:{port}/v1", 0.0

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return None

    def fake_opencompass(argv, work_dir, env, log_path, reuse):
        seen.update(oc_argv=argv, oc_env=env)
        return 0, None

    monkeypatch.setattr(vs, "VLLMServer", FakeServer)
    monkeypatch.setattr(oc, "run_opencompass", fake_opencompass)
    monkeypatch.setattr(vs, "vllm_python", lambda: sys.executable)
    monkeypatch.setattr(vs, "on_gpu", lambda: False)
    monkeypatch.setattr(oc, "read_scores", lambda *a: ({}, tmp_path / "summary.csv"))
    monkeypatch.setattr(oc, "parse_summary_csv", lambda *a: {})
    monkeypatch.delenv(vs.API_KEY_ENV, raising=False)
    work = tmp_path / "eval"
    settings, vllm = merged_settings({}), merged_vllm({})
    for _ in range(2):
        with vs.serving(True, model, "smol", settings, vllm, work, False, oc.log, oc.fail) as (api_base, api_key, _):
            oc.run_group("vllm", specs, model, "smol", settings, vllm, work, False, api_base, api_key)
        key = seen["server_key"]
        assert key and seen["server_env"][vs.SERVER_KEY_ENV] == key == seen["oc_env"][vs.API_KEY_ENV]
        assert not any(key in a for a in seen["server_argv"] + seen["oc_argv"])
        assert all(key not in f.read_bytes().decode(errors="replace") for f in work.rglob("*") if f.is_file())
        seen.setdefault("keys", set()).add(key)
    assert len(seen["keys"]) == 2  # a fresh key per run


# --- the server dies with its parent -------------------------------------------------------------

STAND_IN = """
import http.server, signal, subprocess, sys
# as a vLLM server that is still loading: deaf to SIGTERM, with an engine core of its own
signal.signal(signal.SIGTERM, signal.SIG_IGN)
core = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
print(core.pid, flush=True)
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.end_headers(); self.wfile.write(b'{}')
http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()
"""

PARENT = """
import os, sys, time
sys.path.insert(0, {src!r})
from lancekit.evaluation.vllm_server import VLLMServer, free_port
port = free_port()
server = VLLMServer([sys.executable, "-c", {stand_in!r}, str(port)], dict(os.environ), {log!r}, port, 30).start()
print(server.proc.pid, flush=True)
core = next(line for line in open({log!r}).read().splitlines() if line.isdigit())  # the stand-in's
print(core, flush=True)
time.sleep(60)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_the_server_dies_with_a_parent_killed_by_sigkill(tmp_path):
    """kill -9 of the evaluation runs no `finally`: the kernel must end the server (in a process
    group of its own, which a kill of the job's group does not reach either), and with it the
    engine core, even when the server ignores SIGTERM."""
    code = PARENT.format(src=str(Path(vs.__file__).parents[2]), stand_in=STAND_IN, log=str(tmp_path / "s.log"))
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                              env=dict(os.environ, LANCE_SERVER_GRACE="1"))
    child = core = None
    try:
        child, core = int(parent.stdout.readline()), int(parent.stdout.readline())
        assert _alive(child) and os.getpgid(child) == child != os.getpgid(parent.pid)
        assert _alive(core) and os.getpgid(core) == child
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=5)
        deadline = time.time() + 8
        while (_alive(child) or _alive(core)) and time.time() < deadline:
            time.sleep(0.05)
        assert not _alive(child), "the server outlived the evaluation killed with SIGKILL"
        assert not _alive(core), "the server's engine core outlived the evaluation killed with SIGKILL"
    finally:
        parent.kill()
        parent.wait()
        for pid in (child, core):
            if pid and _alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_spawn_keeps_the_log_and_the_process_group(tmp_path):
    with open(tmp_path / "log", "w") as log:
        proc = vs.spawn([sys.executable, "-c", "print('hello'); import os; print(os.getpgid(0))"],
                        dict(os.environ), log)
    assert proc.wait(timeout=10) == 0
    # the server is in the group its guard leads (the process spawn returns), not in this one
    assert (tmp_path / "log").read_text().split() == ["hello", str(proc.pid)] and proc.pid != os.getpgid(0)



def test_a_server_that_ends_on_sigterm_is_not_held_for_the_grace(tmp_path, monkeypatch):
    """stop() waits for the server, not for LANCE_SERVER_GRACE: the guard once waited inside its
    signal handler while its main thread held the Popen's lock, so every stop took the whole grace
    (10 s of each evaluation job). The grace here is 60 s; the stop must take a small part of it,
    and leave nothing of the group behind."""
    monkeypatch.setenv("LANCE_SERVER_GRACE", "60")
    code = ("import signal, subprocess, sys, time\n"
            "core = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
            "print(core.pid, flush=True)\n"
            "signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))\n"
            "time.sleep(600)\n")
    with open(tmp_path / "log", "w") as log:
        proc = vs.spawn([sys.executable, "-c", code], dict(os.environ), log)
    deadline = time.time() + 20
    while not (tmp_path / "log").read_text().strip() and time.time() < deadline:
        time.sleep(0.05)
    core = int((tmp_path / "log").read_text().split()[0])
    t0 = time.time()
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=60)
    assert time.time() - t0 < 20, "the guard waited out the grace for a server that had ended"
    deadline = time.time() + 5
    while _alive(core) and time.time() < deadline:
        time.sleep(0.05)
    assert not _alive(core), "the engine core outlived the stopped server"
