"""Preprocessing on real MIAS images and tiny exact arrays."""
from __future__ import annotations

import numpy as np
import pytest

from mammokit.constants import CAFFE_MEAN_BGR, IMAGENET_MEAN_RGB, IMAGENET_STD_RGB
from mammokit.datasets import load_mias
from mammokit.errors import ConfigError
from mammokit.io import Image, ImageMeta, read_image
from mammokit.preprocess import (
    PreprocessConfig,
    breast_mask,
    crop_breast,
    normalise,
    preprocess,
    resize_pad,
)


def _img(a):
    return Image(np.asarray(a, np.float32), ImageMeta("synthetic", "png", 8))


@pytest.mark.parametrize("value", [0.0, 0.25, 1.0])
def test_caffe_mode_is_bgr_minus_channel_means(value):
    out = normalise(np.full((2, 3), value, np.float32), "caffe")
    assert out.shape == (3, 2, 3) and out.dtype == np.float32
    for c, mean in enumerate(CAFFE_MEAN_BGR):  # channel 0 is blue: 255*v - 103.939
        np.testing.assert_allclose(out[c], value * 255.0 - mean, atol=1e-4)


@pytest.mark.parametrize("value", [0.0, 0.5, 1.0])
def test_imagenet_mode_is_rgb_mean_std(value):
    out = normalise(np.full((4, 4), value, np.float32), "imagenet")
    for c in range(3):
        np.testing.assert_allclose(out[c], (value - IMAGENET_MEAN_RGB[c]) / IMAGENET_STD_RGB[c], atol=1e-5)


@pytest.mark.parametrize("bad", [{"mode": "tf"}, {"size": 8}, {"size": 10_000}])
def test_invalid_config_is_rejected(bad):
    with pytest.raises(ConfigError):
        PreprocessConfig(**bad)


@pytest.mark.parametrize("shape,size", [((100, 50), 64), ((50, 100), 64), ((1024, 1024), 256), ((7, 3), 32)])
def test_resize_pad_keeps_aspect(shape, size):
    out, scale, (top, left) = resize_pad(np.ones(shape, np.float32), size)
    assert out.shape == (size, size)
    rows = np.flatnonzero(out.max(axis=1) > 0.5)
    cols = np.flatnonzero(out.max(axis=0) > 0.5)
    assert abs((rows.size / cols.size) - shape[0] / shape[1]) < 0.1 * shape[0] / shape[1] + 0.1
    assert left == 0 and rows[0] == top


def test_crop_drops_a_film_marker_and_keeps_the_breast(mias_png):
    image = read_image(mias_png(10))
    pixels = image.pixels.copy()
    mask0 = breast_mask(pixels)
    # A bright "film label" far from the breast, in the background on the side away from the chest wall.
    cols = np.flatnonzero(mask0.any(axis=0))
    c = 1000 if cols.mean() < 512 else 10
    pixels[40:90, c : c + 14] = 1.0
    cropped, mask, (r0, r1, c0, c1) = crop_breast(pixels)
    assert not mask[max(0, 40 - r0) : 90 - r0, :].any() or not (c0 <= c < c1)
    assert cropped.max() > 0.3 and (cropped >= 0.99).sum() < 14 * 50  # the marker is not in the crop
    assert mask.sum() > 0.9 * mask0.sum()  # the breast itself is kept


def test_crop_box_covers_every_annotated_lesion(mias_dir):
    """On real MIAS: every lesion centre from Info.txt lies inside the crop and inside the model's view."""
    records = [r for r in load_mias(mias_dir) if any(les.has_location for les in r.lesions)]
    assert len(records) > 90
    cfg = PreprocessConfig(size=256)
    for rec in records:
        pre = preprocess(read_image(rec.path), cfg)
        r0, r1, c0, c1 = pre.geometry.box
        for les in rec.lesions:
            if les.has_location:
                assert r0 <= les.y < r1 and c0 <= les.x < c1, (rec.id, les, pre.geometry.box)
                mx, my = pre.geometry.to_model(les.x, les.y)
                assert 0 <= mx < cfg.size and 0 <= my < cfg.size


@pytest.mark.parametrize("n", [1, 2, 44, 95])
def test_orientation_makes_mirror_images_identical(mias_png, n):
    image = read_image(mias_png(n))
    mirrored = Image(np.ascontiguousarray(image.pixels[:, ::-1]), image.meta)
    a, b = preprocess(image), preprocess(mirrored)
    assert a.geometry.flipped != b.geometry.flipped
    assert np.mean(np.abs(a.view.astype(int) - b.view.astype(int))) < 1.0
    # After orientation the chest wall (more tissue) is on the left.
    assert a.view[:, : a.view.shape[1] // 2].sum() > a.view[:, a.view.shape[1] // 2 :].sum()


@pytest.mark.parametrize("side", ["left", "right"])
def test_geometry_maps_a_bright_spot_both_ways(side):
    """A spot in the original lands where Geometry.to_model says, and maps back (flipped or not)."""
    a = np.zeros((300, 200), np.float32)
    if side == "left":
        a[20:280, 0:120] = 0.4
        spot = (80, 150)
    else:
        a[20:280, 80:200] = 0.4
        spot = (120, 150)
    a[spot[1] - 2 : spot[1] + 3, spot[0] - 2 : spot[0] + 3] = 1.0
    pre = preprocess(_img(a), PreprocessConfig(size=128))
    assert pre.geometry.flipped == (side == "right")
    my, mx = np.unravel_index(np.argmax(pre.view), pre.view.shape)
    ex, ey = pre.geometry.to_model(*spot)
    assert abs(mx - ex) <= 2 and abs(my - ey) <= 2
    ox, oy = pre.geometry.to_original(ex, ey)
    assert abs(ox - spot[0]) < 1e-6 and abs(oy - spot[1]) < 1e-6


def test_blank_image_does_not_crash():
    pre = preprocess(_img(np.zeros((64, 64))), PreprocessConfig(size=32))
    assert pre.tensor.shape == (3, 32, 32) and np.isfinite(pre.tensor).all()


def test_preview_command_writes_before_and_after(tmp_path, mias_png):
    from PIL import Image as PILImage

    from mammokit.cli import main

    bad = tmp_path / "note.png"
    bad.write_text("not an image")
    with pytest.raises(SystemExit) as exc:
        main(["preview", str(mias_png(1)), str(bad), "--out", str(tmp_path / "out"), "--size", "128"])
    assert exc.value.code == 2  # the bad file fails, the good one is still written
    after = PILImage.open(tmp_path / "out" / "mdb001_after.png")
    assert after.size == (128, 128)
    assert (tmp_path / "out" / "mdb001_before.png").is_file()
