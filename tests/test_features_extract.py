"""Cached, batched feature extraction on real MIAS images."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

from mammokit.errors import ImageReadError
from mammokit.features import extract_features
from mammokit.preprocess import PreprocessConfig

# Small and fast: lite0 at 128 px.
CFG = PreprocessConfig(size=128)
KW = dict(backbone="efficientnet_lite0", preprocess=CFG, progress=False)


@pytest.fixture
def three_images(tmp_path, mias_png):
    paths = []
    for n in (1, 2, 28):
        dst = tmp_path / "imgs" / f"mdb{n:03d}.png"
        dst.parent.mkdir(exist_ok=True)
        shutil.copy(mias_png(n), dst)
        paths.append(dst)
    return paths


def test_second_run_is_served_from_cache_identically(tmp_path, three_images):
    first = extract_features(three_images, cache_dir=tmp_path / "c", **KW)
    second = extract_features(three_images, cache_dir=tmp_path / "c", **KW)
    assert first.stats["cache_hits"] == 0 and first.stats["computed"] == 3
    assert second.stats["cache_hits"] == 3 and second.stats["computed"] == 0
    assert first.X.shape == (3, 1280) and first.X.dtype == np.float32
    np.testing.assert_array_equal(first.X, second.X)
    assert second.ids == ["mdb001", "mdb002", "mdb028"]


def _entries(cache_dir):
    return sorted((cache_dir / "features").rglob("*.npy"))


@pytest.mark.parametrize("damage", ["flip-byte", "truncate", "empty"])
def test_corrupt_cache_entry_is_detected_and_recomputed(tmp_path, three_images, damage):
    cache = tmp_path / "c"
    ref = extract_features(three_images, cache_dir=cache, **KW)
    entry = _entries(cache)[0]
    blob = bytearray(entry.read_bytes())
    if damage == "flip-byte":
        blob[-5] ^= 0xFF
        entry.write_bytes(bytes(blob))
    elif damage == "truncate":
        entry.write_bytes(bytes(blob[: len(blob) // 2]))
    else:
        entry.write_bytes(b"")
    again = extract_features(three_images, cache_dir=cache, **KW)
    assert again.stats["corrupt_recovered"] == 1 and again.stats["computed"] == 1
    np.testing.assert_allclose(again.X, ref.X, rtol=1e-4, atol=1e-4)  # batch of 1 vs 3: float reordering only
    assert extract_features(three_images, cache_dir=cache, **KW).stats["cache_hits"] == 3


def test_leftover_temp_file_from_a_killed_run_is_never_read(tmp_path, three_images):
    cache = tmp_path / "c"
    extract_features(three_images[:1], cache_dir=cache, **KW)
    entry = _entries(cache)[0]
    # A killed writer leaves only a temp file; the real entry name never exists half-written.
    entry.rename(entry.with_name(".tmp-killed.npy"))
    out = extract_features(three_images[:1], cache_dir=cache, **KW)
    assert out.stats["computed"] == 1 and out.stats["corrupt_recovered"] == 0


def test_cache_key_follows_content_and_settings(tmp_path, three_images):
    cache = tmp_path / "c"
    extract_features(three_images[:1], cache_dir=cache, **KW)
    other_size = extract_features(three_images[:1], cache_dir=cache, backbone="efficientnet_lite0",
                                  preprocess=PreprocessConfig(size=96), progress=False)
    assert other_size.stats["computed"] == 1
    other_mode = extract_features(three_images[:1], cache_dir=cache, backbone="efficientnet_lite0",
                                  preprocess=PreprocessConfig(size=128, mode="caffe"), progress=False)
    assert other_mode.stats["computed"] == 1
    # Same bytes under another name: a hit (content-addressed). Changed bytes: a miss.
    twin = tmp_path / "twin.png"
    shutil.copy(three_images[0], twin)
    assert extract_features([twin], cache_dir=cache, **KW).stats["cache_hits"] == 1
    from PIL import Image as PILImage

    arr = np.asarray(PILImage.open(three_images[0])).copy()
    arr[500, 500] ^= 1
    PILImage.fromarray(arr).save(twin)
    assert extract_features([twin], cache_dir=cache, **KW).stats["computed"] == 1


def test_batch_size_does_not_change_features(tmp_path, three_images):
    a = extract_features(three_images, cache_dir=tmp_path / "a", batch_size=1, **KW)
    b = extract_features(three_images, cache_dir=tmp_path / "b", batch_size=3, **KW)
    np.testing.assert_allclose(a.X, b.X, atol=1e-4)


def test_tta_and_spatial_outputs(tmp_path, three_images):
    plain = extract_features(three_images[:2], cache_dir=tmp_path / "c", **KW)
    tta = extract_features(three_images[:2], cache_dir=tmp_path / "c", tta=True, **KW)
    assert tta.stats["computed"] == 2  # a different cache entry
    assert not np.allclose(plain.X, tta.X)
    spatial = extract_features(three_images[:2], cache_dir=tmp_path / "c", spatial=True, **KW)
    assert spatial.X.shape == (2, 1280, 4, 4)
    np.testing.assert_allclose(spatial.X.mean(axis=(2, 3)), plain.X, atol=1e-5)


@pytest.mark.parametrize("bad", ["missing", "text"])
def test_bad_image_names_the_file(tmp_path, three_images, bad):
    path = tmp_path / "broken.png"
    if bad == "text":
        path.write_text("hello")
    with pytest.raises(ImageReadError, match="broken.png"):
        extract_features([three_images[0], path], cache_dir=tmp_path / "c", **KW)


def test_features_command_prints_throughput_and_cache_hits(tmp_path, mias_dir, capsys):
    from mammokit.cli import main

    manifest = tmp_path / "m.csv"
    manifest.write_text("path,label,patient_id\n" + "".join(
        f"{mias_dir}/images/mdb{n:03d}.png,{lab},p{n}\n" for n, lab in [(1, "normal"), (28, "malignant")]))
    args = ["features", "--dataset", "manifest", "--data", str(manifest), "--backbone", "efficientnet_lite0",
            "--size", "96", "--cache", str(tmp_path / "c")]
    for expected_hits in (0, 2):
        with pytest.raises(SystemExit) as exc:
            main(args)
        assert exc.value.code == 0
        out = capsys.readouterr().out
        assert "images=2" in out and f"cache_hits={expected_hits}" in out and "images_per_s=" in out
