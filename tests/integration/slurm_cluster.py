"""A real single-node SLURM cluster on localhost, for integration tests (standard library only).

    with local_slurm(tmp_path) as cluster:
        env = dict(os.environ, **cluster.env)       # SLURM_CONF for sbatch/squeue/srun
        subprocess.run(["srun", "-c", "1", "hostname"], env=env, check=True)

`local_slurm` needs root (it may apt-get install slurm-wlm and munge, and runs munged, slurmctld and
slurmd). Where it cannot run it raises `SlurmUnavailable(reason)`, a `unittest.SkipTest` subclass, so
pytest and unittest report a skip. A cluster that is already up and idle is reused and left running;
otherwise only the daemons started here are stopped on exit (their state, spool and logs stay in
`workdir`). No accounting (sacct has nothing to report), no cgroups (proctrack/linuxproc, task/none),
MinJobAge=3600 so `squeue`/`scontrol show job` keep finished jobs for an hour; a job without --mem gets
DefMemPerCPU (RealMemory / CPUs per CPU), not the whole node.

By hand:  python tests/integration/slurm_cluster.py up [WORKDIR]   (prints the env to export)
          python tests/integration/slurm_cluster.py down [WORKDIR]
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import time
import unittest

ETC_CONF = pathlib.Path("/etc/slurm/slurm.conf")
MARKER = "# written by lance tests/integration/slurm_cluster.py"
PARTITION = "debug"
MUNGE_KEY = pathlib.Path("/etc/munge/munge.key")


class SlurmUnavailable(unittest.SkipTest):
    """No SLURM cluster can be had here (not root, no apt-get, install or start-up failed)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclasses.dataclass
