"""Constants shared by every stage: labels, tasks, sizes, normalisation values."""
from __future__ import annotations

import os
from pathlib import Path

# --- labels and tasks -------------------------------------------------------
NORMAL, BENIGN, MALIGNANT = "normal", "benign", "malignant"
ABNORMAL = "abnormal"
BASE_LABELS = (NORMAL, BENIGN, MALIGNANT)

# task name -> ordered class names. The last class is the "positive" one
# (abnormal / malignant) used for sensitivity, specificity and BI-RADS.
TASKS: dict[str, tuple[str, ...]] = {
    "3class": (NORMAL, BENIGN, MALIGNANT),
    "normal_vs_abnormal": (NORMAL, ABNORMAL),
    "benign_vs_malignant": (BENIGN, MALIGNANT),
}

# --- image reading ------------------------------------------------------------
# A decompression-bomb guard: ~ 16k x 16k. Real FFDM/film scans are ~ 5k x 4k.
DEFAULT_MAX_PIXELS = 16384 * 16384 // 2
DEFAULT_MAX_FILE_BYTES = 512 * 1024 * 1024
IMAGE_SUFFIXES = (".dcm", ".dicom", ".pgm", ".png", ".jpg", ".jpeg", ".tif", ".tiff")

# --- normalisation -------------------------------------------------------------
# Keras/caffe "VGG16-style" preprocessing: 0-255, RGB->BGR, subtract these BGR means.
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
IMAGENET_MEAN_RGB = (0.485, 0.456, 0.406)
IMAGENET_STD_RGB = (0.229, 0.224, 0.225)
NORMALISATION_MODES = ("caffe", "imagenet")

# --- data locations -------------------------------------------------------------
_SOURCE_ROOT = Path(__file__).resolve().parents[2]
# A source checkout (`make demo`, `pip install -e .`) keeps runs/, cache/ and configs/ beside pyproject.toml;
# an installed wheel has no such folder above it, and then the working directory takes its place.
REPO_ROOT = _SOURCE_ROOT if (_SOURCE_ROOT / "pyproject.toml").is_file() else Path.cwd()
MIAS_ENV = "MAMMOKIT_MIAS"


def default_mias_dir() -> Path | None:
    """Where the main job finds mini-MIAS: $MAMMOKIT_MIAS, else ../shared beside the checkout."""
    candidates = []
    if os.environ.get(MIAS_ENV):
        candidates.append(Path(os.environ[MIAS_ENV]))
    candidates += [
        REPO_ROOT.parent / "shared" / "data" / "mini-mias",
        Path.cwd().parent / "shared" / "data" / "mini-mias",
        Path.cwd() / "data" / "mini-mias",
    ]
    for c in candidates:
        if (c / "Info.txt").is_file():
            return c
    return None


DEFAULT_CACHE_DIR = Path(os.environ.get("MAMMOKIT_CACHE", REPO_ROOT / "cache"))
DEFAULT_RUNS_DIR = REPO_ROOT / "runs"

RESEARCH_DISCLAIMER = (
    "Research software, not a medical device: outputs are model suggestions, not a diagnosis."
)
