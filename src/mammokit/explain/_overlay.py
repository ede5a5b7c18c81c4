"""Colour a heatmap over the grey image the model saw."""
from __future__ import annotations

import cv2
import numpy as np
from skimage.transform import resize

from ..errors import ModelError


def overlay_heatmap(view: np.ndarray, heatmap: np.ndarray, image_weight: float = 0.6) -> np.ndarray:
    """RGB uint8 (H, W, 3): `view` (uint8 grey or float [0,1]) blended with a jet-coloured `heatmap` [0,1].

    The heatmap is resized to the view when their sizes differ.
    """
    view = np.asarray(view)
    heat = np.asarray(heatmap, dtype=np.float32)
    if view.ndim != 2 or heat.ndim != 2:
        raise ModelError(f"overlay needs 2-D grey view and heatmap; got {view.shape} and {heat.shape}")
    grey = view.astype(np.float32) / 255.0 if view.dtype == np.uint8 else view.astype(np.float32)
    grey = np.clip(grey, 0.0, 1.0)
    if heat.shape != grey.shape:
        heat = resize(heat, grey.shape, order=1, preserve_range=True, anti_aliasing=False).astype(np.float32)
    # The jet blend pytorch-grad-cam's show_cam_on_image draws, done with OpenCV directly: importing
    # pytorch_grad_cam imports torch, which a lesion-model server (ONNX Runtime only) does not load.
    jet = cv2.applyColorMap(np.uint8(255 * np.clip(heat, 0.0, 1.0)), cv2.COLORMAP_JET)
    jet = cv2.cvtColor(jet, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0
    blend = (1.0 - image_weight) * jet + image_weight * grey[:, :, None]
    return np.uint8(255 * (blend / np.max(blend)))
