"""Build the configured classifier."""
from __future__ import annotations

from ..errors import ConfigError
from ._dense_head import DenseHead
from ._logistic import make_logistic

MODEL_TYPES = ("dense_head", "logistic", "cnn_lstm")


def training_params(cfg: dict, *, epochs: int, patience: int) -> dict:
    """The dense head's training settings from a ``model`` section (DenseHead and its subclasses take them);
    ``epochs`` and ``patience`` are the model's own defaults."""
    return {
        "epochs": int(cfg.get("epochs", epochs)),
        "patience": int(cfg.get("patience", patience)),
        "lr": float(cfg.get("lr", 1e-3)),
        "batch_size": int(cfg.get("batch_size", 32)),
        "val_fraction": float(cfg.get("val_fraction", 0.2)),
        "weight_decay": float(cfg.get("weight_decay", 0.0)),
    }


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
