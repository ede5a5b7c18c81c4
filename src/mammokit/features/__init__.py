"""Deep features: a backbone registry, batched extraction and a content-hash cache.

Names are imported on first use (PEP 562) so that a run served from the feature cache, or by ONNX Runtime
from a cached export, never pays for importing torch.
"""
from .._lazy import lazy_exports

_WHERE = {
    "DEFAULT_BATCH_SIZE": "_defaults", "DEFAULT_RUNTIME": "_defaults", "DEFAULT_THREADS": "_defaults",
    "BACKBONES": "_backbones", "Backbone": "_backbones", "get_backbone": "_backbones", "weights_digest": "_identity",
    "FeatureCache": "_cache", "cache_key": "_cache", "file_sha256": "_cache",
    "ENGINES": "_engine", "EngineSpec": "_engine", "TorchEngine": "_engine", "feature_maps": "_engine",
    "load_backbone": "_engine", "load_engine": "_engine",
    "FeatureSet": "_extract", "extract_features": "_extract",
    "resolve_preprocess": "_extract",
    "backbone_identity": "_identity",
    "CellMaps": "_maps", "ScaleMap": "_maps", "cell_mask": "_maps", "check_sizes": "_maps",
    "compute_cell_maps": "_maps", "maps_for_image": "_maps", "INTENSITY_MODES": "_maps", "check_intensity": "_maps",
    "OnnxEngine": "_onnx", "export_onnx": "_onnx", "onnx_model_path": "_onnx",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _WHERE, globals())
