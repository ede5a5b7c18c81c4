"""Spatial feature maps of the whole breast (the lesion model's input), from the same engines and cache as
the pooled features.

One backbone pass per image and input size. Each cell of a stride-32 map is a "patch" whose receptive field
is centred on that cell, so a patch classifier applied to every cell is a sliding-window detector at the cost
of one forward pass. Maps run on ONNX Runtime by default (``features._engine.load_engine``; PyTorch eager
gives the same values to 1e-4, tests/test_features_maps.py) and are cached in the content-hash feature cache
(``features._cache``) as float16, together with the geometry (model pixels <-> original pixels) and the share
of each cell inside the breast mask. Torch- and ONNX-computed maps share cache entries, as pooled features do.

In memory, ``compute_cell_maps`` holds the float16 maps widened to float32 (up to ``FLOAT32_BUDGET`` bytes),
in the same pass that makes them cell-major: the lesion CV scores every cell of every training image many times
per fold, and widening the same float16 map again for every score was most of its time. float16 -> float32 is
exact, so every score is the same number either way; maps beyond the budget stay float16 and are widened per use.
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import InitVar, dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..constants import DEFAULT_CACHE_DIR
from ..datasets import Record
from ..errors import ConfigError, ImageReadError
from ..io import Image, read_image
from ..preprocess import Geometry, PreprocessConfig, breast_mask, preprocess, resize_pad
from ._cache import FeatureCache, cache_key, file_sha256
from ._defaults import DEFAULT_RUNTIME
from ._engine import check_runtime, load_engine
from ._identity import backbone_identity
from ._prefetch import prefetched

MAPS_CACHE_TAG = "lesion-cells-v1"
_META_HEAD = 11  # rows, cols, r0, r1, c0, c1, flipped, scale, pad_top, pad_left, size
# Intensity normalisation before preprocessing. "breast_percentiles" maps the 1st..99th percentile of the
# pixels inside the breast mask to [0, 1], so film exposure and scanner gain do not move the features.
INTENSITY_MODES = ("none", "breast_percentiles")
_PERCENTILES = (1.0, 99.0)
# Bytes of float32 maps ``compute_cell_maps`` holds (the rest stay float16). MIAS at 1024 px (make demo) needs
# 1.7 GB; at 1024 + 1280 + 1536 px (configs/mias-lesion.yaml) 8.1 GB, so about half of those maps are widened
# (4.3 GB float32 + ~2 GB float16 held, against 4.1 GB all float16).
FLOAT32_BUDGET = 4 << 30


def _cell_major(features: np.ndarray, dtype=None) -> np.ndarray:
    """(C, h, w) -> contiguous (h*w, C) in ``dtype`` (default: the same), in one pass; no copy when the input is
    already the transposed view of such an array."""
    c, h, w = features.shape
    src = np.asarray(features).reshape(c, h * w).T
    dtype = np.dtype(dtype or src.dtype)
    if src.dtype == dtype and src.flags.c_contiguous:
        return src
    out = np.empty((h * w, c), dtype)
    np.copyto(out, src)  # float16 -> float32 is exact
    return out


@dataclass
class ScaleMap:
    """One input size: the cell features, the breast share of every cell and the geometry.

    The features are held once, cell-major ((h*w, C), contiguous), so that sampling cells for
    training is a fast row gather; ``features`` is the (C, h, w) view of the same memory.
    """

    features: np.ndarray  # (C, h, w) float16 as cached, float32 when held widened or as exact engine output
    mask: np.ndarray  # (h, w) float32 in [0, 1]: share of the cell inside the breast
    geometry: Geometry
    _rows: np.ndarray | None = field(default=None, repr=False, compare=False)
    hold_as: InitVar[object] = None  # e.g. np.float32: hold the features in this dtype (default: as given)

    def __post_init__(self, hold_as):
        c, h, w = self.features.shape
        self._rows = _cell_major(self.features, hold_as)
        self.features = self._rows.T.reshape(c, h, w)  # a view: no second copy

    def rows32(self) -> np.ndarray:
        """(h*w, C) float32 cell-major features; the held array itself (do not write to it) when float32."""
        return self._rows if self._rows.dtype == np.float32 else self._rows.astype(np.float32)

    def cells(self, rows: np.ndarray | None = None) -> np.ndarray:
        """(n, C) float32, one row per cell in row-major order (all cells, or the flat indices ``rows``); a copy."""
        if rows is None:
            return self._rows.astype(np.float32)  # astype copies, also from float32
        return self._rows[np.asarray(rows)].astype(np.float32, copy=False)  # the gather is already a copy

    def scores(self, W: np.ndarray) -> np.ndarray:
        """(h*w, k) = cells @ W for a (C, k) weight matrix, in float32."""
        return self.rows32() @ np.asarray(W, np.float32)

    @property
    def grid(self) -> tuple[int, int]:
        return tuple(self.features.shape[-2:])

    @property
    def size(self) -> int:
        return int(self.geometry.size)

    @property
    def stride(self) -> float:
        return self.geometry.size / self.features.shape[-1]

    def cell_centres(self) -> tuple[np.ndarray, np.ndarray]:
        """(x, y) model-input pixel coordinates of every cell centre, each (h, w)."""
        h, w = self.grid
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


def check_intensity(mode: str) -> str:
    if mode not in INTENSITY_MODES:
        raise ConfigError(f"lesion.intensity: {mode!r} is not one of {', '.join(INTENSITY_MODES)}")
    return mode


def normalise_intensity(pixels: np.ndarray, mode: str) -> np.ndarray:
    """Per-image intensity normalisation ("none" returns ``pixels`` unchanged)."""
    if check_intensity(mode) == "none":
        return pixels
    tissue = pixels[breast_mask(pixels)]
    if tissue.size < 16:
        return pixels
    lo, hi = np.percentile(tissue, _PERCENTILES)
    if hi - lo < 1e-6:
        return pixels
    return np.clip((pixels - lo) / (hi - lo), 0.0, 1.0).astype(np.float32)


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


@dataclass
class _Prepared:
    """One image made ready for the backbone at every size (the decode thread's output)."""

    tensors: dict[int, np.ndarray]
    views: dict[int, np.ndarray]
    geometries: dict[int, Geometry]
    mask: np.ndarray  # full-resolution breast mask of the (normalised) image


def _prepare(image: Image, sizes: Sequence[int], mode: str, intensity: str) -> _Prepared:
    pixels = normalise_intensity(image.pixels, intensity)
    if pixels is not image.pixels:
        image = Image(pixels, image.meta)
    out = _Prepared({}, {}, {}, breast_mask(pixels))
    for size in sizes:
        pre = preprocess(image, PreprocessConfig(size=size, mode=mode, crop=True, orient=True))
        out.tensors[size], out.views[size], out.geometries[size] = pre.tensor, pre.view, pre.geometry
    return out


def _outputs(prep: _Prepared, engines: dict, dtype):
    """(size, (C, h, w) contiguous map in ``dtype``, cell breast share, geometry) for every size."""
    for size, tensor in prep.tensors.items():
        fmap = engines[size](tensor[None])[0].astype(dtype, copy=False)
        yield size, fmap, cell_mask(prep.mask, prep.geometries[size], fmap.shape[-2:]), prep.geometries[size]


def _run(prep: _Prepared, engines: dict, dtype) -> dict[int, ScaleMap]:
    return {size: ScaleMap(f, m, g) for size, f, m, g in _outputs(prep, engines, dtype)}


def _engines(backbone, weights, sizes, runtime, cache_dir, threads) -> dict:
    return {s: load_engine(backbone, weights, s, runtime, cache_dir=cache_dir, threads=threads) for s in sizes}


def maps_for_image(image: Image, *, backbone: str, weights: str | None, sizes: Sequence[int],
                   mode: str = "imagenet", runtime: str = DEFAULT_RUNTIME, intensity: str = "none",
                   cache_dir: str | Path | None = None, threads: int | None = None,
                   dtype=np.float16) -> tuple[dict[int, ScaleMap], dict[int, np.ndarray]]:
    """Uncached maps of one in-memory image (the predict path); also returns each size's grey view (uint8).
    ``cache_dir`` only holds the ONNX exports. ``dtype=np.float32`` keeps the engine's exact output."""
    sizes = check_sizes(sizes)
    check_runtime(runtime)
    prep = _prepare(image, sizes, mode, check_intensity(intensity))
    scales = _run(prep, _engines(backbone, weights, sizes, runtime, cache_dir, threads), dtype)
    return scales, prep.views


def _item(r: Record | str | Path) -> tuple[str, Path]:
    return (r.id, Path(r.path)) if isinstance(r, Record) else (Path(r).stem, Path(r))


def maps_settings(size: int, mode: str, identity: str, intensity: str) -> dict:
    """What a cached map depends on besides the image bytes (the key of an intensity "none" map is the one
    every earlier version wrote, so existing caches stay valid)."""
    d = {"tag": MAPS_CACHE_TAG, "pre": PreprocessConfig(size=size, mode=mode).as_dict(), "backbone": identity}
    if intensity != "none":
        d["intensity"] = intensity
    return d


def compute_cell_maps(records: Sequence[Record | str | Path], *, backbone: str = "efficientnet_lite0",
                      weights: str | None = None, sizes: Sequence[int] = (512, 768), mode: str = "imagenet",
                      cache_dir: str | Path | None = None, threads: int | None = None,
                      runtime: str = DEFAULT_RUNTIME, intensity: str = "none", decode_thread: bool = True,
                      progress: bool = True, float32_budget: int = FLOAT32_BUDGET) -> tuple[list[CellMaps], dict]:
    """Cell maps for every record, in order: cache hits first, then the misses computed (one helper thread
    decodes and preprocesses the next image while the engine runs), plus timing stats.

    The backbone is built only when something must be computed: keys use the identity from the weights file.
    Maps are held as float32 (exactly the cached float16 values) while they fit in ``float32_budget`` bytes
    (0: none), cache hits first in record order, then computed maps.
    """
    sizes = check_sizes(sizes)
    check_runtime(runtime)
    check_intensity(intensity)
    cache_root = Path(cache_dir or DEFAULT_CACHE_DIR)
    cache = FeatureCache(cache_root / "features")
    identities = {s: backbone_identity(backbone, weights, s) for s in sizes}
    t0 = time.perf_counter()
    room = [int(float32_budget)]

    def held(f: np.ndarray, mask: np.ndarray, geometry: Geometry) -> ScaleMap:
        cost = f.size * 4  # bytes as float32
        wide = cost <= room[0]
        room[0] -= cost if wide else 0
        return ScaleMap(f, mask, geometry, hold_as=np.float32 if wide else None)

    items = [_item(r) for r in records]
    found: list[dict[int, ScaleMap]] = []
    keys: list[dict[int, tuple[str, str]]] = []
    for _, path in items:
        try:
            digest = file_sha256(path)
        except OSError as exc:
            raise ImageReadError(path, f"cannot read file ({exc.strerror or exc})") from None
        scales, k = {}, {}
        for s in sizes:
            settings = maps_settings(s, mode, identities[s], intensity)
            kf, km = cache_key(digest, {**settings, "part": "features"}), cache_key(digest, {**settings, "part": "meta"})
            k[s] = (kf, km)
            f, m = cache.get(kf), cache.get(km)
            if f is not None and m is not None:
                h, w = f.shape[-2:]
                scales[s] = held(f, m[_META_HEAD:].reshape(h, w).astype(np.float32), _geometry_from(m[:_META_HEAD]))
        found.append(scales)
        keys.append(k)
    misses = [i for i, sc in enumerate(found) if len(sc) < len(sizes)]
    if misses:
        bar = tqdm(total=len(items), initial=len(items) - len(misses), desc=f"lesion maps {backbone} {list(sizes)}",
                   unit="img", disable=not progress)
        engines = _engines(backbone, weights, sizes, runtime, cache_root, threads)

        def load(i):
            want = [s for s in sizes if s not in found[i]]
            return _prepare(read_image(items[i][1]), want, mode, intensity)

        # One image ahead only: an image's tensors at three sizes up to 1536 px are ~60 MB.
        for i, prep in zip(misses, prefetched(load, misses, ahead=1, thread=decode_thread)):
            for s, f, mask, geometry in _outputs(prep, engines, np.float16):
                cache.put(keys[i][s][0], f)  # (C, h, w) contiguous: stored without a transposing copy
                cache.put(keys[i][s][1], np.concatenate([_geometry_vector(geometry), mask.ravel().astype(np.float64)]))
                found[i][s] = held(f, mask, geometry)
            bar.update(1)
        bar.close()
    seconds = time.perf_counter() - t0
    out = [CellMaps(rid, {s: found[i][s] for s in sizes}) for i, (rid, _) in enumerate(items)]
    stats = {"images": len(items), "seconds": round(seconds, 2), "cache_hits": len(items) - len(misses),
             "computed": len(misses), "corrupt_recovered": cache.corrupt_recovered, "runtime": runtime,
             "threads": threads, "intensity": intensity, "backbone": backbone, "identities": identities,
             "sizes": list(sizes)}
    return out, stats
