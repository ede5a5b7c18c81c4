"""From Records to a classification task: which records, their integer targets, their groups."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..constants import ABNORMAL, BENIGN, MALIGNANT, NORMAL, TASKS
from ..errors import ConfigError, DatasetError
from ._labels import NO_CANCER
from ._records import Record

# The tasks a data set can be mapped onto: the model tasks plus cancer vs no cancer (screening
# outcome), whose positive class is last as in constants.TASKS.
CANCER_TASK = "cancer_vs_no_cancer"
DATASET_TASKS: dict[str, tuple[str, ...]] = {**TASKS, CANCER_TASK: (NO_CANCER, "cancer")}

_BIRADS_ABNORMAL = {f"birads_{n}": ABNORMAL for n in range(2, 7)}
# record label -> task class name. A label neither here nor in _TASK_DROPS cannot be used.
_TASK_LABEL_MAP: dict[str, dict[str, str]] = {
    "3class": {NORMAL: NORMAL, BENIGN: BENIGN, MALIGNANT: MALIGNANT},
    # BI-RADS 1 is "negative"; 2-6 all report a finding (2 benign, 3 probably benign, 4-5 suspicious, 6 proven)
    "normal_vs_abnormal": {NORMAL: NORMAL, BENIGN: ABNORMAL, MALIGNANT: ABNORMAL, ABNORMAL: ABNORMAL,
                           "birads_1": NORMAL, **_BIRADS_ABNORMAL},
    "benign_vs_malignant": {BENIGN: BENIGN, MALIGNANT: MALIGNANT},
    CANCER_TASK: {NORMAL: NO_CANCER, BENIGN: NO_CANCER, NO_CANCER: NO_CANCER, MALIGNANT: "cancer"},
}
# Labels a task drops on purpose: benign_vs_malignant ignores images without a proven finding;
# BI-RADS 0 ("needs more imaging") answers no task.
_TASK_DROPS: dict[str, frozenset[str]] = {
    "3class": frozenset({"birads_0"}),
    "normal_vs_abnormal": frozenset({"birads_0"}),
    "benign_vs_malignant": frozenset({NORMAL, NO_CANCER, "birads_0"}),
    CANCER_TASK: frozenset({"birads_0"}),
}
# The label that gives each task class, for "missing labels" messages.
_CLASS_LABEL = {"cancer": MALIGNANT}
_WHY_NOT = {
    ABNORMAL: "it does not say benign or malignant",
    NO_CANCER: "it does not say normal or benign",
}


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
    if task not in DATASET_TASKS:
        raise ConfigError(f"unknown task {task!r}; choose one of {', '.join(DATASET_TASKS)}")
    return DATASET_TASKS[task]


def _why_not(label: str) -> str:
    if label.startswith("birads_"):
        return "a BI-RADS assessment is not a pathology result"
    return _WHY_NOT.get(label, "it is not one of the task's labels")


def task_labels(task: str) -> tuple[str, ...]:
    """The labels ``task`` can use (mapped or dropped on purpose)."""
    check_task(task)
    return tuple(dict.fromkeys((*_TASK_LABEL_MAP[task], *sorted(_TASK_DROPS.get(task, ())))))


def missing_labels(labels: Sequence[str], task: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(missing, unusable) for a label set: labels the task needs that the set lacks, and labels of
    the set the task cannot use. Both empty means the task maps onto the set."""
    classes = check_task(task)
    mapping, drops = _TASK_LABEL_MAP[task], _TASK_DROPS.get(task, frozenset())
    covered = {mapping[lab] for lab in labels if lab in mapping}
    missing = tuple(_CLASS_LABEL.get(c, c) for c in classes if c not in covered)
    unusable = tuple(lab for lab in labels if lab not in mapping and lab not in drops)
    return missing, unusable


def _label_error(task: str, labels: Sequence[str], missing: Sequence[str], bad: str | None, where: str) -> DatasetError:
    parts = []
    if bad is not None:
        parts.append(f"label {bad!r} cannot be used for task {task} ({_why_not(bad)})")
    if missing:
        parts.append(f"task {task} needs label(s) {', '.join(missing)}, missing from this data set "
                     f"(labels: {', '.join(labels) or 'none'})")
    elif bad is not None:
        parts.append(f"it uses {', '.join(task_labels(task))}")
    return DatasetError((f"{where}: " if where else "") + "; ".join(parts))


def task_targets(records: Sequence[Record], task: str) -> TaskData:
    """Integer targets for ``task`` (DATASET_TASKS); a label set the task cannot use raises.

    A record whose label the task cannot use, or a declared label set (RecordTable.labels) that
    lacks a label the task needs, raises DatasetError naming the missing labels. Labels the task
    drops on purpose (normal images for benign_vs_malignant) are left out.
    """
    classes = check_task(task)
    mapping, drops = _TASK_LABEL_MAP[task], _TASK_DROPS.get(task, frozenset())
    present = tuple(dict.fromkeys(r.label for r in records))
    declared = getattr(records, "labels", None)  # a RecordTable declares its label set
    labels = tuple(dict.fromkeys((*(declared or ()), *present)))
    missing, _ = missing_labels(labels, task)
    bad = next((r for r in records if r.label not in mapping and r.label not in drops), None)
    if bad is not None:
        raise _label_error(task, labels, missing, bad.label, str(bad.path))
    index = {c: k for k, c in enumerate(classes)}
    keep = [i for i, rec in enumerate(records) if rec.label not in drops]
    y = [index[mapping[records[i].label]] for i in keep]
    if not keep:
        raise DatasetError(f"no records usable for task {task} (labels present: "
                           f"{', '.join(sorted(present)) or 'none'}"
                           + (f"; missing {', '.join(missing)})" if missing else ")"))
    if declared is not None and missing:
        name = getattr(records, "name", "") or "data set"
        raise _label_error(task, labels, missing, None, name)
    return TaskData(
        task=task,
        indices=np.asarray(keep, dtype=np.int64),
        y=np.asarray(y, dtype=np.int64),
        classes=classes,
        groups=np.asarray([records[i].patient for i in keep], dtype=object),
        ids=np.asarray([records[i].id for i in keep], dtype=object),
    )
