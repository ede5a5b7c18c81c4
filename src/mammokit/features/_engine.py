"""Engines run a backbone on a preprocessed batch: PyTorch eager (the reference), channels_last, ONNX Runtime.

An engine is built from an ``EngineSpec`` (what to run, where exports are cached, how many threads).
The spec builds the PyTorch backbone only when an engine needs it, so ONNX Runtime with a cached export
never imports torch. torch is imported lazily for the same reason.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from ..constants import DEFAULT_CACHE_DIR
from ..errors import ConfigError
from ._identity import backbone_identity

if TYPE_CHECKING:
    from ._backbones import Backbone


class Engine(Protocol):
    name: str

    def __call__(self, batch: np.ndarray) -> np.ndarray:  # (N,3,H,W) float32 -> (N,C,h,w) float32
        ...


@lru_cache(maxsize=8)
def load_backbone(name: str, weights: str | None, size: int) -> Backbone:
    """Backbones are slow to build; keep a few per process."""
    from ._backbones import get_backbone

    return get_backbone(name, weights=weights, image_size=size)


@dataclass(frozen=True)
class EngineSpec:
    backbone: str
    weights: str | None
    size: int
    cache_dir: str = str(DEFAULT_CACHE_DIR)  # root cache folder; ONNX exports go to <cache_dir>/onnx
    threads: int | None = None  # intra-op threads (None: the runtime's default / torch's current setting)

    @property
    def identity(self) -> str:
        return backbone_identity(self.backbone, self.weights, self.size)

    def build_backbone(self) -> Backbone:
        return load_backbone(self.backbone, self.weights, self.size)


class TorchEngine:
    name = "torch"

    def __init__(self, backbone: Backbone, channels_last: bool = False):
        import torch

        self.module = backbone.module.eval()
        self.channels_last = channels_last
        if channels_last:
            self.module = self.module.to(memory_format=torch.channels_last)
            self.name = "torch-channels-last"

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        import torch

        x = torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32))
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.inference_mode():
            return self.module(x).contiguous().numpy()


def _torch_engine(spec: EngineSpec, channels_last: bool = False) -> TorchEngine:
    import copy

    import torch

    if spec.threads:
        torch.set_num_threads(int(spec.threads))
    module = spec.build_backbone()
    if channels_last:  # .to(memory_format) converts in place: keep the shared backbone contiguous
        module = copy.copy(module)
        module.module = copy.deepcopy(module.module)
    return TorchEngine(module, channels_last=channels_last)


_ONNX_SESSIONS: dict[tuple, Engine] = {}


def _onnx_engine(spec: EngineSpec) -> Engine:
    """One ONNX Runtime session per (model, size, threads) per process, whichever cache folder holds the export:
    the export is a pure function of the identity and size, so its session is valid for every folder. A folder
    the session is reused for gets a copy of the export file, so that it is complete for the next process."""
    from ._identity import is_reproducible
    from ._onnx import cached_onnx_engine, place_export

    key = (spec.identity, spec.size, spec.threads)
    shared = _ONNX_SESSIONS.get(key)
    if shared is None or (is_reproducible(spec.identity)
                          and not place_export(shared, spec.identity, spec.size, spec.cache_dir)):
        # first use, or the shared session's export file is gone: load (or export) into this folder
        _ONNX_SESSIONS[key] = cached_onnx_engine(spec.identity, spec.size, spec.cache_dir,
                                                 lambda: spec.build_backbone().module, threads=spec.threads)
    return _ONNX_SESSIONS[key]


# runtime name -> factory(spec)
ENGINES: dict[str, Callable[[EngineSpec], Engine]] = {
    "torch": _torch_engine,
    "torch-channels-last": lambda spec: _torch_engine(spec, channels_last=True),
    "onnx": _onnx_engine,
}


@lru_cache(maxsize=8)
def _cached_engine(spec: EngineSpec, runtime: str) -> Engine:
    return ENGINES[runtime](spec)


def check_runtime(runtime: str) -> str:
    if runtime not in ENGINES:
        raise ConfigError(f"unknown runtime {runtime!r}; available: {', '.join(sorted(ENGINES))}")
    return runtime


def load_engine(name: str, weights: str | None, size: int, runtime: str, cache_dir: str | Path | None = None,
                threads: int | None = None) -> Engine:
    """The engine for a backbone and runtime, built once per process (per cache folder and thread count)."""
    check_runtime(runtime)
    spec = EngineSpec(name, weights, int(size), str(cache_dir or DEFAULT_CACHE_DIR), int(threads) if threads else None)
    return _cached_engine(spec, runtime)


def feature_maps(engine: Engine, batch: np.ndarray, tta: bool = False) -> np.ndarray:
    """Spatial maps for a batch; with ``tta`` the map of the mirrored image is mirrored back and averaged."""
    maps = engine(batch)
    if tta:
        maps = 0.5 * (maps + engine(np.ascontiguousarray(batch[..., ::-1]))[..., ::-1])
    return maps
