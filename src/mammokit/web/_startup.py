"""Checks `mammokit serve` makes before it listens, so that a broken set-up fails at start with one line
instead of starting a server whose /health says yes and whose every upload fails."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import MammokitError, ModelError
from ..io import Image, ImageMeta


def _probe_image(side: int = 256) -> Image:
    """A synthetic breast-like image (a bright half-disc on black): enough to run every model stage."""
    yy, xx = np.mgrid[0:side, 0:side].astype(np.float32)
    disc = ((xx / side) ** 2 + ((yy - side / 2) / (side / 2)) ** 2) < 0.8
    pixels = np.where(disc, 0.4 + 0.3 * np.sin(xx / 7) * np.cos(yy / 11), 0.0).astype(np.float32)
    return Image(pixels=np.clip(pixels, 0, 1), meta=ImageMeta(path="start-up check", format="png", bits_stored=8))


def check_model_runs(model, bundle: Path) -> None:
    """Load the bundle and run it once on a synthetic image (backbone, weights, head, heatmap)."""
    try:
        model.load().predict(_probe_image(), heatmap=True)
    except MammokitError as exc:
        raise ModelError(f"{bundle}: the model does not run: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - any failure here means every upload would fail
        reason = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise ModelError(f"{bundle}: the model does not run: {reason}") from None
