"""CLI: `mammokit compare CONFIG.yaml` — the paper's model comparison under every protocol."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ._app import app, data_app, users_app  # noqa: F401


@app.command("compare")
def compare_cmd(
    config: Annotated[Path, typer.Argument(help="comparison config (YAML), e.g. configs/paper-comparison.yaml")],
    set_: Annotated[list[str] | None, typer.Option(
        "--set", help="override a config key: key.sub=value, models by name (repeatable)")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="run folder (default runs/<name>)")] = None,
    docs: Annotated[Path | None, typer.Option(
        "--docs", help="also refresh the measured section of this Markdown page (e.g. docs/paper-comparison.md)")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="no progress bar or per-cell log")] = False,
) -> None:
    """Run every model of CONFIG under module1 (LEAKY), module2 and cv; write the table and charts."""
    import sys

    from rich.console import Console

    from ..constants import RESEARCH_DISCLAIMER
    from ..orchestration.compare import (
        load_comparison_config,
        markdown_table,
        refresh_docs,
        rich_table,
        run_comparison,
    )

    # wide enough for the table when the output is a file or a pipe (rich assumes 80 columns there)
    console = Console(width=None if sys.stdout.isatty() else 200)
    cfg = load_comparison_config(config, set_ or [])
    result = run_comparison(cfg, out, config_path=config, progress=not quiet,
                            log=None if quiet else (lambda msg: console.print(f"[dim]{msg}[/]")))
    console.print(rich_table(result))
    p = result.provenance
    console.print(f"run folder: {result.out_dir}  (whole comparison {p['seconds_total']:.0f} s, "
                  f"features {p['seconds_features']:.0f} s; commit {p.get('commit')})")
    for key in ("csv", "json", "markdown", "chart_accuracy", "chart_f1_auc"):
        console.print(f"  {key}: {result.files[key]}")
    if docs is not None:
        stem = docs.stem
        refresh_docs(docs, markdown_table(result), images={
            f"{stem}-accuracy.png": result.files["chart_accuracy"], f"{stem}-f1-auc.png": result.files["chart_f1_auc"]})
        console.print(f"refreshed the measured section of {docs}")
    console.print("[bold red]Module 1 is LEAKY[/]: SMOTE before the split puts interpolations of training images "
                  "in the test set; its figures do not estimate performance on new women.")
    console.print(f"[dim]{RESEARCH_DISCLAIMER}[/]")
