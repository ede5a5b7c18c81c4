"""On-disk feature cache keyed by content, with checksums and atomic writes.

Key = sha256(image file bytes) + preprocessing settings + backbone identity + extraction options.
An entry is ``<sha256 of payload>\\n<npy payload>``: a torn or bit-flipped entry fails its checksum,
is deleted and recomputed. Writes go to a temp file in the same folder, then ``os.replace``, so a
killed run never leaves a half-written entry that is later trusted.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
from pathlib import Path

import numpy as np

CACHE_VERSION = "1"


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def cache_key(content_sha256: str, settings: dict) -> str:
    blob = json.dumps({"v": CACHE_VERSION, "content": content_sha256, **settings}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


class FeatureCache:
    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.corrupt_recovered = 0

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.npy"

    def get(self, key: str) -> np.ndarray | None:
        path = self._path(key)
        try:
            blob = path.read_bytes()
        except FileNotFoundError:
            return None
        head, sep, payload = blob.partition(b"\n")
        if sep and hashlib.sha256(payload).hexdigest().encode() == head:
            try:
                return np.load(io.BytesIO(payload), allow_pickle=False)
            except ValueError:
                pass
        # Corrupt entry: drop it so it is recomputed, never trusted.
        self.corrupt_recovered += 1
        path.unlink(missing_ok=True)
        return None

    def put(self, key: str, array: np.ndarray) -> None:
        buf = io.BytesIO()
        np.save(buf, np.ascontiguousarray(array), allow_pickle=False)
        payload = buf.getvalue()
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".npy")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
