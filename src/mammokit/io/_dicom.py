"""DICOM through pydicom: header checks first, then decode, modality LUT, VOI LUT, scale to [0, 1].

Intensities are scaled by the nominal output range of the last LUT applied (not the image's own
min/max), so two files from the same scanner stay comparable; MONOCHROME1 is inverted so that
dense tissue is bright, as in MONOCHROME2.
"""
from __future__ import annotations

import copy
import io
import re
import warnings

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.pixels import apply_color_lut, apply_modality_lut, apply_voi_lut, get_decoder, pixel_array
from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from ..errors import ImageReadError
from ._image import Image, ImageMeta
from ._limits import check_pixels, one_line

_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
_PIXEL_TAGS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")
# Tags copied into meta.extra: technical, not identifying.
_EXTRA_TAGS = ("Modality", "Manufacturer", "BodyPartExamined", "ConversionType", "PatientOrientation",
               "SeriesDescription", "PixelSpacing", "ImagerPixelSpacing")


def _stored_range(ds: Dataset) -> tuple[float, float]:
    bits = int(ds.BitsStored)
    if int(ds.get("PixelRepresentation", 0)) == 0:
        return 0.0, float(2**bits - 1)
    return float(-(2 ** (bits - 1))), float(2 ** (bits - 1) - 1)


def _lut_range(item: Dataset) -> tuple[float, float]:
    bits = int(item.LUTDescriptor[2])
    return 0.0, float(2**bits - 1)


def _modality_range(ds: Dataset) -> tuple[float, float]:
    """Output range of the modality LUT / rescale, computed the way pydicom's windowing does."""
    if ds.get("ModalityLUTSequence"):
        return _lut_range(ds.ModalityLUTSequence[0])
    lo, hi = _stored_range(ds)
    slope, intercept = ds.get("RescaleSlope"), ds.get("RescaleIntercept")
    if slope is not None and intercept is not None:
        a, b = lo * float(slope) + float(intercept), hi * float(slope) + float(intercept)
        lo, hi = min(a, b), max(a, b)
    return lo, hi


def _voi_lut_view(ds: Dataset) -> Dataset:
    """pydicom 3.0 indexes an 8-bit VOI LUT with uint8 indices, so inputs above 255 wrap around.
    LUT entries are 16-bit words in the file either way, so a view that declares 16 bits per entry
    gives the same values with correct indexing."""
    item = ds.VOILUTSequence[0]
    if int(item.LUTDescriptor[2]) != 8:
        return ds
    fixed = copy.deepcopy(item)
    fixed.LUTDescriptor = [int(item.LUTDescriptor[0]), int(item.LUTDescriptor[1]), 16]
    view = Dataset()
    for keyword in ("PhotometricInterpretation", "BitsStored", "PixelRepresentation"):
        setattr(view, keyword, ds.get(keyword))
    if hasattr(ds, "file_meta"):
        view.file_meta = ds.file_meta
    view.set_original_encoding(*ds.original_encoding, ds.original_character_set)
    view.VOILUTSequence = [fixed]
    return view


def _check_finite(ds: Dataset, name: str) -> None:
    """NaN or Inf in the rescale or window values would turn every pixel into NaN."""
    for keyword in ("RescaleSlope", "RescaleIntercept", "WindowCenter", "WindowWidth"):
        value = ds.get(keyword)
        if value is None or value == "":
            continue
        values = value if isinstance(value, (list, tuple, pydicom.multival.MultiValue)) else [value]
        try:
            finite = all(np.isfinite(float(v)) for v in values)
        except (TypeError, ValueError):
            finite = False
        if not finite:
            raise ImageReadError(name, f"corrupt DICOM: {keyword} is not a finite number")


def _grey_from_monochrome(arr: np.ndarray, ds: Dataset, name: str) -> tuple[np.ndarray, dict]:
    info: dict = {}
    _check_finite(ds, name)
    arr = apply_modality_lut(arr, ds)
    lo, hi = _modality_range(ds)
    if ds.get("VOILUTSequence"):
        arr = apply_voi_lut(arr, _voi_lut_view(ds))  # prefer_lut: the LUT wins over a window, as pydicom does
        lo, hi = _lut_range(ds.VOILUTSequence[0])
        info["voi"] = "lut"
    elif "WindowCenter" in ds and "WindowWidth" in ds:
        arr = apply_voi_lut(arr, ds)  # windowing keeps the modality output range
        info["voi"] = "window"
        info["window"] = [float(_first(ds.WindowCenter)), float(_first(ds.WindowWidth))]
    if hi <= lo:
        raise ImageReadError(name, "corrupt DICOM: empty intensity range")
    out = arr.astype(np.float32)
    out -= np.float32(lo)
    out /= np.float32(hi - lo)
    np.clip(out, 0.0, 1.0, out=out)
    if ds.PhotometricInterpretation == "MONOCHROME1":
        np.subtract(np.float32(1.0), out, out=out)
    return out, info


