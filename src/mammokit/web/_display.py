"""The original image for the result page: its grey levels as mammokit.io read them (for a DICOM after the
modality LUT and the VOI LUT or window the file specifies), shrunk for the browser, and - for the
lesion-aware model - the heatmap warped back onto it with its peak marked, as on the model's view."""
from __future__ import annotations

import numpy as np

from ..explain import overlay_heatmap

DISPLAY_MAX = 1024  # longest side of the stored original, in pixels
MARK_COLOUR = (0, 255, 0)


def display_original(pixels: np.ndarray) -> tuple[np.ndarray, float]:
    """(uint8 grey image with the longest side <= DISPLAY_MAX, display pixels per original pixel)."""
    import cv2

    px = np.clip(np.nan_to_num(np.asarray(pixels, dtype=np.float32)), 0.0, 1.0)
    scale = min(1.0, DISPLAY_MAX / max(px.shape))
    if scale < 1.0:
        size = (max(1, round(px.shape[1] * scale)), max(1, round(px.shape[0] * scale)))
        px = cv2.resize(px, size, interpolation=cv2.INTER_AREA)
    return (px * 255).round().astype(np.uint8), scale


def mark_peak(rgb: np.ndarray, x: float, y: float) -> np.ndarray:
    """A green ring and cross at (x, y) (pixels of `rgb`), sized to the image."""
    import cv2

    out = np.ascontiguousarray(rgb.copy())
    r = max(6, round(max(out.shape[:2]) * 0.035))
    centre = (round(x), round(y))
    thick = max(2, r // 5)
    cv2.circle(out, centre, r, MARK_COLOUR, thick, lineType=cv2.LINE_AA)
    cv2.drawMarker(out, centre, MARK_COLOUR, cv2.MARKER_CROSS, r, max(1, thick // 2), cv2.LINE_AA)
    return out


def original_with_peak(pred, pixels: np.ndarray, view_overlay: np.ndarray | None
                       ) -> tuple[np.ndarray, np.ndarray | None, bool]:
    """(original for display: grey, or RGB with the warped heatmap and the peak; the view overlay with the
    same peak marked; whether a peak was marked). Only predictions that carry `geometry` and `peak`
    (the lesion-aware model) get the heatmap and markers."""
    grey, scale = display_original(pixels)
    peak = getattr(pred, "peak", None)
    geometry = getattr(pred, "geometry", None)
    heat_original = getattr(pred, "heatmap_original", None)
    if peak is None or geometry is None or view_overlay is None or heat_original is None:
        return grey, view_overlay, False
    heat = heat_original()
    original = overlay_heatmap(grey, heat) if heat is not None else np.repeat(grey[:, :, None], 3, axis=2)
    original = mark_peak(original, peak[0] * scale, peak[1] * scale)
    vx, vy = geometry.to_model(*peak)
    k = view_overlay.shape[0] / float(geometry.size)  # the shown view may be another input size
    return original, mark_peak(view_overlay, vx * k, vy * k), True
