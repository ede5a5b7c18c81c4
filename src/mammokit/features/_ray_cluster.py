"""A real multi-node Ray cluster on this machine, on loopback, for tests and benchmarks of ``--engine ray``.

Each node is its own ``ray start --block`` process (a head, then nodes joining it), with its own CPU count
and its own free ports, in its own process group so that stopping the cluster ends exactly the processes
it started (raylet, GCS, workers) and nothing else on the machine. Everything is bounded in time.
"""
from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import ConfigError

_TOKEN = secrets.token_hex(16)
_PORT_OPTIONS = ("--node-manager-port", "--object-manager-port", "--dashboard-agent-listen-port",
                 "--dashboard-agent-grpc-port", "--metrics-export-port", "--runtime-env-agent-port")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ray_cli() -> str:
    exe = Path(sys.executable).with_name("ray")
    if exe.is_file():
        return str(exe)
    found = shutil.which("ray")
    if not found:
        raise ConfigError("the `ray` command is not installed: pip install 'mammokit[ray]'")
    return found


def _node_cmd(head_port: int | None, cpus: int, temp_dir: str, worker_ports: tuple[int, int]) -> list[str]:
    cmd = [_ray_cli(), "start", "--block", f"--num-cpus={cpus}", "--num-gpus=0", "--node-ip-address=127.0.0.1",
           "--disable-usage-stats", f"--min-worker-port={worker_ports[0]}", f"--max-worker-port={worker_ports[1]}"]
    cmd += [f"{opt}={_free_port()}" for opt in _PORT_OPTIONS]
    if head_port is None:
        return cmd
    return [*cmd, f"--address=127.0.0.1:{head_port}"]


def _stop(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    """Stop one node: SIGTERM ``ray start`` and every process it started (raylet, GCS, workers; found by
    parent id, since workers leave the process group), then SIGKILL whatever is left after ``timeout``."""
    import psutil

    try:
        family = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        family = []
    for p in family:
        try:
            p.terminate()
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(family, timeout=timeout)
    for p in alive:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(alive, timeout=10)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


@contextmanager
def local_cluster(nodes: int = 2, cpus_per_node: int = 1, *, timeout: float = 120.0) -> Iterator[str]:
    """Start ``nodes`` Ray nodes on 127.0.0.1 (the first is the head); yield the address to join; stop them.

    Waits until the cluster reports every node's CPUs, at most ``timeout`` seconds."""
    head_port = _free_port()
    temp_dir = tempfile.mkdtemp(prefix="mkray", dir="/tmp")  # short: Ray's socket paths must stay < 108 chars
    # Ray's token authentication with a token of this cluster's own, for the nodes and for this driver
    # (one token per process: Ray keeps the first token it loads for the life of the process)
    auth = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": _TOKEN, "RAY_USAGE_STATS_ENABLED": "0"}
    saved = {k: os.environ.get(k) for k in (*auth, "RAY_AUTH_TOKEN_PATH")}
    os.environ.pop("RAY_AUTH_TOKEN_PATH", None)
    os.environ.update(auth)
    env = {**os.environ, "RAY_TMPDIR": temp_dir}
    procs: list[subprocess.Popen] = []
    logs = []
    address = f"127.0.0.1:{head_port}"
    import ray  # after the environment is set: Ray reads its auth settings when it is imported

    try:
        for k in range(nodes):
            lo = 20000 + 2000 * k + (head_port % 19) * 100  # disjoint worker-port ranges per node
            cmd = _node_cmd(None if k == 0 else head_port, cpus_per_node, temp_dir, (lo, lo + 99))
            if k == 0:
                cmd += [f"--port={head_port}", "--head", "--include-dashboard=false", f"--temp-dir={temp_dir}"]
            log = open(Path(temp_dir) / f"node{k}.log", "w")  # noqa: SIM115 - closed in finally
            logs.append(log)
            procs.append(subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env,
                                          start_new_session=True))
            want = cpus_per_node * (k + 1)
            _wait_for(lambda want=want: _cpus(address) >= want, timeout, procs, temp_dir, f"node {k + 1} of {nodes}")
        yield address
    finally:
        if ray.is_initialized():
            ray.shutdown()
        for proc in reversed(procs):
            _stop(proc)
        for log in logs:
            log.close()
        shutil.rmtree(temp_dir, ignore_errors=True)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _cpus(address: str) -> float:
    """CPUs the cluster at ``address`` reports (0 when it does not answer yet), asked from a short-lived child
    so this process is not left connected to a half-started cluster."""
    probe = ("import ray,sys; ray.init(address=sys.argv[1], log_to_driver=False, configure_logging=False); "
             "print(ray.cluster_resources().get('CPU', 0))")
    try:
        out = subprocess.run([sys.executable, "-c", probe, address], capture_output=True, text=True, timeout=60,
                             env=dict(os.environ), check=False)
        return float(out.stdout.strip().splitlines()[-1]) if out.returncode == 0 and out.stdout.strip() else 0.0
    except (subprocess.TimeoutExpired, ValueError):
        return 0.0


def _wait_for(ready, timeout: float, procs, temp_dir: str, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        dead = [p for p in procs if p.poll() is not None]
        if dead:
            log = (Path(temp_dir) / f"node{procs.index(dead[0])}.log").read_text()[-1500:]
            raise RuntimeError(f"ray start exited ({what}): {log}")
        if ready():
            return
        time.sleep(1.0)
    raise TimeoutError(f"Ray {what} did not come up within {timeout:.0f} s")
