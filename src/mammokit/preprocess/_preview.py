"""Before/after PNGs so a person can see what the model sees."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image as PILImage
from PIL import ImageDraw

from ..io import read_image
from ._pipeline import PreprocessConfig, preprocess

_PREVIEW_SIDE = 768  # the "before" image is downscaled to this for a quick look


def preview_images(path: str | Path, out_dir: str | Path, *, size: int = 384, crop: bool = True,
                   orient: bool = True) -> tuple[Path, Path]:
    image = read_image(path)
    pre = preprocess(image, PreprocessConfig(size=size, crop=crop, orient=orient))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = Path(path).stem
    before = PILImage.fromarray((np.clip(image.pixels, 0, 1) * 255 + 0.5).astype(np.uint8)).convert("RGB")
    scale = _PREVIEW_SIDE / max(before.size)
    if scale < 1:
        before = before.resize((round(before.width * scale), round(before.height * scale)), PILImage.Resampling.BOX)
    else:
        scale = 1.0
    r0, r1, c0, c1 = pre.geometry.box
    ImageDraw.Draw(before).rectangle([c0 * scale, r0 * scale, c1 * scale - 1, r1 * scale - 1], outline=(255, 40, 40),
                                     width=3)
    before_path, after_path = out_dir / f"{stem}_before.png", out_dir / f"{stem}_after.png"
    before.save(before_path)
    PILImage.fromarray(pre.view).save(after_path)
    return before_path, after_path
