"""mini-MIAS loader on the real database in ../shared (Info.txt, 322 PNGs, 6 original PGMs)."""
from __future__ import annotations

import os
import re
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mammokit.constants import default_mias_dir
from mammokit.datasets import load_dataset, load_mias, mias_patient, parse_mias_info
from mammokit.errors import DatasetError

MIAS = default_mias_dir()
PGM_IDS = [f"mdb{i:03d}" for i in range(1, 7)]
# `mias_dir` (the real data folder) comes from tests/conftest.py.


@pytest.fixture(scope="module")
def records(mias_dir):
    return load_mias(mias_dir)


def _info_rows(mias_dir: Path) -> list[list[str]]:
    return [ln.split() for ln in (mias_dir / "Info.txt").read_text().splitlines() if re.match(r"^mdb\d{3}\s", ln)]


def test_full_counts(records):
    assert len(records) == 322
    assert Counter(r.label for r in records) == {"normal": 207, "benign": 63, "malignant": 52}
    assert len({r.patient for r in records}) == 161
    assert all(r.view == "MLO" and r.laterality is None for r in records)
    assert [r.id for r in records] == [f"mdb{i:03d}" for i in range(1, 323)]


def test_patients_pair_both_breasts(records):
    by_patient: dict[str, list[str]] = {}
    for r in records:
        by_patient.setdefault(r.patient, []).append(r.id)
    assert all(len(ids) == 2 for ids in by_patient.values())
    assert by_patient["mias-p001"] == ["mdb001", "mdb002"]
    assert by_patient["mias-p161"] == ["mdb321", "mdb322"]
    for ids in by_patient.values():
        a, b = (int(i[3:]) for i in ids)
        assert a % 2 == 1 and b == a + 1


@pytest.mark.parametrize("refnum, patient", [("mdb001", "mias-p001"), ("mdb002", "mias-p001"),
                                             ("mdb143", "mias-p072"), ("mdb144", "mias-p072"),
                                             ("mdb322", "mias-p161")])
def test_patient_id(refnum, patient):
    assert mias_patient(refnum) == patient


def test_mdb144_malignant_with_two_lesions(records):
    rec = next(r for r in records if r.id == "mdb144")
    assert rec.label == "malignant"
    assert sorted(les.severity for les in rec.lesions) == ["benign", "malignant"]


def test_coordinates_flipped_to_top_left(records, mias_dir):
    # Every Info.txt row with coordinates must appear as a lesion with y_top = 1024 - Y.
    by_id = {r.id: r for r in records}
    rows = [t for t in _info_rows(mias_dir) if len(t) == 7]
    assert len(rows) > 100
    for ref, _bg, kind, _sev, x, y, radius in rows:
        assert (kind, float(x), 1024 - float(y), float(radius)) in {
            (les.kind, les.x, les.y, les.radius) for les in by_id[ref].lesions}
    # one row checked by hand: "mdb028 D CIRC M 338 314 56"
    (les,) = by_id["mdb028"].lesions
    assert (les.kind, les.severity, les.x, les.y, les.radius) == ("CIRC", "malignant", 338, 1024 - 314, 56)


def test_lesion_centre_is_brighter_than_the_flipped_point(records):
    # The circumscribed malignant mass of mdb028 is bright at its top-left centre; the unconverted
    # (bottom-left) point is ordinary tissue. Guards against a wrong flip.
    rec = next(r for r in records if r.id == "mdb028")
    (les,) = rec.lesions
    px = np.asarray(Image.open(rec.path), dtype=np.float32)
    at = px[int(les.y) - 10:int(les.y) + 10, int(les.x) - 10:int(les.x) + 10].mean()
    y_wrong = 1024 - les.y
    wrong = px[int(y_wrong) - 10:int(y_wrong) + 10, int(les.x) - 10:int(les.x) + 10].mean()
    assert at > wrong + 20


def test_rows_without_coordinates(records, mias_dir):
    no_xy = {t[0] for t in _info_rows(mias_dir) if len(t) >= 3 and t[2] != "NORM" and not any(
        s.isdigit() for s in t[4:])}
    assert {"mdb059", "mdb216", "mdb233", "mdb245"} <= no_xy
    by_id = {r.id: r for r in records}
    for ref in no_xy:
        assert any(not les.has_location for les in by_id[ref].lesions)
        assert by_id[ref].label in ("benign", "malignant")
    assert by_id["mdb216"].extra["notes"] == ("NOTE 3",)
    assert all(les.has_location for les in by_id["mdb028"].lesions)


def test_extra_background(records):
    by_id = {r.id: r for r in records}
    assert by_id["mdb001"].extra["background"] == "G"
    assert by_id["mdb003"].extra["background_name"] == "dense-glandular"
    assert {r.extra["background"] for r in records} == {"F", "G", "D"}


