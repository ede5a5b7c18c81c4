"""Backbones: the offline weights are real ImageNet weights; ResNet50 loads a weights file."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage import data as skdata

from mammokit.constants import IMAGENET_MEAN_RGB, IMAGENET_STD_RGB
from mammokit.errors import ModelError, WeightsUnavailableError
from mammokit.features import get_backbone

# ImageNet classes 281-285 are the domestic cats (tabby, tiger cat, Persian, Siamese, Egyptian cat).
CAT_CLASSES = range(281, 286)


def _chelsea(size: int) -> torch.Tensor:
    import cv2

    rgb = cv2.resize(skdata.chelsea().astype(np.float32) / 255.0, (size, size), interpolation=cv2.INTER_AREA)
    x = (rgb - np.asarray(IMAGENET_MEAN_RGB)) / np.asarray(IMAGENET_STD_RGB)
    return torch.from_numpy(x.transpose(2, 0, 1)[None].astype(np.float32))


@pytest.mark.parametrize("name,size,dim", [("efficientnet_lite0", 224, 1280), ("efficientnet_lite2", 260, 1280)])
def test_offline_weights_are_real_imagenet_weights(name, size, dim):
    bb = get_backbone(name, image_size=size)
    x = _chelsea(size)
    with torch.inference_mode():
        top = int(bb.imagenet_logits(x).argmax())
        assert bb.pooled(x).shape == (1, dim)
    assert top in CAT_CLASSES, f"{name} called the chelsea cat photo class {top}"
    assert bb.default_mode == "imagenet" and bb.feature_dim == dim
    assert not bb.module.training  # dropout/batch-norm in inference mode


def test_random_weights_do_not_recognise_the_cat():
    """The control for the test above: the same architecture, untrained, is not confidently a cat."""
    torch.manual_seed(0)
    bb = get_backbone("efficientnet_lite0", weights="random", image_size=224)
    with torch.inference_mode():
        probs = bb.imagenet_logits(_chelsea(224)).softmax(-1)[0]
    assert float(probs[list(CAT_CLASSES)].sum()) < 0.5


def _resnet_state(seed: int) -> dict:
    from torchvision.models import resnet50

    torch.manual_seed(seed)
    return resnet50(weights=None).state_dict()


def test_resnet50_loads_a_weights_file(tmp_path):
    state = _resnet_state(1)
    path = tmp_path / "resnet50-test.pth"
    torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}}, path)  # DataParallel-style wrapper
    bb = get_backbone("resnet50", weights=str(path))
    assert bb.default_mode == "caffe" and bb.feature_dim == 2048
    assert torch.equal(bb.module[0].weight, state["conv1.weight"])
    x = torch.randn(2, 3, 64, 64)
    with torch.inference_mode():
        assert bb.module(x).shape == (2, 2048, 2, 2)
    # A different file gives a different identity, so cached features never mix.
    other = tmp_path / "other.pth"
    torch.save(_resnet_state(2), other)
    assert get_backbone("resnet50", weights=str(other)).identity != bb.identity


@pytest.mark.parametrize("content", ["garbage", "wrong-arch"])
def test_resnet50_rejects_a_bad_weights_file(tmp_path, content):
    path = tmp_path / "bad.pth"
    if content == "garbage":
        path.write_bytes(b"not a checkpoint")
    else:
        torch.save({"conv.weight": torch.zeros(3)}, path)
    with pytest.raises(ModelError, match="bad.pth"):
        get_backbone("resnet50", weights=str(path))


def test_resnet50_missing_file_names_it(tmp_path):
    with pytest.raises(WeightsUnavailableError, match="nope.pth"):
        get_backbone("resnet50", weights=str(tmp_path / "nope.pth"))


def test_resnet50_imagenet_download_works_or_says_how_to_get_weights(tmp_path, monkeypatch):
    """Connected machine: torchvision downloads the weights. Offline (here): a one-line message with the way out."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    try:
        bb = get_backbone("resnet50", weights="imagenet")
    except WeightsUnavailableError as exc:
        msg = str(exc)
        assert "\n" not in msg and "--weights" in msg and "efficientnet_lite2" in msg
    else:
        assert bb.identity.startswith("resnet50:torchvision")


def test_unknown_backbone():
    with pytest.raises(ModelError, match="vgg16"):
        get_backbone("vgg16")
