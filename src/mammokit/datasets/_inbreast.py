"""INbreast: ``INbreast.csv``, the XML ROIs in ``AllXML/`` and the DICOMs in ``AllDICOMs/``.

Source: Moreira et al., "INbreast: toward a full-field digital mammographic database", Academic
Radiology 19(2):236-248 (2012), https://doi.org/10.1016/j.acra.2011.09.014, and the release folder
"INbreast Release 1.0" it describes. ``INbreast.csv`` is semicolon-separated with columns
``Patient ID;Patient age;Laterality;View;Acquisition date;File Name;ACR;Bi-Rads`` (the first two
read "removed"; ``Bi-Rads`` is 1, 2, 3, 4a, 4b, 4c, 5 or 6). DICOMs are named
``<File Name>_<patient hash>_MG_<L|R>_<CC|ML>_ANON.dcm``; ``AllXML/<File Name>.xml`` holds the
lesion contours as an Apple property list (``Images`` -> ``ROIs`` with ``Name`` and ``Point_px``
points "(x, y)", top-left origin).

- Label: the image's BI-RADS category, ``birads_1`` ... ``birads_6`` (4a/4b/4c -> birads_4, the
  letter kept in ``extra["birads"]``). The CSV gives no biopsy result, so only normal vs abnormal
  maps onto it (BI-RADS 1 vs 2-6); the pathology tasks say a BI-RADS assessment is not one.
- Lesions: one per XML ROI: kind = its ``Name`` (Mass, Calcification, Cluster, ...), box around
  its contour points (a one-point calcification has a zero-size box), severity None,
  ``birads`` = the image's.
- Grouping: the CSV's Patient ID is removed, so patient = the hash in the DICOM file name;
  study = patient and acquisition date.
"""
from __future__ import annotations

import plistlib
import re
from pathlib import Path
from xml.parsers.expat import ExpatError

from ..errors import DatasetError
from ._dicomtree import side
from ._labels import birads_label
from ._records import Lesion, Record, RecordTable, box_lesion
from ._tables import cell_error, read_csv_rows

INBREAST_CSV = "INbreast.csv"
INBREAST_COLUMNS = ("patient id", "patient age", "laterality", "view", "acquisition date", "file name", "acr",
                    "bi-rads")
INBREAST_LABELS = tuple(f"birads_{n}" for n in range(1, 7))
_DICOM_NAME = re.compile(r"^(\d+)_([0-9a-fA-F]+)_MG_([LR])_([A-Z]+)_ANON\.dcm$")
_POINT = re.compile(r"^\(\s*([-\d.eE+]+)\s*,\s*([-\d.eE+]+)")


def load_inbreast(root: str | Path) -> RecordTable:
    """One Record per row of ``INbreast.csv`` (its own folder, or ``INbreast Release 1.0/``)."""
    root = Path(root)
    if not (root / INBREAST_CSV).is_file() and (root / "INbreast Release 1.0" / INBREAST_CSV).is_file():
        root = root / "INbreast Release 1.0"
    csv_path = root / INBREAST_CSV
    if not csv_path.is_file():
        raise DatasetError(f"{csv_path}: not found (INbreast has INbreast.csv beside AllDICOMs/ and AllXML/)")
    dicoms = {}
    for p in sorted((root / "AllDICOMs").glob("*.dcm")) if (root / "AllDICOMs").is_dir() else []:
        m = _DICOM_NAME.match(p.name)
        if m:
            dicoms[m.group(1)] = (p, m.group(2))
    records, seen = [], {}
    for line, row in read_csv_rows(csv_path, required=INBREAST_COLUMNS, delimiter=";"):
        if not any(v.strip() for v in row.values()):
            continue  # the release ends with empty ";;;;" rows
        records.append(_record(root, csv_path, line, row, dicoms, seen))
    if not records:
        raise DatasetError(f"{csv_path}: no rows")
    return RecordTable(records, labels=INBREAST_LABELS, name="INbreast")


def _record(root: Path, csv_path: Path, line: int, row: dict[str, str], dicoms: dict, seen: dict) -> Record:
    name = row["file name"].strip().removesuffix(".0")
    if not name:
        raise cell_error(csv_path, line, "File Name", "empty")
    if name in seen:
        raise cell_error(csv_path, line, "File Name", f"{name} already listed on line {seen[name]}")
    seen[name] = line
    if name not in dicoms:
        raise cell_error(csv_path, line, "File Name",
                         f"no {root / 'AllDICOMs' / (name + '_<patient>_MG_<side>_<view>_ANON.dcm')}")
    path, patient = dicoms[name]
    raw = row["bi-rads"].strip()
    label = birads_label(raw, bare=True)
    if label not in INBREAST_LABELS:
        raise cell_error(csv_path, line, "Bi-Rads", f"{raw!r} is not a BI-RADS category 1-6 (4a/4b/4c allowed)")
    laterality = side(row["laterality"])
    if laterality is None:
        raise cell_error(csv_path, line, "Laterality", f"{row['laterality'].strip()!r} is not L or R")
    xml = root / "AllXML" / f"{name}.xml"
    lesions = _xml_lesions(xml, raw) if xml.is_file() else ()
    date = row["acquisition date"].strip()
    return Record(id=name, path=path, label=label, patient=patient, laterality=laterality,
                  view=row["view"].strip().upper() or None, lesions=lesions,
                  study=f"{patient}/{date}" if date else patient,
                  extra={"birads": raw, "acr": row["acr"].strip(), "acquisition_date": date})


def _xml_lesions(xml: Path, birads: str) -> tuple[Lesion, ...]:
    try:
        doc = plistlib.loads(xml.read_bytes())
        rois = [roi for image in doc["Images"] for roi in image.get("ROIs", [])]
    except (plistlib.InvalidFileException, ExpatError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise DatasetError(f"{xml}: not an INbreast ROI file (an XML property list with Images -> ROIs): {exc}") from None
    out = []
    for n, roi in enumerate(rois):
        points = [_POINT.match(str(p)) for p in roi.get("Point_px", [])]
        if not points or not all(points):
            raise DatasetError(f"{xml}: ROI {n} ({roi.get('Name', '?')}) has no readable Point_px \"(x, y)\" points")
        xs = [float(m.group(1)) for m in points]
        ys = [float(m.group(2)) for m in points]
        out.append(box_lesion(str(roi.get("Name", "ROI")), None, (min(xs), min(ys), max(xs), max(ys)), birads=birads))
    return tuple(out)
