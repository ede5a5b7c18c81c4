"""Spatial feature maps of the whole breast: one backbone pass per image and input size.

Each cell of a stride-32 map is a "patch" whose receptive field is centred on that cell, so a patch
classifier applied to every cell is a sliding-window detector at the cost of one forward pass.
Maps are cached per (image content, preprocessing, backbone identity) as float16, together with the
geometry (model pixels <-> original pixels) and the share of each cell inside the breast mask.
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ...constants import DEFAULT_CACHE_DIR
from ...datasets import Record
from ...errors import ConfigError, ImageReadError
from ...features import FeatureCache, cache_key, file_sha256, load_backbone, load_engine
from ...io import Image, read_image
from ...preprocess import Geometry, PreprocessConfig, breast_mask, preprocess, resize_pad

_CACHE_TAG = "lesion-cells-v1"
_META_HEAD = 11  # rows, cols, r0, r1, c0, c1, flipped, scale, pad_top, pad_left, size


@dataclass
class ScaleMap:
    """One input size: the cell features, the breast share of every cell and the geometry."""

    features: np.ndarray  # (C, h, w) float16
    mask: np.ndarray  # (h, w) float32 in [0, 1]: share of the cell inside the breast
    geometry: Geometry
    _cells: np.ndarray | None = field(default=None, repr=False, compare=False)

    def cells(self) -> np.ndarray:
        """(h*w, C) float32, one row per cell in row-major order; built on first use and kept, because
        the classifiers read the same cells many times per cross-validation."""
        if self._cells is None:
            c = self.features.shape[0]
            self._cells = np.ascontiguousarray(self.features.reshape(c, -1).T, dtype=np.float32)
        return self._cells

    @property
    def size(self) -> int:
        return int(self.geometry.size)

    @property
    def stride(self) -> float:
        return self.geometry.size / self.features.shape[-1]

    def cell_centres(self) -> tuple[np.ndarray, np.ndarray]:
        """(x, y) model-input pixel coordinates of every cell centre, each (h, w)."""
        h, w = self.features.shape[-2:]
        s = self.stride
        ys, xs = np.meshgrid((np.arange(h) + 0.5) * s, (np.arange(w) + 0.5) * s, indexing="ij")
        return xs, ys


@dataclass
class CellMaps:
    """All input sizes of one image, keyed by size."""

    id: str
    scales: dict[int, ScaleMap]

    @property
    def finest(self) -> ScaleMap:
        return self.scales[max(self.scales)]


def check_sizes(sizes: Sequence[int]) -> tuple[int, ...]:
    sizes = tuple(sorted({int(s) for s in sizes}))
    if not sizes:
        raise ConfigError("lesion.sizes: give at least one input size, e.g. [512, 768]")
    for s in sizes:
        if s % 32 or not 128 <= s <= 2048:
            raise ConfigError(f"lesion.sizes: {s} must be a multiple of 32 between 128 and 2048")
    return sizes


def _geometry_vector(g: Geometry) -> np.ndarray:
    return np.asarray([*g.original_shape, *g.box, float(g.flipped), g.scale, *g.pad, g.size], np.float64)


def _geometry_from(v: np.ndarray) -> Geometry:
    return Geometry(original_shape=(int(v[0]), int(v[1])), box=tuple(int(x) for x in v[2:6]), flipped=bool(v[6]),
                    scale=float(v[7]), pad=(int(v[8]), int(v[9])), size=int(v[10]))


def cell_mask(full_mask: np.ndarray, geometry: Geometry, grid: tuple[int, int]) -> np.ndarray:
    """Share of each cell of a (h, w) grid over the model input that lies inside the breast."""
    r0, r1, c0, c1 = geometry.box
    m = full_mask[r0:r1, c0:c1].astype(np.float32)
    if geometry.flipped:
        m = m[:, ::-1]
    square, _, _ = resize_pad(m, geometry.size)
    h, w = grid
    sh, sw = geometry.size // h, geometry.size // w
    return square[: h * sh, : w * sw].reshape(h, sh, w, sw).mean(axis=(1, 3)).astype(np.float32)


def maps_for_image(image: Image, *, backbone: str, weights: str | None, sizes: Sequence[int],
                   mode: str = "imagenet", runtime: str = "torch") -> tuple[dict[int, ScaleMap], dict[int, np.ndarray]]:
    """Uncached maps of one in-memory image; also returns each size's grey view (uint8)."""
    mask = breast_mask(image.pixels)
    scales, views = {}, {}
    for size in check_sizes(sizes):
        pre = preprocess(image, PreprocessConfig(size=size, mode=mode, crop=True, orient=True))
        engine = load_engine(backbone, weights, size, runtime)
        fmap = engine(pre.tensor[None])[0]
        scales[size] = ScaleMap(fmap.astype(np.float16), cell_mask(mask, pre.geometry, fmap.shape[-2:]), pre.geometry)
        views[size] = pre.view
    return scales, views


