"""Explain a prediction: Grad-CAM heatmaps (pytorch-grad-cam) and overlays on the model's view."""
from ._gradcam import gradcam_heatmap
from ._overlay import overlay_heatmap

__all__ = ["gradcam_heatmap", "overlay_heatmap"]
