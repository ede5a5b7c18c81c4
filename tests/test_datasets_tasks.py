"""task_targets: exact targets, groups and dropped records for every task, on hand-made records."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mammokit.constants import TASKS
from mammokit.datasets import Record, task_targets
from mammokit.errors import ConfigError, DatasetError

LABELS = ["normal", "malignant", "benign", "normal", "benign", "malignant"]
RECORDS = [Record(id=f"r{i}", path=Path(f"r{i}.png"), label=lab, patient=f"p{i // 2}")
           for i, lab in enumerate(LABELS)]


@pytest.mark.parametrize("task, indices, y, classes", [
    ("3class", [0, 1, 2, 3, 4, 5], [0, 2, 1, 0, 1, 2], ("normal", "benign", "malignant")),
    ("normal_vs_abnormal", [0, 1, 2, 3, 4, 5], [0, 1, 1, 0, 1, 1], ("normal", "abnormal")),
    ("benign_vs_malignant", [1, 2, 4, 5], [1, 0, 0, 1], ("benign", "malignant")),
])
def test_task_targets(task, indices, y, classes):
    td = task_targets(RECORDS, task)
    assert td.classes == classes == TASKS[task]
    np.testing.assert_array_equal(td.indices, indices)
    np.testing.assert_array_equal(td.y, y)
    assert td.y.dtype == np.int64 and td.indices.dtype == np.int64
    assert list(td.ids) == [f"r{i}" for i in indices]
    assert list(td.groups) == [f"p{i // 2}" for i in indices]
    assert len(td) == len(indices)
    assert sum(td.class_counts().values()) == len(indices)


def test_patient_counts():
    td = task_targets(RECORDS, "normal_vs_abnormal")
    assert td.class_counts() == {"normal": 2, "abnormal": 4}
    assert td.patient_counts() == {"normal": 2, "abnormal": 3}


@pytest.mark.parametrize("records, task, error, message", [
    (RECORDS, "5class", ConfigError, "unknown task '5class'"),
    (RECORDS, "", ConfigError, "unknown task ''"),
    ([Record("x", Path("x.png"), "mass", "p")], "3class", DatasetError, r"x\.png: label 'mass' cannot be used"),
    (RECORDS[:1], "benign_vs_malignant", DatasetError, "no records usable for task benign_vs_malignant"),
    ([], "3class", DatasetError, "no records usable"),
])
def test_task_targets_errors(records, task, error, message):
    with pytest.raises(error, match=message):
        task_targets(records, task)
