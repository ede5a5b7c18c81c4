"""The answer for one image."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..constants import RESEARCH_DISCLAIMER


@dataclass
class Prediction:
    label: str
    classes: tuple[str, ...]
    probabilities: dict[str, float]  # calibrated, real-prior
    p_malignant: float | None  # None when the task has no malignant class
    view: np.ndarray  # uint8 (size, size): what the model saw
    heatmap: np.ndarray | None  # float [0, 1] (size, size) or None
    in_distribution: bool
    notes: list[str] = field(default_factory=list)
    raw_probabilities: dict[str, float] = field(default_factory=dict)  # the head's own (balanced prior)
    source: str = ""
    disclaimer: str = RESEARCH_DISCLAIMER

    def as_dict(self) -> dict:
        """JSON-friendly summary (no arrays)."""
        return {
            "source": self.source, "label": self.label, "classes": list(self.classes),
            "probabilities": self.probabilities, "p_malignant": self.p_malignant,
            "raw_probabilities": self.raw_probabilities, "in_distribution": self.in_distribution,
            "notes": list(self.notes), "disclaimer": self.disclaimer,
        }
