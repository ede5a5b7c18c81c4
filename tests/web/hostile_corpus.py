"""A deterministic corpus of hostile uploads (issue 14: "0 responses of 5xx on at least 700 hostile uploads").

Seeds: a real mini-MIAS mammogram as 8-bit PNG, 16-bit PNG, JPEG, TIFF and PGM (256 px), and a real
CBIS-DDSM DICOM made small (256 px, uncompressed). Mutations: truncation, byte flips in the header, junk
appended, two files concatenated, DICOM header values set to NaN/Inf/0/huge/negative, magic bytes in front
of random data, empty files. The suite runs a reduced form (tests/web/test_web_hostile.py); the full run:

    .venv/bin/python -m tests.web.hostile_corpus --n 700
"""
from __future__ import annotations

import io
import random

import cv2
import numpy as np
import pydicom
from PIL import Image as PILImage

SIDE = 256
_DICOM_VALUES = {
    "WindowCenter": ["nan", "inf", "-inf", "1e308", "0", "-5"], "WindowWidth": ["nan", "0", "-1", "inf", "1e-30"],
    "RescaleSlope": ["nan", "0", "-inf", "1e300"], "RescaleIntercept": ["nan", "inf"],
    "Rows": [0, 1, 65535], "Columns": [0, 1, 65535], "BitsAllocated": [0, 1, 7, 64], "BitsStored": [0, 17, 40],
    "HighBit": [0, 99], "SamplesPerPixel": [0, 3, 4], "PhotometricInterpretation": ["", "YBR_FULL", "RGB", "XYZ"],
    "NumberOfFrames": ["0", "-1", "999999", "x"], "PixelRepresentation": [1, 7],
}


def seeds(mias_png_path, dicom_path) -> dict[str, bytes]:
    grey = cv2.resize(cv2.imread(str(mias_png_path), cv2.IMREAD_GRAYSCALE), (SIDE, SIDE), interpolation=cv2.INTER_AREA)
    out = {"png8": cv2.imencode(".png", grey)[1].tobytes(),
           "png16": cv2.imencode(".png", grey.astype(np.uint16) * 257)[1].tobytes(),
           "jpeg": cv2.imencode(".jpg", grey)[1].tobytes(),
           "pgm": cv2.imencode(".pgm", grey)[1].tobytes()}
    buf = io.BytesIO()
    PILImage.fromarray(grey).save(buf, format="TIFF")
    out["tiff"] = buf.getvalue()
    ds = pydicom.dcmread(dicom_path)
    small = cv2.resize(ds.pixel_array, (SIDE, SIDE), interpolation=cv2.INTER_AREA).astype(np.uint16)
    ds.PixelData, ds.Rows, ds.Columns = small.tobytes(), SIDE, SIDE
    ds.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    out["dicom"] = buf.getvalue()
    return out


def _dicom_with(data: bytes, keyword: str, value) -> bytes:
    ds = pydicom.dcmread(io.BytesIO(data), force=True)
    setattr(ds, keyword, value)
    buf = io.BytesIO()
    try:
        ds.save_as(buf)
    except Exception:  # noqa: BLE001 - a value pydicom will not write: flip bytes instead
        return data[:200] + bytes([data[200] ^ 0xFF]) + data[201:]
    return buf.getvalue()


def corpus(seed_files: dict[str, bytes], n: int, seed: int = 14) -> list[tuple[str, bytes]]:
    rng = random.Random(seed)
    names = sorted(seed_files)
    out: list[tuple[str, bytes]] = [("empty", b""), ("one-byte", b"\0"), ("text", b"hello, I am text\n" * 20)]
    while len(out) < n:
        kind = names[len(out) % len(names)]
        data = seed_files[kind]
        how = rng.choice(["truncate", "flip", "flip-header", "junk", "concat", "magic", "dicom-value"])
        if how == "truncate":
            data = data[: rng.randrange(1, len(data))]
        elif how in ("flip", "flip-header"):
            b = bytearray(data)
            end = min(len(b), 400) if how == "flip-header" else len(b)
            for _ in range(rng.randint(1, 12)):
                i = rng.randrange(end)
                b[i] = rng.randrange(256)
            data = bytes(b)
        elif how == "junk":
            data = data + rng.randbytes(rng.randint(1, 4096))
        elif how == "concat":
            data = data + data
        elif how == "magic":
            data = data[:8] + rng.randbytes(rng.randint(16, 4096))
        elif how == "dicom-value":
            if kind != "dicom":
                continue
            keyword = rng.choice(sorted(_DICOM_VALUES))
            data = _dicom_with(data, keyword, rng.choice(_DICOM_VALUES[keyword]))
            how = f"{keyword}"
        out.append((f"{kind}-{how}-{len(out)}", data))
    return out[:n]


def run(client, uploads: list[tuple[str, bytes]], headers: dict) -> dict[int, list[str]]:
    """POST each to /api/predictions; {status: [names]}."""
    by_status: dict[int, list[str]] = {}
    for name, data in uploads:
        r = client.post("/api/predictions", files={"file": (name, data)}, headers=headers)
        by_status.setdefault(r.status_code, []).append(name)
    return by_status


def main() -> int:
    import argparse
    import tempfile
    from pathlib import Path

    from fastapi.testclient import TestClient
    from mammograms import gen_cases

    from mammokit.constants import default_mias_dir
    from mammokit.web import create_api_token, create_app, init_db

    from .support import add_users, build_tiny_bundle, make_settings

    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=700)
    ap.add_argument("--model", type=Path, default=None, help="bundle (default: train the 36-image test bundle)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        bundle = args.model or build_tiny_bundle(tmp / "bundle")
        settings = make_settings(tmp, f"sqlite:///{tmp / 'w.db'}", model_path=bundle, max_uploads_per_minute=10**6)
        app = create_app(settings)
        add_users(settings, ("fuzz", "clinician"))
        _e, factory = init_db(settings.database_url)
        headers = {"Authorization": f"Bearer {create_api_token(factory, 'fuzz')}"}
        files = seeds(default_mias_dir() / "images" / "mdb001.png", next(iter(gen_cases()))["lmlo"])
        with TestClient(app, raise_server_exceptions=False) as client:
            result = run(client, corpus(files, args.n), headers)
    for status in sorted(result):
        print(f"{status}: {len(result[status])}  e.g. {result[status][:3]}")
    return 1 if any(s >= 500 and s != 503 for s in result) else 0


if __name__ == "__main__":
    raise SystemExit(main())
