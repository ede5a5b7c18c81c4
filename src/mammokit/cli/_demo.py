"""CLI: `mammokit demo` — the main job on real data (what `make demo` runs)."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from ._app import app


@app.command("demo")
def demo_cmd(
    data: Optional[Path] = typer.Option(None, "--data", help="mini-MIAS folder (default: $MAMMOKIT_MIAS or ../shared)"),
    out: Optional[Path] = typer.Option(None, "--out", help="runs folder (default ./runs)"),
    backbone: str = typer.Option("efficientnet_lite2", "--backbone", help="one backbone for all three protocols"),
    size: int = typer.Option(384, "--size", help="model input side in pixels"),
    set_: List[str] = typer.Option([], "--set", help="extra config override key=value for every run"),
) -> None:
    """Features for all of mini-MIAS, then Module 1 (LEAKY), Module 2 and patient-grouped CV, side by side."""
    from rich.console import Console
    from rich.table import Table

    from ..constants import RESEARCH_DISCLAIMER
    from ..demo import run_demo
    from ..report import comparison_rows, comparison_table

    console = Console(width=max(Console().width, 150))  # the table is wide; never truncate figures
    result = run_demo(data=data, out=out, backbone=backbone, size=size, extra_overrides=set_, say=console.print)
    header, body = comparison_table(comparison_rows(result.run_dirs))
    table = Table(title="mini-MIAS, 3 classes (normal / benign / malignant): the same features under three protocols")
    for h in header:
        table.add_column(h)
    for row in body:
        table.add_row(*row)
    console.print(table)
    console.print("Module 1 applies SMOTE before the split: its test set holds synthetic rows interpolated from "
                  "training images, so its figures are inflated (LEAKY). Module 2 and CV are the honest ones.")
    console.print(f"comparison: {result.comparison_dir}   timings (s): {result.seconds}")
    console.print(RESEARCH_DISCLAIMER)