def _first(value):
    return value[0] if isinstance(value, (list, tuple, pydicom.multival.MultiValue)) else value


def _grey_from_colour(arr: np.ndarray, ds: Dataset) -> np.ndarray:
    if ds.PhotometricInterpretation == "PALETTE COLOR":
        arr = apply_color_lut(arr, ds)
    maxval = float(arr.max()) if arr.dtype.kind == "f" else float(np.iinfo(arr.dtype).max)
    if arr.dtype.kind != "f" and int(ds.BitsStored) < 8 * arr.dtype.itemsize:
        maxval = float(2 ** int(ds.BitsStored) - 1)
    grey = arr[..., :3].astype(np.float32) @ _LUMA
    grey /= np.float32(maxval or 1.0)
    return np.clip(grey, 0.0, 1.0)


def _token_view(text: str) -> str | None:
    tokens = set(re.split(r"[^A-Z0-9]+", text.upper()))
    found = [v for v in ("CC", "MLO") if v in tokens]
    return found[0] if len(found) == 1 else None


def _view(ds: Dataset) -> tuple[str | None, str | None]:
    """(view, keyword of the tag it came from). ViewPosition first; then an unambiguous CC/MLO word
    in free-text tags (CBIS-DDSM, for one, writes it only into PatientID and PatientOrientation)."""
    vp = str(ds.get("ViewPosition", "") or "").strip().upper()
    if vp:
        return vp, "ViewPosition"
    for keyword in ("SeriesDescription", "ProtocolName", "PatientOrientation", "PatientID"):
        value = ds.get(keyword)
        if value is None:
            continue
        text = "\\".join(map(str, value)) if isinstance(value, pydicom.multival.MultiValue) else str(value)
        view = _token_view(text)
        if view:
            return view, keyword
    return None, None


def _laterality(ds: Dataset) -> str | None:
    for keyword in ("ImageLaterality", "Laterality"):
        value = str(ds.get(keyword, "") or "").strip().upper()
        if value in ("L", "R"):
            return value
    return None


def _infer_transfer_syntax(ds: Dataset) -> None:
    """Legacy files without a file meta header: record the (uncompressed) encoding pydicom detected,
    so that pydicom's pixel decoder knows how to read the pixel data."""
    if "TransferSyntaxUID" in getattr(ds, "file_meta", {}):
        return
    implicit, little = getattr(ds, "original_encoding", (None, None))
    if implicit is None or little is None:
        return
    if not hasattr(ds, "file_meta"):
        ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = (
        ImplicitVRLittleEndian if implicit else ExplicitVRLittleEndian if little else ExplicitVRBigEndian
    )


