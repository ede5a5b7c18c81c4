"""Classifiers on pooled deep features: the paper's dense head and a logistic baseline.

Names are imported on first use (PEP 562): the dense head and the CNN-LSTM are torch modules, and a
lesion-model or logistic bundle served by ONNX Runtime should not import torch for them.
"""
from .._lazy import lazy_exports

_WHERE = {
    "DROPOUT": "_dense_head", "HIDDEN": "_dense_head", "DenseHead": "_dense_head", "build_head": "_dense_head",
    "image_model": "_image_model",
    "MODEL_TYPES": "_factory", "make_model": "_factory",
    "logistic_as_module": "_logistic", "logistic_from_arrays": "_logistic", "make_logistic": "_logistic",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _WHERE, globals())
