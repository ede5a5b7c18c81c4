"""Package attributes imported on first use (PEP 562).

A package whose public names live in modules that import torch re-exports them through ``lazy_exports``
so that importing the package (the web server, a run served from the feature cache, ONNX Runtime
inference) never pays for torch (~700 MB of resident memory for the CUDA build) unless a name that needs
it is used.
"""
from __future__ import annotations

from importlib import import_module


def lazy_exports(package: str, where: dict[str, str], namespace: dict):
    """``(__getattr__, __dir__, __all__)`` for ``package``: ``where`` maps each public name to the private
    module (".x" relative to the package) that defines it; a resolved name is cached in ``namespace``."""

    def __getattr__(name: str):
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(f".{where[name]}", package), name)
        namespace[name] = value
        return value

    def __dir__():
        return sorted(set(namespace) | set(where))

    return __getattr__, __dir__, sorted(where)
