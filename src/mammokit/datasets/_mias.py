"""mini-MIAS: parse the database's own Info.txt into one Record per image.

Info.txt has one row per lesion (``REFNUM BG CLASS SEVERITY X Y RADIUS``), several rows for
images with several lesions, no coordinates for widely spread calcifications, and a few rows
ending in ``*NOTE 3*``. Coordinates there have a BOTTOM-LEFT origin; Records use TOP-LEFT.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from PIL import Image as PILImage

from ..constants import BASE_LABELS, BENIGN, MALIGNANT, NORMAL
from ..errors import DatasetError
from ._records import Lesion, Record, RecordTable

MIAS_INFO_FILE = "Info.txt"
MIAS_SIZE = 1024  # every mini-MIAS image is 1024 x 1024 (Info.txt, note 2)
MIAS_N_IMAGES = 322
MIAS_VIEW = "MLO"  # all mini-MIAS films are medio-lateral oblique
MIAS_BACKGROUNDS = {"F": "fatty", "G": "fatty-glandular", "D": "dense-glandular"}
MIAS_CLASSES = ("CALC", "CIRC", "SPIC", "MISC", "ARCH", "ASYM", "NORM")
MIAS_SEVERITIES = {"B": BENIGN, "M": MALIGNANT}

_ROW = re.compile(r"^(mdb\d{3})\s+(.*)$")
_NUMBER = re.compile(r"^\d+(\.\d+)?$")


@dataclass(frozen=True)
class MiasRow:
    """One row of Info.txt, as written (bottom-left origin)."""

    line: int
    refnum: str
    background: str
    kind: str
    severity: str | None
    x: float | None
    y: float | None
    radius: float | None
    note: str | None


def mias_patient(refnum: str) -> str:
    """mdb(2k-1) and mdb(2k) are the two breasts of woman k (Info.txt, note 1)."""
    k = (int(refnum[3:]) + 1) // 2
    return f"mias-p{k:03d}"


def mias_laterality(refnum: str) -> str:
    """The side Info.txt note 1 claims: odd numbers right breasts, even numbers left ones.

    Not used as Record.laterality: the pixels only confirm that each pair is mirrored (every odd
    image has its chest wall on the image's right, every even one on the left; mdb151/152 fill
    the frame but still mirror each other), while film markers such as a mirrored "R" on mdb028
    (even) leave the true side unverified. Kept in ``Record.extra["info_txt_laterality"]``.
    """
    return "R" if int(refnum[3:]) % 2 else "L"


def parse_mias_info(info_path: str | Path) -> list[MiasRow]:
    """Read the truth-table rows of Info.txt; header text is skipped, malformed rows raise."""
    info_path = Path(info_path)
    try:
        text = info_path.read_text(encoding="latin-1")
    except FileNotFoundError:
        raise DatasetError(f"{info_path}: not found (mini-MIAS needs its Info.txt)") from None
    except OSError as exc:
        raise DatasetError(f"{info_path}: cannot read ({exc.strerror or exc})") from None
    rows: list[MiasRow] = []
    for lineno, raw in enumerate(text.splitlines(), start=1):
        m = _ROW.match(raw.strip())
        if not m:
            continue
        rows.append(_parse_row(info_path, lineno, m.group(1), m.group(2).split()))
    if not rows:
        raise DatasetError(f"{info_path}: no mdbNNN rows found; is this the mini-MIAS Info.txt?")
    return rows


def _parse_row(path: Path, lineno: int, refnum: str, tokens: list[str]) -> MiasRow:
    where = f"{path}, line {lineno} ({refnum})"
    if len(tokens) < 2:
        raise DatasetError(f"{where}: expected at least background and class")
    background, kind = tokens[0].upper(), tokens[1].upper()
    if background not in MIAS_BACKGROUNDS:
        raise DatasetError(f"{where}: unknown background tissue {tokens[0]!r} (F, G or D)")
    if kind not in MIAS_CLASSES:
        raise DatasetError(f"{where}: unknown class {tokens[1]!r} ({', '.join(MIAS_CLASSES)})")
    rest = tokens[2:]
    severity = None
    if kind != "NORM":
        if not rest or rest[0].upper() not in MIAS_SEVERITIES:
            raise DatasetError(f"{where}: class {kind} needs severity B or M")
        severity = MIAS_SEVERITIES[rest[0].upper()]
        rest = rest[1:]
    numbers = []
    while rest and _NUMBER.match(rest[0]):
        numbers.append(float(rest.pop(0)))
    # Anything left is a remark such as "*NOTE 3*" (the widely spread calcifications).
    note = " ".join(rest).strip("* ") or None
    if kind == "NORM" and numbers:
        raise DatasetError(f"{where}: a NORM row should have no coordinates")
    if numbers and len(numbers) != 3:
        raise DatasetError(f"{where}: expected X Y RADIUS, got {len(numbers)} number(s)")
    x, y, r = numbers if numbers else (None, None, None)
    for name, v in (("X", x), ("Y", y)):
        if v is not None and not 0 <= v <= MIAS_SIZE:
            raise DatasetError(f"{where}: {name}={v:g} outside the {MIAS_SIZE}-pixel image")
    return MiasRow(lineno, refnum, background, kind, severity, x, y, r, note)


def find_mias_image(root: Path, refnum: str) -> Path | None:
    """The image file for ``refnum`` in either layout: PNG copies or the original PGMs."""
    for cand in (
        root / "images" / f"{refnum}.png",
        root / "images" / f"{refnum}.pgm",
        root / f"{refnum}.pgm",
        root / f"{refnum}.png",
        root / "pgm-originals" / f"{refnum}.pgm",
    ):
        if cand.is_file():
            return cand
    return None


def _image_size(path: Path) -> tuple[int, int]:
    """Width and height from the file header only (PIL opens lazily; no pixels decoded)."""
    try:
        with PILImage.open(path) as im:
            return im.size
    except (OSError, SyntaxError, ValueError) as exc:
        raise DatasetError(f"{path}: not a readable image ({exc})") from None


def load_mias(root: str | Path, *, ids: Iterable[str] | None = None, check_size: bool = True) -> RecordTable:
    """One Record per mini-MIAS image, in Info.txt order.

    Label: malignant if any lesion row is M, else benign if any is B, else normal.
    ``ids`` restricts the set (e.g. to the six original PGMs); ``check_size`` reads each file's
    header to confirm 1024 x 1024, which the coordinate flip relies on.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: mini-MIAS folder not found")
    rows = parse_mias_info(root / MIAS_INFO_FILE)
    by_ref: dict[str, list[MiasRow]] = {}
    for row in rows:
        by_ref.setdefault(row.refnum, []).append(row)
    wanted = list(by_ref)
    if ids is not None:
        wanted_set = {str(i).strip() for i in ids}
        unknown = sorted(wanted_set - set(by_ref))
        if unknown:
            raise DatasetError(f"{root / MIAS_INFO_FILE}: no rows for {', '.join(unknown[:5])}")
        wanted = [r for r in wanted if r in wanted_set]
    records = [_record(root, ref, by_ref[ref], check_size) for ref in wanted]
    if not records:
        raise DatasetError(f"{root}: no mini-MIAS images selected")
    return RecordTable(records, labels=BASE_LABELS, name="mini-MIAS")


