"""Web app latency: upload-to-result time for a 1024 x 1024 mammogram, 1 and 4 concurrent clients,
and the server's peak memory.

    python benchmarks/web_latency.py [--model runs/mias-cv/bundle] [--requests 20] [--clients 1 4]

Starts `mammokit serve` as a separate process on a free loopback port with a fresh data dir,
adds a user and an API token, then each client repeatedly POSTs a real mini-MIAS image
(1024 x 1024 PNG) to /api/predictions and fetches the heatmap overlay of the result.
Latency = POST start to overlay received. Peak RSS = the server process's VmHWM (Linux)
or the largest RSS seen while polling. Prints a table and writes JSON (--out).
"""
from __future__ import annotations

import argparse
import os
import platform
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np
import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, table

from mammokit._json import strict_dumps
from mammokit.constants import default_mias_dir
from mammokit.web import add_user, create_api_token, init_db

PASSWORD = "benchmark-password-123"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def peak_rss(proc: psutil.Process, polled: int) -> int:
    try:
        for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return max(polled, int(line.split()[1]) * 1024)
    except OSError:
        pass
    return polled


def wait_until_serving(server: subprocess.Popen, base: str, log, log_path: Path, timeout_s: float = 300) -> bool:
    """Poll /health until the server answers; False (with the log's tail on stderr) if it exits first."""
    deadline = time.monotonic() + timeout_s
    while True:
        if server.poll() is not None:
            log.flush()
            print(log_path.read_text()[-2000:], file=sys.stderr)
            return False
        try:
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"server did not start in {timeout_s:.0f} s")
        time.sleep(0.3)


