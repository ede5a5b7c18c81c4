"""The Record table: one row per image, the unit every split, cache and report works on."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Lesion:
    """One annotated abnormality. Coordinates are pixels with a TOP-LEFT origin (x right, y down).

    ``x``, ``y``, ``radius`` locate it as a circle (what the lesion model uses); datasets that
    publish boxes or masks also fill ``box`` (xmin, ymin, xmax, ymax) and ``mask`` (a mask file),
    with the circle around the box. ``severity`` is None where the dataset gives no pathology
    (VinDr-Mammo and INbreast findings carry a BI-RADS assessment instead).
    """

    kind: str  # MIAS class (CALC, CIRC, ...) or the dataset's finding category (MASS, CALC, Mass, ...)
    severity: str | None  # "benign", "malignant" or None (no pathology published)
    x: float | None = None
    y: float | None = None
    radius: float | None = None
    box: tuple[float, float, float, float] | None = None
    mask: Path | None = None
    birads: str | None = None  # the finding's BI-RADS assessment as published ("4", "BI-RADS 4")
    pathology: str | None = None  # the dataset's own word, e.g. CBIS-DDSM BENIGN_WITHOUT_CALLBACK

    @property
    def has_location(self) -> bool:
        return self.x is not None and self.y is not None


def box_lesion(kind: str, severity: str | None, box: tuple[float, float, float, float], **kw) -> Lesion:
    """A Lesion located by a box: centre of the box, radius half its longer side."""
    x0, y0, x1, y1 = (float(v) for v in box)
    return Lesion(kind=kind, severity=severity, x=(x0 + x1) / 2, y=(y0 + y1) / 2,
                  radius=max(x1 - x0, y1 - y0) / 2, box=(x0, y0, x1, y1), **kw)


@dataclass(frozen=True)
class Record:
    """One image. ``patient`` is the grouping key for every split (both breasts of a woman).

    ``study`` is the exam (study) id where the dataset has one; ``exam`` falls back to the
    patient, so per-exam and per-breast aggregation work on every data set.
    """

    id: str
    path: Path
    label: str  # "normal", "benign", "malignant", "abnormal", "no_cancer", "birads_N" (datasets._labels)
    patient: str
    laterality: str | None = None
    view: str | None = None
    lesions: tuple[Lesion, ...] = ()
    extra: dict = field(default_factory=dict, compare=False, hash=False)
    study: str | None = None

    @property
    def exam(self) -> str:
        return self.study or self.patient

    @property
    def breast(self) -> str:
        """Per-breast key: exam and side ("?" when the side is unknown)."""
        return f"{self.exam}/{self.laterality or '?'}"


class RecordTable(list):
    """A data set's records plus the label set it declares (``labels``).

    A plain list for every caller; ``task_targets`` reads ``labels`` to say which tasks the data
    set supports and, when one is not, which labels are missing. ``name`` is the loader's name.
    """

    def __init__(self, records: Iterable[Record] = (), *, labels: Iterable[str], name: str = ""):
        super().__init__(records)
        self.labels = tuple(dict.fromkeys(labels))
        self.name = name

    def __reduce__(self):  # keep labels and name through pickling (process pools, caches)
        return (_rebuild_table, (list(self), self.labels, self.name))


def _rebuild_table(records: list, labels: tuple[str, ...], name: str) -> RecordTable:
    return RecordTable(records, labels=labels, name=name)
