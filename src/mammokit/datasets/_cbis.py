"""CBIS-DDSM: the official case-description CSVs and the TCIA DICOM tree.

Source: The Cancer Imaging Archive, "CBIS-DDSM (Curated Breast Imaging Subset of DDSM)",
https://doi.org/10.7937/K9/TCIA.2016.7O02S9CY, and Lee et al., "A curated mammography data set
for use in computer-aided detection and diagnosis research", Scientific Data 4, 170177 (2017).
The collection publishes four description CSVs, one per lesion kind and split:
``mass_case_description_{train,test}_set.csv`` with columns
``patient_id, breast_density, left or right breast, image view, abnormality id, abnormality type,
mass shape, mass margins, assessment, pathology, subtlety, image file path, cropped image file path,
ROI mask file path``, and ``calc_case_description_{train,test}_set.csv`` with ``breast density``
(a space) and ``calc type, calc distribution`` in place of the two mass columns.

One CSV row is one lesion, so an image with several lesions has several rows; the adapter gives
one Record per full mammogram (the first folder of ``image file path``) with one Lesion per row.

- Pathology ``MALIGNANT``, ``BENIGN`` or ``BENIGN_WITHOUT_CALLBACK``. The last is a benign finding
  the radiologist did not recall the woman for; it is read as benign (kept in
  ``Lesion.pathology``), or left out with ``without_callback="exclude"`` (an image whose every
  lesion is such is then left out). The image label is malignant if any lesion is, else benign:
  CBIS-DDSM holds no normal images, so its label set is (benign, malignant).
- Paths: the TCIA path as written (``Mass-Training_P_00001_LEFT_CC/<study uid>/<series uid>/000000.dcm``)
  under ``root`` or ``root/CBIS-DDSM``; the NBIA Data Retriever's newer layout renames the inner
  folders, so the DICOM is then found under the first folder (the full mammogram is its only
  DICOM; for a mask, the series named "ROI mask images", and within it the file the size of
  the mammogram).
- ROI masks: each Lesion keeps its mask path; ``read_masks=True`` decodes every mask for the
  lesion box (Lesion.box, x, y, radius), checks it has the full image's size, and takes the
  cropped-image path instead where a row swaps the two (a known quirk of these CSVs).
- Grouping: patient = ``patient_id`` across all four CSVs (the official split is per lesion kind
  and can put one woman in mass-train and calc-test, so it is kept only as ``extra["split"]``).
  A DDSM case is one screening exam, so study = ``patient_id`` too (TCIA gives each image its
  own StudyInstanceUID).
"""
from __future__ import annotations

from pathlib import Path

from ..constants import BENIGN, MALIGNANT
from ..errors import DatasetError
from ._dicomtree import dicom_files, dicom_header, mask_box, side
from ._records import Lesion, Record, RecordTable, box_lesion
from ._tables import cell_error, read_csv_rows

CBIS_CSVS = {
    "mass_case_description_train_set.csv": ("mass", "train"),
    "mass_case_description_test_set.csv": ("mass", "test"),
    "calc_case_description_train_set.csv": ("calc", "train"),
    "calc_case_description_test_set.csv": ("calc", "test"),
}
_COMMON = ("patient_id", "left or right breast", "image view", "abnormality id", "abnormality type", "assessment",
           "pathology", "subtlety", "image file path", "cropped image file path", "ROI mask file path")
CBIS_COLUMNS = {
    "mass": ("breast_density", "mass shape", "mass margins", *_COMMON),
    "calc": ("breast density", "calc type", "calc distribution", *_COMMON),
}
CBIS_PATHOLOGY = {"MALIGNANT": MALIGNANT, "BENIGN": BENIGN, "BENIGN_WITHOUT_CALLBACK": BENIGN}
CBIS_LABELS = (BENIGN, MALIGNANT)
_KINDS = {"mass": "MASS", "calcification": "CALC"}


def find_cbis_csvs(root: Path) -> list[Path]:
    return [p for name in CBIS_CSVS for p in (root / name, root / "csv" / name) if p.is_file()]


