"""The fast read/preprocess path (OpenCV decode and morphology) gives what the Pillow/scipy path gave.

The reference implementations below are the code the fast path replaced, kept here verbatim so the
comparison runs old against new on real MIAS images (issue 15, part 2).
"""
from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image as PILImage
from scipy import ndimage
from skimage.filters import threshold_otsu

from mammokit.constants import CAFFE_MEAN_BGR, IMAGENET_MEAN_RGB, IMAGENET_STD_RGB
from mammokit.io import read_image, read_image_bytes
from mammokit.preprocess import PreprocessConfig, breast_mask, faces_right, normalise, preprocess, resize_pad
from mammokit.preprocess._crop import _MASK_SIDE, _downsample

# Every 8th MIAS image (41 of 322, both sides, fatty to dense): the full set was compared once by hand.
SAMPLE = range(1, 323, 8)


def _old_breast_mask(pixels: np.ndarray) -> np.ndarray:
    small, step = _downsample(pixels, _MASK_SIDE)
    if float(small.max() - small.min()) < 1e-6:
        return np.ones(pixels.shape, dtype=bool)
    t = threshold_otsu(small)
    fg = small > min(t, 0.5 * t + 0.5 * float(np.percentile(small, 5)) + 0.02)
    fg = ndimage.binary_opening(fg, structure=np.ones((5, 5)), iterations=1)
    labels, n = ndimage.label(fg)
    if n == 0:
        return np.ones(pixels.shape, dtype=bool)
    sizes = ndimage.sum_labels(fg, labels, index=np.arange(1, n + 1))
    keep = labels == (int(np.argmax(sizes)) + 1)
    keep = ndimage.binary_fill_holes(keep)
    keep = ndimage.binary_dilation(keep, iterations=2)
    full = np.repeat(np.repeat(keep, step, axis=0), step, axis=1)
    out = np.zeros(pixels.shape, dtype=bool)
    out[: full.shape[0], : full.shape[1]] = full[: pixels.shape[0], : pixels.shape[1]]
    return out


def _old_normalise(grey01: np.ndarray, mode: str) -> np.ndarray:
    rgb = np.repeat(grey01[None, :, :].astype(np.float32), 3, axis=0)
    if mode == "caffe":
        bgr = rgb[::-1] * 255.0
        return (bgr - np.asarray(CAFFE_MEAN_BGR, np.float32)[:, None, None]).astype(np.float32)
    mean = np.asarray(IMAGENET_MEAN_RGB, np.float32)[:, None, None]
    std = np.asarray(IMAGENET_STD_RGB, np.float32)[:, None, None]
    return ((rgb - mean) / std).astype(np.float32)


def _old_preprocess_tensor(pixels: np.ndarray, size: int, mode: str) -> np.ndarray:
    mask = _old_breast_mask(pixels)
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    r0, r1 = max(0, rows[0] - 4), min(mask.shape[0], rows[-1] + 5)
    c0, c1 = max(0, cols[0] - 4), min(mask.shape[1], cols[-1] + 5)
    m = mask[r0:r1, c0:c1]
    work = np.where(m, pixels[r0:r1, c0:c1], 0.0).astype(np.float32)
    if faces_right(m):
        work = work[:, ::-1]
    square = np.clip(resize_pad(work, size)[0], 0.0, 1.0)
    return _old_normalise(square, mode)


def _pillow_pixels(data: bytes) -> np.ndarray:
    im = PILImage.open(io.BytesIO(data))
    arr = np.asarray(im)
    return arr.astype(np.float32) / np.float32(65535 if arr.dtype == np.uint16 else 255)


@pytest.mark.parametrize("n", SAMPLE)
def test_mask_and_tensor_match_the_scipy_path_on_mias(mias_png, n):
    image = read_image(mias_png(n))
    old = _old_breast_mask(image.pixels)
    assert old.any() and not old.all()  # a real mask, not the fallback
    np.testing.assert_array_equal(breast_mask(image.pixels), old)
    mode = "caffe" if n % 16 == 9 else "imagenet"  # both normalisations over the sample
    tensor = preprocess(image, PreprocessConfig(size=384, mode=mode)).tensor
    np.testing.assert_array_equal(tensor, _old_preprocess_tensor(image.pixels, 384, mode))


@pytest.mark.parametrize("mode", ["caffe", "imagenet"])
def test_normalise_matches_the_three_channel_version(mode):
    grey = np.random.default_rng(1).random((37, 53)).astype(np.float32)
    np.testing.assert_array_equal(normalise(grey, mode), _old_normalise(grey, mode))


@pytest.mark.parametrize("n", SAMPLE[:10])
def test_opencv_decode_equals_pillow_on_mias_png(mias_png, n):
    path = mias_png(n)
    data = path.read_bytes()
    image = read_image(path)
    assert image.meta.extra.get("decoder") == "opencv"
    np.testing.assert_array_equal(image.pixels, _pillow_pixels(data))


def _encode(arr: np.ndarray, fmt: str) -> bytes:
    buf = io.BytesIO()
    PILImage.fromarray(arr).save(buf, fmt)
    return buf.getvalue()


def test_opencv_decode_equals_pillow_for_grey_jpeg_and_16_bit_png(mias_png):
    grey = np.asarray(PILImage.open(mias_png(1)))
    jpeg = _encode(grey, "JPEG")
    ok, png16 = cv2.imencode(".png", grey.astype(np.uint16) * 257)
    assert ok
    for data, bits in ((jpeg, 8), (png16.tobytes(), 16)):
        image = read_image_bytes(data, "x")
        assert image.meta.extra.get("decoder") == "opencv" and image.meta.bits_stored == bits
        np.testing.assert_array_equal(image.pixels, _pillow_pixels(data))


def test_colour_and_palette_files_still_go_through_pillow(mias_png):
    grey = np.asarray(PILImage.open(mias_png(1)))[:64, :64]
    rgb = _encode(np.stack([grey, grey // 2, grey], axis=-1), "PNG")
    image = read_image_bytes(rgb, "rgb.png")
    assert "decoder" not in image.meta.extra  # Pillow's own luma conversion, as before
    expected = np.asarray(PILImage.open(io.BytesIO(rgb)).convert("L")).astype(np.float32) / np.float32(255)
    np.testing.assert_array_equal(image.pixels, expected)


@pytest.mark.parametrize("case", ["two_equal_blobs", "hole_touching_nothing", "ring_at_border", "empty", "flat"])
def test_mask_edge_cases_match_the_scipy_path(case):
    a = np.zeros((300, 260), np.float32)
    if case == "two_equal_blobs":  # a tie for the largest component: scipy keeps the first in raster order
        a[40:100, 150:210] = 0.9
        a[160:220, 20:80] = 0.9
    elif case == "hole_touching_nothing":
        a[30:270, 30:230] = 0.8
        a[120:160, 100:140] = 0.0
    elif case == "ring_at_border":  # tissue along the border: the outside counts as background
        a[:, :] = 0.7
        a[20:-20, 20:-20] = 0.0
    elif case == "flat":
        a[:] = 0.5
    np.testing.assert_array_equal(breast_mask(a), _old_breast_mask(a))
