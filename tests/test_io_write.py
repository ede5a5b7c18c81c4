"""mammokit.io.write_png: 8-bit PNG, atomic, readable back by read_image."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image as PILImage

from mammokit.io import read_image, to_uint8, write_png


def test_write_png_round_trips_8bit_levels(tmp_path):
    levels = np.arange(256, dtype=np.float32).reshape(16, 16) / 255
    path = write_png(tmp_path / "sub" / "levels.png", levels)
    assert path == tmp_path / "sub" / "levels.png"
    back = read_image(path)
    assert back.meta.format == "png" and back.meta.bits_stored == 8
    assert np.array_equal(back.pixels, levels)
    assert [p.name for p in path.parent.iterdir()] == ["levels.png"]  # no temporary file left behind


@pytest.mark.parametrize("shape, mode", [((5, 7), "L"), ((5, 7, 3), "RGB"), ((5, 7, 4), "RGBA")])
def test_write_png_grey_and_colour(tmp_path, shape, mode):
    arr = np.random.default_rng(1).random(shape, dtype=np.float32)
    path = write_png(tmp_path / "x.png", arr)
    with PILImage.open(path) as im:
        assert im.mode == mode and im.size == (7, 5)
        assert np.array_equal(np.asarray(im), np.round(arr * 255).astype(np.uint8))


def test_write_png_clips_out_of_range_and_keeps_uint8(tmp_path):
    assert to_uint8(np.array([-0.5, 0.0, 0.5, 1.0, 7.0])).tolist() == [0, 0, 128, 255, 255]
    raw = np.array([[3, 200]], np.uint8)
    assert to_uint8(raw) is raw


def test_write_png_replaces_existing_file_atomically(tmp_path):
    target = tmp_path / "preview.png"
    write_png(target, np.zeros((4, 4)))
    write_png(target, np.ones((4, 4)))
    assert read_image(target).pixels.min() == 1.0


@pytest.mark.parametrize(
    "array, problem",
    [(np.zeros((2, 2, 2)), "expects"), (np.zeros(5), "expects"), (np.full((2, 2), np.nan), "NaN"),
     (np.array([["a"]]), "cannot write")],
    ids=["two-channels", "1d", "nan", "strings"],
)
def test_write_png_rejects_bad_arrays(tmp_path, array, problem):
    target = tmp_path / "bad.png"
    with pytest.raises(ValueError, match=problem):
        write_png(target, array)
    assert not target.exists() and list(tmp_path.iterdir()) == []
