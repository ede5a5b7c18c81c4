"""Strict JSON for everything the project writes (run files, bundles, API bodies, CLI output).

NaN and +/-inf are not JSON: Python's json module writes them as bare ``NaN``/``Infinity`` by default, and
strict parsers (browsers, jq, other languages) then refuse the whole file. Here a missing or undefined
number becomes ``null``, numpy scalars and arrays become plain numbers and lists, and the encoder runs with
``allow_nan=False`` so anything that still slipped through fails loudly instead of writing invalid JSON.
"""
from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import numpy as np


def strict_value(o: Any) -> Any:
    """``o`` with every non-finite float replaced by None and numpy values turned into Python ones."""
    if isinstance(o, float):  # np.float64 is a float too
        return float(o) if math.isfinite(o) else None
    if isinstance(o, np.generic):
        return strict_value(o.item())
    if isinstance(o, np.ndarray):
        return strict_value(o.tolist())
    if isinstance(o, dict):
        return {(k.item() if isinstance(k, np.generic) else k): strict_value(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [strict_value(v) for v in o]
    return o


def strict_dumps(obj: Any, *, default: Callable[[Any], Any] | None = None, **kw: Any) -> str:
    """``json.dumps`` that always writes standard JSON (NaN/inf -> null); other keywords as json.dumps."""
    kw.pop("allow_nan", None)
    fallback = None if default is None else (lambda o: strict_value(default(o)))
    return json.dumps(strict_value(obj), default=fallback, allow_nan=False, **kw)
