"""RSNA Screening Mammography Breast Cancer Detection: ``train.csv`` and ``train_images/``.

Source: the competition's data page, https://www.kaggle.com/competitions/rsna-breast-cancer-detection/data
(RSNA, 2022-2023). ``train.csv`` columns: ``site_id, patient_id, image_id, laterality, view, age,
cancer, biopsy, invasive, BIRADS, implant, density, machine_id, difficult_negative_case``;
images at ``train_images/<patient_id>/<image_id>.dcm`` (``<patient_id>/<image_id>.dcm`` directly
under the folder is accepted too). Extra columns (a ``fold`` column, say) are ignored.

Labels come from the follow-up, not from the screening read:

- ``cancer`` = 1: the breast was positive for malignant cancer -> ``malignant``;
- ``cancer`` = 0 and ``biopsy`` = 1: biopsied and found not cancer -> ``benign``;
- otherwise -> ``no_cancer`` (not biopsied; this may still hold a benign finding, so it is not
  "normal").

The label set is (no_cancer, benign, malignant): cancer vs no cancer uses every image;
benign vs malignant uses the biopsied breasts; 3-class and normal vs abnormal cannot be built
(there is no "normal" label) and say so. ``BIRADS`` (0-2, partial) and the rest stay in ``extra``.
Grouping: patient = ``patient_id``; each patient has one screening exam here, so study =
``patient_id``.
"""
from __future__ import annotations

from pathlib import Path

from ..constants import BENIGN, MALIGNANT
from ..errors import DatasetError
from ._dicomtree import side
from ._labels import NO_CANCER
from ._records import Record, RecordTable
from ._tables import cell_error, read_csv_rows

RSNA_COLUMNS = ("site_id", "patient_id", "image_id", "laterality", "view", "age", "cancer", "biopsy", "invasive",
                "BIRADS", "implant", "density", "machine_id", "difficult_negative_case")
RSNA_LABELS = (NO_CANCER, BENIGN, MALIGNANT)
_FLAGS = ("cancer", "biopsy", "invasive", "implant")


def load_rsna(root: str | Path, *, csv_name: str = "train.csv") -> RecordTable:
    """One Record per image listed in ``root/train.csv``."""
    root = Path(root)
    csv_path = root / csv_name
    if not csv_path.is_file():
        raise DatasetError(f"{csv_path}: not found (the RSNA screening set has train.csv beside train_images/)")
    image_dirs = [d for d in (root / "train_images", root) if d.is_dir()]
    records: list[Record] = []
    seen: dict[str, int] = {}
    for line, row in read_csv_rows(csv_path, required=tuple(c.lower() for c in RSNA_COLUMNS)):
        records.append(_record(csv_path, line, row, image_dirs, seen))
    if not records:
        raise DatasetError(f"{csv_path}: no rows")
    return RecordTable(records, labels=RSNA_LABELS, name="RSNA screening")


def _flag(csv_path: Path, line: int, row: dict[str, str], column: str) -> int:
    text = row[column.lower()].strip()
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if value not in (0.0, 1.0):
        raise cell_error(csv_path, line, column, f"{text!r} is not 0 or 1")
    return int(value)


def _record(csv_path: Path, line: int, row: dict[str, str], image_dirs: list[Path], seen: dict[str, int]) -> Record:
    ids = {}
    for column in ("patient_id", "image_id"):
        ids[column] = row[column].strip().removesuffix(".0")
        if not ids[column]:
            raise cell_error(csv_path, line, column, "empty")
    pid, iid = ids["patient_id"], ids["image_id"]
    if iid in seen:
        raise cell_error(csv_path, line, "image_id", f"{iid} already listed on line {seen[iid]}")
    seen[iid] = line
    laterality = side(row["laterality"])
    if laterality is None:
        raise cell_error(csv_path, line, "laterality", f"{row['laterality'].strip()!r} is not L or R")
    flags = {c: _flag(csv_path, line, row, c) for c in _FLAGS}
    path = next((d / pid / f"{iid}.dcm" for d in image_dirs if (d / pid / f"{iid}.dcm").is_file()), None)
    if path is None:
        raise cell_error(csv_path, line, "image_id",
                         f"{image_dirs[0] / pid / (iid + '.dcm')} not found" if image_dirs else "no image folder")
    label = MALIGNANT if flags["cancer"] else BENIGN if flags["biopsy"] else NO_CANCER
    extra = {c.lower(): row[c.lower()].strip() for c in RSNA_COLUMNS if c.lower() not in ("patient_id", "image_id",
                                                                                           "laterality", "view")}
    return Record(id=f"{pid}/{iid}", path=path, label=label, patient=pid, laterality=laterality,
                  view=row["view"].strip().upper() or None, study=pid, extra=extra)
