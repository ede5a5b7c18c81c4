"""Label sets (issue 10 part 4): folders and manifests labelled normal/abnormal, cancer/no cancer,
negative/positive or BI-RADS, on trees of real mini-MIAS PNGs; tasks map onto them or say which
labels are missing."""
from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from mammokit.datasets import (
    DATASET_TASKS,
    RecordTable,
    load_dataset,
    load_folder,
    load_manifest,
    missing_labels,
    task_targets,
)
from mammokit.errors import DatasetError


def _tree(root: Path, mias_png, layout: dict[str, list[int]]) -> Path:
    for folder, numbers in layout.items():
        (root / folder).mkdir(parents=True)
        for n in numbers:
            os.symlink(mias_png(n), root / folder / f"mdb{n:03d}.png")
    return root


@pytest.fixture
def normal_abnormal(tmp_path, mias_png) -> Path:
    # mdb001/002 are one woman (benign + normal): patients.csv keeps her in one group.
    root = _tree(tmp_path / "na", mias_png, {"normal": [2, 3, 4], "abnormal": [1, 28]})
    (root / "patients.csv").write_text("path,patient_id\nnormal/mdb002.png,w1\nabnormal/mdb001.png,w1\n"
                                       "normal/mdb003.png,w2\nnormal/mdb004.png,w2\nabnormal/mdb028.png,w14\n")
    return root


def test_normal_abnormal_folder_maps_onto_normal_vs_abnormal(normal_abnormal):
    recs = load_folder(normal_abnormal)
    assert isinstance(recs, RecordTable) and recs.labels == ("abnormal", "normal")
    td = task_targets(recs, "normal_vs_abnormal")
    assert dict(zip(td.ids, td.y.tolist())) == {"abnormal/mdb001": 1, "abnormal/mdb028": 1, "normal/mdb002": 0,
                                                "normal/mdb003": 0, "normal/mdb004": 0}
    assert td.patient_counts() == {"normal": 2, "abnormal": 2}
    assert set(td.groups) == {"w1", "w2", "w14"}


@pytest.mark.parametrize("task, message", [
    ("benign_vs_malignant", (r"label 'abnormal' cannot be used for task benign_vs_malignant \(it does not say benign "
                             r"or malignant\); task benign_vs_malignant needs label\(s\) benign, malignant, missing "
                             r"from this data set \(labels: abnormal, normal\)")),
    ("3class", r"needs label\(s\) benign, malignant, missing"),
    ("cancer_vs_no_cancer", r"needs label\(s\) malignant, missing"),
])
def test_normal_abnormal_folder_refuses_tasks_it_cannot_answer(normal_abnormal, task, message):
    with pytest.raises(DatasetError, match=message):
        task_targets(load_folder(normal_abnormal), task)


def test_cancer_folder(tmp_path, mias_png):
    root = _tree(tmp_path / "c", mias_png, {"Cancer": [28, 23], "No Cancer": [1, 3, 5]})
    recs = load_folder(root)
    assert recs.labels == ("malignant", "no_cancer")
    td = task_targets(recs, "cancer_vs_no_cancer")
    assert td.classes == DATASET_TASKS["cancer_vs_no_cancer"] == ("no_cancer", "cancer")
    assert td.class_counts() == {"no_cancer": 3, "cancer": 2}
    with pytest.raises(DatasetError, match=r"label 'no_cancer' cannot be used for task normal_vs_abnormal \(it does "
                                           r"not say normal or benign\); task normal_vs_abnormal needs label\(s\) normal"):
        task_targets(recs, "normal_vs_abnormal")
    # no_cancer is dropped by benign_vs_malignant, which then lacks benign images
    with pytest.raises(DatasetError, match=r"needs label\(s\) benign, missing from this data set"):
        task_targets(recs, "benign_vs_malignant")


