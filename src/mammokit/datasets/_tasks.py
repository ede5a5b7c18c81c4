"""From Records to a classification task: which records, their integer targets, their groups."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..constants import ABNORMAL, BENIGN, MALIGNANT, NORMAL, TASKS
from ..errors import ConfigError, DatasetError
from ._records import Record

# record label -> task class name; a label missing here is not used by (dropped from) the task.
_TASK_LABEL_MAP: dict[str, dict[str, str]] = {
    "3class": {NORMAL: NORMAL, BENIGN: BENIGN, MALIGNANT: MALIGNANT},
    "normal_vs_abnormal": {NORMAL: NORMAL, BENIGN: ABNORMAL, MALIGNANT: ABNORMAL},
    "benign_vs_malignant": {BENIGN: BENIGN, MALIGNANT: MALIGNANT},
}
# Labels a task drops on purpose (benign_vs_malignant ignores normal images).
_TASK_DROPS: dict[str, frozenset[str]] = {"benign_vs_malignant": frozenset({NORMAL})}


@dataclass(frozen=True)
class TaskData:
    """Targets for one task. ``indices`` are positions in the record list given to task_targets."""

    task: str
    indices: np.ndarray  # int64 positions of the records used
    y: np.ndarray  # int64 class index into ``classes``
    classes: tuple[str, ...]
    groups: np.ndarray  # patient id per used record (the split grouping key)
    ids: np.ndarray  # record id per used record

    def __len__(self) -> int:
        return int(self.y.shape[0])

    def class_counts(self) -> dict[str, int]:
        return {c: int((self.y == k).sum()) for k, c in enumerate(self.classes)}

    def patient_counts(self) -> dict[str, int]:
        """Distinct patients with at least one image of each class."""
        return {c: len(set(self.groups[self.y == k].tolist())) for k, c in enumerate(self.classes)}


def check_task(task: str) -> tuple[str, ...]:
    if task not in TASKS:
        raise ConfigError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
    return TASKS[task]


def task_targets(records: Sequence[Record], task: str) -> TaskData:
    """Integer targets for ``task`` (see constants.TASKS); unusable labels raise DatasetError."""
    classes = check_task(task)
    mapping, drops = _TASK_LABEL_MAP[task], _TASK_DROPS.get(task, frozenset())
    index = {c: k for k, c in enumerate(classes)}
    keep, y = [], []
    for i, rec in enumerate(records):
        if rec.label in drops:
            continue
        if rec.label not in mapping:
            raise DatasetError(
                f"{rec.path}: label {rec.label!r} cannot be used for task {task} "
                f"(needs {', '.join(sorted(mapping))})"
            )
        keep.append(i)
        y.append(index[mapping[rec.label]])
    if not keep:
        raise DatasetError(f"no records usable for task {task} (labels present: "
                           f"{', '.join(sorted({r.label for r in records})) or 'none'})")
    return TaskData(
        task=task,
        indices=np.asarray(keep, dtype=np.int64),
        y=np.asarray(y, dtype=np.int64),
        classes=classes,
        groups=np.asarray([records[i].patient for i in keep], dtype=object),
        ids=np.asarray([records[i].id for i in keep], dtype=object),
    )
