"""Heatmap figure for one image: what the model saw, the lesion heatmap, the annotation and the peak."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ...constants import RESEARCH_DISCLAIMER
from ...datasets import Record
from ...features import CellMaps
from ...io import read_image
from ...preprocess import PreprocessConfig, preprocess
from ._heatmap import cell_centre_model, heatmap_view, peak_cell
from ._patches import lesion_circles


def save_heatmap_figure(path: Path, record: Record, maps: CellMaps, logits: np.ndarray, mask: np.ndarray, *,
                        title_extra: str = "", proba=None, view_size: int | None = None) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sm = maps.scales[view_size] if view_size else maps.finest
    view = preprocess(read_image(record.path), PreprocessConfig(size=sm.size)).view
    heat = heatmap_view(logits, mask, sm.size)
    fig, axes = plt.subplots(1, 2, figsize=(8, 4.4))
    for ax in axes:
        ax.imshow(view, cmap="gray")
        ax.axis("off")
    axes[1].imshow(np.ma.masked_less(heat, 0.02), cmap="jet", alpha=0.45, vmin=0, vmax=1)
    for c in lesion_circles(record, sm):  # the annotation, drawn for the reader only
        for ax in axes:
            ax.add_patch(plt.Circle((c.x, c.y), max(c.r, 3), fill=False, color="lime", lw=1.2))
    px, py = cell_centre_model(peak_cell(logits, mask), logits.shape, sm.size)
    axes[1].plot([px], [py], marker="+", color="white", ms=14, mew=2)
    for ax in axes:  # markers must not rescale the axes away from the image
        ax.set_xlim(-0.5, sm.size - 0.5)
        ax.set_ylim(sm.size - 0.5, -0.5)
    label = f"{record.id} ({record.label})"
    if proba is not None:
        label += "  P(n/b/m) = " + " / ".join(f"{p:.2f}" for p in proba)
    fig.suptitle(f"{label}\n{title_extra}; green: annotation, +: heatmap peak", fontsize=9)
    fig.text(0.5, 0.01, RESEARCH_DISCLAIMER, ha="center", fontsize=6)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
