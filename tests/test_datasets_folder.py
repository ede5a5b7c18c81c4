"""Folder-per-class and CSV-manifest loaders, on trees of real MIAS PNGs built in tmp_path."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from mammokit.constants import default_mias_dir
from mammokit.datasets import load_dataset, load_folder, load_manifest, normalize_label
from mammokit.errors import ConfigError, DatasetError

MIAS = default_mias_dir()


def _png(ref: str) -> Path:
    assert MIAS is not None, "mini-MIAS not found: expected ../shared/data/mini-mias"
    return MIAS / "images" / f"{ref}.png"


def _link(src: Path, dst: Path) -> Path:
    dst.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(src, dst)
    return dst


@pytest.fixture
def folder(tmp_path) -> Path:
    root = tmp_path / "ds"
    _link(_png("mdb003"), root / "Normal" / "a.png")
    _link(_png("mdb004"), root / "Normal" / "sub" / "b.png")
    _link(_png("mdb001"), root / "benign" / "c.png")
    _link(_png("mdb028"), root / "Cancer" / "d.png")
    (root / "benign" / "notes.txt").write_text("ignored: not an image")
    _link(_png("mdb005"), root / "benign" / ".hidden" / "e.png")
    return root


def test_folder(folder):
    recs = load_folder(folder)
    assert [(r.id, r.label, r.patient) for r in recs] == [
        ("Cancer/d", "malignant", "Cancer/d"),
        ("Normal/a", "normal", "Normal/a"),
        ("Normal/sub/b", "normal", "Normal/sub/b"),
        ("benign/c", "benign", "benign/c"),
    ]
    assert all(r.path.is_file() for r in recs)


def test_folder_patients_csv(folder):
    (folder / "patients.csv").write_text(
        "path,patient_id\nNormal/a.png,w1\nNormal/sub/b.png,w1\nbenign/c.png,w2\nCancer/d,w3\n")
    recs = {r.id: r.patient for r in load_folder(folder)}
    assert recs == {"Normal/a": "w1", "Normal/sub/b": "w1", "benign/c": "w2", "Cancer/d": "w3"}


def test_folder_custom_labels(tmp_path):
    _link(_png("mdb001"), tmp_path / "Mass" / "x.png")
    _link(_png("mdb002"), tmp_path / "calc" / "y.png")
    recs = load_folder(tmp_path, labels=["mass", "calc"])
    assert sorted(r.label for r in recs) == ["calc", "mass"]
    assert [r.label for r in load_dataset("folder", tmp_path, labels=["mass", "calc"])] == ["mass", "calc"]


@pytest.mark.parametrize("case, message", [
    ("unknown_label", r"ds/tumour: unknown label 'tumour'"),
    ("empty", r"ds: no images found"),
    ("missing", r"nowhere: folder not found"),
    ("loose_image", r"ds/x\.png: image outside a label folder"),
    ("duplicate", r"duplicate id 'normal/a'"),
    ("patients_gap", r"patients\.csv: no row for normal/b\.png"),
    ("patients_stray", r"rows name files that are not in"),
    ("patients_columns", r"patients\.csv: missing column\(s\) patient_id"),
])
def test_folder_errors(tmp_path, case, message):
    root = tmp_path / "ds"
    root.mkdir()
    if case != "empty":
        _link(_png("mdb003"), root / "normal" / "a.png")
    if case == "unknown_label":
        _link(_png("mdb001"), root / "tumour" / "t.png")
    elif case == "empty":
        (root / "normal").mkdir()
    elif case == "missing":
        root = tmp_path / "nowhere"
    elif case == "loose_image":
        _link(_png("mdb001"), root / "x.png")
    elif case == "duplicate":
        _link(_png("mdb004"), root / "normal" / "a.pgm")
    elif case == "patients_gap":
        _link(_png("mdb004"), root / "normal" / "b.png")
        (root / "patients.csv").write_text("path,patient_id\nnormal/a.png,w1\n")
    elif case == "patients_stray":
        (root / "patients.csv").write_text("path,patient_id\nnormal/a.png,w1\nnormal/zz.png,w2\n")
    else:
        (root / "patients.csv").write_text("path,woman\nnormal/a.png,w1\n")
    with pytest.raises(DatasetError, match=message):
        load_folder(root)


# --- manifest ----------------------------------------------------------------------------------

def _manifest(tmp_path: Path, text: str) -> Path:
    _link(_png("mdb001"), tmp_path / "img" / "one.png")
    _link(_png("mdb002"), tmp_path / "img" / "two.png")
    path = tmp_path / "manifest.csv"
    path.write_text(text)
    return path


def test_manifest(tmp_path):
    absolute = _link(_png("mdb028"), tmp_path / "elsewhere" / "three.png")
    csv = _manifest(tmp_path, (
        "Path,Label,patient_id,laterality,view,id\n"
        "img/one.png,Benign,w1,right,mlo,\n"
        "img/two.png,NEGATIVE,w1,L,CC,second\n"
        f"{absolute},malign,,,,\n"))
    recs = load_manifest(csv)
    assert [(r.id, r.label, r.patient, r.laterality, r.view) for r in recs] == [
        ("img/one", "benign", "w1", "R", "MLO"),
        ("second", "normal", "w1", "L", "CC"),
        ("three", "malignant", "three", None, None),
    ]
    assert recs[0].path == tmp_path / "img" / "one.png"
    assert [r.id for r in load_dataset("manifest", csv)] == ["img/one", "second", "three"]


@pytest.mark.parametrize("text, message", [
    ("path\nimg/one.png\n", r"missing column\(s\) label"),
    ("path,label\nimg/none.png,normal\n", r"img/none\.png: file not found \(.*line 2\)"),
    ("path,label\nimg/one.png,tumour\n", r"line 2: unknown label 'tumour'"),
    ("path,label,id\nimg/one.png,normal,x\nimg/two.png,benign,x\n", r"line 3: duplicate id 'x' \(first on line 2\)"),
    ("path,label\n", r"manifest has no rows"),
    ("", r"empty CSV"),
    ("path,label,laterality\nimg/one.png,normal,up\n", r"laterality 'up' is not L/R"),
    ("path,label\nimg/one.png,\n", r"line 2: empty label"),
])
def test_manifest_errors(tmp_path, text, message):
    with pytest.raises(DatasetError, match=message):
        load_manifest(_manifest(tmp_path, text))


def test_manifest_missing_file(tmp_path):
    with pytest.raises(DatasetError, match=r"nope\.csv: manifest not found"):
        load_manifest(tmp_path / "nope.csv")


# --- labels and load_dataset ---------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("normal", "normal"), (" Negative ", "normal"), ("BENIGN", "benign"),
    ("Benign-Without-Callback", "benign"), ("Cancer", "malignant"), ("malign", "malignant"),
    ("Abnormal", "abnormal"), ("positive", "abnormal"), ("No Cancer", "no_cancer"), ("BI-RADS 4", "birads_4"),
    ("birads-2", "birads_2"),
])
def test_normalize_label(text, expected):
    assert normalize_label(text) == expected


@pytest.mark.parametrize("text", ["tumour", "b", "", "malignantx", "4", "BI-RADS 7"])
def test_normalize_label_rejects(text):
    with pytest.raises(DatasetError, match="unknown label"):
        normalize_label(text)


@pytest.mark.parametrize("name, data, error, message", [
    ("imagenet", None, ConfigError, "unknown dataset 'imagenet'"),
    ("folder", None, ConfigError, "dataset folder needs a path"),
    ("manifest", None, ConfigError, "dataset manifest needs a path"),
])
def test_load_dataset_errors(name, data, error, message):
    with pytest.raises(error, match=message):
        load_dataset(name, data)


def test_load_dataset_mias_not_found(monkeypatch):
    # ../shared always exists beside this checkout, so the "nothing found" lookup is simulated.
    monkeypatch.setattr("mammokit.datasets._load.default_mias_dir", lambda: None)
    with pytest.raises(DatasetError, match=r"mini-MIAS not found: .*mammokit data fetch mias --dest DIR"):
        load_dataset("mias")
