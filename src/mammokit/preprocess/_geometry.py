"""Geometry: how a pixel of the model's input maps back to the original image, and back again."""
from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Geometry:
    """original image --crop box--> crop --optional left-right flip--> --scale--> --pad--> model input.

    Coordinates are (x, y) = (column, row) in pixels, top-left origin.
    """

    original_shape: tuple[int, int]  # (rows, cols) of the original image
    box: tuple[int, int, int, int]  # crop (row0, row1, col0, col1), half-open
    flipped: bool  # crop mirrored left-right so the breast faces the same way
    scale: float  # model pixels per original pixel
    pad: tuple[int, int]  # (top, left) padding in model pixels
    size: int  # model input side

    def to_model(self, x: float, y: float) -> tuple[float, float]:
        r0, _, c0, c1 = self.box
        cx, cy = x - c0, y - r0
        if self.flipped:
            cx = (c1 - c0) - cx
        return cx * self.scale + self.pad[1], cy * self.scale + self.pad[0]

    def to_original(self, x: float, y: float) -> tuple[float, float]:
        r0, _, c0, c1 = self.box
        cx = (x - self.pad[1]) / self.scale
        cy = (y - self.pad[0]) / self.scale
        if self.flipped:
            cx = (c1 - c0) - cx
        return cx + c0, cy + r0

    def as_dict(self) -> dict:
        return asdict(self)
