"""Lesion model geometry on real MIAS images: which cells are lesion patches, where a heatmap peak lands in
the ORIGINAL image (flipped and unflipped breasts), and that test-image annotations never reach training."""
from __future__ import annotations

import numpy as np
import pytest

from mammokit.bundle import view_to_original
from mammokit.datasets import Lesion, Record, load_mias
from mammokit.errors import DatasetError
from mammokit.io import read_image
from mammokit.models.lesion import (
    IGNORE,
    NEGATIVE,
    POSITIVE,
    CellMaps,
    ScaleMap,
    cell_mask,
    heatmap_view,
    label_cells,
    localisation_hit,
    peak_original,
    training_cells,
)
from mammokit.preprocess import PreprocessConfig, breast_mask, preprocess

SIZE, GRID, CHANNELS = 512, 16, 8


def _scale_map(path, seed=0) -> ScaleMap:
    """Real geometry and breast mask of a MIAS image; random cell features (no backbone needed)."""
    image = read_image(path)
    pre = preprocess(image, PreprocessConfig(size=SIZE))
    feats = np.random.default_rng(seed).normal(size=(CHANNELS, GRID, GRID)).astype(np.float16)
    return ScaleMap(feats, cell_mask(breast_mask(image.pixels), pre.geometry, (GRID, GRID)), pre.geometry)


@pytest.fixture(scope="module")
def mias(mias_dir):
    ids = ["mdb012", "mdb013", "mdb023", "mdb028", "mdb003", "mdb004"]
    recs = {r.id: r for r in load_mias(mias_dir, ids=ids)}
    return recs, {i: _scale_map(recs[i].path, k) for k, i in enumerate(ids)}


# mdb013/mdb023 (odd numbers) have the chest wall on the right and are flipped; mdb012/mdb028 are not.
@pytest.mark.parametrize("rid,flipped", [("mdb012", False), ("mdb013", True), ("mdb023", True), ("mdb028", False)])
def test_heatmap_peak_at_lesion_maps_back_to_original(mias, rid, flipped):
    recs, maps = mias
    rec, sm = recs[rid], maps[rid]
    assert sm.geometry.flipped is flipped
    les = rec.lesions[0]
    labels, _ = label_cells(rec, sm)
    assert (labels == POSITIVE).any()
    # A heatmap that is high exactly on the lesion cells: its peak must land on the lesion in ORIGINAL pixels.
    logits = np.where(labels == POSITIVE, 5.0, -5.0)
    x, y = peak_original(logits, sm.mask >= 0.5, sm.geometry)
    cell_orig = sm.stride / sm.geometry.scale
    assert np.hypot(x - les.x, y - les.y) <= les.radius + cell_orig * 0.75
    # The same heatmap, warped back onto the original grid, is brightest around the lesion centre.
    heat = heatmap_view(logits, sm.mask, SIZE)
    assert heat.shape == (SIZE, SIZE) and heat.dtype == np.float32 and 0 <= heat.min() and heat.max() <= 1
    orig = view_to_original(heat, sm.geometry)
    assert orig.shape == sm.geometry.original_shape
    ry, rx = np.unravel_index(np.argmax(orig), orig.shape)
    assert np.hypot(rx - les.x, ry - les.y) <= les.radius + cell_orig
    # and dark on the mirrored position (a wrong flip would put the peak there)
    mx = sm.geometry.box[2] + sm.geometry.box[3] - les.x
    if abs(mx - les.x) > 2 * (les.radius + cell_orig):
        assert orig[int(les.y), int(np.clip(mx, 0, orig.shape[1] - 1))] < 0.5


def test_localisation_hit_inside_outside_and_unscored(mias):
    recs, _ = mias
    rec = recs["mdb028"]
    les = rec.lesions[0]
    assert localisation_hit(rec, (les.x, les.y)) is True
    assert localisation_hit(rec, (les.x + les.radius + 1, les.y)) is False
    assert localisation_hit(recs["mdb003"], (10, 10)) is None  # normal image: not scored


def test_label_cells_normal_unlocated_and_invalid(mias):
    recs, maps = mias
    normal = recs["mdb003"]
    labels, mal = label_cells(normal, maps["mdb003"])
    breast = maps["mdb003"].mask >= 0.5
    assert (labels[breast] == NEGATIVE).all() and (labels[~breast] == IGNORE).all() and not mal.any()
    # Widely spread calcifications (no coordinates): nothing in that image may be called normal tissue.
    spread = Record("x", normal.path, "malignant", "p", lesions=(Lesion("CALC", "malignant"),))
    assert not (label_cells(spread, maps["mdb003"])[0] == NEGATIVE).any()
    # A malignant lesion marks its cells malignant; the ring around it is ignored, not negative.
    rec = recs["mdb028"]
    labels, mal = label_cells(rec, maps["mdb028"])
    assert mal[labels == POSITIVE].all() and (labels == IGNORE).sum() > (maps["mdb028"].mask < 0.5).sum()
    # Invalid: an abnormal label with no annotation at all.
    with pytest.raises(DatasetError, match="no lesion annotation"):
        label_cells(Record("y", normal.path, "benign", "p"), maps["mdb003"])


class _Tripwire:
    """A test record: touching anything on it (its label, its lesions) fails the test."""

    def __init__(self, rid):
        object.__setattr__(self, "_rid", rid)

    def __getattr__(self, name):
        raise AssertionError(f"training read {name!r} of test record {self._rid}")


def test_training_cells_never_read_test_annotations(mias):
    recs, maps = mias
    ids = list(maps)
    records = [recs[i] for i in ids]
    cmaps = [CellMaps(i, {SIZE: maps[i]}) for i in ids]
    train = [0, 3, 4, 5]  # mdb012, mdb028, mdb003, mdb004
    test = [1, 2]  # mdb013, mdb023: their annotations must stay unseen
    guarded = [(_Tripwire(ids[i]) if i in test else r) for i, r in enumerate(records)]
    cells, grids = training_cells(guarded, cmaps, train, SIZE, negatives_per_image=5)
    assert set(np.unique(cells.image)) <= set(train) and set(grids) == set(train)
    assert (cells.y == 1).sum() >= 2 and (cells.y == 0).sum() == 5 * 4
    # every sampled row is exactly the feature vector of the cell it claims to be
    for n in range(len(cells.y)):
        r, c = cells.cell[n]
        np.testing.assert_array_equal(cells.X[n], maps[ids[cells.image[n]]].features[:, r, c].astype(np.float32))
    # Invalid: training images with no lesion at all give no positive cells.
    with pytest.raises(DatasetError, match="no lesion cells"):
        training_cells(records, cmaps, [4, 5], SIZE)
