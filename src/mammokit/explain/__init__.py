"""Explain a prediction: Grad-CAM heatmaps (pytorch-grad-cam) and overlays on the model's view.

``gradcam_heatmap`` imports torch on first use, so an overlay of a lesion-model heatmap does not.
"""
from .._lazy import lazy_exports

_WHERE = {"gradcam_heatmap": "_gradcam", "overlay_heatmap": "_overlay"}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _WHERE, globals())
