"""CMMD (The Chinese Mammography Database): the clinical sheet and the TCIA DICOM tree.

Source: The Cancer Imaging Archive, "The Chinese Mammography Database (CMMD)",
https://doi.org/10.7937/tcia.eqde-4b16, and Cui et al., "The Chinese Mammography Database (CMMD):
an online mammography database with biopsy confirmed types for machine diagnosis of breast",
TCIA (2021). The clinical sheet ``CMMD_clinicaldata_revision.xlsx`` (a CSV export of it is
accepted too) has one row per labelled breast, columns ``ID1, LeftRight, Age, number, abnormality,
classification, subtype``: ``classification`` is ``Benign`` or ``Malignant`` (biopsy confirmed),
``abnormality`` calcification, mass or both, ``subtype`` the molecular subtype of some malignant
cases. DICOMs sit under ``CMMD/<ID1>/<study>/<series>/1-N.dcm``; each file's side comes from its
``ImageLaterality`` tag.

- Label: the row's classification for every image of that woman's breast; label set
  (benign, malignant), so benign vs malignant and cancer vs no cancer map onto it.
- Images of a breast without a sheet row have no label and are left out (CMMD lists only the
  breast with the lesion).
- Grouping: patient = study = ``ID1`` (one exam per woman).
"""
from __future__ import annotations

from pathlib import Path

from ..constants import BENIGN, MALIGNANT
from ..errors import DatasetError
from ._dicomtree import dicom_files, dicom_header, side
from ._records import Record, RecordTable
from ._tables import cell_error, read_csv_rows

CMMD_COLUMNS = ("ID1", "LeftRight", "Age", "number", "abnormality", "classification", "subtype")
CMMD_CLASSES = {"benign": BENIGN, "malignant": MALIGNANT}
CMMD_LABELS = (BENIGN, MALIGNANT)


def find_cmmd_sheet(root: Path) -> Path | None:
    for pattern in ("CMMD_clinicaldata*.xlsx", "CMMD_clinicaldata*.csv"):
        found = sorted(root.glob(pattern))
        if found:
            return found[0]
    return None


def read_sheet(path: Path) -> list[tuple[int, dict[str, str]]]:
    """(spreadsheet row, row) pairs with lower-cased column names, from .xlsx or .csv."""
    required = tuple(c.lower() for c in CMMD_COLUMNS)
    if path.suffix.lower() == ".csv":
        with path.open(newline="", encoding="utf-8-sig") as fh:
            delimiter = ";" if ";" in fh.readline() else ","
        return read_csv_rows(path, required=required, delimiter=delimiter)
    from openpyxl import load_workbook  # only CMMD needs it

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many types for a broken file
        raise DatasetError(f"{path}: not a readable .xlsx workbook ({exc})") from None
    try:
        rows = book.worksheets[0].iter_rows(values_only=True)
        header = [str(v or "").strip().lower() for v in next(rows, ())]
        missing = [c for c in required if c not in header]
        if missing:
            raise DatasetError(f"{path}: missing column(s) {', '.join(missing)} (has {', '.join(header)})")
        out = []
        for number, values in enumerate(rows, start=2):
            row = {h: _text(v) for h, v in zip(header, values) if h}
            if any(row.values()):
                out.append((number, row))
        return out
    finally:
        book.close()


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def load_cmmd(root: str | Path) -> RecordTable:
    """One Record per DICOM of a breast the clinical sheet labels."""
    root = Path(root)
    sheet = find_cmmd_sheet(root) if root.is_dir() else None
    if sheet is None:
        raise DatasetError(f"{root}: no CMMD_clinicaldata_revision.xlsx (or .csv) found")
    tree = root / "CMMD" if (root / "CMMD").is_dir() else root
    records: list[Record] = []
    seen: dict[tuple[str, str], int] = {}
    unit = "line" if sheet.suffix.lower() == ".csv" else "row"
    for number, row in read_sheet(sheet):
        records += _breast(tree, sheet, number, row, seen, unit)
    if not records:
        raise DatasetError(f"{sheet}: no rows")
    return RecordTable(records, labels=CMMD_LABELS, name="CMMD")


def _breast(tree: Path, sheet: Path, number: int, row: dict[str, str], seen: dict, unit: str) -> list[Record]:
    def fail(column: str, problem: str) -> DatasetError:
        return cell_error(sheet, number, column, problem, unit=unit)

    pid = row["id1"]
    if not pid:
        raise fail("ID1", "empty")
    laterality = side(row["leftright"])
    if laterality is None:
        raise fail("LeftRight", f"{row['leftright']!r} is not L or R")
    if (pid, laterality) in seen:
        raise fail("LeftRight", f"{pid} {laterality} already listed in {unit} {seen[pid, laterality]}")
    seen[pid, laterality] = number
    label = CMMD_CLASSES.get(row["classification"].lower())
    if label is None:
        raise fail("classification", f"{row['classification']!r} is not Benign or Malignant")
    folder = tree / pid
    if not folder.is_dir():
        raise fail("ID1", f"{folder} not found")
    out = []
    for path in dicom_files(folder):
        header = dicom_header(path)
        file_side = side(header.get("ImageLaterality", "") or header.get("Laterality", ""))
        if file_side is None:
            raise DatasetError(f"{path}: no ImageLaterality tag, so its breast (and label) is unknown")
        if file_side != laterality:
            continue
        view = str(header.get("ViewPosition", "") or "").strip().upper() or None
        out.append(Record(id=path.relative_to(tree).with_suffix("").as_posix(), path=path, label=label, patient=pid,
                          laterality=laterality, view=view, study=pid,
                          extra={"abnormality": row["abnormality"], "subtype": row["subtype"], "age": row["age"],
                                 "number": row["number"]}))
    if not out:
        raise fail("LeftRight", f"no DICOM with ImageLaterality {laterality} under {folder}")
    return out

