"""CLI: `mammokit preview` — before/after PNGs showing what the model sees."""
from __future__ import annotations

from pathlib import Path

import typer

from ._app import app


@app.command("preview")
def preview_cmd(
    images: list[Path] = typer.Argument(..., help="image files (DICOM, PGM, PNG, JPEG, TIFF)"),
    out: Path = typer.Option(..., "--out", help="folder for the PNGs"),
    size: int = typer.Option(384, "--size"),
    crop: bool = typer.Option(True, "--crop/--no-crop"),
    orient: bool = typer.Option(True, "--orient/--no-orient"),
) -> None:
    """Write <name>_before.png (the original, crop box drawn) and <name>_after.png (the model's input)."""
    from ..errors import MammokitError
    from ..preprocess import preview_images

    failures = 0
    for path in images:
        try:
            before, after = preview_images(path, out, size=size, crop=crop, orient=orient)
            typer.echo(f"{path}: {before.name}, {after.name}")
        except MammokitError as exc:
            failures += 1
            typer.echo(f"mammokit: error: {exc}", err=True)
    if failures:
        raise typer.Exit(2)
