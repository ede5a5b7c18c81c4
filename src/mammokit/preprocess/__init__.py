"""Preprocessing: crop the breast, orient it, resize with padding, normalise (caffe | imagenet)."""
from ._crop import breast_mask, crop_box, crop_breast, faces_right
from ._geometry import Geometry
from ._normalise import normalise
from ._pipeline import PreprocessConfig, Preprocessed, preprocess, resize_pad
from ._preview import preview_images

__all__ = [
    "Geometry", "PreprocessConfig", "Preprocessed", "breast_mask", "crop_box", "crop_breast",
    "faces_right", "normalise", "preprocess", "preview_images", "resize_pad",
]
