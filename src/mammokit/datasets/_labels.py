"""Label names: the three base labels plus a few documented, case-insensitive synonyms."""
from __future__ import annotations

from collections.abc import Iterable

from ..constants import BASE_LABELS, BENIGN, MALIGNANT, NORMAL
from ..errors import DatasetError

# Kept deliberately small: only spellings that cannot mean anything else.
# "benign_without_callback" is how CBIS-DDSM writes a benign case that needed no recall.
LABEL_SYNONYMS: dict[str, str] = {
    "normal": NORMAL,
    "norm": NORMAL,
    "negative": NORMAL,
    "benign": BENIGN,
    "benign_without_callback": BENIGN,
    "malignant": MALIGNANT,
    "malign": MALIGNANT,
    "cancer": MALIGNANT,
}


def _key(text: str) -> str:
    return "_".join(str(text).strip().lower().replace("-", " ").split())


def normalize_label(text: str, allowed: Iterable[str] | None = None, *, where: str = "") -> str:
    """Map ``text`` to a base label (or to one of ``allowed``), case-insensitively.

    With ``allowed`` given, an exact (case-insensitive) match to one of them wins; otherwise the
    synonym table is tried and the result must be in ``allowed``. Raises DatasetError naming
    ``where`` (a file or folder) and the allowed values.
    """
    allowed_t = tuple(allowed) if allowed is not None else BASE_LABELS
    key = _key(text)
    by_key = {_key(a): a for a in allowed_t}
    if key in by_key:
        return by_key[key]
    base = LABEL_SYNONYMS.get(key)
    if base is not None and base in allowed_t:
        return base
    prefix = f"{where}: " if where else ""
    raise DatasetError(
        f"{prefix}unknown label {str(text).strip()!r}; allowed: {', '.join(allowed_t)}"
        + (" (synonyms: " + ", ".join(sorted(k for k in LABEL_SYNONYMS if k not in BASE_LABELS)) + ")"
           if allowed is None else "")
    )
