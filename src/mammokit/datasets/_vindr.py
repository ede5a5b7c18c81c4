"""VinDr-Mammo: ``breast-level_annotations.csv``, ``finding_annotations.csv`` and ``images/``.

Source: PhysioNet, "VinDr-Mammo: A large-scale benchmark dataset for computer-aided detection and
diagnosis in full-field digital mammography" v1.0.0, https://physionet.org/content/vindr-mammo/1.0.0/,
and Nguyen et al., Scientific Data 10, 277 (2023). ``breast-level_annotations.csv`` columns:
``study_id, series_id, image_id, laterality, view_position, height, width, breast_birads,
breast_density, split`` (values like ``BI-RADS 2``, ``DENSITY C``, ``training``/``test``);
``finding_annotations.csv`` repeats them and adds ``finding_categories, finding_birads, xmin, ymin,
xmax, ymax`` (categories as a Python-list string such as ``['Mass']``, ``['No Finding']`` for an
image without finding; boxes in pixels of the original DICOM). Images at
``images/<study_id>/<image_id>.dicom``.

- Label: the breast-level BI-RADS assessment, ``birads_1`` ... ``birads_5``. VinDr-Mammo gives no
  biopsy result, so only normal vs abnormal can be built (BI-RADS 1 vs 2-5); benign vs
  malignant, 3-class and cancer vs no cancer say that a BI-RADS assessment is not a pathology.
- Lesions: one per finding row with a box: kind = the categories joined by "+", box clipped to
  the image (a few published boxes overrun the edge by a few pixels), severity None,
  ``birads`` = the finding's BI-RADS.
- Grouping: the dataset publishes no patient id; each study is one woman's four-view exam, so
  patient = study = ``study_id``. The official split stays in ``extra["split"]``.
"""
from __future__ import annotations

import ast
from pathlib import Path

from ..errors import DatasetError
from ._dicomtree import side
from ._labels import birads_label
from ._records import Lesion, Record, RecordTable, box_lesion
from ._tables import cell_error, read_csv_rows

VINDR_BREAST_CSV = "breast-level_annotations.csv"
VINDR_FINDING_CSV = "finding_annotations.csv"
VINDR_BREAST_COLUMNS = ("study_id", "series_id", "image_id", "laterality", "view_position", "height", "width",
                        "breast_birads", "breast_density", "split")
VINDR_FINDING_COLUMNS = (*VINDR_BREAST_COLUMNS[:-1], "finding_categories", "finding_birads", "xmin", "ymin", "xmax",
                         "ymax", "split")
VINDR_LABELS = tuple(f"birads_{n}" for n in range(1, 6))
_NO_FINDING = "No Finding"


def load_vindr(root: str | Path) -> RecordTable:
    """One Record per image of ``breast-level_annotations.csv``, with the findings as lesions."""
    root = Path(root)
    breast_csv = root / VINDR_BREAST_CSV
    if not breast_csv.is_file():
        raise DatasetError(f"{breast_csv}: not found (VinDr-Mammo has {VINDR_BREAST_CSV}, {VINDR_FINDING_CSV} "
                           "and images/)")
    images: dict[str, dict] = {}
    for line, row in read_csv_rows(breast_csv, required=VINDR_BREAST_COLUMNS):
        _image_row(root, breast_csv, line, row, images)
    finding_csv = root / VINDR_FINDING_CSV
    if finding_csv.is_file():
        for line, row in read_csv_rows(finding_csv, required=VINDR_FINDING_COLUMNS):
            _finding_row(finding_csv, line, row, images)
    if not images:
        raise DatasetError(f"{breast_csv}: no rows")
    records = [Record(id=f"{img['study']}/{iid}", path=img["path"], label=img["label"], patient=img["study"],
                      laterality=img["laterality"], view=img["view"], lesions=tuple(img["lesions"]),
                      study=img["study"], extra=img["extra"]) for iid, img in images.items()]
    return RecordTable(records, labels=VINDR_LABELS, name="VinDr-Mammo")


def _need(csv_path: Path, line: int, row: dict[str, str], column: str) -> str:
    value = row[column].strip()
    if not value:
        raise cell_error(csv_path, line, column, "empty")
    return value


def _number(csv_path: Path, line: int, row: dict[str, str], column: str) -> float:
    text = _need(csv_path, line, row, column)
    try:
        return float(text)
    except ValueError:
        raise cell_error(csv_path, line, column, f"{text!r} is not a number") from None


def _image_row(root: Path, csv_path: Path, line: int, row: dict[str, str], images: dict) -> None:
    study, iid = _need(csv_path, line, row, "study_id"), _need(csv_path, line, row, "image_id")
    if iid in images:
        raise cell_error(csv_path, line, "image_id", f"{iid} already listed on line {images[iid]['line']}")
    label = birads_label(_need(csv_path, line, row, "breast_birads"))
    if label not in VINDR_LABELS:
        raise cell_error(csv_path, line, "breast_birads", f"{row['breast_birads'].strip()!r} is not BI-RADS 1-5")
    laterality = side(row["laterality"])
    if laterality is None:
        raise cell_error(csv_path, line, "laterality", f"{row['laterality'].strip()!r} is not L or R")
    path = root / "images" / study / f"{iid}.dicom"
    if not path.is_file():
        raise cell_error(csv_path, line, "image_id", f"{path} not found")
    images[iid] = {
        "line": line, "study": study, "path": path, "label": label, "laterality": laterality,
        "view": _need(csv_path, line, row, "view_position").upper(), "lesions": [],
        "size": (_number(csv_path, line, row, "width"), _number(csv_path, line, row, "height")),
        "extra": {"series_id": row["series_id"].strip(), "density": row["breast_density"].strip(),
                  "split": row["split"].strip(), "breast_birads": row["breast_birads"].strip()},
    }


def _finding_row(csv_path: Path, line: int, row: dict[str, str], images: dict) -> None:
    iid = _need(csv_path, line, row, "image_id")
    if iid not in images:
        raise cell_error(csv_path, line, "image_id", f"{iid} is not in {VINDR_BREAST_CSV}")
    text = _need(csv_path, line, row, "finding_categories")
    try:
        categories = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        categories = None
    if not isinstance(categories, list) or not all(isinstance(c, str) for c in categories):
        raise cell_error(csv_path, line, "finding_categories", f"{text!r} is not a list of category names")
    if categories == [_NO_FINDING]:
        return
    box = [_number(csv_path, line, row, c) for c in ("xmin", "ymin", "xmax", "ymax")]
    width, height = images[iid]["size"]
    x0, y0, x1, y1 = max(box[0], 0.0), max(box[1], 0.0), min(box[2], width), min(box[3], height)
    if not (x0 < x1 and y0 < y1):
        raise cell_error(csv_path, line, "xmin", f"box {box} is empty or outside the {width:g}x{height:g} image")
    lesion: Lesion = box_lesion("+".join(categories), None, (x0, y0, x1, y1),
                                birads=row["finding_birads"].strip() or None)
    images[iid]["lesions"].append(lesion)
