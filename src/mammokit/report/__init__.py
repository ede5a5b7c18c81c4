"""Figures and self-contained HTML reports read from run folders.

``write_report(run_dir)`` draws the confusion matrix, ROC, PR, reliability diagram and the grid of
randomly selected predictions into ``run_dir/figures/`` and writes ``run_dir/report.html``;
``write_comparison(run_dirs, out_dir)`` puts several runs (Module 1 vs Module 2 vs CV) side by side.
"""
from ._comparison import (
    COMPARISON_METRICS,
    comparison_markdown,
    comparison_rows,
    comparison_table,
    write_comparison,
)
from ._grid import framed_thumbnail, panel_colour
from ._report import write_report
from ._run_folder import RunFolder, load_run

__all__ = [
    "COMPARISON_METRICS",
    "RunFolder",
    "comparison_markdown",
    "comparison_rows",
    "comparison_table",
    "framed_thumbnail",
    "load_run",
    "panel_colour",
    "write_comparison",
    "write_report",
]
