"""The one-line model description shown with every result, from a bundle manifest."""
from __future__ import annotations

from pathlib import Path

import pytest

from mammokit.web._analysis import describe_manifest

DENSE = {"backbone": {"name": "efficientnet_lite2"}, "model_type": "dense_head", "task": "3class",
         "dataset": {"name": "mias", "n_images": 322},
         "metrics": {"protocol": "cv", "balanced_accuracy": {"value": 0.4123, "ci": [0.35, 0.47]},
                     "macro_roc_auc": {"value": 0.6, "ci": [None, None]}}}
LESION = {"backbone": {"name": "efficientnet_lite0"}, "model_type": "lesion", "task": "3class",
          "dataset": {"name": "mias", "n_images": 322},
          "metrics": {"3class_macro_roc_auc": 0.5811, "normal_vs_abnormal_roc_auc": 0.6012}}

TEST_CASES = [
    (DENSE, ("efficientnet_lite2 + dense_head, 3class, mias 322 images; measured by cv: "
             "balanced accuracy 0.41 (95% CI 0.35-0.47), macro ROC AUC 0.60")),
    (LESION, ("efficientnet_lite0 + lesion, 3class, mias 322 images; measured by cross-validation: "
              "3-class macro ROC AUC 0.58, normal-vs-abnormal ROC AUC 0.60")),
    ({**DENSE, "metrics": {}}, "efficientnet_lite2 + dense_head, 3class, mias 322 images"),
    ({}, "some/bundle"),  # invalid manifest: fall back to the bundle path
    ({"backbone": "not a mapping"}, "some/bundle"),
]


@pytest.mark.parametrize("manifest, expected", TEST_CASES)
def test_describe_manifest(manifest, expected):
    assert describe_manifest(manifest, Path("some/bundle")) == expected
