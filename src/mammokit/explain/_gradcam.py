"""Grad-CAM through pytorch-grad-cam, with input checks that give one-line errors."""
from __future__ import annotations

import threading
from contextlib import contextmanager

import numpy as np
import torch
from pytorch_grad_cam import GradCAM
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

from ..errors import ModelError

# GradCAM registers forward/backward hooks on the shared model: two requests doing it at once
# would mix each other's activations, so one heatmap is computed at a time.
_LOCK = threading.Lock()


@contextmanager
def _grad_only_from(model: torch.nn.Module, target_layer: torch.nn.Module):
    """Let autograd start at `target_layer`: Grad-CAM needs d(score)/d(target activations) only, which
    does not depend on earlier layers. Freezing them means the backbone's activations before the
    target layer are not kept for backward (hundreds of MB for EfficientNet at 384 px) and the
    backward pass is short. Layers without parameters keep the default (everything tracked)."""
    own = {id(p) for p in target_layer.parameters()}
    if not own:
        yield
        return
    saved = [(p, p.requires_grad) for p in model.parameters()]
    try:
        for p, _ in saved:
            p.requires_grad_(id(p) in own)
        yield
    finally:
        for p, flag in saved:
            p.requires_grad_(flag)


def gradcam_heatmap(
    model: torch.nn.Module,
    input_tensor: torch.Tensor | np.ndarray,
    target_class: int,
    target_layer: torch.nn.Module,
) -> np.ndarray:
    """Grad-CAM of `target_class` at `target_layer` for one preprocessed image.

    `input_tensor` is (1, 3, H, W) (or (3, H, W)), exactly what `model` takes; `model` maps it to
    class logits. Returns an (H, W) float32 array in [0, 1] (all zeros when no region supports
    the class). The model is left in eval mode with no hooks attached.
    """
    x = torch.as_tensor(input_tensor, dtype=torch.float32)
    if x.ndim == 3:
        x = x.unsqueeze(0)
    if x.ndim != 4 or x.shape[0] != 1:
        raise ModelError(f"Grad-CAM needs one image shaped (1, C, H, W); got shape {tuple(x.shape)}")
    if not isinstance(target_layer, torch.nn.Module):
        raise ModelError(f"Grad-CAM target_layer must be a torch module; got {type(target_layer).__name__}")
    if not any(m is target_layer for m in model.modules()):
        raise ModelError("Grad-CAM target_layer is not a layer of the given model")
    try:
        device = next(model.parameters()).device
    except StopIteration:
        raise ModelError("Grad-CAM needs a model with parameters") from None
    x = x.to(device)
    with _LOCK, torch.enable_grad(), _grad_only_from(model, target_layer):
        was_training = model.training
        try:
            with GradCAM(model=model, target_layers=[target_layer]) as cam:
                with torch.no_grad():
                    n_classes = int(model(x).shape[-1])
                if not 0 <= int(target_class) < n_classes:
                    raise ModelError(f"Grad-CAM target_class {target_class} is outside 0..{n_classes - 1}")
                heat = cam(input_tensor=x, targets=[ClassifierOutputTarget(int(target_class))])[0]
        finally:
            model.train(was_training)
    heat = np.nan_to_num(np.asarray(heat, dtype=np.float32), nan=0.0)
    return np.clip(heat, 0.0, 1.0)
