"""Render the report pages from the package's Jinja2 templates, autoescaped, with figures inlined."""
from __future__ import annotations

import base64
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

TEMPLATES_DIR = Path(__file__).parent / "templates"


@lru_cache(maxsize=1)
def _environment() -> Environment:
    # autoescape=True for every template: run names, paths and labels come from user files.
    return Environment(loader=FileSystemLoader(TEMPLATES_DIR), autoescape=True, undefined=StrictUndefined)


def png_data_uri(path: Path) -> str:
    """A PNG file as a data: URI, so the page needs no other file."""
    return "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode("ascii")


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")


def render(template: str, **context) -> str:
    from .. import __version__

    context.setdefault("version", __version__)
    context.setdefault("generated", utc_now())
    return _environment().get_template(template).render(**context)


def write_text_atomic(path: Path, text: str) -> Path:
    """Write via a temporary file so a half-written page never replaces a good one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path
