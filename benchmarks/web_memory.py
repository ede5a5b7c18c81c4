"""Web app memory under hostile load (issue 14.3, 14.6): the server's peak RSS while 16 clients upload a
maximum-size image at once, and the login page's latency during a 60-upload burst.

    python benchmarks/web_memory.py [--model BUNDLE] [--uploads 16] [--burst 60]

--model defaults to the bundle `make serve` serves (runs/served-bundle.json, written by `make demo`).

Starts `mammokit serve` in its own process (fresh data dir, loopback), makes a grey PNG just under the
pixel limit (11580 x 11580 = 134 M pixels, about 0.2 MB: a breast-like disc on black), POSTs it from
`--uploads` clients at once, polls the server's RSS (and reads VmHWM), then sends a `--burst` of
mini-MIAS uploads from 60 threads while timing GET /login. Targets: peak RSS <= 1.5 GB, no 5xx other
than 503-with-Retry-After, login p95 < 100 ms. Writes benchmarks/results/web_memory.json.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import cv2
import httpx
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine
from web_latency import RssPoller, api_tokens, peak_rss, serving

from mammokit._json import strict_dumps
from mammokit.bundle import served_bundle_path
from mammokit.constants import DEFAULT_MAX_PIXELS, default_mias_dir

SIDE = 11580  # 134.1 M pixels, just under DEFAULT_MAX_PIXELS (as in the issue)


def max_size_png() -> bytes:
    assert SIDE * SIDE <= DEFAULT_MAX_PIXELS
    img = np.zeros((SIDE, SIDE), np.uint8)
    cv2.circle(img, (0, SIDE // 2), SIDE // 2, 180, -1)
    return cv2.imencode(".png", img, [cv2.IMWRITE_PNG_COMPRESSION, 9])[1].tobytes()


def post_all(base: str, tokens: list[str], content: bytes, name: str) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = [(0, "")] * len(tokens)

    def one(i: int) -> None:
        try:
            r = httpx.post(base + "/api/predictions", headers={"Authorization": f"Bearer {tokens[i]}"},
                           files={"file": (name, content)}, timeout=600)
            out[i] = (r.status_code, r.headers.get("retry-after", ""))
        except httpx.HTTPError as exc:
            out[i] = (-1, type(exc).__name__)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(tokens))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, default=served_bundle_path(REPO / "runs") or REPO / "runs" / "mias-cv" / "bundle")
    ap.add_argument("--uploads", type=int, default=16)
    ap.add_argument("--burst", type=int, default=60)
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "web_memory.json")
    args = ap.parse_args(argv)
    if not (args.model / "manifest.json").is_file():
        print(f"web_memory: no model bundle at {args.model}; run `make demo` or pass --model", file=sys.stderr)
        return 2
    big = max_size_png()
    mias = default_mias_dir()
    with tempfile.TemporaryDirectory(prefix="mammokit-mem-") as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        # one user per client: the per-user limits are not what is measured
        tokens = api_tokens(data, [f"u{i}" for i in range(max(args.uploads, 1))])
        with serving(args.model, data, Path(tmp) / "server.log") as (proc, base):
            if proc is None:
                return 2
            rss_start = proc.memory_info().rss
            poller = RssPoller(proc)
            poller.start()
            t0 = time.perf_counter()
            big_results = post_all(base, tokens[: args.uploads], big, "max-size.png")
            big_wall = time.perf_counter() - t0
            poller.stop.set()
            poller.join()
            peak = peak_rss(proc, poller.peak)

            burst_png = (mias / "images" / "mdb001.png").read_bytes() if mias else big
            burst_done = threading.Event()
            burst_results: list = []

            def burst() -> None:
                burst_results.extend(post_all(base, [tokens[i % len(tokens)] for i in range(args.burst)],
                                              burst_png, "mdb001.png"))
                burst_done.set()

            threading.Thread(target=burst, daemon=True).start()
            time.sleep(1.0)
            login_ms = []
            with httpx.Client(base_url=base) as c:
                while not burst_done.is_set() and len(login_ms) < 200:
                    t1 = time.perf_counter()
                    c.get("/login")
                    login_ms.append(1000 * (time.perf_counter() - t1))
                    time.sleep(0.05)
            burst_done.wait(900)

    def codes(results):
        out: dict[str, int] = {}
        for status, _ in results:
            out[str(status)] = out.get(str(status), 0) + 1
        return out

    result = {
        "benchmark": "web_memory", "model": os.path.relpath(args.model, REPO),
        "max_size_upload": {"pixels": SIDE * SIDE, "side": SIDE, "bytes": len(big), "clients": args.uploads,
                            "statuses": codes(big_results), "wall_s": big_wall},
        "server_rss_after_start_mb": rss_start / 2**20, "server_peak_rss_mb": peak / 2**20,
        "burst": {"uploads": args.burst, "statuses": codes(burst_results),
                  "login_page_p50_ms": statistics.median(login_ms) if login_ms else None,
                  "login_page_p95_ms": statistics.quantiles(login_ms, n=20)[-1] if len(login_ms) > 1 else None,
                  "login_samples": len(login_ms)},
        "machine": machine(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(strict_dumps(result, indent=2))
    print(strict_dumps({k: v for k, v in result.items() if k != "machine"}, indent=2))
    ok = peak <= 1.5 * 2**30 and all(s in (201, 503) for s, _ in big_results + burst_results)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
