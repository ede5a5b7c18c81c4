"""The paper's grid of randomly selected test predictions: thumbnail of what the model saw,
true and predicted class with its probability, a green frame when right and a red one when wrong."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from PIL import Image as PILImage

from ..constants import REPO_ROOT
from ..errors import MammokitError
from ._figures import plain
from ._run_folder import Predictions

GRID_PANELS = 16
GRID_COLUMNS = 4
THUMBNAIL_PX = 128
FRAME_PX = 6
RIGHT_RGB = (0, 170, 0)
WRONG_RGB = (215, 0, 0)


def panel_colour(y_true: str | int, y_pred: str | int) -> tuple[int, int, int]:
    """Frame colour of a grid panel: green when the prediction is right, red when wrong."""
    return RIGHT_RGB if y_true == y_pred else WRONG_RGB


def framed_thumbnail(view: np.ndarray, colour: tuple[int, int, int], frame: int = FRAME_PX) -> np.ndarray:
    """Grey uint8 (h, w) -> RGB uint8 (h + 2 frame, w + 2 frame, 3) with a coloured frame."""
    grey = np.asarray(view)
    if grey.ndim != 2:
        raise ValueError(f"thumbnail must be a 2-D grey image, got shape {grey.shape}")
    h, w = grey.shape
    out = np.empty((h + 2 * frame, w + 2 * frame, 3), dtype=np.uint8)
    out[:] = np.asarray(colour, dtype=np.uint8)
    out[frame:frame + h, frame:frame + w] = grey[..., None]
    return out


def preprocess_config_from(config: dict):
    """The run's PreprocessConfig, from config.yaml's ``preprocess`` or ``features`` section."""
    from ..preprocess import PreprocessConfig

    known = {f.name for f in dataclasses.fields(PreprocessConfig)}
    settings: dict = {}
    for section in ("features", "preprocess"):  # later sections win: preprocess is the more specific one
        values = config.get(section)
        if isinstance(values, dict):
            for key, value in values.items():
                key = {"normalisation": "mode", "normalization": "mode", "image_size": "size"}.get(key, key)
                if key in known and value is not None:
                    settings[key] = value
    try:
        return PreprocessConfig(**settings)
    except (TypeError, ValueError, MammokitError):
        return PreprocessConfig()


def _resolve(path: str, run_dir: Path) -> Path | None:
    """predictions.csv paths may be absolute or relative to where the run was made."""
    p = Path(path)
    candidates = [p] if p.is_absolute() else [Path.cwd() / p, run_dir / p, REPO_ROOT / p]
    return next((c for c in candidates if c.is_file()), None)


def _downscale(grey: np.ndarray, size: int) -> np.ndarray:
    """uint8 grey thumbnail whose longer side is ``size`` pixels."""
    if grey.dtype != np.uint8:
        grey = (np.clip(grey, 0, 1) * 255).round().astype(np.uint8)
    im = PILImage.fromarray(grey)
    im.thumbnail((size, size), PILImage.Resampling.BILINEAR, reducing_gap=2.0)
    return np.asarray(im)


def load_thumbnail(path: Path, preprocess_cfg, size: int = THUMBNAIL_PX) -> np.ndarray:
    """What the model saw (the preprocessed view), or the image itself when the run records no preprocessing,
    read through mammokit's readers (DICOM, PGM, PNG, ...)."""
    from ..io import read_image

    image = read_image(path)
    if preprocess_cfg is None:
        return _downscale(image.pixels, size)
    from ..preprocess import preprocess

    return _downscale(np.asarray(preprocess(image, preprocess_cfg).view), size)


@dataclass
class GridPanel:
    id: str
    true: str
    pred: str
    probability: float
    correct: bool
    thumbnail: np.ndarray  # RGB uint8 with its frame


def select_panels(preds: Predictions, classes: tuple[str, ...], run_dir: Path, config: dict, seed: int,
                  n: int = GRID_PANELS) -> tuple[list[GridPanel], list[str]]:
    """Randomly (seeded) chosen real test images; notes say what was skipped and why."""
    notes = []
    n_synthetic = int(preds.synthetic.sum())
    if n_synthetic:
        notes.append(f"{n_synthetic} synthetic (SMOTE-made) test rows have no image and are not shown.")
    candidates = np.flatnonzero(~preds.synthetic & np.array([bool(p) for p in preds.paths], dtype=bool))
    order = np.random.default_rng(seed).permutation(candidates)
    cfg = preprocess_config_from(config)
    panels: list[GridPanel] = []
    unreadable = []
    for i in order:
        if len(panels) >= n:
            break
        path = _resolve(preds.paths[i], run_dir)
        try:
            if path is None:
                raise FileNotFoundError(preds.paths[i])
            view = load_thumbnail(path, cfg)
        except (OSError, MammokitError):
            unreadable.append(preds.ids[i])
            continue
        t, p = int(preds.y_true[i]), int(preds.y_pred[i])
        panels.append(GridPanel(
            id=preds.ids[i], true=classes[t], pred=classes[p], probability=float(preds.prob[i, p]),
            correct=t == p, thumbnail=framed_thumbnail(view, panel_colour(t, p)),
        ))
    if unreadable:
        shown = ", ".join(unreadable[:5]) + (" ..." if len(unreadable) > 5 else "")
        notes.append(f"{len(unreadable)} test image(s) could not be found or read and were skipped: {shown}.")
    if cfg is None:
        notes.append("Thumbnails are the downscaled images (preprocessing module not available).")
    else:
        notes.append("Thumbnails show the preprocessed view the model saw.")
    return panels, notes


def grid_figure(panels: list[GridPanel], columns: int = GRID_COLUMNS) -> Figure:
    rows = max(1, -(-len(panels) // columns))
    # Fixed margins instead of constrained layout: 16 image axes make the layout solver slow.
    fig = Figure(figsize=(columns * 2.1, rows * 2.5))
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=1 - 0.55 / (rows * 2.5), wspace=0.08,
                        hspace=0.42)
    axes = np.atleast_1d(fig.subplots(rows, columns)).ravel()
    for ax in axes:
        ax.set_axis_off()
    for ax, panel in zip(axes, panels):
        ax.imshow(panel.thumbnail, interpolation="nearest")
        mark = "right" if panel.correct else "WRONG"
        ax.set_title(plain(f"{panel.id}\ntrue {panel.true} | pred {panel.pred}\np={panel.probability:.2f} ({mark})"),
                     fontsize=7.5, color="darkgreen" if panel.correct else "darkred")
    if not panels:
        axes[0].text(0.5, 0.5, "no real test images to show", ha="center", va="center")
    return fig
