"""A folder per class: root/<label>/**/<image>, with an optional patients.csv for grouping."""
from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path

from ..constants import IMAGE_SUFFIXES
from ..errors import DatasetError
from ._labels import normalize_label
from ._records import Record

PATIENTS_FILE = "patients.csv"


def _is_hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def _image_files(folder: Path, root: Path) -> list[Path]:
    return sorted(
        p for p in folder.rglob("*")
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not _is_hidden(p, root)
    )


def load_folder(root: str | Path, *, labels: Iterable[str] | None = None) -> list[Record]:
    """Records from ``root/<label>/...``: the first folder level is the label.

    ``labels`` sets the allowed label names (default: normal/benign/malignant and synonyms);
    any other label folder is an error rather than silently dropped. id = path relative to
    ``root`` without suffix; patient = id unless ``root/patients.csv`` (path,patient_id) says.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: folder not found")
    allowed = tuple(labels) if labels is not None else None
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
    return records


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


def read_csv_rows(csv_path: Path, *, required: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    """(line number, row) pairs with lower-cased, stripped column names; checks the columns."""
    try:
        with csv_path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            if reader.fieldnames is None:
                raise DatasetError(f"{csv_path}: empty CSV (needs columns {', '.join(required)})")
            reader.fieldnames = [(f or "").strip().lower() for f in reader.fieldnames]
            missing = [c for c in required if c not in reader.fieldnames]
            if missing:
                raise DatasetError(
                    f"{csv_path}: missing column(s) {', '.join(missing)} (has {', '.join(reader.fieldnames)})"
                )
            return [(reader.line_num, {k: (v or "") for k, v in row.items() if k}) for row in reader]
    except FileNotFoundError:
        raise DatasetError(f"{csv_path}: not found") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DatasetError(f"{csv_path}: not a readable CSV ({exc})") from None
