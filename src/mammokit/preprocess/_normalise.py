"""Intensity normalisation: the paper's caffe mode and ImageNet mean/std mode."""
from __future__ import annotations

import numpy as np

from ..constants import CAFFE_MEAN_BGR, IMAGENET_MEAN_RGB, IMAGENET_STD_RGB, NORMALISATION_MODES
from ..errors import ConfigError


def normalise(grey01: np.ndarray, mode: str) -> np.ndarray:
    """Grey [0,1] (H, W) -> float32 (3, H, W) ready for the backbone.

    caffe (Keras ``preprocess_input`` for VGG16/ResNet50): scale to 0-255, RGB -> BGR, subtract the
    ImageNet BGR channel means, no scaling by std. imagenet: [0,1], subtract mean, divide by std (RGB).
    """
    if mode not in NORMALISATION_MODES:
        raise ConfigError(f"unknown normalisation mode {mode!r}; choose one of {', '.join(NORMALISATION_MODES)}")
    grey = grey01.astype(np.float32, copy=False)
    out = np.empty((3, *grey.shape), np.float32)
    # Channel by channel from the one grey plane, the same float32 operations as on a 3-channel copy.
    if mode == "caffe":
        scaled = grey * np.float32(255.0)
        for c, mean in enumerate(CAFFE_MEAN_BGR):
            np.subtract(scaled, np.float32(mean), out=out[c])
        return out
    for c, (mean, std) in enumerate(zip(IMAGENET_MEAN_RGB, IMAGENET_STD_RGB)):
        np.subtract(grey, np.float32(mean), out=out[c])
        np.divide(out[c], np.float32(std), out=out[c])
    return out

