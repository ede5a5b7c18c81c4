"""Files on disk: uploads under content-hash names (DICOMs de-identified first, see _deid) and derived PNGs."""
from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image as PILImage

DERIVED_KINDS = ("view", "overlay", "heatmap", "thumb", "original")
_UID_RE = re.compile(r"^[A-Za-z0-9_-]{8,32}$")
_SUFFIX = {"dicom": ".dcm", "png": ".png", "jpeg": ".jpg", "tiff": ".tif", "pgm": ".pgm"}
THUMB_SIZE = 160


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _atomic_write(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def png_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    PILImage.fromarray(np.ascontiguousarray(array)).save(buf, format="PNG", optimize=False)
    return buf.getvalue()


def thumbnail(view: np.ndarray) -> np.ndarray:
    img = PILImage.fromarray(np.ascontiguousarray(view))
    img.thumbnail((THUMB_SIZE, THUMB_SIZE))
    return np.asarray(img)


class FileStore:
    def __init__(self, upload_dir: Path, derived_dir: Path):
        self.upload_dir = Path(upload_dir)
        self.derived_dir = Path(derived_dir)

    def save_upload(self, content: bytes, digest: str, fmt: str) -> str:
        """Store under `<sha256><suffix>`; an existing file with that name already holds this content."""
        stored = digest + _SUFFIX.get(fmt, ".bin")
        target = self.upload_dir / stored
        if not target.exists():
            _atomic_write(target, content)
        return stored

    def derived_path(self, uid: str, kind: str) -> Path:
        if kind not in DERIVED_KINDS or not _UID_RE.match(uid):
            raise ValueError(f"bad derived file request {uid!r}/{kind!r}")
        return self.derived_dir / uid[:2] / f"{uid}-{kind}.png"

    def save_derived(self, uid: str, kind: str, array: np.ndarray) -> Path:
        path = self.derived_path(uid, kind)
        _atomic_write(path, png_bytes(array))
        return path

    def remove_derived(self, uid: str) -> None:
        for kind in DERIVED_KINDS:
            self.derived_path(uid, kind).unlink(missing_ok=True)
