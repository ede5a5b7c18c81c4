"""CLI: `mammokit model-card BUNDLE [--format md|html] [--out FILE] [--prevalence P]`."""
from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from ..birads import DEFAULT_DEPLOYMENT_PREVALENCE
from ._app import app, data_app, users_app  # noqa: F401


class CardFormat(str, Enum):
    md = "md"
    html = "html"


@app.command("model-card")
def model_card_cmd(
    bundle: Annotated[Path, typer.Argument(help="model bundle folder written by `mammokit run`")],
    fmt: Annotated[CardFormat, typer.Option("--format", help="Markdown or a self-contained HTML page")] = (
        CardFormat.md),
    out: Annotated[Path | None, typer.Option("--out", help="write here instead of standard output")] = None,
    prevalence: Annotated[float, typer.Option(
        "--prevalence", help="deployment prevalence (malignant fraction) the card states")] = (
        DEFAULT_DEPLOYMENT_PREVALENCE),
) -> None:
    """The bundle's model card (Mitchell et al. 2019): data, protocol, figures with CIs, calibration,
    prevalence assumptions, the BI-RADS rule, intended use and known limits."""
    from ..birads import check_prevalence
    from ..bundle import read_manifest
    from ..report import model_card_html, model_card_markdown

    read_manifest(bundle)  # a one-line error for a folder that is not a bundle, before any work
    kw = {"prevalence": check_prevalence(prevalence)}
    text = model_card_html(bundle, **kw) if fmt is CardFormat.html else model_card_markdown(bundle, **kw)
    if out is None:
        typer.echo(text)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
        typer.echo(f"wrote {out}")
