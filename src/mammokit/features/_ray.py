"""The Ray engine: the same read -> preprocess -> backbone work as the in-process engine, spread over a Ray
cluster with Ray Data (``map_batches`` over an actor pool; each actor holds one ONNX Runtime session).

The driver keeps everything that must be the same as the local engine: it computes the cache keys, serves
hits from the cache and writes the computed features into it, so the two engines share cache entries. Workers
only read images (by path: the images must be where every node can read them, e.g. a shared filesystem) and
return pooled features (or spatial maps) with the breast-mask share and the node that computed them.
Ray is an optional extra (``pip install 'mammokit[ray]'``); see docs/scaling.md.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ConfigError, ImageReadError, MammokitError

ENGINE_NAMES = ("local", "ray")


def check_engine(engine: str) -> str:
    if engine not in ENGINE_NAMES:
        raise ConfigError(f"engine {engine!r} is not one of {', '.join(ENGINE_NAMES)}")
    return engine


@dataclass(frozen=True)
class RayJob:
    """What every actor needs to rebuild the engine and the preprocessing on its own node."""

    backbone: str
    weights: str | None
    preprocess: dict
    tta: bool
    spatial: bool
    runtime: str
    cache_dir: str  # where the ONNX export is (exported once by the driver before the actors start)
    threads: int | None  # model threads per actor (default 1: one actor per CPU)


class FeatureActor:
    """One per Ray worker: builds its engine once, then maps batches of {"i", "path"} to features."""

    def __init__(self, job: RayJob):
        from ..preprocess import PreprocessConfig
        from ._engine import load_engine

        self.job = job
        self.cfg = PreprocessConfig.from_dict(job.preprocess)
        self.engine = load_engine(job.backbone, job.weights, self.cfg.size, job.runtime, cache_dir=job.cache_dir,
                                  threads=job.threads)
        import ray

        self.node = ray.get_runtime_context().get_node_id()

    def _load(self, path: str):
        from ..io import read_image
        from ..preprocess import preprocess

        try:
            pre = preprocess(read_image(path), self.cfg)
        except MammokitError as exc:
            return None, str(exc)
        except Exception as exc:  # noqa: BLE001 - one odd image must not end a cluster run
            return None, f"{path}: cannot preprocess ({type(exc).__name__}: {exc})".splitlines()[0]
        return pre, ""

    def __call__(self, batch: dict) -> dict:
        import time

        from ._engine import feature_maps

        t0 = time.perf_counter()
        loaded = [self._load(str(p)) for p in batch["path"]]
        ok = [k for k, (pre, _) in enumerate(loaded) if pre is not None]
        feats: list = [None] * len(loaded)
        if ok:
            x = np.stack([loaded[k][0].tensor for k in ok])
            maps = feature_maps(self.engine, x, self.job.tta)
            f = maps.astype(np.float32) if self.job.spatial else maps.mean(axis=(2, 3)).astype(np.float32)
            for k, row in zip(ok, f):
                feats[k] = row
        dim = next((f.shape for f in feats if f is not None), (0,))
        empty = np.zeros(dim, np.float32)
        return {
            "i": np.asarray(batch["i"]),
            "feature": np.stack([f if f is not None else empty for f in feats]),
            "mask_fraction": np.asarray([pre.mask_fraction if pre is not None else np.nan for pre, _ in loaded]),
            "error": np.asarray([err for _, err in loaded], dtype=object),
            "node": np.asarray([self.node] * len(loaded), dtype=object),
            # the actor's busy time, shared over the batch's images: the per-core rate without Ray around it
            "seconds": np.full(len(loaded), (time.perf_counter() - t0) / max(1, len(loaded))),
        }


def init_ray(address: str | None):
    """Join the cluster at ``address`` ("auto" = the one `ray start` runs here), or start a local Ray."""
    try:
        import ray
    except ImportError:
        raise ConfigError("--engine ray needs Ray: pip install 'mammokit[ray]' (see docs/scaling.md)") from None
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, log_to_driver=False, configure_logging=False)
    return ray


@dataclass
class RayResult:
    i: int
    feature: np.ndarray | None
    mask_fraction: float
    error: str
    node: str
    seconds: float  # this image's share of its actor's busy time


def ray_features(paths: Sequence[tuple[int, str | Path]], job: RayJob, *, address: str | None = None,
                 actors: int | None = None, batch_size: int = 8) -> Iterator[RayResult]:
    """Features for ``(index, path)`` pairs, as the actors finish them (any order).

    ``actors``: the actor pool size (default: one per CPU of the cluster, each with ``job.threads`` threads)."""
    ray = init_ray(address)
    from ._engine import load_engine

    # Export the ONNX model once here, so actors on this machine (or a shared cache folder) only load it.
    load_engine(job.backbone, job.weights, int(job.preprocess["size"]), job.runtime, cache_dir=job.cache_dir,
                threads=job.threads)
    n_actors = int(actors or max(1, int(ray.cluster_resources().get("CPU", 1))))
    n_actors = max(1, min(n_actors, len(paths)))
    ctx = ray.data.DataContext.get_current()
    ctx.wait_for_min_actors_s = 600  # every actor has its session before work is handed out: spread evenly
    ctx.enable_progress_bars = False  # the caller draws its own bar
    ds = ray.data.from_items([{"i": int(i), "path": str(p)} for i, p in paths],
                             override_num_blocks=max(1, min(len(paths), 4 * n_actors)))
    out = ds.map_batches(FeatureActor, fn_constructor_kwargs={"job": job}, batch_size=max(1, int(batch_size)),
                         compute=ray.data.ActorPoolStrategy(size=n_actors, max_tasks_in_flight_per_actor=2),
                         num_cpus=1, batch_format="numpy")
    for b in out.iter_batches(batch_size=None, batch_format="numpy"):
        for k in range(len(b["i"])):
            err = str(b["error"][k])
            yield RayResult(int(b["i"][k]), None if err else np.asarray(b["feature"][k], np.float32),
                            float(b["mask_fraction"][k]), err, str(b["node"][k]), float(b["seconds"][k]))


def raise_first_error(results: list[RayResult]) -> None:
    """The local engine stops at an unreadable image; so does `mammokit features` on Ray (same message)."""
    bad = next((r for r in results if r.error), None)
    if bad is not None:
        path, _, problem = bad.error.partition(": ")
        raise ImageReadError(path, problem or bad.error)
