"""Shared fixtures: where the real data lives. Additive edits only (several areas use this file)."""
from __future__ import annotations

from pathlib import Path

import pytest

from mammokit.constants import default_mias_dir

MIAS_DIR = default_mias_dir()


@pytest.fixture(scope="session")
def mias_dir() -> Path:
    assert MIAS_DIR is not None, "mini-MIAS not found: expected ../shared/data/mini-mias beside the checkout"
    return MIAS_DIR


@pytest.fixture(scope="session")
def mias_png(mias_dir):
    """Path of a real MIAS image by number, e.g. mias_png(1) -> .../mdb001.png."""
    return lambda n: mias_dir / "images" / f"mdb{n:03d}.png"
