"""Grad-CAM (pytorch-grad-cam) heatmaps: they point at the evidence, have the right shape, reject bad input."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision

from mammokit.errors import ModelError
from mammokit.explain import gradcam_heatmap, overlay_heatmap


def patch_model() -> tuple[torch.nn.Module, torch.nn.Module]:
    """Class 0 logit = mean brightness, class 1 = minus it: Grad-CAM for 0 must light up bright pixels."""
    conv = torch.nn.Conv2d(3, 1, kernel_size=1, bias=False)
    head = torch.nn.Linear(1, 2, bias=False)
    with torch.no_grad():
        conv.weight.fill_(1.0)
        head.weight.copy_(torch.tensor([[1.0], [-1.0]]))
    model = torch.nn.Sequential(conv, torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), head)
    return model.eval(), conv


def patch_image(row: slice, col: slice, size: int = 32) -> torch.Tensor:
    x = torch.zeros(1, 3, size, size)
    x[:, :, row, col] = 1.0
    return x


TEST_CASES_PATCH = [
    (slice(0, 8), slice(0, 8)),
    (slice(20, 30), slice(4, 12)),
    (slice(10, 14), slice(24, 32)),
]


@pytest.mark.parametrize("rows, cols", TEST_CASES_PATCH)
def test_heatmap_points_at_the_evidence(rows, cols):
    model, layer = patch_model()
    heat = gradcam_heatmap(model, patch_image(rows, cols), target_class=0, target_layer=layer)
    assert heat.shape == (32, 32) and heat.dtype == np.float32
    inside = np.zeros((32, 32), bool)
    inside[rows, cols] = True
    assert heat[inside].min() > 0.99 and heat[~inside].max() < 0.01
    # the opposite class has no supporting region at all
    against = gradcam_heatmap(model, patch_image(rows, cols), target_class=1, target_layer=layer)
    assert float(against.max()) == 0.0


@pytest.mark.parametrize("size", [64, 96])
def test_torchvision_backbone_shape_range_and_no_hooks_left(size):
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None, num_classes=3).eval()
    x = torch.rand(1, 3, size, size)
    heat = gradcam_heatmap(model, x[0], target_class=2, target_layer=model.layer4)  # (3,H,W) accepted too
    assert heat.shape == (size, size)
    assert 0.0 <= heat.min() and heat.max() <= 1.0
    assert not model.layer4._forward_hooks and not model.layer4._backward_hooks
    assert not model.training


TEST_CASES_INVALID = [
    (torch.zeros(2, 3, 32, 32), 0, "layer", "one image"),
    (torch.zeros(32, 32), 0, "layer", "one image"),
    (torch.zeros(1, 3, 32, 32), 5, "layer", "outside 0..1"),
    (torch.zeros(1, 3, 32, 32), 0, "foreign", "not a layer of the given model"),
    (torch.zeros(1, 3, 32, 32), 0, "string", "must be a torch module"),
]


@pytest.mark.parametrize("x, target, layer_kind, message", TEST_CASES_INVALID)
def test_invalid_input(x, target, layer_kind, message):
    model, layer = patch_model()
    target_layer = {"layer": layer, "foreign": torch.nn.Conv2d(3, 1, 1), "string": "conv"}[layer_kind]
    with pytest.raises(ModelError, match=message):
        gradcam_heatmap(model, x, target_class=target, target_layer=target_layer)


TEST_CASES_OVERLAY = [
    (np.full((40, 40), 128, np.uint8), np.zeros((40, 40), np.float32)),
    (np.linspace(0, 1, 1600, dtype=np.float32).reshape(40, 40), np.ones((10, 10), np.float32)),  # resized
]


@pytest.mark.parametrize("view, heat", TEST_CASES_OVERLAY)
def test_overlay(view, heat):
    rgb = overlay_heatmap(view, heat)
    assert rgb.shape == (40, 40, 3) and rgb.dtype == np.uint8
    hot = overlay_heatmap(view, np.ones_like(heat))
    cold = overlay_heatmap(view, np.zeros_like(heat))
    # jet colour map: hot regions go red, cold regions go blue
    assert hot[..., 0].mean() > cold[..., 0].mean() and cold[..., 2].mean() > hot[..., 2].mean()


def test_overlay_equals_pytorch_grad_cam_show_cam_on_image(mias_png):
    """The OpenCV blend (kept torch-free for the lesion server) draws what pytorch-grad-cam draws, on a real
    mammogram and a hand-made heatmap."""
    from pytorch_grad_cam.utils.image import show_cam_on_image

    from mammokit.io import read_image

    grey = read_image(mias_png(1)).pixels[::8, ::8]
    yy, xx = np.mgrid[0:grey.shape[0], 0:grey.shape[1]]
    heat = np.exp(-((yy - 60) ** 2 + (xx - 40) ** 2) / 400.0).astype(np.float32)
    rgb = np.repeat(np.clip(grey, 0, 1)[:, :, None], 3, axis=2).astype(np.float32)
    for w in (0.6, 0.3):
        np.testing.assert_array_equal(overlay_heatmap(grey, heat, image_weight=w),
                                      show_cam_on_image(rgb, heat, use_rgb=True, image_weight=w))


def test_overlay_invalid():
    with pytest.raises(ModelError, match="2-D"):
        overlay_heatmap(np.zeros((4, 4, 3), np.uint8), np.zeros((4, 4)))


@pytest.mark.parametrize("layer_name", ["layer3", "layer4"])
def test_same_heatmap_as_plain_pytorch_grad_cam_and_flags_restored(layer_name):
    """Autograd starting at the target layer (a memory saving) must not change the map."""
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    torch.manual_seed(1)
    model = torchvision.models.resnet18(weights=None, num_classes=3).eval()
    model.conv1.weight.requires_grad_(False)  # a caller's own setting, to be restored as it was
    layer = getattr(model, layer_name)
    x = torch.rand(1, 3, 96, 96)
    ours = gradcam_heatmap(model, x, target_class=1, target_layer=layer)
    flags = {n: p.requires_grad for n, p in model.named_parameters()}
    assert flags.pop("conv1.weight") is False and all(flags.values())
    with GradCAM(model=model, target_layers=[layer]) as cam:
        plain = cam(input_tensor=x, targets=[ClassifierOutputTarget(1)])[0]
    np.testing.assert_allclose(ours, plain, atol=1e-5)