class SlurmCluster:
    partition: str              # default partition
    cpus: int                   # CPUs of the one node
    mem_mb: int                 # RealMemory of the node (MB)
    node: str                   # node name (hostname -s)
    env: dict[str, str]         # export these for sbatch/srun/squeue/scontrol (SLURM_CONF)
    conf: pathlib.Path          # slurm.conf in use
    reused: bool = False        # True: found already running, not started (nor stopped) here
    install_s: float = 0.0      # apt-get time (0 when slurmctld was already installed)
    startup_s: float = 0.0      # munged + slurmctld + slurmd until the node was idle
    hostname_resolves: bool = True
    logs: dict[str, pathlib.Path] = dataclasses.field(default_factory=dict)

    def run(self, *argv: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
        """Run a SLURM client command against this cluster; stdout/stderr as text."""
        return subprocess.run(argv, env=dict(os.environ, **self.env), text=True, capture_output=True,
                              check=check, timeout=timeout)


def _run(argv, env=None, timeout=30, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(argv, env=env, text=True, capture_output=True, timeout=timeout, **kw)


def _tail(path: pathlib.Path, n: int = 25) -> str:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError as e:
        return f"  ({path}: {e})"
    return "\n".join("  " + line for line in lines[-n:])


def _sinfo_states(env) -> list[str] | None:
    """Node states of the cluster reachable with env, or None where sinfo fails."""
    if not shutil.which("sinfo"):
        return None
    try:
        p = _run(["sinfo", "-h", "-o", "%T"], env=env, timeout=15)
    except subprocess.TimeoutExpired:
        return None
    if p.returncode != 0:
        return None
    return [s.strip() for s in p.stdout.split()]


_USABLE = ("idle", "mixed", "allocated", "completing")


def _running_cluster(env) -> SlurmCluster | None:
    states = _sinfo_states(env)
    if not states or not any(s.rstrip("*~#") in _USABLE for s in states):
        return None
    p = _run(["sinfo", "-h", "-o", "%P|%c|%m|%N"], env=env, timeout=15)
    if p.returncode != 0 or not p.stdout.strip():
        return None
    lines = [row.split("|") for row in p.stdout.split("\n") if row.strip()]
    default = next((row for row in lines if row[0].endswith("*")), lines[0])
    conf = pathlib.Path(env.get("SLURM_CONF") or ETC_CONF)
    return SlurmCluster(partition=default[0].rstrip("*"), cpus=int(default[1].rstrip("+")),
                        mem_mb=int(default[2].rstrip("+")), node=default[3], env={"SLURM_CONF": str(conf)},
                        conf=conf, reused=True)


def _install() -> float:
    if shutil.which("slurmctld") and shutil.which("munged"):
        return 0.0
    if not shutil.which("apt-get"):
        raise SlurmUnavailable("slurmctld is not installed and there is no apt-get")
    t0 = time.monotonic()
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for argv in (["apt-get", "update", "-q"],
                 ["apt-get", "install", "-y", "-q", "--no-install-recommends", "slurm-wlm", "munge"]):
        p = _run(argv, env=env, timeout=900)
        if p.returncode != 0:
            raise SlurmUnavailable(f"{' '.join(argv)} failed ({p.returncode}):\n{(p.stdout + p.stderr)[-3000:]}")
    if not shutil.which("slurmctld"):
        raise SlurmUnavailable("slurm-wlm installed but slurmctld is not on PATH")
    return time.monotonic() - t0


def _munge_ok() -> bool:
    if not shutil.which("munge"):
        return False
    try:
        return subprocess.run("munge -n | unmunge", shell=True, capture_output=True, timeout=10).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def _mem_total_mb() -> int:
    for line in pathlib.Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) // 1024
    raise SlurmUnavailable("no MemTotal in /proc/meminfo")


def _short_hostname() -> str:
    p = _run(["hostname", "-s"])
    return p.stdout.strip() if p.returncode == 0 and p.stdout.strip() else socket.gethostname().split(".")[0]


def _resolves(host: str) -> bool:
    try:
        socket.getaddrinfo(host, None)
        return True
    except OSError:
        return False


def write_conf(path: pathlib.Path, workdir: pathlib.Path, node: str, cpus: int, mem_mb: int) -> None:
    for d in ("state", "spool", "log", "run"):
        (workdir / d).mkdir(parents=True, exist_ok=True)
    # NodeAddr/SlurmctldHost address pinned to 127.0.0.1: works whether or not `hostname -s` resolves.
    text = f"""{MARKER}
ClusterName=lance
SlurmctldHost={node}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
ReturnToService=2
# reject at sbatch time what the node can never run (more CPUs/memory than it has) instead of PENDING forever
EnforcePartLimits=ALL
MinJobAge=3600
InactiveLimit=0
KillWait=5
Waittime=0
SlurmdTimeout=60
SlurmctldTimeout=60
StateSaveLocation={workdir / 'state'}
SlurmdSpoolDir={workdir / 'spool'}
SlurmctldLogFile={workdir / 'log' / 'slurmctld.log'}
SlurmdLogFile={workdir / 'log' / 'slurmd.log'}
SlurmctldPidFile={workdir / 'run' / 'slurmctld.pid'}
SlurmdPidFile={workdir / 'run' / 'slurmd.pid'}
SlurmctldDebug=info
SlurmdDebug=info
MailProg=/bin/true
# jobs without --mem get a CPU's share instead of the whole node (which would run them one at a time)
DefMemPerCPU={max(1, mem_mb // cpus)}
NodeName={node} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={mem_mb} State=UNKNOWN
PartitionName={PARTITION} Nodes={node} Default=YES MaxTime=INFINITE State=UP
"""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _start(argv, log: pathlib.Path, **kw) -> subprocess.Popen:
    f = open(log, "ab")
    try:
        return subprocess.Popen(argv, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, **kw)
    finally:
        f.close()


def _stop(proc: subprocess.Popen, timeout: float = 15) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


def _start_munged(logdir: pathlib.Path) -> subprocess.Popen | None:
    """Make sure munged answers; returns the process started here, or None if one was running."""
    if _munge_ok():
        return None
    if not MUNGE_KEY.exists():
        MUNGE_KEY.parent.mkdir(parents=True, exist_ok=True)
        if shutil.which("mungekey"):
            _run(["mungekey", "--create", "--keyfile", str(MUNGE_KEY)], check=True)
        else:
            MUNGE_KEY.write_bytes(os.urandom(1024))
    try:
        import pwd
        pw = pwd.getpwnam("munge")
        user = {"user": pw.pw_uid, "group": pw.pw_gid}
    except (KeyError, ImportError):
        pw, user = None, {}
    for d in (pathlib.Path("/run/munge"), pathlib.Path("/var/lib/munge"), pathlib.Path("/var/log/munge")):
        d.mkdir(parents=True, exist_ok=True)
        if pw:
            os.chown(d, pw.pw_uid, pw.pw_gid)
    if pw:
        os.chown(MUNGE_KEY, pw.pw_uid, pw.pw_gid)
    os.chmod(MUNGE_KEY, 0o400)
    proc = _start(["munged", "--foreground"], logdir / "munged.out", **user)
    for _ in range(50):
        if _munge_ok():
            return proc
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    _stop(proc)
    raise SlurmUnavailable(f"munged did not start:\n{_tail(logdir / 'munged.out')}")


@contextlib.contextmanager
def local_slurm(workdir: pathlib.Path, timeout: float = 90):
    """Yield a SlurmCluster for a running single-node cluster; see the module docstring."""
    if os.geteuid() != 0:
        raise SlurmUnavailable("local_slurm needs root (apt-get, munged, slurmctld, slurmd)")
    workdir = pathlib.Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)

    existing = _running_cluster(dict(os.environ))
    if existing:
        yield existing
        return

    install_s = _install()
    t0 = time.monotonic()
    logdir = workdir / "log"
    logdir.mkdir(parents=True, exist_ok=True)
    node = _short_hostname()
    cpus = os.cpu_count() or 1
    mem_mb = int(_mem_total_mb() * 0.9)

    # /etc/slurm/slurm.conf when there is none (or it is one of ours), else a private one + SLURM_CONF
    wrote_etc = not ETC_CONF.exists() or ETC_CONF.read_text(errors="replace").startswith(MARKER)
    conf = ETC_CONF if wrote_etc else workdir / "slurm.conf"
    write_conf(conf, workdir, node, cpus, mem_mb)
    env = {"SLURM_CONF": str(conf)}
    full_env = dict(os.environ, **env)

    started: list[subprocess.Popen] = []
    try:
        munged = _start_munged(logdir)
        if munged:
            started.append(munged)
        ctld = _start(["slurmctld", "-D", "-c", "-f", str(conf)], logdir / "slurmctld.out", env=full_env)
        started.append(ctld)
        slurmd = _start(["slurmd", "-D", "-f", str(conf)], logdir / "slurmd.out", env=full_env)
        started.append(slurmd)

        def diagnostics() -> str:
            return "\n".join(f"--- {n}\n{_tail(logdir / n)}" for n in
                             ("slurmctld.log", "slurmctld.out", "slurmd.log", "slurmd.out"))

        deadline = time.monotonic() + timeout
        states: list[str] | None = None
        while True:
            for name, p in (("slurmctld", ctld), ("slurmd", slurmd)):
                if p.poll() is not None:
                    raise SlurmUnavailable(f"{name} exited ({p.returncode}) during start-up\n{diagnostics()}")
            states = _sinfo_states(full_env)
            if states and all(s.rstrip("*~#") == "idle" for s in states):
                break
            if time.monotonic() > deadline:
                raise SlurmUnavailable(f"node not idle after {timeout:.0f}s (sinfo: {states})\n{diagnostics()}")
            time.sleep(0.5)

        cluster = SlurmCluster(partition=PARTITION, cpus=cpus, mem_mb=mem_mb, node=node, env=env, conf=conf,
                               install_s=install_s, startup_s=time.monotonic() - t0,
                               hostname_resolves=_resolves(node),
                               logs={n: logdir / n for n in ("slurmctld.log", "slurmd.log")})
        yield cluster
    finally:
        if started and shutil.which("scancel"):
            # jobs still running would leave slurmstepd orphans behind once slurmd is gone
            with contextlib.suppress(Exception):
                _run(["scancel", "--full", "--partition", PARTITION], env=full_env, timeout=15)
                time.sleep(1)
        for p in reversed(started):     # slurmd, slurmctld, then munged
            _stop(p)
        if wrote_etc:
            with contextlib.suppress(OSError):
                ETC_CONF.unlink()


def _main(argv: list[str]) -> int:
    """`up` keeps the cluster running in the foreground until Ctrl-C / `down` (SIGTERM to it)."""
    if not argv or argv[0] not in ("up", "down"):
        print(__doc__)
        return 2
    workdir = pathlib.Path(argv[1] if len(argv) > 1 else "/tmp/lance-slurm")
    pidfile = workdir / "run" / "holder.pid"
    if argv[0] == "down":
        if not pidfile.exists():
            print(f"no {pidfile}: nothing started from here")
            return 1
        os.kill(int(pidfile.read_text()), signal.SIGTERM)
        print("stopping")
        return 0
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    with local_slurm(workdir) as c:
        print(f"partition={c.partition} cpus={c.cpus} mem_mb={c.mem_mb} node={c.node} reused={c.reused} "
              f"install_s={c.install_s:.1f} startup_s={c.startup_s:.1f}")
        print(" ".join(f"export {k}={v}" for k, v in c.env.items()), flush=True)
        if c.reused:
            return 0
        pidfile.write_text(str(os.getpid()))
        try:
            while not stop:
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        pidfile.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
