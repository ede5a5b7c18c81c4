"""The lesion model's settings (the ``model:`` section of a lesion config), checked when made."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from ...errors import ConfigError
from ...features import check_intensity, check_sizes
from ._aggregate import AGGREGATIONS, IMAGE_FEATURES

BALANCES = ("none", "class_weight", "smote", "random_oversample")


@dataclass
class LesionSettings:
    backbone: str = "efficientnet_lite0"
    weights: str | None = None
    sizes: tuple[int, ...] = (512, 768)
    pca: int = 64  # cell features are projected to this many components (0: none) before the logistic fit
    C: float = 0.05  # inverse L2 strength of the cell classifiers
    balance: str = "class_weight"  # how the rare lesion cells are balanced: none | class_weight | smote | random_oversample
    negatives_per_image: int = 24
    hard_negatives_per_image: int = 4  # top-scoring normal-tissue cells of each normal training image, per round
    hard_negative_rounds: int = 1  # mining rounds: each refits on the negatives the previous round scored highest
    intensity: str = "none"  # per-image intensity normalisation of the maps: none | breast_percentiles
    min_breast: float = 0.5
    margin_cells: float = 1.0
    top_k: int = 3
    smooth: int = 0  # average the lesion logits over smooth x smooth breast cells before peaks/aggregation (0: off)
    aggregation: str = "learned"  # learned (image_features) | auto (feature set picked by inner CV) | max | topk_mean
    image_features: tuple[str, ...] = IMAGE_FEATURES
    contralateral: bool = True
    inner_folds: int = 3  # the aggregator learns from out-of-fold heatmaps of the training images
    test_cells: str = "refit"  # test heatmaps from cell models refitted on all training images, or "ensemble":
    # the mean of the inner-fold cell models, the very models whose heatmaps the aggregator learned from
    aggregator_C: float = 1.0
    aggregator: str = "multinomial"  # multinomial (one 3-class model) | hierarchical (abnormal?, then malignant?)
    seed: int = 0

    def __post_init__(self):
        self.sizes = check_sizes(self.sizes)
        self.image_features = tuple(self.image_features)
        if self.balance not in BALANCES:
            raise ConfigError(f"lesion.balance: {self.balance!r} is not one of {', '.join(BALANCES)}")
        if self.aggregation not in AGGREGATIONS:
            raise ConfigError(f"lesion.aggregation: {self.aggregation!r} is not one of {', '.join(AGGREGATIONS)}")
        unknown = [f for f in self.image_features if f not in IMAGE_FEATURES]
        if unknown or not self.image_features:
            raise ConfigError(f"lesion.image_features: unknown {unknown}; choose from {', '.join(IMAGE_FEATURES)}")
        if self.aggregator not in ("multinomial", "hierarchical"):
            raise ConfigError(f"lesion.aggregator: {self.aggregator!r} is not multinomial or hierarchical")
        if self.test_cells not in ("refit", "ensemble"):
            raise ConfigError(f"lesion.test_cells: {self.test_cells!r} is not refit or ensemble")
        if self.inner_folds < 2:
            raise ConfigError("lesion.inner_folds must be at least 2")
        if self.hard_negative_rounds < 0:
            raise ConfigError("lesion.hard_negative_rounds must be 0 or more")
        check_intensity(self.intensity)

    @classmethod
    def from_dict(cls, d: dict | None) -> LesionSettings:
        d = dict(d or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ConfigError(f"lesion: unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return cls(**d)

    def as_dict(self) -> dict:
        d = asdict(self)
        d["sizes"], d["image_features"] = list(self.sizes), list(self.image_features)
        return d
