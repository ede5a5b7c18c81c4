"""Deep features: a backbone registry, batched extraction and a content-hash cache."""
from ._backbones import BACKBONES, Backbone, get_backbone, weights_digest
from ._cache import FeatureCache, cache_key, file_sha256
from ._engine import ENGINES, TorchEngine, feature_maps, pooled_features
from ._extract import FeatureSet, embed_images, extract_features, load_backbone, load_engine, resolve_preprocess

__all__ = [
    "BACKBONES", "ENGINES", "Backbone", "FeatureCache", "FeatureSet", "TorchEngine", "cache_key", "embed_images",
    "extract_features", "feature_maps", "file_sha256", "get_backbone", "load_backbone", "load_engine",
    "pooled_features", "resolve_preprocess", "weights_digest",
]
