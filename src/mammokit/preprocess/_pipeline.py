"""preprocess(image, cfg): crop breast -> orient -> resize with padding -> normalise."""
from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np

from ..constants import NORMALISATION_MODES
from ..errors import ConfigError
from ..io import Image
from ._crop import block_mask, masked_crop
from ._geometry import Geometry
from ._normalise import normalise


@dataclass(frozen=True)
class PreprocessConfig:
    size: int = 384  # square model input side, pixels
    mode: str = "imagenet"  # "caffe" (the paper's) or "imagenet"
    crop: bool = True  # crop to the breast, zero everything outside it
    orient: bool = True  # flip so every breast's chest wall is on the left

    def __post_init__(self):
        if self.mode not in NORMALISATION_MODES:
            raise ConfigError(f"preprocess mode {self.mode!r} is not one of {', '.join(NORMALISATION_MODES)}")
        if not 32 <= int(self.size) <= 4096:
            raise ConfigError(f"preprocess size {self.size} is outside 32..4096")

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> PreprocessConfig:
        known = {k: d[k] for k in ("size", "mode", "crop", "orient") if k in d and d[k] is not None}
        return cls(**known)


@dataclass
class Preprocessed:
    tensor: np.ndarray  # float32 (3, size, size), normalised for the backbone
    view: np.ndarray  # uint8 (size, size): what the model sees, as grey
    geometry: Geometry
    mask_fraction: float  # share of the original image inside the breast mask


def resize_pad(pixels: np.ndarray, size: int) -> tuple[np.ndarray, float, tuple[int, int]]:
    """Aspect-preserving resize so the long side is ``size``, then zero padding (bottom/right) to a square."""
    rows, cols = pixels.shape
    scale = size / max(rows, cols)
    new_r, new_c = max(1, round(rows * scale)), max(1, round(cols * scale))
    # INTER_AREA averages when shrinking, which keeps calcification-scale detail from aliasing away.
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    small = cv2.resize(pixels.astype(np.float32, copy=False), (new_c, new_r), interpolation=interp)
    out = np.zeros((size, size), np.float32)
    top = (size - new_r) // 2  # centre vertically so the nipple line stays mid-image
    out[top : top + new_r, :new_c] = small
    return out, scale, (top, 0)


def preprocess(image: Image, cfg: PreprocessConfig | None = None) -> Preprocessed:
    cfg = cfg or PreprocessConfig()
    pixels = image.pixels
    # The mask stays in its computed, downsampled form (BlockMask): the box, the share of the image, the
    # orientation and the crop's mask all follow from it exactly, so the full-resolution mask of
    # breast_mask/crop_breast/faces_right is never built (tests/test_preprocess_fast.py checks the two agree).
    mask = block_mask(pixels) if (cfg.crop or cfg.orient) else None
    box = mask.box() if cfg.crop else (0, pixels.shape[0], 0, pixels.shape[1])
    flipped = bool(cfg.orient and mask is not None and mask.faces_right(box))
    if cfg.crop:
        work = masked_crop(pixels, mask.crop(box), box, flip=flipped)
    else:
        work = pixels[:, ::-1] if flipped else pixels
    square, scale, pad = resize_pad(work, cfg.size)
    square = np.clip(square, 0.0, 1.0)
    geometry = Geometry(
        original_shape=(int(pixels.shape[0]), int(pixels.shape[1])), box=tuple(int(v) for v in box),
        flipped=flipped, scale=float(scale), pad=pad, size=int(cfg.size),
    )
    frac = mask.fraction() if mask is not None else 1.0
    return Preprocessed(
        tensor=normalise(square, cfg.mode), view=(square * 255 + 0.5).astype(np.uint8), geometry=geometry,
        mask_fraction=frac,
    )
