"""Build the configured classifier."""
from __future__ import annotations

from ..errors import ConfigError
from ._dense_head import DenseHead
from ._logistic import make_logistic
from ._params import training_params

MODEL_TYPES = ("dense_head", "logistic", "cnn_lstm")


def make_model(cfg: dict, *, class_weight: str | None = None, random_state: int = 0):
    """``cfg`` is the config's ``model`` section: type plus that model's parameters."""
    kind = cfg.get("type", "dense_head")
    if kind == "dense_head":
        return DenseHead(**training_params(cfg, epochs=100, patience=10), class_weight=class_weight,
                         random_state=random_state)
    if kind == "logistic":
        return make_logistic(C=float(cfg.get("C", 1.0)), class_weight=class_weight, random_state=random_state)
    if kind == "cnn_lstm":  # sequences of feature-map rows -> (bi)LSTM -> the dense head
        from ._cnn_lstm import make_cnn_lstm

        return make_cnn_lstm(cfg, class_weight=class_weight, random_state=random_state)
    raise ConfigError(f"model.type: unknown model {kind!r}; choose one of {', '.join(MODEL_TYPES)}")
