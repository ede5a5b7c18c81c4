"""The lesion-aware model's parts: patch (feature-map cell) classifiers trained on lesion annotations,
heatmaps over the breast, and an image-level score aggregated from them.

Estimators and their arithmetic only. Its cross-validation is ``protocols._lesion_cv``, its bundle
``bundle._lesion`` and its run ``orchestration._lesion_run``:

    from mammokit.orchestration import load_config, run_config
    run_config(load_config("configs/mias-lesion.yaml"), "runs/mias-lesion")   # CV + run folder + bundle
    pred = mammokit.bundle.load_bundle("runs/mias-lesion/bundle").predict("mdb001.png")
    pred.heatmap  # float [0, 1] over pred.view; pred.geometry.to_original(x, y) -> original pixels
"""
from ...features import CellMaps, ScaleMap, cell_mask, check_sizes, compute_cell_maps, maps_for_image
from ._aggregate import (
    AGGREGATIONS,
    IMAGE_FEATURES,
    aggregate,
    image_features,
    max_score,
    mean_score,
    topk_mean,
)
from ._aggregator import Aggregator, AggregatorClassifier, feature_matrix, pair_index
from ._cells import CellClassifier, CellModels, LinearCellClassifier
from ._heatmap import (
    cell_centre_model,
    combine_scales,
    heatmap_view,
    localisation_hit,
    peak_cell,
    peak_original,
    resize_grid,
)
from ._model import LesionModel, base_targets
from ._patches import IGNORE, NEGATIVE, POSITIVE, CellSet, Circle, label_cells, lesion_circles, training_cells
from ._settings import LesionSettings

__all__ = [
    "AGGREGATIONS",
    "IGNORE",
    "IMAGE_FEATURES",
    "NEGATIVE",
    "POSITIVE",
    "Aggregator",
    "AggregatorClassifier",
    "CellClassifier",
    "CellMaps",
    "CellModels",
    "CellSet",
    "Circle",
    "LesionModel",
    "LesionSettings",
    "LinearCellClassifier",
    "ScaleMap",
    "aggregate",
    "base_targets",
    "cell_centre_model",
    "cell_mask",
    "check_sizes",
    "combine_scales",
    "compute_cell_maps",
    "feature_matrix",
    "heatmap_view",
    "image_features",
    "label_cells",
    "lesion_circles",
    "localisation_hit",
    "maps_for_image",
    "max_score",
    "mean_score",
    "pair_index",
    "peak_cell",
    "peak_original",
    "resize_grid",
    "topk_mean",
    "training_cells",
]
