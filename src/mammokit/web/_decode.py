"""Read an upload with bounded memory: large grey PNG/JPEG files are downsampled while decoding.

The model sees a few hundred pixels a side, and the breast mask is found on 256, so pixels beyond
`DECODE_SIDE` on the long side add memory, not information. A grey JPEG is decoded straight at 1/2, 1/4
or 1/8 scale (libjpeg's DCT scaling, OpenCV IMREAD_REDUCED_GRAYSCALE_*); a grey 8/16-bit PNG is decoded
in its own sample type (1-2 bytes a pixel, not float32's 4) and area-averaged before the float image is
made. A large single-frame grey DICOM has its stored values area-averaged before the rescale and window
(which pydicom computes in float64, 8 bytes a pixel) and is re-read uncompressed at the smaller size.
Everything else, and every image already small enough, goes through `read_image_bytes` unchanged.
The size and bomb checks come first either way: Pillow reads only the header.
"""
from __future__ import annotations

import io
import math
import warnings

import cv2
import numpy as np
from PIL import Image as PILImage

from ..io import Image, read_image_bytes

DECODE_SIDE = 4608  # keeps a 4464-row CBIS-DDSM-sized image whole
_JPEG_FLAGS = {2: cv2.IMREAD_REDUCED_GRAYSCALE_2, 4: cv2.IMREAD_REDUCED_GRAYSCALE_4, 8: cv2.IMREAD_REDUCED_GRAYSCALE_8}


def _header(data: bytes) -> tuple[str, str, int, int] | None:
    """(format, mode, width, height) from the header only, or None."""
    try:
        with warnings.catch_warnings():  # DecompressionBombWarning: our own pixel limit is checked below
            warnings.simplefilter("ignore")
            with PILImage.open(io.BytesIO(data)) as im:
                return (im.format or "").lower(), im.mode, im.size[0], im.size[1]
    except Exception:  # noqa: BLE001 - not for us: the normal reader gives the one-line reason
        return None


def _reduced_png_bytes(data: bytes, factor: int) -> bytes | None:
    arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if arr is None or arr.ndim != 2 or arr.dtype not in (np.uint8, np.uint16):
        return None
    small = cv2.resize(arr, (max(1, arr.shape[1] // factor), max(1, arr.shape[0] // factor)),
                       interpolation=cv2.INTER_AREA)
    del arr
    ok, buf = cv2.imencode(".png", small, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    return buf.tobytes() if ok else None


def _reduced_jpeg_bytes(data: bytes, factor: int) -> bytes | None:
    flag = _JPEG_FLAGS[min(8, 1 << max(1, math.ceil(math.log2(factor))))]
    arr = cv2.imdecode(np.frombuffer(data, np.uint8), flag)
    if arr is None:
        return None
    ok, buf = cv2.imencode(".png", arr, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    return buf.tobytes() if ok else None


def _reduced_dicom_bytes(data: bytes, max_pixels: int) -> tuple[bytes, int] | None:
    """(the DICOM with its pixel data area-averaged to at most DECODE_SIDE a side, factor), or None."""
    import pydicom
    from pydicom.uid import ExplicitVRLittleEndian

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            head = pydicom.dcmread(io.BytesIO(data), force=True, stop_before_pixels=True)  # cheap: header only
            rows, cols = int(head.Rows), int(head.Columns)
            if max(rows, cols) <= DECODE_SIDE:
                return None
            ds = pydicom.dcmread(io.BytesIO(data), force=True)
            factor = math.ceil(max(rows, cols) / DECODE_SIDE)
            if factor <= 1 or rows * cols > max_pixels or int(ds.get("NumberOfFrames", 1) or 1) != 1 \
                    or int(ds.get("SamplesPerPixel", 1)) != 1 or "PixelData" not in ds \
                    or str(ds.PhotometricInterpretation).strip() not in ("MONOCHROME1", "MONOCHROME2"):
                return None
            arr = ds.pixel_array
            if arr.ndim != 2 or arr.dtype not in (np.uint8, np.uint16, np.int16):
                return None
            small = cv2.resize(arr, (max(1, cols // factor), max(1, rows // factor)), interpolation=cv2.INTER_AREA)
            del arr
            ds.PixelData = np.ascontiguousarray(small).tobytes()
            ds.Rows, ds.Columns = small.shape
            ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
            out = io.BytesIO()
            ds.save_as(out, enforce_file_format=False)
            return out.getvalue(), factor
    except Exception:  # noqa: BLE001 - anything unusual: the normal reader decides, with its one-line reason
        return None


def read_upload(data: bytes, name: str, *, max_pixels: int, max_bytes: int) -> Image:
    """`read_image_bytes`, with early downsampling of large grey PNG and JPEG files (see the module doc)."""
    if data[128:132] == b"DICM":
        reduced = _reduced_dicom_bytes(data, max_pixels)
        if reduced is not None:
            image = read_image_bytes(reduced[0], name, max_pixels=max_pixels, max_bytes=max(max_bytes, len(reduced[0])))
            image.meta.extra["decoded_at_scale"] = f"1/{reduced[1]}"
            return image
    head = _header(data)
    if head is not None:
        fmt, mode, width, height = head
        factor = math.ceil(max(width, height) / DECODE_SIDE)
        if factor > 1 and width * height <= max_pixels and fmt in ("png", "jpeg") \
                and mode in ("L", "I;16", "I;16B", "I"):
            small = _reduced_png_bytes(data, factor) if fmt == "png" else _reduced_jpeg_bytes(data, factor)
            if small is not None:
                image = read_image_bytes(small, name, max_pixels=max_pixels, max_bytes=max(max_bytes, len(small)))
                image.meta.format = fmt
                image.meta.extra["decoded_at_scale"] = f"1/{factor}" if fmt == "png" else "reduced"
                return image
    return read_image_bytes(data, name, max_pixels=max_pixels, max_bytes=max_bytes)