def _item(r: Record | str | Path) -> tuple[str, Path]:
    return (r.id, Path(r.path)) if isinstance(r, Record) else (Path(r).stem, Path(r))


def compute_cell_maps(records: Sequence[Record | str | Path], *, backbone: str = "efficientnet_lite0",
                      weights: str | None = None, sizes: Sequence[int] = (512, 768), mode: str = "imagenet",
                      cache_dir: str | Path | None = None, threads: int | None = None,
                      progress: bool = True) -> tuple[list[CellMaps], dict]:
    """Cell maps for every record (cache hits first, misses computed), plus timing stats."""
    if threads:
        torch.set_num_threads(int(threads))
    sizes = check_sizes(sizes)
    cache = FeatureCache(Path(cache_dir or DEFAULT_CACHE_DIR) / "features")
    identities = {s: load_backbone(backbone, weights, s).identity for s in sizes}
    t0 = time.perf_counter()
    out: list[CellMaps] = []
    hits = computed = 0
    bar = tqdm(total=len(records), desc=f"lesion maps {backbone} {list(sizes)}", unit="img", disable=not progress)
    for rec in records:
        rid, path = _item(rec)
        try:
            digest = file_sha256(path)
        except OSError as exc:
            raise ImageReadError(path, f"cannot read file ({exc.strerror or exc})") from None
        scales: dict[int, ScaleMap] = {}
        keys = {}
        for s in sizes:
            settings = {"tag": _CACHE_TAG, "pre": PreprocessConfig(size=s, mode=mode).as_dict(),
                        "backbone": identities[s]}
            kf, km = cache_key(digest, {**settings, "part": "features"}), cache_key(digest, {**settings, "part": "meta"})
            keys[s] = (kf, km)
            f, m = cache.get(kf), cache.get(km)
            if f is not None and m is not None:
                h, w = f.shape[-2:]
                scales[s] = ScaleMap(f, m[_META_HEAD:].reshape(h, w).astype(np.float32), _geometry_from(m[:_META_HEAD]))
        missing = [s for s in sizes if s not in scales]
        if missing:
            fresh, _ = maps_for_image(read_image(path), backbone=backbone, weights=weights, sizes=missing, mode=mode)
            for s, sm in fresh.items():
                cache.put(keys[s][0], sm.features)
                cache.put(keys[s][1], np.concatenate([_geometry_vector(sm.geometry), sm.mask.ravel().astype(np.float64)]))
                scales[s] = sm
            computed += 1
        else:
            hits += 1
        out.append(CellMaps(rid, {s: scales[s] for s in sizes}))
        bar.update(1)
    bar.close()
    seconds = time.perf_counter() - t0
    stats = {"images": len(records), "seconds": round(seconds, 2), "cache_hits": hits, "computed": computed,
             "backbone": backbone, "identities": identities, "sizes": list(sizes)}
    return out, stats
