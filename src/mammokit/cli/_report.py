"""CLI: report command (stub, filled by its owner)."""
from __future__ import annotations

from ._app import app, data_app, users_app  # noqa: F401