@contextmanager
def serving(model: Path, data: Path, log_path: Path):
    """`mammokit serve` in its own process on a free loopback port: yields (psutil.Process, base URL), or
    (None, base URL) when it exited before serving (the log's tail is then on stderr); stopped on exit."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-c", "from mammokit.cli import main; main()", "serve", "--model", str(model),
           "--data-dir", str(data), "--host", "127.0.0.1", "--port", str(port)]
    with open(log_path, "w") as log:
        server = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env={**os.environ})
        try:
            ok = wait_until_serving(server, base, log, log_path)
            yield (psutil.Process(server.pid) if ok else None), base
        finally:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()


class RssPoller(threading.Thread):
    def __init__(self, proc: psutil.Process):
        super().__init__(daemon=True)
        self.proc, self.peak, self.stop = proc, 0, threading.Event()

    def run(self):
        while not self.stop.is_set():
            try:
                self.peak = max(self.peak, self.proc.memory_info().rss)
            except psutil.Error:
                return
            time.sleep(0.05)


def api_tokens(data: Path, names) -> list[str]:
    """A fresh SQLite database in ``data`` with one clinician per name; their API tokens, in order."""
    engine, factory = init_db(f"sqlite:///{data / 'mammokit.db'}")
    tokens = []
    for name in names:
        add_user(factory, name, "clinician", PASSWORD)
        tokens.append(create_api_token(factory, name))
    engine.dispose()
    return tokens


def one_request(base: str, token: str, name: str, content: bytes) -> tuple[float, bool, str]:
    headers = {"Authorization": f"Bearer {token}"}
    t0 = time.perf_counter()
    try:
        with httpx.Client(base_url=base, timeout=300) as c:
            r = c.post("/api/predictions", headers=headers, files={"file": (name, content, "image/png")})
            if r.status_code != 201:
                return time.perf_counter() - t0, False, f"POST {r.status_code}: {r.text[:200]}"
            body = r.json()
            url = body["overlay_url"] or body["view_url"]
            img = c.get(url, headers=headers)
            if img.status_code != 200:
                return time.perf_counter() - t0, False, f"GET {url} {img.status_code}"
    except httpx.HTTPError as exc:
        return time.perf_counter() - t0, False, f"{type(exc).__name__}: {exc}"
    return time.perf_counter() - t0, True, ""


def run_level(base, token, images, clients: int, requests_per_client: int) -> dict:
    jobs = [images[i % len(images)] for i in range(clients * requests_per_client)]
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        results = list(pool.map(lambda p: one_request(base, token, p.name, p.read_bytes()), jobs))
    wall = time.perf_counter() - t0
    lat = np.array([r[0] for r in results if r[1]])
    errors = [r[2] for r in results if not r[1]]
    return {
        "clients": clients, "requests": len(jobs), "errors": len(errors), "error_examples": errors[:3],
        "p50_s": float(np.percentile(lat, 50)) if len(lat) else None,
        "p95_s": float(np.percentile(lat, 95)) if len(lat) else None,
        "mean_s": float(lat.mean()) if len(lat) else None,
        "max_s": float(lat.max()) if len(lat) else None,
        "throughput_per_s": float(len(lat) / wall) if wall else None,
        "wall_s": wall,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, default=REPO / "runs" / "mias-cv" / "bundle")
    ap.add_argument("--requests", type=int, default=20, help="requests per client at each level")
    ap.add_argument("--clients", type=int, nargs="+", default=[1, 4])
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "web_latency.json",
                    help="JSON result; a Markdown table for docs/performance.md is written beside it (.md)")
    args = ap.parse_args(argv)
    if not (args.model / "manifest.json").is_file():
        print(f"web_latency: no model bundle at {args.model}; run `make demo` first or pass --model BUNDLE",
              file=sys.stderr)
        return 2
    mias = default_mias_dir()
    if mias is None:
        print("web_latency: mini-MIAS not found (../shared/data/mini-mias)", file=sys.stderr)
        return 2
    images = [mias / "images" / f"mdb{n:03d}.png" for n in range(1, 41)]  # real 1024 x 1024 mammograms

    with tempfile.TemporaryDirectory(prefix="mammokit-bench-") as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        (token,) = api_tokens(data, ["bench"])
        with serving(args.model, data, Path(tmp) / "server.log") as (proc, base):
            if proc is None:
                return 2
            rss_start = proc.memory_info().rss
            poller = RssPoller(proc)
            poller.start()
            for p in images[: args.warmup]:  # the first request loads the backbone
                one_request(base, token, p.name, p.read_bytes())
            levels = [run_level(base, token, images, c, args.requests) for c in args.clients]
            poller.stop.set()
            poller.join()
            peak = peak_rss(proc, poller.peak)

    result = {
        "benchmark": "web_latency", "model": os.path.relpath(args.model, REPO), "image": "mini-MIAS PNG, 1024 x 1024",
        "requests_per_client": args.requests, "levels": levels,
        "server_rss_after_start_mb": rss_start / 2**20, "server_peak_rss_mb": peak / 2**20,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "what": "POST /api/predictions (read, preprocess, backbone, head, calibration, Grad-CAM, store) "
                "+ GET the overlay PNG; server = `mammokit serve` in its own process",
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    result["machine"] = {**result["machine"], **machine()}
    args.out.write_text(strict_dumps(result, indent=2))
    args.out.with_suffix(".md").write_text(_markdown(result))
    print(f"model: {args.model}   image: 1024 x 1024 mini-MIAS PNG   server: {os.cpu_count()} CPUs")
    print(f"{'clients':>7} {'requests':>8} {'errors':>6} {'p50 s':>7} {'p95 s':>7} {'req/s':>6}")
    for lv in levels:
        fmt = lambda v: f"{v:7.2f}" if v is not None else "      -"
        print(f"{lv['clients']:>7} {lv['requests']:>8} {lv['errors']:>6} {fmt(lv['p50_s'])} {fmt(lv['p95_s'])} "
              f"{lv['throughput_per_s']:6.2f}")
    print(f"server peak RSS: {result['server_peak_rss_mb']:.0f} MB (after start {result['server_rss_after_start_mb']:.0f} MB)")
    print(f"JSON: {args.out}")
    return 0 if all(lv["errors"] == 0 for lv in levels) else 1


def _markdown(result: dict) -> str:
    """The table `benchmarks/update_docs.py` copies into docs/performance.md."""
    m = result["machine"]
    rows = [{"clients": lv["clients"], "requests": lv["requests"], "errors": lv["errors"],
             "p50 s": None if lv["p50_s"] is None else round(lv["p50_s"], 2),
             "p95 s": None if lv["p95_s"] is None else round(lv["p95_s"], 2),
             "req/s": round(lv["throughput_per_s"], 2)} for lv in result["levels"]]
    head = (f"Machine: {m['cpu']}, {m['cores']} cores; {m['date_utc']} UTC; commit {m['commit']}; load average at "
            f"start {m['load_avg_1m']}. Model `{result['model']}`; {result['image']}; {result['what']}.\n\n")
    tail = (f"\nServer peak RSS {result['server_peak_rss_mb']:.0f} MB "
            f"(after start {result['server_rss_after_start_mb']:.0f} MB).\n")
    return head + table(rows, [(k, k) for k in rows[0]]) + tail


if __name__ == "__main__":
    sys.exit(main())