def test_pgm_layout_matches_png_layout(tmp_path, mias_dir):
    # Original layout: mdbNNN.pgm beside Info.txt.
    shutil.copy(mias_dir / "Info.txt", tmp_path / "Info.txt")
    for ref in PGM_IDS:
        os.symlink(mias_dir / "pgm-originals" / f"{ref}.pgm", tmp_path / f"{ref}.pgm")
    pgm = load_mias(tmp_path, ids=PGM_IDS)
    png = load_mias(mias_dir, ids=PGM_IDS)
    assert [r.path.suffix for r in pgm] == [".pgm"] * 6
    assert [r.path.suffix for r in png] == [".png"] * 6
    strip = [(r.id, r.label, r.patient, r.lesions, r.extra) for r in pgm]
    assert strip == [(r.id, r.label, r.patient, r.lesions, r.extra) for r in png]
    # Without ids every Info.txt image must exist: the first missing one is named.
    with pytest.raises(DatasetError, match=r"mdb007\.png: image file missing"):
        load_mias(tmp_path)


def test_load_dataset_default_location(records):
    assert [r.id for r in load_dataset("mias")] == [r.id for r in records]


# --- invalid inputs ------------------------------------------------------------------------

def _tree(tmp_path: Path, mias_dir: Path, info_lines: list[str], images=("mdb001",)) -> Path:
    (tmp_path / "images").mkdir()
    for ref in images:
        os.symlink(mias_dir / "images" / f"{ref}.png", tmp_path / "images" / f"{ref}.png")
    (tmp_path / "Info.txt").write_text("header text\n\n" + "\n".join(info_lines) + "\n")
    return tmp_path


@pytest.mark.parametrize("line, message", [
    ("mdb001 X CIRC B 535 425 197", r"line 3 \(mdb001\): unknown background tissue 'X'"),
    ("mdb001 G BLOB B 535 425 197", r"unknown class 'BLOB'"),
    ("mdb001 G CIRC Q 535 425 197", r"class CIRC needs severity B or M"),
    ("mdb001 G CIRC B 535 425", r"expected X Y RADIUS, got 2"),
    ("mdb001 G CIRC B 535 1425 10", r"Y=1425 outside"),
    ("mdb001 G NORM 10 10 10", r"NORM row should have no coordinates"),
])
def test_bad_info_rows(tmp_path, mias_dir, line, message):
    root = _tree(tmp_path, mias_dir, [line])
    with pytest.raises(DatasetError, match=message):
        load_mias(root)


def test_good_minimal_info(tmp_path, mias_dir):
    root = _tree(tmp_path, mias_dir, ["mdb001 G CIRC B 535 425 197   "])
    (rec,) = load_mias(root)
    assert rec.lesions[0].y == 1024 - 425 and rec.label == "benign"


@pytest.mark.parametrize("case", ["no_info", "no_rows", "missing_dir", "unknown_id", "wrong_size", "not_image"])
def test_mias_errors(tmp_path, mias_dir, case):
    root = tmp_path
    ids = None
    if case == "no_info":
        (root / "images").mkdir()
        msg = r"Info\.txt: not found"
    elif case == "no_rows":
        (root / "Info.txt").write_text("just a readme\n")
        msg = "no mdbNNN rows"
    elif case == "missing_dir":
        root = tmp_path / "nowhere"
        msg = "nowhere: mini-MIAS folder not found"
    elif case == "unknown_id":
        _tree(root, mias_dir, ["mdb001 G NORM"])
        ids = ["mdb001", "mdb999"]
        msg = "no rows for mdb999"
    elif case == "wrong_size":
        _tree(root, mias_dir, ["mdb001 G NORM"], images=())
        Image.new("L", (512, 1024)).save(root / "images" / "mdb001.png")
        msg = r"mdb001\.png: 512x1024 pixels"
    else:
        _tree(root, mias_dir, ["mdb001 G NORM"], images=())
        (root / "images" / "mdb001.png").write_text("not a png")
        msg = r"mdb001\.png: not a readable image"
    with pytest.raises(DatasetError, match=msg):
        load_mias(root, ids=ids)


def test_parse_rows_count(mias_dir):
    rows = parse_mias_info(mias_dir / "Info.txt")
    assert len(rows) == 330  # 322 images, some with several lesion rows
    assert len({r.refnum for r in rows}) == 322


def test_repo_root_outside_a_checkout_is_the_working_directory(tmp_path, monkeypatch):
    """In an installed wheel there is no pyproject.toml two folders above the package: runs/, cache/ and
    configs/ are then looked for in the working directory instead of somewhere in site-packages."""
    import importlib.util

    import mammokit.constants as real

    copy = tmp_path / "site-packages" / "mammokit" / "constants.py"
    copy.parent.mkdir(parents=True)
    shutil.copyfile(real.__file__, copy)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    spec = importlib.util.spec_from_file_location("constants_in_a_wheel", copy)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.REPO_ROOT == work
    assert real.REPO_ROOT == Path(real.__file__).resolve().parents[2]  # this checkout
