"""Spatial feature maps (features._maps): ONNX Runtime equals PyTorch eager within 1e-4 on real MIAS images,
maps come from the feature cache on a re-run, per-image intensity normalisation, bad input."""
from __future__ import annotations

import numpy as np
import pytest

from mammokit.errors import ConfigError, ImageReadError
from mammokit.features import compute_cell_maps, maps_for_image
from mammokit.features._maps import normalise_intensity
from mammokit.io import read_image
from mammokit.preprocess import breast_mask

PARITY_TOL = 1e-4  # issue 12: maps from ONNX Runtime equal PyTorch's within 1e-4
SIZES = (256, 320)


@pytest.mark.xdist_group("onnx-lite0-224")  # one worker: in-process ONNX sessions are shared
@pytest.mark.parametrize("n", [1, 28])  # a normal and a malignant breast, facing opposite ways
def test_onnx_maps_equal_pytorch_on_real_mias(tmp_path, mias_png, n):
    image = read_image(mias_png(n))
    kw = {"backbone": "efficientnet_lite0", "weights": None, "sizes": SIZES, "dtype": np.float32,
          "cache_dir": tmp_path}
    ref, views_t = maps_for_image(image, runtime="torch", **kw)
    fast, views_o = maps_for_image(image, runtime="onnx", **kw)
    for s in SIZES:
        a, b = ref[s].features, fast[s].features
        assert a.shape == b.shape == (1280, s // 32, s // 32)
        assert float(np.abs(a).max()) > 1.0  # real activations, not an all-zero map
        assert float(np.abs(a - b).max()) <= PARITY_TOL
        assert np.array_equal(ref[s].mask, fast[s].mask) and ref[s].geometry == fast[s].geometry
        assert np.array_equal(views_t[s], views_o[s])


@pytest.mark.xdist_group("onnx-lite0-224")
def test_cell_maps_are_cached_and_shared_between_runtimes(tmp_path, mias_png):
    paths = [mias_png(1), mias_png(2)]
    kw = {"sizes": SIZES, "cache_dir": tmp_path, "progress": False}
    cold, st = compute_cell_maps(paths, **kw)
    assert st["computed"] == 2 and st["cache_hits"] == 0 and st["runtime"] == "onnx"
    warm, st2 = compute_cell_maps(paths, runtime="torch", **kw)  # same key: torch reads ONNX's entries
    assert st2["cache_hits"] == 2 and st2["computed"] == 0
    for c, w in zip(cold, warm):
        assert c.id == w.id
        for s in SIZES:
            assert np.array_equal(c.scales[s].features, w.scales[s].features)
            assert np.array_equal(c.scales[s].mask, w.scales[s].mask) and c.scales[s].geometry == w.scales[s].geometry
            sm = c.scales[s]
            rows = np.asarray([0, 5, sm.grid[0] * sm.grid[1] - 1])
            assert np.array_equal(sm.cells(rows), sm.features.reshape(1280, -1).T[rows].astype(np.float32))
    norm, st3 = compute_cell_maps(paths, intensity="breast_percentiles", **kw)
    assert st3["computed"] == 2  # another preprocessing, another cache entry
    assert not np.array_equal(norm[0].scales[256].features, cold[0].scales[256].features)


@pytest.mark.xdist_group("onnx-lite0-224")
def test_maps_held_as_float32_within_the_budget_give_the_same_scores(tmp_path, mias_png):
    """The CV scores every cell many times: maps are widened to float32 once (exactly), up to a byte budget in
    record order; the rest stay float16. Cells, scores and the leak audit's value digests do not change."""
    from mammokit.protocols._lesion_cv import image_digests

    paths = [mias_png(1), mias_png(2)]
    kw = {"sizes": SIZES, "cache_dir": tmp_path, "progress": False}
    half, _ = compute_cell_maps(paths, float32_budget=0, **kw)
    assert {sm.features.dtype for m in half for sm in m.scales.values()} == {np.dtype(np.float16)}
    first = sum(sm.features.size * 4 for sm in half[0].scales.values())  # image 1's maps in float32, in bytes
    some, _ = compute_cell_maps(paths, float32_budget=first, **kw)
    assert [sm.features.dtype for m in some for sm in m.scales.values()] == [np.float32, np.float32, np.float16,
                                                                          np.float16]
    full, _ = compute_cell_maps(paths, **kw)
    W = np.random.default_rng(0).normal(size=(1280, 2)).astype(np.float32)
    for h, f in zip(half, full):
        for s in SIZES:
            a, b = h.scales[s], f.scales[s]
            assert b.features.dtype == np.float32 and b.features.shape == a.features.shape
            assert np.array_equal(a.features.astype(np.float32), b.features)
            assert np.array_equal(a.scores(W), b.scores(W))  # bit for bit: the CV's outputs cannot move
            rows = np.asarray([0, 7, a.grid[0] * a.grid[1] - 1])
            assert np.array_equal(a.cells(rows), b.cells(rows)) and b.cells(rows).dtype == np.float32
            assert b.cells() is not b.rows32() and np.shares_memory(b.features, b.rows32())
    assert image_digests(half) == image_digests(some) == image_digests(full)
    assert image_digests(full)[0] != image_digests(full)[1]


def test_breast_percentile_normalisation_stretches_tissue_to_full_range(mias_png):
    pixels = read_image(mias_png(1)).pixels
    dim = (0.2 + 0.5 * pixels).astype(np.float32)  # a different film exposure of the same breast
    a, b = normalise_intensity(pixels, "breast_percentiles"), normalise_intensity(dim, "breast_percentiles")
    tissue = breast_mask(pixels)
    assert np.percentile(a[tissue], 99) == pytest.approx(1.0, abs=0.01)
    assert np.percentile(a[tissue], 1) == pytest.approx(0.0, abs=0.01)
    assert float(np.abs(a - b)[tissue].mean()) < 0.01  # the exposure change is undone
    assert normalise_intensity(pixels, "none") is pixels


def test_bad_input_gives_one_line_errors(tmp_path):
    with pytest.raises(ConfigError, match="multiple of 32"):
        compute_cell_maps([], sizes=[250])
    with pytest.raises(ConfigError, match="intensity"):
        compute_cell_maps([], sizes=[256], intensity="zscore")
    with pytest.raises(ImageReadError, match="missing.png"):
        compute_cell_maps([tmp_path / "missing.png"], sizes=[256], cache_dir=tmp_path, progress=False)