def test_negative_positive_follow_the_declared_label_set(tmp_path, mias_png):
    root = _tree(tmp_path / "np", mias_png, {"negative": [3, 4], "positive": [28]})
    assert sorted(r.label for r in load_folder(root)) == ["abnormal", "normal", "normal"]
    as_cancer = load_folder(root, labels="cancer")
    assert as_cancer.labels == ("no_cancer", "malignant")
    assert sorted(r.label for r in as_cancer) == ["malignant", "no_cancer", "no_cancer"]
    assert task_targets(as_cancer, "cancer_vs_no_cancer").y.tolist() == [0, 0, 1]


def test_birads_folder(tmp_path, mias_png):
    root = _tree(tmp_path / "b", mias_png, {"BI-RADS 1": [3], "BI-RADS 2": [1], "birads_5": [28], "BI-RADS 0": [5]})
    recs = load_folder(root)
    assert sorted(recs.labels) == ["birads_0", "birads_1", "birads_2", "birads_5"]
    td = task_targets(recs, "normal_vs_abnormal")
    assert dict(zip(td.ids, td.y.tolist())) == {"BI-RADS 1/mdb003": 0, "BI-RADS 2/mdb001": 1, "birads_5/mdb028": 1}
    with pytest.raises(DatasetError, match=r"a BI-RADS assessment is not a pathology result"):
        task_targets(recs, "benign_vs_malignant")


def test_pathology_folder_still_answers_every_task(tmp_path, mias_png):
    recs = load_folder(_tree(tmp_path / "p", mias_png, {"normal": [3], "benign": [1], "malignant": [28]}))
    for task in DATASET_TASKS:
        assert len(task_targets(recs, task)) == (2 if task == "benign_vs_malignant" else 3)


def test_manifest_label_sets(tmp_path, mias_png):
    csv = tmp_path / "m.csv"
    csv.write_text("path,label,patient_id,study_id\n"
                   f"{mias_png(1)},Abnormal,w1,e1\n{mias_png(2)},Normal,w1,e1\n{mias_png(28)},abnormal,w14,e14\n")
    recs = load_manifest(csv)
    assert recs.labels == ("abnormal", "normal")
    assert [r.exam for r in recs] == ["e1", "e1", "e14"]
    assert task_targets(recs, "normal_vs_abnormal").y.tolist() == [1, 0, 1]
    with pytest.raises(DatasetError, match=r"line 2: unknown label 'Abnormal'; allowed: normal, benign, malignant"):
        load_manifest(csv, labels="pathology")
    with pytest.raises(DatasetError, match=r"task benign_vs_malignant needs label\(s\) benign, malignant"):
        task_targets(load_dataset("manifest", csv), "benign_vs_malignant")


def test_declared_label_set_counts_even_when_rows_lack_a_label(tmp_path, mias_png):
    csv = tmp_path / "m.csv"
    csv.write_text(f"path,label\n{mias_png(3)},normal\n{mias_png(28)},malignant\n")
    with pytest.raises(DatasetError, match=r"m\.csv: task 3class needs label\(s\) benign, missing"):
        task_targets(load_manifest(csv), "3class")
    assert task_targets(load_manifest(csv, labels="pathology"), "3class").y.tolist() == [0, 2]


def test_missing_labels_and_unknown_set():
    assert missing_labels(("normal", "abnormal"), "normal_vs_abnormal") == ((), ())
    assert missing_labels(("normal", "abnormal"), "benign_vs_malignant") == (("benign", "malignant"), ("abnormal",))
    assert missing_labels(("no_cancer", "benign", "malignant"), "cancer_vs_no_cancer") == ((), ())
    with pytest.raises(DatasetError, match="unknown label set 'colours'"):
        load_folder(Path("."), labels="colours")


def test_record_table_keeps_its_labels_through_pickle(normal_abnormal):
    recs = load_folder(normal_abnormal)
    back = pickle.loads(pickle.dumps(recs))
    assert back == recs and back.labels == recs.labels and back.name == recs.name
    assert np.array_equal(task_targets(back, "normal_vs_abnormal").y, task_targets(recs, "normal_vs_abnormal").y)
