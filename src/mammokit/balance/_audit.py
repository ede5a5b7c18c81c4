"""A record of which rows reached which fitted component (sampler, scaler, ...).

Rows are recorded by a digest of their values (as float64 bytes), not by an index
the caller claims: the check then holds for the data that really arrived, so a
protocol that passed the wrong rows cannot hide it behind correct bookkeeping.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np


def row_digests(X: np.ndarray) -> list[bytes]:
    """One 16-byte digest per row of ``X`` (float32 and float64 copies of a row agree)."""
    X64 = np.ascontiguousarray(np.asarray(X, dtype=np.float64))
    return [hashlib.blake2b(row.tobytes(), digest_size=16).digest() for row in X64]


@dataclass
class Audit:
    """Append-only log: (context, stage) -> set of row digests seen.

    ``context`` names the fit (e.g. ``"repeat0/fold3"`` or ``"final"``); ``stage`` names the
    component (``"sampler"``, ``"scaler"``, ``"early_stopping"``, ``"calibration"``).
    """

    seen: dict[tuple[str, str], set[bytes]] = field(default_factory=dict)

    def record(self, context: str, stage: str, X: np.ndarray) -> None:
        self.seen.setdefault((context, stage), set()).update(row_digests(X))

    def contexts(self) -> list[str]:
        return sorted({c for c, _ in self.seen})

    def digests(self, context: str, stage: str | None = None) -> set[bytes]:
        """All digests seen in ``context`` (by one stage, or by every stage)."""
        out: set[bytes] = set()
        for (c, s), d in self.seen.items():
            if c == context and (stage is None or s == stage):
                out |= d
        return out

    def indices_seen(self, context: str, X_all: np.ndarray, stage: str | None = None) -> np.ndarray:
        """Indices of rows of ``X_all`` whose values reached ``context`` (at ``stage``)."""
        seen = self.digests(context, stage)
        return np.array([i for i, d in enumerate(row_digests(X_all)) if d in seen], dtype=int)
