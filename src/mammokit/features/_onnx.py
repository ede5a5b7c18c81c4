"""ONNX Runtime engine: the backbone exported once with torch.onnx, cached beside the feature cache.

Export file: ``<cache>/onnx/<backbone>-<key>.onnx`` where key = sha256(backbone identity, input size,
opset, torch version, export format). A ``.sha256`` sidecar holds the file's checksum; a file whose
checksum does not match, or that ONNX Runtime cannot load, is deleted and exported again. Writes go
to a temp file in the same folder and then ``os.replace``, so two processes exporting at once (xdist
workers) never see a half-written model. Backbones with random weights are exported in memory only.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import warnings
from importlib.metadata import version
from pathlib import Path

import numpy as np

from ..errors import ModelError
from ._cache import file_sha256
from ._identity import is_reproducible

log = logging.getLogger(__name__)

OPSET = 17
EXPORT_FORMAT = "1"  # bump when the export recipe changes
INPUT_NAME, OUTPUT_NAME = "input", "features"


def default_threads() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def onnx_key(identity: str, size: int) -> str:
    blob = json.dumps({"identity": identity, "size": int(size), "opset": OPSET, "torch": version("torch"),
                       "format": EXPORT_FORMAT}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def onnx_model_path(cache_dir: str | Path, identity: str, size: int) -> Path:
    name = identity.split(":", 1)[0]
    return Path(cache_dir) / "onnx" / f"{name}-s{int(size)}-{onnx_key(identity, size)}.onnx"


def export_onnx(module, size: int, dest: str | Path | None = None) -> bytes | Path:
    """Export ``module`` ((N,3,size,size) -> (N,C,h,w)) with a dynamic batch axis.

    Returns the model bytes when ``dest`` is None, else writes ``dest`` (+ ``.sha256``) atomically.
    """
    import io

    import torch

    module.eval()
    dummy = torch.zeros(2, 3, int(size), int(size))
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter is chatty (deprecation, shape inference)
        try:
            # The TorchScript-based exporter: ~5 s for EfficientNet-Lite vs ~30 s for the dynamo one.
            torch.onnx.export(module, (dummy,), buf, dynamo=False, opset_version=OPSET,
                              input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                              dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}})
        except Exception as first:  # noqa: BLE001 - torch raises many types; only when a future torch drops it
            try:
                buf = io.BytesIO()
                prog = torch.onnx.export(module, (dummy,), dynamo=True, opset_version=OPSET,
                                         input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                                         dynamic_shapes=({0: torch.export.Dim("batch")},), verbose=False)
                prog.save(buf)
            except Exception as exc:  # noqa: BLE001
                raise ModelError(f"cannot export backbone to ONNX ({type(first).__name__}; {type(exc).__name__})") from None
        finally:
            # torch.onnx.export restores the top module's training flag recursively; keep inference mode.
            module.eval()
    data = buf.getvalue()
    if dest is None:
        return data
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write(dest.with_suffix(".onnx.sha256"), hashlib.sha256(data).hexdigest().encode())
    _atomic_write(dest, data)
    return dest


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; a shared cache should be readable
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def session_options(threads: int | None = None, spinning: bool = False):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.intra_op_num_threads = int(threads or default_threads())
    so.inter_op_num_threads = 1
    # Busy-waiting worker threads burn a shared 2-core machine's CPU between ops; off by default
    # (benchmarks/throughput.py measures both: see docs/performance.md).
    so.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
    so.log_severity_level = 3
    return so


class OnnxEngine:
    """Runs an exported backbone with ONNX Runtime's CPU execution provider."""

    name = "onnx"

    def __init__(self, model: str | Path | bytes, threads: int | None = None, spinning: bool = False):
        import onnxruntime as ort

        src = model if isinstance(model, bytes) else str(model)
        try:
            self.session = ort.InferenceSession(src, session_options(threads, spinning),
                                                providers=["CPUExecutionProvider"])
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own Fail/InvalidProtobuf types
            where = "in-memory model" if isinstance(model, bytes) else str(model)
            raise ModelError(f"{where}: not a loadable ONNX model ({type(exc).__name__})") from None
        self.input_name = self.session.get_inputs()[0].name
        self.threads = int(threads or default_threads())
        self.model_path = None if isinstance(model, bytes) else Path(model)  # the export file it was loaded from

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(batch, dtype=np.float32)
        return self.session.run(None, {self.input_name: x})[0]


def _sidecar(path: Path) -> str | None:
    try:
        return path.with_suffix(".onnx.sha256").read_text().strip()
    except OSError:
        return None


def _valid_file(path: Path) -> bool:
    expected = _sidecar(path)
    return expected is not None and path.is_file() and file_sha256(path) == expected


def place_export(engine: OnnxEngine, identity: str, size: int, cache_dir: str | Path) -> bool:
    """Copy ``engine``'s export file into ``cache_dir`` when that folder lacks a valid one: a session reused
    for another cache folder (one per process) must leave that folder complete, or a later process using it
    has to export again, which needs torch (the torch-free serving path). Atomic, with its sidecar. False when
    nothing could be placed: random weights (never on disk) or the source file is gone (a deleted temp folder)."""
    if not is_reproducible(identity):
        return False
    dest = onnx_model_path(cache_dir, identity, size)
    if _valid_file(dest):
        return True
    try:
        data = engine.model_path.read_bytes() if engine.model_path else None
    except OSError:
        data = None
    if data is None or hashlib.sha256(data).hexdigest() != _sidecar(engine.model_path):
        return False
    dest.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write(dest.with_suffix(".onnx.sha256"), hashlib.sha256(data).hexdigest().encode())
    _atomic_write(dest, data)
    return True


def cached_onnx_engine(identity: str, size: int, cache_dir: str | Path, build_module, threads: int | None = None,
                       spinning: bool = False) -> OnnxEngine:
    """The engine for ``identity`` at ``size``, exporting (via ``build_module()``) only when not cached or invalid."""
    if not is_reproducible(identity):
        return OnnxEngine(export_onnx(build_module(), size), threads, spinning)
    path = onnx_model_path(cache_dir, identity, size)
    if _valid_file(path):
        try:
            return OnnxEngine(path, threads, spinning)
        except ModelError:
            pass
    if path.exists() or path.with_suffix(".onnx.sha256").exists():
        log.warning("%s: invalid or corrupt ONNX export, exporting again", path)
    path.unlink(missing_ok=True)
    export_onnx(build_module(), size, path)
    return OnnxEngine(path, threads, spinning)