def _dataset(data: bytes, name: str, force: bool) -> tuple[Dataset, list[str]]:
    """Parse the file; pydicom's warnings (it warns rather than fails on many defects) are returned."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            ds = pydicom.dcmread(io.BytesIO(data), force=force)
        except Exception as exc:  # noqa: BLE001 - InvalidDicomError, EOFError, struct.error, ValueError, ...
            raise ImageReadError(name, f"corrupt DICOM: {one_line(exc)}") from None
    if force:
        _infer_transfer_syntax(ds)
    return ds, [" ".join(str(w.message).split()) for w in caught]


def _check_header(ds: Dataset, name: str, max_pixels: int, warned: list[str]) -> int:
    if not any(tag in ds for tag in _PIXEL_TAGS):
        eof = [w for w in warned if "end of file" in w.lower() or "truncat" in w.lower()]
        if eof:
            raise ImageReadError(name, f"truncated DICOM file (no complete pixel data): {eof[0][:150]}")
        has_syntax = hasattr(ds, "file_meta") and "TransferSyntaxUID" in ds.file_meta
        if "Rows" not in ds and not has_syntax:
            raise ImageReadError(name, "corrupt DICOM: no readable header after the DICM preamble")
        raise ImageReadError(name, "DICOM file has no pixel data (7FE0,0010): truncated, or not an image")
    for keyword in ("Rows", "Columns", "BitsAllocated", "PhotometricInterpretation"):
        if ds.get(keyword) in (None, ""):
            raise ImageReadError(name, f"corrupt DICOM: missing {keyword}")
    try:
        frames = int(ds.get("NumberOfFrames", 1) or 1)
    except (TypeError, ValueError):
        raise ImageReadError(name, "corrupt DICOM: invalid NumberOfFrames") from None
    # One frame is decoded, so that is what the pixel budget bounds.
    check_pixels(name, int(ds.Rows), int(ds.Columns), max_pixels)
    if "BitsStored" not in ds:
        ds.BitsStored = ds.BitsAllocated
    syntax = ds.file_meta.get("TransferSyntaxUID") if hasattr(ds, "file_meta") else None
    if syntax is not None and syntax.is_compressed and "PixelData" in ds:
        try:
            decoder = get_decoder(syntax)
        except NotImplementedError:
            raise ImageReadError(name, f"unsupported DICOM transfer syntax {syntax.name} ({syntax})") from None
        if not decoder.is_available:
            missing = "; ".join(" ".join(str(m).split()) for m in decoder.missing_dependencies)
            raise ImageReadError(
                name, f"no decoder installed for DICOM transfer syntax {syntax.name} ({syntax}); needs one of: {missing}"
            )
    return frames


def read_dicom(data: bytes, name: str, max_pixels: int, *, force: bool = False) -> Image:
    ds, warned = _dataset(data, name, force)
    frames = _check_header(ds, name, max_pixels, warned)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            arr = pixel_array(ds, index=0 if frames > 1 else None)
        warned += [" ".join(str(w.message).split()) for w in caught]
    except MemoryError:
        raise ImageReadError(name, "not enough memory to decode the DICOM pixel data") from None
    except Exception as exc:  # noqa: BLE001 - truncated or corrupt compressed data, wrong lengths, ...
        raise ImageReadError(name, f"cannot decode DICOM pixel data (truncated or corrupt?): {one_line(exc)}") \
            from None
    photometric = str(ds.PhotometricInterpretation).strip().upper()
    extra: dict = {}
    try:
        if photometric in ("MONOCHROME1", "MONOCHROME2"):
            if arr.ndim != 2:
                raise ImageReadError(name, f"unexpected pixel array shape {arr.shape} for {photometric}")
            pixels, info = _grey_from_monochrome(arr, ds, name)
            extra.update(info)
        elif arr.ndim == 3 and arr.shape[-1] == 3 or photometric == "PALETTE COLOR":
            pixels = _grey_from_colour(arr, ds)
            extra["converted_to_grey_from"] = photometric
        else:
            raise ImageReadError(name, f"unsupported DICOM photometric interpretation {photometric!r}")
    except ImageReadError:
        raise
    except Exception as exc:  # noqa: BLE001 - bad LUT descriptors, window width < 1, ...
        raise ImageReadError(name, f"corrupt DICOM intensity transform: {one_line(exc)}") from None

    view, view_source = _view(ds)
    syntax = ds.file_meta.get("TransferSyntaxUID") if hasattr(ds, "file_meta") else None
    if syntax is not None:
        extra["transfer_syntax"] = syntax.name
    if frames > 1:
        extra.update(frames=frames, frame_used=0)
    if warned:
        extra["pydicom_warnings"] = [w[:200] for w in warned[:5]]
    if view_source:
        extra["view_source"] = view_source
    for keyword in _EXTRA_TAGS:
        value = ds.get(keyword)
        if value not in (None, ""):
            extra[keyword] = list(map(str, value)) if isinstance(value, pydicom.multival.MultiValue) else str(value)
    patient_id = str(ds.get("PatientID", "") or "").strip() or None
    meta = ImageMeta(
        path=name, format="dicom", bits_stored=int(ds.BitsStored), laterality=_laterality(ds), view=view,
        patient_id=patient_id, photometric=photometric, extra=extra,
    )
    return Image(pixels=np.ascontiguousarray(pixels, dtype=np.float32), meta=meta)