def _record(root: Path, refnum: str, rows: list[MiasRow], check_size: bool) -> Record:
    path = find_mias_image(root, refnum)
    if path is None:
        raise DatasetError(
            f"{root / 'images' / (refnum + '.png')}: image file missing "
            f"(also looked for {refnum}.pgm beside Info.txt, in images/ and pgm-originals/)"
        )
    if check_size:
        size = _image_size(path)
        if size != (MIAS_SIZE, MIAS_SIZE):
            raise DatasetError(f"{path}: {size[0]}x{size[1]} pixels, mini-MIAS images are {MIAS_SIZE}x{MIAS_SIZE}")
    backgrounds = {r.background for r in rows}
    if len(backgrounds) > 1:
        raise DatasetError(f"{root / MIAS_INFO_FILE}: {refnum} has conflicting background tissue {sorted(backgrounds)}")
    lesions = tuple(
        Lesion(
            kind=r.kind,
            severity=r.severity,  # type: ignore[arg-type]
            x=r.x,
            y=None if r.y is None else MIAS_SIZE - r.y,  # bottom-left -> top-left origin
            radius=r.radius,
        )
        for r in rows
        if r.kind != "NORM"
    )
    severities = {les.severity for les in lesions}
    label = MALIGNANT if MALIGNANT in severities else BENIGN if BENIGN in severities else NORMAL
    background = rows[0].background
    extra: dict = {
        "background": background,
        "background_name": MIAS_BACKGROUNDS[background],
        "info_txt_laterality": mias_laterality(refnum),
    }
    notes = tuple(r.note for r in rows if r.note)
    if notes:
        extra["notes"] = notes
    return Record(
        id=refnum,
        path=path,
        label=label,
        patient=mias_patient(refnum),
        laterality=None,  # unverified (see mias_laterality); preprocessing reads the side from pixels
        view=MIAS_VIEW,
        lesions=lesions,
        extra=extra,
    )
