"""Issue 14.7: no file without a database row after a crash (start-up sweep, kill -9 on loopback), and a
full disk answers 507 with a clear message."""
from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from mammokit.web import create_api_token, create_app, init_db
from mammokit.web._db import Prediction

from .support import add_users, login, make_settings, page_csrf


def orphans(settings) -> list[str]:
    """Files under uploads/ and derived/ that no prediction row refers to, and temporary files."""
    engine, factory = init_db(settings.database_url)
    with factory() as db:
        stored = set(db.scalars(select(Prediction.stored_name)))
        uids = set(db.scalars(select(Prediction.uid)))
    engine.dispose()
    out = [p.name for p in settings.upload_dir.glob("*") if p.name not in stored]
    out += [p.name for p in settings.derived_dir.glob("*/*") if p.name.rsplit("-", 1)[0] not in uids]
    return out


def test_start_up_sweep_removes_unreferenced_files(make_client, tiny_bundle, mias_png):
    client, settings = make_client(model_path=tiny_bundle)
    add_users(settings, ("alice", "clinician"))
    login(client, "alice")
    r = client.post("/api/predictions", files={"file": ("a.png", mias_png(1).read_bytes())},
                    headers={"X-CSRF-Token": page_csrf(client)})
    assert r.status_code == 201
    kept = sorted(p.relative_to(settings.data_dir) for p in settings.data_dir.rglob("*.*")
                  if "uploads" in p.parts or "derived" in p.parts)
    (settings.upload_dir / ("ab" * 32 + ".png")).write_bytes(b"orphan upload")
    (settings.upload_dir / ".x.png.abc123.tmp").write_bytes(b"half-written")
    (settings.derived_dir / "zz").mkdir(parents=True, exist_ok=True)
    (settings.derived_dir / "zz" / "zzOrphan1234-view.png").write_bytes(b"orphan derived")
    assert len(orphans(settings)) == 3
    create_app(settings.__class__(**{**settings.__dict__, "orphan_grace_s": 0})).state.engine.dispose()
    assert orphans(settings) == []
    assert sorted(p.relative_to(settings.data_dir) for p in settings.data_dir.rglob("*.*")
                  if "uploads" in p.parts or "derived" in p.parts) == kept  # referenced files untouched


@pytest.fixture
def small_disk(tmp_path):
    """A 6 MB tmpfs (real ENOSPC); needs root to mount."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", str(mnt)], capture_output=True,
                      check=False).returncode:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_disk_full_is_507(tmp_path, small_disk, tiny_bundle, mias_png):
    from fastapi.testclient import TestClient

    settings = make_settings(small_disk, f"sqlite:///{tmp_path / 'w.db'}", model_path=tiny_bundle)
    settings.data_dir = small_disk / "data"
    app = create_app(settings)
    add_users(settings, ("alice", "clinician"))
    client = TestClient(app)
    login(client, "alice")
    png = mias_png(1).read_bytes()
    free = os.statvfs(small_disk).f_bavail * os.statvfs(small_disk).f_frsize
    (small_disk / "filler").write_bytes(b"\0" * (free - 64 * 1024))  # leave 64 kB
    page = client.post("/upload", data={"csrf_token": page_csrf(client)}, files={"file": ("a.png", png)},
                       follow_redirects=False)
    assert page.status_code == 507 and "disk is full" in page.text and "text/html" in page.headers["content-type"]
    api = client.post("/api/predictions", files={"file": ("a.png", png)}, headers={"X-CSRF-Token": page_csrf(client)})
    assert api.status_code == 507 and "disk is full" in api.json()["detail"]
    assert not list(settings.data_dir.rglob("*.tmp"))  # no half-written file left
    client.close()
    app.state.engine.dispose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_kill_9_during_uploads_leaves_no_orphans(tmp_path, tiny_bundle, mias_png):
    """Three rounds of uploads into a real `mammokit serve` killed with SIGKILL at a random moment."""
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'data' / 'mammokit.db'}", model_path=tiny_bundle,
                             orphan_grace_s=0)
    add_users(settings, ("alice", "clinician"))
    engine, factory = init_db(settings.database_url)
    auth = {"Authorization": f"Bearer {create_api_token(factory, 'alice')}"}
    engine.dispose()
    pngs = [mias_png(i).read_bytes() for i in range(1, 9)]
    acknowledged: list[str] = []
    rng = random.Random(14)
    mammokit = str(Path(sys.executable).parent / "mammokit")
    for _round in range(3):
        port = free_port()
        proc = subprocess.Popen([mammokit, "serve", "--model", str(tiny_bundle), "--data-dir", str(settings.data_dir),
                                 "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(url + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        stop = threading.Event()

        def upload(i: int, url: str = url, stop: threading.Event = stop) -> None:
            with httpx.Client(base_url=url, timeout=30) as c:
                while not stop.is_set():
                    try:
                        r = c.post("/api/predictions", headers=auth, files={"file": ("a.png", pngs[i % len(pngs)])})
                    except httpx.HTTPError:
                        return
                    if r.status_code == 201:
                        acknowledged.append(r.json()["id"])

        threads = [threading.Thread(target=upload, args=(i,)) for i in range(3)]
        for t in threads:
            t.start()
        time.sleep(rng.uniform(2.0, 5.0))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
        stop.set()
        for t in threads:
            t.join(30)
    print(f"kill -9 x3: {len(acknowledged)} acknowledged uploads, {len(orphans(settings))} orphans before the sweep")
    create_app(settings).state.engine.dispose()  # the next start sweeps
    assert orphans(settings) == []
    engine, factory = init_db(settings.database_url)
    with factory() as db:
        rows = db.execute(select(Prediction.uid, Prediction.stored_name)).all()
    engine.dispose()
    assert acknowledged and set(acknowledged) <= {uid for uid, _ in rows}  # nothing acknowledged was lost
    for uid, stored in rows:  # and every row still has its files
        assert (settings.upload_dir / stored).is_file() and (settings.derived_dir / uid[:2] / f"{uid}-view.png").is_file()