def load_cbis_ddsm(root: str | Path, *, without_callback: str = "benign", read_masks: bool = False) -> RecordTable:
    """One Record per CBIS-DDSM full mammogram, from whichever of the four CSVs ``root`` holds."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: CBIS-DDSM folder not found")
    if without_callback not in ("benign", "exclude"):
        raise DatasetError(f"without_callback={without_callback!r}: use 'benign' or 'exclude'")
    csvs = find_cbis_csvs(root)
    if not csvs:
        raise DatasetError(f"{root}: no CBIS-DDSM description CSV found (expected {', '.join(CBIS_CSVS)} "
                           "in the folder or in csv/)")
    bases = [b for b in (root, root / "CBIS-DDSM") if b.is_dir()]
    images: dict[str, dict] = {}
    for csv_path in csvs:
        kind, split = CBIS_CSVS[csv_path.name]
        for line, row in read_csv_rows(csv_path, required=tuple(c.lower() for c in CBIS_COLUMNS[kind])):
            _add_row(images, bases, csv_path, line, row, kind, split, without_callback, read_masks)
    records = [_record(key, img) for key, img in images.items() if img["lesions"]]
    if not records:
        raise DatasetError(f"{root}: no CBIS-DDSM images with a usable lesion row")
    return RecordTable(records, labels=CBIS_LABELS, name="CBIS-DDSM")


def _cell(row: dict[str, str], column: str) -> str:
    return row[column.lower()].strip().strip('"').strip()


def _add_row(images: dict, bases: list[Path], csv_path: Path, line: int, row: dict[str, str],
             kind: str, split: str, without_callback: str, read_masks: bool) -> None:
    def need(column: str) -> str:
        value = _cell(row, column)
        if not value:
            raise cell_error(csv_path, line, column, "empty")
        return value

    patient = need("patient_id")
    raw_path = need("pathology").upper()
    if raw_path not in CBIS_PATHOLOGY:
        raise cell_error(csv_path, line, "pathology",
                         f"unknown pathology {raw_path!r} (expected {', '.join(CBIS_PATHOLOGY)})")
    laterality = side(need("left or right breast"))
    if laterality is None:
        raise cell_error(csv_path, line, "left or right breast", f"{_cell(row, 'left or right breast')!r} is not LEFT/RIGHT")
    view = need("image view").upper()
    written = need("image file path")
    key = Path(written.replace("\\", "/")).parts[0]
    image_path = _resolve(bases, written)
    if image_path is None:
        raise cell_error(csv_path, line, "image file path", _not_found(bases, written))
    img = images.setdefault(key, {"path": image_path, "patient": patient, "laterality": laterality, "view": view,
                                  "split": split, "abnormality": kind, "lesions": [],
                                  "density": _cell(row, CBIS_COLUMNS[kind][0]), "rows": []})
    for name, value in (("patient_id", patient), ("left or right breast", laterality), ("image view", view)):
        first = {"patient_id": img["patient"], "left or right breast": img["laterality"], "image view": img["view"]}[name]
        if value != first:
            raise cell_error(csv_path, line, name, f"{value!r} but an earlier row of image {key} says {first!r}")
    img["rows"].append(f"{csv_path.name}:{line}")
    if raw_path == "BENIGN_WITHOUT_CALLBACK" and without_callback == "exclude":
        return
    mask_written = need("ROI mask file path")
    mask_path = _resolve(bases, mask_written, like=image_path)
    if mask_path is None:
        raise cell_error(csv_path, line, "ROI mask file path", _not_found(bases, mask_written))
    lesion_kw = {"kind": _KINDS.get(need("abnormality type").lower(), need("abnormality type").upper()),
                 "severity": CBIS_PATHOLOGY[raw_path], "birads": need("assessment"), "pathology": raw_path}
    if not read_masks:
        img["lesions"].append(Lesion(mask=mask_path, **lesion_kw))
        return
    found = _read_mask(bases, row, mask_path, image_path)
    if found is None:
        raise cell_error(csv_path, line, "ROI mask file path",
                         f"{mask_path}: neither it nor the cropped-image file is a binary mask the size of {image_path}")
    box, used = found
    img["lesions"].append(box_lesion(box=box, mask=used, **lesion_kw))


def _read_mask(bases: list[Path], row: dict[str, str], mask_path: Path, image_path: Path):
    """(box, mask file): the ROI mask, or the cropped-image file where the row swaps the two."""
    shape = _size(dicom_header(image_path))
    candidates = [mask_path]
    cropped = _cell(row, "cropped image file path")
    other = _resolve(bases, cropped) if cropped else None
    if other is not None and other != mask_path:
        candidates.append(other)
    for cand in candidates:
        got = mask_box(cand)
        if got is not None and got[1] == shape:
            return got[0], cand
    return None


def _not_found(bases: list[Path], written: str) -> str:
    top = Path(written.replace("\\", "/")).parts[0]
    return (f"{written} not found under {' or '.join(str(b) for b in bases)} "
            f"(looked for that path and for the DICOM below {top}/)")


def _resolve(bases: list[Path], written: str, *, like: Path | None = None) -> Path | None:
    """The file a CSV path names; ``like`` (the full mammogram) marks a mask path."""
    rel = Path(written.replace("\\", "/"))
    for base in bases:
        if (base / rel).is_file():
            return base / rel
    for base in bases:  # NBIA Data Retriever layout: <top>/<date-DDSM-...>/<n.000000-description-...>/1-1.dcm
        top = base / rel.parts[0]
        if not top.is_dir():
            continue
        files = dicom_files(top)
        if like is not None and len(files) > 1:
            files = [f for f in files if "mask" in f.parent.name.lower()] or [
                f for f in files if "mask" in str(dicom_header(f).get("SeriesDescription", "")).lower()]
        if like is not None and len(files) > 1:  # mask and crop in one series: the mask has the image's size
            size = _size(dicom_header(like))
            files = [f for f in files if _size(dicom_header(f)) == size]
        if len(files) == 1:
            return files[0]
    return None


def _size(header) -> tuple[int, int]:
    return int(header.get("Rows", 0) or 0), int(header.get("Columns", 0) or 0)


def _record(key: str, img: dict) -> Record:
    lesions = tuple(img["lesions"])
    label = MALIGNANT if any(les.severity == MALIGNANT for les in lesions) else BENIGN
    return Record(id=key, path=img["path"], label=label, patient=img["patient"], laterality=img["laterality"],
                  view=img["view"], lesions=lesions, study=img["patient"],
                  extra={"split": img["split"], "abnormality": img["abnormality"], "density": img["density"],
                         "rows": tuple(img["rows"])})
