"""CLI: `mammokit report RUN_DIR [RUN_DIR...] [--compare-out DIR]`, thin over mammokit.report."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from ._app import app, data_app, users_app  # noqa: F401

DEFAULT_COMPARISON_TITLE = "Module 1 vs Module 2 vs cross-validation"


def print_comparison(rows: list[dict], title: str, console: Console | None = None) -> None:
    """Print the side-by-side table (value over its 95% CI per metric) with rich; LEAKY rows in red."""
    from ..report import comparison_table

    header, body = comparison_table(rows)
    table = Table(title=title, caption="value, then its 95% patient-bootstrap CI", box=box.SIMPLE_HEAD,
                  pad_edge=False)
    for i, column in enumerate(header):
        table.add_column(column.replace(" (95% CI)", ""), justify="left" if i < 2 else "right", no_wrap=i == 0,
                         min_width=None if i < 2 else 11)
    for row, cells in zip(rows, body):
        # "0.750 [0.715-0.790]" -> two lines, so four metrics fit an 80-column terminal
        cells = cells[:1] + [c.replace(" (", "\n(").replace(" [", "\n") .rstrip("]") for c in cells[1:]]
        table.add_row(*cells, style="red" if row["leaky"] else None)
    (console or Console()).print(table)


@app.command("report")
def report(
    run_dirs: Annotated[list[Path], typer.Argument(
        metavar="RUN_DIR", help="Run folder(s) holding config.yaml, metrics.json, predictions.csv.")],
    compare_out: Annotated[Path | None, typer.Option(
        "--compare-out",
        help="Folder for the side-by-side comparison (chart, HTML, JSON, Markdown). "
             "Default with several runs: a 'comparison' folder beside them.")] = None,
    title: Annotated[str, typer.Option("--title", help="Title of the comparison chart and page.")]
        = DEFAULT_COMPARISON_TITLE,
) -> None:
    """Write figures and a self-contained report.html for each run; with several runs, compare them side by side."""
    from ..report import comparison_rows, write_comparison, write_report

    console = Console()
    for run_dir in run_dirs:
        page = write_report(run_dir)
        console.print(f"report: {page}", markup=False, highlight=False, soft_wrap=True)
    if len(run_dirs) > 1 or compare_out is not None:
        if compare_out is None:
            compare_out = Path(os.path.commonpath([str(d.resolve()) for d in run_dirs])) / "comparison"
        page = write_comparison(run_dirs, compare_out, title=title)
        print_comparison(comparison_rows(run_dirs), title, console)
        console.print(f"comparison: {page}", markup=False, highlight=False, soft_wrap=True)
