"""Training settings shared by the dense head and its subclasses (the CNN-LSTM), from a ``model`` section.

A module of its own so that _factory and _cnn_lstm need not import each other."""
from __future__ import annotations


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
