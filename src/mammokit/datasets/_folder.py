"""A folder per class: root/<label>/**/<image>, with an optional patients.csv for grouping."""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from ..constants import IMAGE_SUFFIXES
from ..errors import DatasetError
from ._labels import normalize_label, resolve_label_set
from ._records import Record, RecordTable
from ._tables import read_csv_rows

PATIENTS_FILE = "patients.csv"


def _is_hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def _image_files(folder: Path, root: Path) -> list[Path]:
    return sorted(
        p for p in folder.rglob("*")
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not _is_hidden(p, root)
    )


def load_folder(root: str | Path, *, labels: str | Iterable[str] | None = None) -> RecordTable:
    """Records from ``root/<label>/...``: the first folder level is the label.

    ``labels`` sets the allowed label names: a named label set (``"normal_abnormal"``, ``"cancer"``,
    ``"pathology"``, ``"birads"``) or a list. Default: the label vocabulary (normal, benign, malignant,
    abnormal, no_cancer, BI-RADS 0-6) and its synonyms (negative, positive, cancer, no cancer...);
    any other label folder is an error rather than silently dropped. The table declares ``labels``
    when given, else the labels of its folders. id = path relative to ``root`` without suffix;
    patient = id unless ``root/patients.csv`` (path,patient_id) says.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: folder not found")
    allowed = resolve_label_set(labels)
    loose = [p for p in root.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
    if loose:
        raise DatasetError(f"{loose[0]}: image outside a label folder (expected {root}/<label>/<image>)")
    records: list[Record] = []
    seen: dict[str, Path] = {}
    for label_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        label = normalize_label(label_dir.name, allowed, where=str(label_dir))
        for path in _image_files(label_dir, root):
            rel = path.relative_to(root)
            rid = rel.with_suffix("").as_posix()
            if rid in seen:
                raise DatasetError(f"{path}: duplicate id {rid!r} (also {seen[rid]})")
            seen[rid] = path
            records.append(Record(id=rid, path=path, label=label, patient=rid))
    if not records:
        raise DatasetError(
            f"{root}: no images found (expected {root}/<label>/<file> with one of {', '.join(IMAGE_SUFFIXES)})"
        )
    patients_csv = root / PATIENTS_FILE
    if patients_csv.is_file():
        records = _apply_patients(records, root, patients_csv)
    declared = allowed if allowed is not None else [r.label for r in records]
    return RecordTable(records, labels=declared, name=str(root))


def _apply_patients(records: list[Record], root: Path, csv_path: Path) -> list[Record]:
    """Group images by woman: every image needs a row, every row an image (a gap could leak)."""
    rows = read_csv_rows(csv_path, required=("path", "patient_id"))
    by_key: dict[str, str] = {}
    for lineno, row in rows:
        key = Path(row["path"].strip()).as_posix()
        pid = row["patient_id"].strip()
        if not key or not pid:
            raise DatasetError(f"{csv_path}, line {lineno}: empty path or patient_id")
        by_key[key] = pid
    out, used = [], set()
    for rec in records:
        rel = rec.path.relative_to(root).as_posix()
        key = rel if rel in by_key else rec.id if rec.id in by_key else None
        if key is None:
            raise DatasetError(f"{csv_path}: no row for {rel}")
        used.add(key)
        out.append(Record(id=rec.id, path=rec.path, label=rec.label, patient=by_key[key]))
    stray = sorted(set(by_key) - used)
    if stray:
        raise DatasetError(f"{csv_path}: rows name files that are not in {root}: {', '.join(stray[:3])}")
    return out
