"""CLI: `mammokit demo` — the main job on real data (what `make demo` runs)."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ._app import app


@app.command("demo")
def demo_cmd(
    data: Annotated[Path | None, typer.Option("--data", help="mini-MIAS folder (default: $MAMMOKIT_MIAS or ../shared)")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="runs folder (default ./runs)")] = None,
    backbone: Annotated[str, typer.Option("--backbone", help="one backbone for all three protocols")] = "efficientnet_lite2",
    size: Annotated[int, typer.Option("--size", help="model input side in pixels")] = 384,
    set_: Annotated[list[str] | None, typer.Option("--set", help="extra config override key=value for every run")] = None,
    lesion: Annotated[bool, typer.Option(
        "--lesion/--no-lesion", help="also train and cross-validate the lesion-aware model (configs/mias-lesion-demo.yaml)")] = True,
) -> None:
    """Features for all of mini-MIAS, then Module 1 (LEAKY), Module 2 and patient-grouped CV, side by side."""
    from rich.console import Console

    from ..constants import RESEARCH_DISCLAIMER
    from ..orchestration import DEMO_RUNS, run_demo
    from ..report import comparison_rows, comparison_table, task_comparison_rows, task_comparison_table

    console = Console(width=max(Console().width, 150))  # the table is wide; never truncate figures
    result = run_demo(data=data, out=out, backbone=backbone, size=size, extra_overrides=set_ or [], lesion=lesion,
                      say=console.print)
    console.print(_table("mini-MIAS, 3 classes (normal / benign / malignant): the same features under three protocols",
                         *comparison_table(comparison_rows(result.run_dirs[:len(DEMO_RUNS)]))))
    console.print("Module 1 applies SMOTE before the split: its test set holds synthetic rows interpolated from "
                  "training images, so its figures are inflated (LEAKY). Module 2 and CV are the honest ones.")
    if lesion:
        console.print(_table("Whole image vs lesion-aware, patient-grouped CV: pooled ROC AUC (95% CI) per task",
                             *task_comparison_table(task_comparison_rows(result.run_dirs))))
    served = (result.served or {}).get("bundle")
    console.print(f"`make serve` serves: {served or 'no bundle qualifies (pass --model)'} (runs/served-bundle.json "
                  "says why: the best measured bundle, never a leaky or near-constant one)")
    console.print(f"comparison: {result.comparison_dir}   timings (s): {result.seconds}")
    console.print(RESEARCH_DISCLAIMER)


def _table(title: str, header: list[str], body: list[list[str]]):
    from rich.table import Table

    table = Table(title=title)
    for h in header:
        table.add_column(h)
    for row in body:
        table.add_row(*row)
    return table
