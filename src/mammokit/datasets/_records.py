"""The Record table: one row per image, the unit every split, cache and report works on."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Lesion:
    """One annotated abnormality. Coordinates are pixels with a TOP-LEFT origin (x right, y down)."""

    kind: str  # MIAS class: CALC, CIRC, SPIC, MISC, ARCH, ASYM
    severity: str  # "benign" or "malignant"
    x: float | None = None
    y: float | None = None
    radius: float | None = None

    @property
    def has_location(self) -> bool:
        return self.x is not None and self.y is not None


@dataclass(frozen=True)
class Record:
    """One image. ``patient`` is the grouping key for every split (both breasts of a woman)."""

    id: str
    path: Path
    label: str  # base label: "normal", "benign", "malignant" (or a folder/manifest label)
    patient: str
    laterality: str | None = None
    view: str | None = None
    lesions: tuple[Lesion, ...] = ()
    extra: dict = field(default_factory=dict, compare=False, hash=False)
