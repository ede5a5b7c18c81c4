"""ONNX Runtime engine: parity with PyTorch on real MIAS images, the export cache, corrupt exports, bad input."""
from __future__ import annotations

import numpy as np
import pytest

from mammokit.errors import ConfigError, ModelError
from mammokit.features import extract_features, load_engine, onnx_model_path
from mammokit.features._onnx import OnnxEngine, cached_onnx_engine
from mammokit.preprocess import PreprocessConfig


def _tiny_module():
    """A small conv net: the export-cache logic does not depend on the model, and this exports in well under 1 s."""
    import torch
    from torch import nn

    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3, stride=2), nn.ReLU6(), nn.Conv2d(8, 16, 3, stride=2)).eval()

PARITY_TOL = 1e-4  # issue 7: ONNX Runtime and PyTorch features agree to 1e-4


@pytest.fixture(scope="module")
def mias_four(mias_dir):
    # normal, benign, malignant and a second normal: different breast shapes and densities
    return [mias_dir / "images" / f"mdb{n:03d}.png" for n in (1, 10, 28, 58)]


@pytest.mark.xdist_group("onnx-lite0-224")  # one worker: the in-process ONNX session is shared
@pytest.mark.parametrize(
    "backbone,size,n_images",
    [("efficientnet_lite0", 224, 4), ("efficientnet_lite2", 260, 1)],
)
def test_onnx_features_match_pytorch_on_real_mias(tmp_path, mias_four, backbone, size, n_images):
    cfg = PreprocessConfig(size=size)
    kw = {"backbone": backbone, "preprocess": cfg, "progress": False, "batch_size": n_images}
    images = mias_four[:n_images]
    ref = extract_features(images, runtime="torch", cache_dir=tmp_path / "t", **kw)
    fast = extract_features(images, runtime="onnx", cache_dir=tmp_path / "o", **kw)
    assert fast.stats["computed"] == n_images and fast.stats["runtime"] == "onnx"
    assert ref.X.shape == fast.X.shape == (n_images, 1280)
    assert float(np.abs(ref.X).max()) > 0.1  # real activations, not an all-zero map
    assert float(np.abs(ref.X - fast.X).max()) <= PARITY_TOL
    if backbone != "efficientnet_lite0":
        return
    # spatial maps too (Grad-CAM and the spatial option use them)
    batch = np.random.default_rng(0).standard_normal((2, 3, size, size)).astype(np.float32)
    maps_t = load_engine(backbone, None, size, "torch")(batch)
    maps_o = load_engine(backbone, None, size, "onnx", cache_dir=tmp_path / "o")(batch)
    assert maps_o.shape == maps_t.shape and float(np.abs(maps_o - maps_t).max()) <= 1e-3


def test_export_is_cached_beside_the_features_and_reused(tmp_path):
    module = _tiny_module()
    ident = "tiny:test-export:s128"
    calls = []

    def build():
        calls.append(1)
        return module

    eng = cached_onnx_engine(ident, 128, tmp_path, build, threads=1)
    path = onnx_model_path(tmp_path, ident, 128)
    assert path.parent == tmp_path / "onnx" and path.is_file() and path.with_suffix(".onnx.sha256").is_file()
    again = cached_onnx_engine(ident, 128, tmp_path, build, threads=1)
    assert len(calls) == 1  # second load served from the file, no export
    x = np.zeros((3, 3, 128, 128), np.float32)
    assert np.array_equal(eng(x), again(x))
    assert onnx_model_path(tmp_path, ident, 160) != path  # another input size, another export
    assert onnx_model_path(tmp_path, ident.replace("test", "other"), 128) != path  # other weights, other export


def test_a_session_reused_for_another_cache_folder_leaves_the_export_there_too(tmp_path):
    """One session per model and size per process serves every cache folder (features._engine); each folder
    still gets the export, so a fresh process using it (the torch-free serving path) loads it, not exports."""
    from mammokit.features._onnx import _valid_file, place_export

    ident = "tiny:test-place:s128"
    first = cached_onnx_engine(ident, 128, tmp_path / "a", _tiny_module, threads=1)
    src, dest = onnx_model_path(tmp_path / "a", ident, 128), onnx_model_path(tmp_path / "b", ident, 128)
    assert first.model_path == src and not dest.exists()
    assert place_export(first, ident, 128, tmp_path / "b")
    assert _valid_file(dest) and dest.read_bytes() == src.read_bytes()
    calls = []
    fresh = cached_onnx_engine(ident, 128, tmp_path / "b", lambda: calls.append(1) or _tiny_module(), threads=1)
    assert not calls  # loaded from the copy, nothing exported
    x = np.zeros((1, 3, 128, 128), np.float32)
    assert np.array_equal(fresh(x), first(x))
    assert not place_export(first, "tiny:random:s128", 128, tmp_path / "c")  # random weights: never on disk
    import shutil

    shutil.rmtree(tmp_path / "a")  # the first folder was a temporary one: nothing to copy any more
    assert not place_export(first, ident, 128, tmp_path / "d") and not (tmp_path / "c").exists()


