"""Refresh the measured-figures section of a Markdown page from a comparison run (numbers never typed in)."""
from __future__ import annotations

import shutil
from pathlib import Path

from ...errors import InputFileError

BEGIN = "<!-- BEGIN measured: written by `mammokit compare`; do not edit by hand -->"
END = "<!-- END measured -->"


def refresh_docs(path: str | Path, markdown: str, images: dict[str, Path] | None = None) -> Path:
    """Replace the text between the BEGIN/END markers of ``path`` with ``markdown``.

    The page must already hold both markers (on their own lines), so prose around them is kept.
    ``images`` (name -> PNG) are copied to ``figures/`` beside the page and linked under the table.
    """
    p = Path(path)
    if not p.is_file():
        raise InputFileError(p, "docs page not found")
    text = p.read_text()
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < 0 or end < start:
        raise InputFileError(p, f"needs the markers {BEGIN!r} and {END!r} (in that order)")
    if images:
        figures = p.parent / "figures"
        figures.mkdir(parents=True, exist_ok=True)
        links = []
        for name, src in images.items():
            shutil.copyfile(src, figures / name)
            links.append(f"![{name}](figures/{name})")
        markdown = markdown.rstrip("\n") + "\n\n" + "\n\n".join(links) + "\n"
    new = text[: start + len(BEGIN)] + "\n" + markdown.rstrip("\n") + "\n" + text[end:]
    tmp = p.with_suffix(p.suffix + ".tmp")
    tmp.write_text(new)
    tmp.replace(p)  # atomic: a failed write leaves the page as it was
    return p
