"""The lesion-aware model: patch (feature-map cell) classifiers trained on MIAS's lesion annotations,
heatmaps over the breast, and an image-level score aggregated from them.

    from mammokit.models.lesion import run_lesion, load_lesion_bundle
    run_lesion(config, "runs/mias-lesion")          # patient-grouped CV + run folder + bundle
    pred = load_lesion_bundle("runs/mias-lesion/bundle").predict("mdb001.png")
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
from ._bundle import (
    LesionPrediction,
    LesionPredictor,
    load_lesion_bundle,
    save_lesion_bundle,
    view_to_original,
)
from ._cv import LesionCVResult, cross_validate
from ._heatmap import (
    cell_centre_model,
    combine_scales,
    heatmap_view,
    localisation_hit,
    peak_cell,
    peak_original,
    resize_grid,
)
from ._model import (
    Aggregator,
    CellModels,
    LesionModel,
    LesionSettings,
    LinearCellClassifier,
    base_targets,
    feature_matrix,
    pair_index,
)
from ._patches import IGNORE, NEGATIVE, POSITIVE, CellSet, Circle, label_cells, lesion_circles, training_cells
from ._runner import load_lesion_config, resolve_config, run_lesion, task_view

__all__ = [
    "AGGREGATIONS",
    "IGNORE",
    "IMAGE_FEATURES",
    "NEGATIVE",
    "POSITIVE",
    "Aggregator",
    "CellMaps",
    "CellModels",
    "CellSet",
    "Circle",
    "LesionCVResult",
    "LesionModel",
    "LesionPrediction",
    "LesionPredictor",
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
    "cross_validate",
    "feature_matrix",
    "heatmap_view",
    "image_features",
    "label_cells",
    "lesion_circles",
    "load_lesion_bundle", "load_lesion_config",
    "localisation_hit",
    "maps_for_image",
    "max_score",
    "mean_score",
    "pair_index",
    "peak_cell",
    "peak_original",
    "resize_grid",
    "resolve_config",
    "run_lesion",
    "save_lesion_bundle",
    "task_view",
    "topk_mean",
    "training_cells",
    "view_to_original",
]