@pytest.mark.parametrize("damage", ["garbage", "truncate", "bitflip", "no_checksum"])
def test_corrupt_cached_export_is_detected_and_redone(tmp_path, damage):
    module = _tiny_module()
    ident = "tiny:test-corrupt:s128"
    path = onnx_model_path(tmp_path, ident, 128)
    x = np.random.default_rng(1).standard_normal((1, 3, 128, 128)).astype(np.float32)
    good = cached_onnx_engine(ident, 128, tmp_path, lambda: module, threads=1)(x)
    blob = path.read_bytes()
    if damage == "garbage":
        path.write_text("this is not an onnx model")
    elif damage == "truncate":
        path.write_bytes(blob[: len(blob) // 2])
    elif damage == "bitflip":  # still parses as protobuf: only the checksum catches it
        i = len(blob) // 2
        path.write_bytes(blob[:i] + bytes([blob[i] ^ 0x40]) + blob[i + 1:])
    else:
        path.with_suffix(".onnx.sha256").unlink()
    calls = []
    eng = cached_onnx_engine(ident, 128, tmp_path, lambda: calls.append(1) or module, threads=1)
    assert calls == [1]  # exported again
    assert path.read_bytes() == blob  # the same deterministic export is back in place
    assert np.abs(eng(x) - good).max() <= 1e-5


@pytest.mark.xdist_group("onnx-lite0-224")
@pytest.mark.parametrize("runtime", ["torch", "torch-channels-last", "onnx", "tensorrt"])
def test_every_runtime_runs_or_fails_with_a_clear_error(tmp_path, runtime):
    batch = np.random.default_rng(2).standard_normal((2, 3, 224, 224)).astype(np.float32)
    if runtime == "tensorrt":
        with pytest.raises(ConfigError, match="unknown runtime 'tensorrt'; available: onnx, torch"):
            load_engine("efficientnet_lite0", None, 224, runtime, cache_dir=tmp_path)
        return
    ref = load_engine("efficientnet_lite0", None, 224, "torch")(batch)
    out = load_engine("efficientnet_lite0", None, 224, runtime, cache_dir=tmp_path)(batch)
    assert out.shape == (2, 1280, 7, 7) and float(np.abs(out - ref).max()) <= 1e-3


def test_unknown_runtime_is_rejected_even_when_everything_is_cached(tmp_path, mias_png):
    kw = {"backbone": "efficientnet_lite0", "preprocess": PreprocessConfig(size=64), "progress": False,
          "cache_dir": tmp_path}
    assert extract_features([mias_png(5)], **kw).stats["computed"] == 1
    with pytest.raises(ConfigError, match="unknown runtime 'onxx'"):
        extract_features([mias_png(5)], runtime="onxx", **kw)


@pytest.mark.parametrize("content", [b"", b"not onnx at all", b"\x08\x07garbage-protobuf"])
def test_onnx_engine_rejects_a_file_that_is_not_a_model(tmp_path, content):
    bad = tmp_path / "model.onnx"
    bad.write_bytes(content)
    with pytest.raises(ModelError, match=r"model\.onnx: not a loadable ONNX model"):
        OnnxEngine(bad)


@pytest.mark.parametrize("identity,on_disk", [("tiny:random:s64", False), ("tiny:abc123:s64", True)])
def test_random_weights_export_in_memory_only(tmp_path, identity, on_disk):
    # random weights differ per build (backbone identity "<name>:random..."), so their export is never cached
    eng = cached_onnx_engine(identity, 64, tmp_path, _tiny_module, threads=1)
    assert eng(np.zeros((1, 3, 64, 64), np.float32)).shape == (1, 16, 15, 15)
    assert (tmp_path / "onnx").exists() == on_disk
