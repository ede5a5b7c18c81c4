"""Batched, cached feature extraction: a pure function of (records, backbone, preprocessing) + the cache."""
from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..constants import DEFAULT_CACHE_DIR
from ..datasets import Record
from ..io import read_image
from ..preprocess import PreprocessConfig, preprocess
from ._cache import FeatureCache, cache_key, file_sha256
from ._defaults import DEFAULT_BATCH_SIZE, DEFAULT_DECODE_THREAD, DEFAULT_RUNTIME, DEFAULT_THREADS
from ._engine import check_runtime, feature_maps, load_backbone, load_engine
from ._identity import backbone_identity
from ._prefetch import prefetched
from ._ray import check_engine


@dataclass
class FeatureSet:
    X: np.ndarray  # (n, d) pooled features, or (n, C, h, w) spatial maps, in input order
    ids: list[str]
    stats: dict = field(default_factory=dict)


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
    batch_size: int = DEFAULT_BATCH_SIZE,
    threads: int | None = DEFAULT_THREADS,
    tta: bool = False,
    spatial: bool = False,
    runtime: str = DEFAULT_RUNTIME,
    progress: bool = True,
    decode_thread: bool = DEFAULT_DECODE_THREAD,
    engine: str = "local",
    address: str | None = None,
    actors: int | None = None,
) -> FeatureSet:
    """Features for every record, in order. Hits come from the cache; misses are computed in batches.

    The backbone is built only when something must be computed: cache keys use its identity string,
    which comes from the weights file (features/_identity.py), so a cached re-run never loads the model.
    Torch- and ONNX-computed features share cache entries (they agree to 1e-4, tests/test_features_onnx.py).
    ``engine="ray"`` computes the misses on a Ray cluster (``address``; default a local Ray) with ``actors``
    actors (default one per CPU, ``threads`` each, default 1); keys, cache entries and values are the same.
    """
    check_runtime(runtime)  # also when every feature is cached and no engine is built
    check_engine(engine)
    cfg = resolve_preprocess(backbone, preprocess)
    items = [_as_item(r) for r in records]
    identity = backbone_identity(backbone, weights, cfg.size)
    cache_root = Path(cache_dir or DEFAULT_CACHE_DIR)
    cache = FeatureCache(cache_root / "features")
    settings = {"pre": cfg.as_dict(), "backbone": identity, "tta": bool(tta), "spatial": bool(spatial)}
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
    nodes: dict[str, int] = {}
    busy = 0.0
    if misses and engine == "ray":
        from ._ray import RayJob, raise_first_error, ray_features

        job = RayJob(backbone, weights, cfg.as_dict(), bool(tta), bool(spatial), runtime, str(cache_root),
                     int(threads) if threads else 1)
        bar = tqdm(total=len(items), initial=hits, desc=f"features {backbone} (ray)", unit="img", disable=not progress)
        results = []
        for r in ray_features([(i, items[i][1]) for i in misses], job, address=address, actors=actors,
                              batch_size=batch_size):
            results.append(r)
            bar.update(1)
        busy = sum(r.seconds for r in results)  # actor-seconds spent reading, preprocessing and embedding
        bar.close()
        raise_first_error(results)
        for r in results:
            cache.put(keys[r.i], r.feature)
            out[r.i] = r.feature
            nodes[r.node] = nodes.get(r.node, 0) + 1
    elif misses:
        runner = load_engine(backbone, weights, cfg.size, runtime, cache_dir=cache_root, threads=threads)
        if threads and runtime.startswith("torch"):
            import torch

            torch.set_num_threads(int(threads))  # global, as before; ONNX sessions carry their own count
        batch_size = max(1, int(batch_size))
        bar = tqdm(total=len(items), initial=hits, desc=f"features {backbone}", unit="img", disable=not progress)
        # One helper thread decodes and preprocesses the next images while the backbone runs
        # (or none: decode_thread=False, measured side by side in benchmarks/pipeline.py).
        tensors = prefetched(lambda i: _load(items[i][1], cfg), misses, ahead=2 * batch_size, thread=decode_thread)
        for start in range(0, len(misses), batch_size):
            chunk = misses[start : start + batch_size]
            batch = np.stack([next(tensors) for _ in chunk])
            maps = feature_maps(runner, batch, tta)
            feats = maps.astype(np.float32) if spatial else maps.mean(axis=(2, 3)).astype(np.float32)
            for i, f in zip(chunk, feats):
                cache.put(keys[i], f)
                out[i] = f
            bar.update(len(chunk))
        tensors.close()
        bar.close()
    seconds = time.perf_counter() - t0
    X = np.stack(out) if out else np.zeros((0, load_backbone(backbone, weights, cfg.size).feature_dim), np.float32)
    stats = {
        "images": len(items), "seconds": round(seconds, 3),
        "images_per_s": round(len(items) / seconds, 2) if seconds > 0 else float("inf"),
        "cache_hits": hits, "computed": len(misses), "corrupt_recovered": cache.corrupt_recovered,
        "engine": engine, "nodes": nodes, **({"ray_actor_seconds": round(busy, 3)} if nodes else {}), "backbone": identity, "runtime": runtime, "batch_size": batch_size, "threads": threads, "preprocess": cfg.as_dict(), "tta": bool(tta),
    }
    return FeatureSet(X=X, ids=[i for i, _ in items], stats=stats)
