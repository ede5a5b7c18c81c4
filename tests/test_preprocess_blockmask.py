"""preprocess() without the full-resolution mask (issue 15, part 2) gives exactly what it gave with it.

``preprocess`` now takes the crop box, the mask's share of the image, the orientation and the crop's mask from
the downsampled mask (``BlockMask``), crops and mirrors in one pass, and the reader skips the finite-value scan
for integer samples. The reference below is the previous ``preprocess`` body, kept verbatim: the full-resolution
``breast_mask``, ``crop_box``, the copy-then-zero crop, ``faces_right`` on the cropped mask and ``mask.mean()``.
Every output (tensor, view, geometry, mask fraction) must be bit-identical on real MIAS images, on crops of
them whose sides are not multiples of the mask's step, and on the fallback cases.
"""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image as PILImage

from mammokit.errors import ImageReadError
from mammokit.io import Image, ImageMeta, read_image, read_image_bytes
from mammokit.preprocess import (
    Geometry,
    PreprocessConfig,
    breast_mask,
    crop_box,
    crop_breast,
    faces_right,
    normalise,
    preprocess,
    resize_pad,
)
from mammokit.preprocess._crop import block_mask

SAMPLE = range(3, 323, 8)  # 40 MIAS images, both sides, fatty to dense (offset from test_preprocess_fast's)
CONFIGS = [PreprocessConfig(size=384), PreprocessConfig(size=224, mode="caffe", crop=False),
           PreprocessConfig(size=128, orient=False), PreprocessConfig(size=96, crop=False, orient=False)]


def _reference(pixels: np.ndarray, cfg: PreprocessConfig) -> dict:
    """The previous preprocess(), on the full-resolution mask."""
    mask = breast_mask(pixels) if (cfg.crop or cfg.orient) else None
    if cfg.crop:
        r0, r1, c0, c1 = crop_box(mask)
        mask_crop = mask[r0:r1, c0:c1]
        work = np.array(pixels[r0:r1, c0:c1], dtype=np.float32)
        work[~mask_crop] = 0.0
        box = (r0, r1, c0, c1)
    else:
        work, mask_crop, box = pixels, mask, (0, pixels.shape[0], 0, pixels.shape[1])
    flipped = bool(cfg.orient and mask_crop is not None and faces_right(mask_crop))
    if flipped:
        work = work[:, ::-1]
    square, scale, pad = resize_pad(work, cfg.size)
    square = np.clip(square, 0.0, 1.0)
    geometry = Geometry(original_shape=(int(pixels.shape[0]), int(pixels.shape[1])),
                        box=tuple(int(v) for v in box), flipped=flipped, scale=float(scale), pad=pad, size=int(cfg.size))
    return {"tensor": normalise(square, cfg.mode), "view": (square * 255 + 0.5).astype(np.uint8),
            "geometry": geometry, "mask_fraction": float(mask.mean()) if mask is not None else 1.0}


def _assert_same(pixels: np.ndarray, cfg: PreprocessConfig) -> None:
    got = preprocess(Image(pixels=pixels, meta=ImageMeta(path="x", format="png", bits_stored=8)), cfg)
    ref = _reference(pixels, cfg)
    np.testing.assert_array_equal(got.tensor, ref["tensor"])
    np.testing.assert_array_equal(got.view, ref["view"])
    assert got.geometry == ref["geometry"]
    assert got.mask_fraction == ref["mask_fraction"]  # the same float, not just close


@pytest.mark.parametrize("n", SAMPLE)
def test_preprocess_equals_the_full_resolution_path_on_mias(mias_png, n):
    pixels = read_image(mias_png(n)).pixels
    for cfg in CONFIGS if n % 16 == 3 else CONFIGS[:1]:
        _assert_same(pixels, cfg)
    bm, full = block_mask(pixels), breast_mask(pixels)
    assert full.any() and not full.all()  # a real mask, not the fallback
    box = crop_box(full)
    assert bm.box() == box and bm.fraction() == float(full.mean())
    np.testing.assert_array_equal(bm.crop(box), full[box[0] : box[1], box[2] : box[3]])
    assert bm.faces_right(box) == faces_right(full[box[0] : box[1], box[2] : box[3]])


def test_odd_sized_and_mirrored_crops_of_mias(mias_png):
    """Sides that are not multiples of the mask's step (the strip the downsampling drops), both orientations."""
    rng = np.random.default_rng(15)
    flips = set()
    for n in (1, 2, 28, 100, 201, 290):
        pixels = read_image(mias_png(n)).pixels
        for _ in range(4):
            h, w = (int(v) for v in rng.integers(150, 1024, 2))
            y, x = int(rng.integers(0, 1024 - h + 1)), int(rng.integers(0, 1024 - w + 1))
            sub = np.ascontiguousarray(pixels[y : y + h, x : x + w][:, :: int(rng.choice([-1, 1]))])
            for cfg in CONFIGS[:3]:
                _assert_same(sub, cfg)
            flips.add(preprocess(Image(sub, ImageMeta("x", "png", 8)), CONFIGS[0]).geometry.flipped)
    assert flips == {True, False}  # both orientations were exercised


@pytest.mark.filterwarnings("ignore:invalid value encountered in cast:RuntimeWarning")  # NaN -> uint8 view
@pytest.mark.parametrize("case", ["flat", "black", "small_blob", "nan_diagonal", "tiny"])
def test_fallbacks_and_edge_cases(case):
    a = {"flat": np.full((257, 513), 0.5, np.float32), "black": np.zeros((300, 200), np.float32),
         "small_blob": np.pad(np.ones((50, 60), np.float32), ((40, 90), (170, 3))),
         "nan_diagonal": np.where(np.eye(300, dtype=bool), np.nan, 0.3).astype(np.float32),
         "tiny": np.random.default_rng(0).random((37, 53)).astype(np.float32)}[case]
    for cfg in CONFIGS:
        if case == "nan_diagonal":  # NaN pixels stay NaN inside the crop, as before
            got = preprocess(Image(a, ImageMeta("x", "png", 8)), cfg)
            ref = _reference(a, cfg)
            np.testing.assert_array_equal(got.tensor, ref["tensor"])
            assert got.geometry == ref["geometry"] and got.mask_fraction == ref["mask_fraction"]
        else:
            _assert_same(a, cfg)


def test_crop_breast_equals_copy_then_zero(mias_png):
    pixels = read_image(mias_png(12)).pixels
    out, m, box = crop_breast(pixels)
    full = breast_mask(pixels)
    assert box == crop_box(full)
    ref = np.array(pixels[box[0] : box[1], box[2] : box[3]], dtype=np.float32)
    ref[~full[box[0] : box[1], box[2] : box[3]]] = 0.0
    assert out.dtype == np.float32 and out.flags.c_contiguous
    np.testing.assert_array_equal(out, ref)
    np.testing.assert_array_equal(m, full[box[0] : box[1], box[2] : box[3]])


def test_float_samples_are_still_checked_for_non_finite_values():
    """The reader skips the finite scan only for integer samples; float TIFF samples are still checked."""
    arr = np.full((16, 16), 0.5, np.float32)
    arr[3, 4] = np.nan
    buf = io.BytesIO()
    PILImage.fromarray(arr, mode="F").save(buf, "TIFF")
    with pytest.raises(ImageReadError) as exc:
        read_image_bytes(buf.getvalue(), "nan.tif")
    assert str(exc.value).startswith("nan.tif") and "\n" not in str(exc.value)
