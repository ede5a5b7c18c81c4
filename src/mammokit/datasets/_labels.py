"""Label names and label sets: what a data set's labels are, in a small fixed vocabulary.

A data set declares its label set (``RecordTable.labels``); ``task_targets`` then maps a task
onto it when it can. The vocabulary:

- ``normal`` / ``benign`` / ``malignant``: pathology (mini-MIAS, CBIS-DDSM, CMMD, folders);
- ``abnormal``: a finding of unknown pathology (normal/abnormal collections);
- ``no_cancer``: no cancer found, which may still hold a benign finding (cancer/no-cancer
  collections, RSNA screening);
- ``birads_0`` ... ``birads_6``: a radiologist's BI-RADS assessment (VinDr-Mammo, INbreast),
  not a pathology result.
"""
from __future__ import annotations

import re
from collections.abc import Iterable

from ..constants import ABNORMAL, BASE_LABELS, BENIGN, MALIGNANT, NORMAL
from ..errors import DatasetError

NO_CANCER = "no_cancer"
BIRADS_LABELS = tuple(f"birads_{n}" for n in range(7))
KNOWN_LABELS = (*BASE_LABELS, ABNORMAL, NO_CANCER, *BIRADS_LABELS)

# Named label sets a folder or manifest may declare (labels="normal_abnormal").
LABEL_SETS: dict[str, tuple[str, ...]] = {
    "pathology": BASE_LABELS,
    "normal_abnormal": (NORMAL, ABNORMAL),
    "cancer": (NO_CANCER, MALIGNANT),
    "birads": BIRADS_LABELS,
}

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
    "abnormal": ABNORMAL,
    "abnormality": ABNORMAL,
    "positive": ABNORMAL,
    "no_cancer": NO_CANCER,
    "non_cancer": NO_CANCER,
    "noncancer": NO_CANCER,
    "not_cancer": NO_CANCER,
    "cancer_free": NO_CANCER,
}
# negative/positive name a screening outcome: normal/abnormal by default, but no_cancer/cancer
# in a data set that declares the cancer label set.
_SET_DEPENDENT: dict[str, tuple[str, ...]] = {"negative": (NORMAL, NO_CANCER), "positive": (ABNORMAL, MALIGNANT)}
_BIRADS = re.compile(r"^(?:bi_?rads|birads|category)_?([0-6])[abc]?$")


def _key(text: str) -> str:
    return "_".join(str(text).strip().lower().replace("-", " ").split())


def birads_label(text: str, *, bare: bool = False) -> str | None:
    """``birads_N`` for "BI-RADS 4", "birads_4", "BIRADS-4a" (and "4b" when ``bare``); else None."""
    key = _key(text)
    m = _BIRADS.match(key) or (re.match(r"^([0-6])[abc]?$", key) if bare else None)
    return f"birads_{m.group(1)}" if m else None


def resolve_label_set(labels: str | Iterable[str] | None) -> tuple[str, ...] | None:
    """A named label set (``"normal_abnormal"``) or an explicit list; None means the vocabulary."""
    if labels is None:
        return None
    if isinstance(labels, str):
        if labels not in LABEL_SETS:
            raise DatasetError(f"unknown label set {labels!r}; choose one of {', '.join(LABEL_SETS)} "
                               "or give the label names")
        return LABEL_SETS[labels]
    return tuple(labels)


def normalize_label(text: str, allowed: Iterable[str] | None = None, *, where: str = "") -> str:
    """Map ``text`` to a label of the vocabulary (or to one of ``allowed``), case-insensitively.

    With ``allowed`` given, an exact (case-insensitive) match to one of them wins; otherwise the
    synonym table (then the BI-RADS spellings) is tried and the result must be in ``allowed``.
    Raises DatasetError naming ``where`` (a file or folder) and the allowed values.
    """
    allowed_t = tuple(allowed) if allowed is not None else KNOWN_LABELS
    key = _key(text)
    by_key = {_key(a): a for a in allowed_t}
    if key in by_key:
        return by_key[key]
    candidates = _SET_DEPENDENT.get(key) or (LABEL_SYNONYMS.get(key) or birads_label(key),)
    for cand in candidates:
        if cand is not None and cand in allowed_t:
            return cand
    prefix = f"{where}: " if where else ""
    shown = (", ".join((*BASE_LABELS, ABNORMAL, NO_CANCER)) + ", BI-RADS 0-6") if allowed is None else ", ".join(allowed_t)
    raise DatasetError(
        f"{prefix}unknown label {str(text).strip()!r}; allowed: {shown}"
        + (" (synonyms: " + ", ".join(sorted(k for k in LABEL_SYNONYMS if k not in KNOWN_LABELS)) + ")"
           if allowed is None else "")
    )
