"""Refresh the measured-figures section of a Markdown page from a comparison run (numbers never typed in)."""
from __future__ import annotations

from pathlib import Path

from ..errors import InputFileError

BEGIN = "<!-- BEGIN measured: written by `mammokit compare`; do not edit by hand -->"
END = "<!-- END measured -->"


def refresh_docs(path: str | Path, markdown: str) -> Path:
    """Replace the text between the BEGIN/END markers of ``path`` with ``markdown``.

    The page must already hold both markers (on their own lines), so prose around them is kept.
    """
    p = Path(path)
    if not p.is_file():
        raise InputFileError(p, "docs page not found")
    text = p.read_text()
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < 0 or end < start:
        raise InputFileError(p, f"needs the markers {BEGIN!r} and {END!r} (in that order)")
    new = text[: start + len(BEGIN)] + "\n" + markdown.rstrip("\n") + "\n" + text[end:]
    tmp = p.with_suffix(p.suffix + ".tmp")
    tmp.write_text(new)
    tmp.replace(p)  # atomic: a failed write leaves the page as it was
    return p
