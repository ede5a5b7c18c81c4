"""Engines run a backbone on a preprocessed batch. PyTorch eager is the reference; others register here."""
from __future__ import annotations

from typing import Callable, Protocol

import numpy as np
import torch

from ._backbones import Backbone


class Engine(Protocol):
    name: str

    def __call__(self, batch: np.ndarray) -> np.ndarray:  # (N,3,H,W) float32 -> (N,C,h,w) float32
        ...


class TorchEngine:
    name = "torch"

    def __init__(self, backbone: Backbone, channels_last: bool = False):
        self.module = backbone.module.eval()
        self.channels_last = channels_last
        if channels_last:
            self.module = self.module.to(memory_format=torch.channels_last)

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32))
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.inference_mode():
            return self.module(x).contiguous().numpy()


# runtime name -> factory(backbone, input_size) ; the ONNX Runtime engine adds itself on import.
ENGINES: dict[str, Callable[[Backbone, int], Engine]] = {
    "torch": lambda bb, size: TorchEngine(bb),
    "torch-channels-last": lambda bb, size: TorchEngine(bb, channels_last=True),
}


def feature_maps(engine: Engine, batch: np.ndarray, tta: bool = False) -> np.ndarray:
    """Spatial maps for a batch; with ``tta`` the map of the mirrored image is mirrored back and averaged."""
    maps = engine(batch)
    if tta:
        maps = 0.5 * (maps + engine(np.ascontiguousarray(batch[..., ::-1]))[..., ::-1])
    return maps


def pooled_features(engine: Engine, batch: np.ndarray, tta: bool = False) -> np.ndarray:
    return feature_maps(engine, batch, tta).mean(axis=(2, 3)).astype(np.float32)
