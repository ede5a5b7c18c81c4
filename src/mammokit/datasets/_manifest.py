"""A CSV manifest: one row per image, columns path,label[,patient_id,study_id,laterality,view,id]."""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from ..errors import DatasetError
from ._labels import normalize_label, resolve_label_set
from ._records import Record, RecordTable
from ._tables import read_csv_rows

MANIFEST_REQUIRED = ("path", "label")
_LATERALITY = {"l": "L", "left": "L", "r": "R", "right": "R"}


def load_manifest(csv_path: str | Path, *, labels: str | Iterable[str] | None = None) -> RecordTable:
    """Records from a CSV. Relative paths resolve against the CSV's folder.

    ``labels``: a named label set or a list, as for ``load_folder``; the table declares it, else
    the labels its rows use.
    id defaults to the path as written, without suffix; patient defaults to the id (so each
    image is its own group; give ``patient_id`` when a woman has several images).
    """
    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise DatasetError(f"{csv_path}: manifest not found")
    allowed = resolve_label_set(labels)
    base = csv_path.parent
    records: list[Record] = []
    seen: dict[str, int] = {}
    for lineno, row in read_csv_rows(csv_path, required=MANIFEST_REQUIRED):
        where = f"{csv_path}, line {lineno}"
        written = row["path"].strip()
        if not written:
            raise DatasetError(f"{where}: empty path")
        path = Path(written).expanduser()
        if not path.is_absolute():
            path = base / path
        if not path.is_file():
            raise DatasetError(f"{path}: file not found ({where})")
        if not row["label"].strip():
            raise DatasetError(f"{where}: empty label")
        label = normalize_label(row["label"], allowed, where=where)
        rid = row.get("id", "").strip() or (
            Path(written).stem if Path(written).is_absolute() else Path(written).with_suffix("").as_posix()
        )
        if rid in seen:
            raise DatasetError(f"{where}: duplicate id {rid!r} (first on line {seen[rid]})")
        seen[rid] = lineno
        records.append(
            Record(
                id=rid,
                path=path,
                label=label,
                patient=row.get("patient_id", "").strip() or rid,
                laterality=_laterality(row.get("laterality", ""), where),
                view=row.get("view", "").strip().upper() or None,
                study=row.get("study_id", "").strip() or None,
            )
        )
    if not records:
        raise DatasetError(f"{csv_path}: manifest has no rows")
    declared = allowed if allowed is not None else [r.label for r in records]
    return RecordTable(records, labels=declared, name=str(csv_path))


def _laterality(text: str, where: str) -> str | None:
    key = text.strip().lower()
    if not key:
        return None
    if key not in _LATERALITY:
        raise DatasetError(f"{where}: laterality {text.strip()!r} is not L/R/left/right")
    return _LATERALITY[key]
