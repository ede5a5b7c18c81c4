"""Batched, cached feature extraction: a pure function of (records, backbone, preprocessing) + the cache."""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import torch
from tqdm import tqdm

from ..constants import DEFAULT_CACHE_DIR
from ..datasets import Record
from ..errors import ConfigError
from ..io import Image, read_image
from ..preprocess import PreprocessConfig, preprocess
from ._backbones import Backbone, get_backbone
from ._cache import FeatureCache, cache_key, file_sha256
from ._engine import ENGINES, Engine, feature_maps


@dataclass
class FeatureSet:
    X: np.ndarray  # (n, d) pooled features, or (n, C, h, w) spatial maps, in input order
    ids: list[str]
    stats: dict = field(default_factory=dict)


@lru_cache(maxsize=8)
def load_backbone(name: str, weights: str | None, size: int) -> Backbone:
    """Backbones are slow to build; keep a few per process."""
    return get_backbone(name, weights=weights, image_size=size)


@lru_cache(maxsize=8)
def load_engine(name: str, weights: str | None, size: int, runtime: str) -> Engine:
    if runtime not in ENGINES:
        raise ConfigError(f"unknown runtime {runtime!r}; available: {', '.join(sorted(ENGINES))}")
    return ENGINES[runtime](load_backbone(name, weights, size), size)


def resolve_preprocess(backbone: str, preprocess_cfg: PreprocessConfig | dict | None, size: int | None = None,
                       mode: str | None = None) -> PreprocessConfig:
    """Fill unset preprocessing from the backbone's defaults (caffe for resnet50, imagenet otherwise)."""
    if isinstance(preprocess_cfg, PreprocessConfig):
        return preprocess_cfg
    d = dict(preprocess_cfg or {})
    if size is not None:
        d["size"] = size
    if mode is not None:
        d["mode"] = mode
    d.setdefault("mode", "caffe" if backbone == "resnet50" else "imagenet")
    return PreprocessConfig.from_dict(d)


def _as_item(r: Record | str | Path) -> tuple[str, Path]:
    if isinstance(r, Record):
        return r.id, Path(r.path)
    return Path(r).stem, Path(r)


def _load(path: Path, cfg: PreprocessConfig) -> np.ndarray:
    return preprocess(read_image(path), cfg).tensor


def extract_features(
    records: Sequence[Record | str | Path],
    *,
    backbone: str = "efficientnet_lite2",
    weights: str | None = None,
    preprocess: PreprocessConfig | dict | None = None,
    cache_dir: str | Path | None = None,
    batch_size: int = 16,
    threads: int | None = None,
    tta: bool = False,
    spatial: bool = False,
    runtime: str = "torch",
    progress: bool = True,
) -> FeatureSet:
    """Features for every record, in order. Hits come from the cache; misses are computed in batches."""
    if threads:
        torch.set_num_threads(int(threads))
    cfg = resolve_preprocess(backbone, preprocess)
    items = [_as_item(r) for r in records]
    bb = load_backbone(backbone, weights, cfg.size)
    cache = FeatureCache(Path(cache_dir or DEFAULT_CACHE_DIR) / "features")
    settings = {"pre": cfg.as_dict(), "backbone": bb.identity, "tta": bool(tta), "spatial": bool(spatial)}
    t0 = time.perf_counter()
    out: list[np.ndarray | None] = [None] * len(items)
    keys: list[str] = []
    for i, (_, path) in enumerate(items):
        try:
            digest = file_sha256(path)
        except OSError as exc:
            from ..errors import ImageReadError

            raise ImageReadError(path, f"cannot read file ({exc.strerror or exc})") from None
        keys.append(cache_key(digest, settings))
        out[i] = cache.get(keys[-1])
    misses = [i for i, v in enumerate(out) if v is None]
    hits = len(items) - len(misses)
    if misses:
        engine = load_engine(backbone, weights, cfg.size, runtime)
        bar = tqdm(total=len(items), initial=hits, desc=f"features {backbone}", unit="img", disable=not progress)
        # One helper thread decodes and preprocesses the next images while the backbone runs.
        with ThreadPoolExecutor(max_workers=1) as pool:
            tensors = pool.map(lambda i: _load(items[i][1], cfg), misses)
            for start in range(0, len(misses), batch_size):
                chunk = misses[start : start + batch_size]
                batch = np.stack([next(tensors) for _ in chunk])
                maps = feature_maps(engine, batch, tta)
                feats = maps.astype(np.float32) if spatial else maps.mean(axis=(2, 3)).astype(np.float32)
                for i, f in zip(chunk, feats):
                    cache.put(keys[i], f)
                    out[i] = f
                bar.update(len(chunk))
        bar.close()
    seconds = time.perf_counter() - t0
    X = np.stack(out) if out else np.zeros((0, bb.feature_dim), np.float32)
    stats = {
        "images": len(items), "seconds": round(seconds, 3),
        "images_per_s": round(len(items) / seconds, 2) if seconds > 0 else float("inf"),
        "cache_hits": hits, "computed": len(misses), "corrupt_recovered": cache.corrupt_recovered,
        "backbone": bb.identity, "runtime": runtime, "preprocess": cfg.as_dict(), "tta": bool(tta),
    }
    return FeatureSet(X=X, ids=[i for i, _ in items], stats=stats)


def embed_images(images: Iterable[Image], *, backbone: str, weights: str | None, preprocess: PreprocessConfig,
                 tta: bool = False, runtime: str = "torch", spatial: bool = False) -> np.ndarray:
    """Uncached features for in-memory images (the predict / web path)."""
    engine = load_engine(backbone, weights, preprocess.size, runtime)
    batch = np.stack([_preprocess_tensor(im, preprocess) for im in images])
    maps = feature_maps(engine, batch, tta)
    return maps.astype(np.float32) if spatial else maps.mean(axis=(2, 3)).astype(np.float32)


def _preprocess_tensor(image: Image, cfg: PreprocessConfig) -> np.ndarray:
    return preprocess(image, cfg).tensor
