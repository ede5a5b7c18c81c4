"""Image-level aggregation of lesion heatmaps on tiny exact arrays."""
from __future__ import annotations

import numpy as np
import pytest

from mammokit.errors import ConfigError
from mammokit.models.lesion import (
    IMAGE_FEATURES,
    AggregatorClassifier,
    LesionSettings,
    aggregate,
    image_features,
    max_score,
    pair_index,
    topk_mean,
)
from mammokit.orchestration import task_view

GRID = np.array([[9.0, 1.0, 2.0], [3.0, 8.0, 4.0], [5.0, 0.0, 7.0]])
MASK = np.array([[False, True, True], [True, True, True], [True, True, True]])  # hides the 9


@pytest.mark.parametrize("how,k,expected", [
    ("max", 1, 8.0), ("topk_mean", 1, 8.0), ("topk_mean", 3, (8 + 7 + 5) / 3),
    ("topk_mean", 100, (1 + 2 + 3 + 8 + 4 + 5 + 0 + 7) / 8), ("mean", 3, 30 / 8),
])
def test_fixed_aggregations_exact(how, k, expected):
    assert aggregate(GRID, MASK, how, k) == pytest.approx(expected)


def test_empty_mask_falls_back_to_whole_grid_and_invalid_inputs():
    empty = np.zeros_like(MASK)
    assert max_score(GRID, empty) == 9.0
    with pytest.raises(ConfigError, match="top_k"):
        topk_mean(GRID, MASK, 0)
    with pytest.raises(ConfigError, match="fixed aggregation"):
        aggregate(GRID, MASK, "learned")


def test_image_features_exact_with_and_without_pair():
    mal = np.arange(9, dtype=float).reshape(3, 3)
    f = dict(zip(IMAGE_FEATURES, image_features(GRID, mal, MASK, k=2)))
    assert f["abn_max"] == 8 and f["abn_topk"] == 7.5 and f["abn_mean"] == pytest.approx(30 / 8)
    assert f["mal_at_top"] == pytest.approx((4 + 8) / 2)  # malignancy at the two top cells (8 at [1,1], 7 at [2,2])
    assert f["mal_max"] == 8 and f["abn_max_vs_pair"] == 0 and f["abn_topk_vs_pair"] == 0
    pair = (GRID - 2.0, MASK)
    g = dict(zip(IMAGE_FEATURES, image_features(GRID, mal, MASK, k=2, pair=pair)))
    assert g["abn_max_vs_pair"] == pytest.approx(2.0) and g["abn_topk_vs_pair"] == pytest.approx(2.0)


def test_aggregator_learns_separable_scores_and_keeps_absent_class_near_zero():
    F = np.array([[0.0], [0.1], [0.2], [3.0], [3.1], [3.2]])
    y = np.array([0, 0, 0, 2, 2, 2])  # class 1 absent from training
    agg = AggregatorClassifier(C=10.0).fit(F, y)
    assert agg.classes_.tolist() == [0, 1, 2]
    P = agg.predict_proba(np.array([[0.0], [3.2]]))
    assert P.shape == (2, 3) and np.allclose(P.sum(1), 1)
    assert P[0, 0] > 0.8 and P[1, 2] > 0.8 and P[:, 1].max() < 1e-6


def test_task_view_derives_binary_tasks_exactly():
    y3 = np.array([0, 1, 2])
    P3 = np.array([[0.7, 0.2, 0.1], [0.2, 0.6, 0.2], [0.1, 0.3, 0.6]])
    rows, y, P = task_view(y3, P3, "normal_vs_abnormal")
    assert y.tolist() == [0, 1, 1] and np.allclose(P[:, 1], [0.3, 0.8, 0.9])
    rows, y, P = task_view(y3, P3, "benign_vs_malignant")
    assert rows.tolist() == [1, 2] and y.tolist() == [0, 1] and np.allclose(P[:, 1], [0.25, 2 / 3])


def test_pair_index_and_settings_validation(mias_dir):
    from mammokit.datasets import load_mias

    recs = load_mias(mias_dir, ids=["mdb001", "mdb002", "mdb003"])
    assert pair_index(recs) == [1, 0, None]
    with pytest.raises(ConfigError, match="unknown setting"):
        LesionSettings.from_dict({"nope": 1})
    with pytest.raises(ConfigError, match="multiple of 32"):
        LesionSettings(sizes=(500,))
    with pytest.raises(ConfigError, match="balance"):
        LesionSettings(balance="magic")


def test_hierarchical_aggregator_ranks_by_its_own_head():
    names = ("abn_max", "mal_at_top")
    # abnormality evidence in column 0 only, malignancy evidence in column 1 only
    F = np.array([[0.0, 5.0], [0.2, -5.0], [0.1, 0.0], [3.0, -2.0], [3.2, -1.8], [3.1, 2.0], [2.9, 2.2]])
    y = np.array([0, 0, 0, 1, 1, 2, 2])
    agg = AggregatorClassifier(C=10.0, kind="hierarchical", feature_names=names).fit(F, y).aggregator_
    assert agg.kind == "hierarchical" and agg.coef[0, 1] == 0 and agg.coef[1, 0] == 0
    P = agg.predict_proba(F)
    assert np.allclose(P.sum(1), 1)
    # P(abnormal) follows column 0 alone (the normal image with a high malignancy score stays normal)...
    assert np.array_equal(np.argsort(P[:, 1] + P[:, 2]), np.argsort(F[:, 0]))
    # ...and P(malignant | abnormal) follows column 1 alone
    pm = P[3:, 2] / (P[3:, 1] + P[3:, 2])
    assert np.array_equal(np.argsort(pm), np.argsort(F[3:, 1]))
    # Without malignancy evidence, P(malignant | abnormal) is the training rate (2 of 4 abnormal).
    only_abn = AggregatorClassifier(C=10.0, kind="hierarchical", feature_names=names[:1]).fit(F[:, :1], y)
    Q = only_abn.predict_proba(F[:, :1])
    assert np.allclose(Q[:, 2] / (Q[:, 1] + Q[:, 2]), 0.5)
    with pytest.raises(ConfigError, match="aggregator"):
        LesionSettings(aggregator="tree")
