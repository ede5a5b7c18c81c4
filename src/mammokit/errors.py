"""One exception family for everything a user can get wrong.

The CLI prints ``str(error)`` on one line and exits non-zero; the web layer maps
these to HTTP 4xx. Messages name the file (or setting) and the problem.
"""
from __future__ import annotations

from pathlib import Path


class MammokitError(Exception):
    """Base class: a problem with the user's input, data, config or model."""

    exit_code = 2


class InputFileError(MammokitError):
    """A file that cannot be used: missing, unreadable, corrupt, unsupported, too large."""

    def __init__(self, path: str | Path, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class ImageReadError(InputFileError):
    """An image file that cannot be decoded into pixels."""


class DatasetError(MammokitError):
    """A data set that is empty, inconsistent or has unknown labels."""


class ConfigError(MammokitError):
    """A config file or setting that is missing or invalid."""


class ModelError(MammokitError):
    """A model, bundle or weights file that cannot be loaded or used."""


class WeightsUnavailableError(ModelError):
    """Pretrained weights that cannot be obtained on this machine."""
