"""Classifiers on pooled deep features: the paper's dense head and a logistic baseline."""
from ._dense_head import DROPOUT, HIDDEN, DenseHead, build_head
from ._factory import MODEL_TYPES, make_model
from ._logistic import logistic_as_module, logistic_from_arrays, make_logistic

__all__ = [
    "DROPOUT",
    "HIDDEN",
    "MODEL_TYPES",
    "DenseHead",
    "build_head",
    "logistic_as_module",
    "logistic_from_arrays",
    "make_logistic",
    "make_model",
]
