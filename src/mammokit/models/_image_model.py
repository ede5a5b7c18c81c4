"""The whole-image model as one torch module, preprocessed image -> head logits (what Grad-CAM needs)."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn


class _Standardise(nn.Module):
    """The fitted StandardScaler as a layer."""

    def __init__(self, mean: np.ndarray, scale: np.ndarray):
        super().__init__()
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32))
        self.register_buffer("scale", torch.as_tensor(scale, dtype=torch.float32))

    def forward(self, x):
        return (x - self.mean) / self.scale


class _GlobalAvgPool(nn.Module):
    def forward(self, x):
        return x.mean(dim=(2, 3))


def image_model(backbone: nn.Module, mean: np.ndarray, scale: np.ndarray, head: nn.Module) -> nn.Module:
    """backbone -> global average pool -> standardise (the bundle's scaler) -> head, in eval mode."""
    return nn.Sequential(backbone, _GlobalAvgPool(), _Standardise(mean, scale), head).eval()
