"""Figures and self-contained HTML reports read from run folders.

``write_report(run_dir)`` draws the confusion matrix, ROC, PR, reliability diagram and the grid of
randomly selected predictions into ``run_dir/figures/`` and writes ``run_dir/report.html``;
lesion-model runs also get per-task AUCs, localisation and their heatmaps;
``write_comparison(run_dirs, out_dir)`` puts several runs (Module 1 vs Module 2 vs CV) side by side.
"""
from ._comparison import (
    COMPARISON_METRICS,
    comparison_markdown,
    comparison_rows,
    comparison_table,
    task_comparison_rows,
    task_comparison_table,
    write_comparison,
)
from ._grid import framed_thumbnail, panel_colour
from ._lesion import LESION_TASKS, is_lesion_run, lesion_task_rows, localisation_summary
from ._model_card import CARD_SECTIONS, markdown_to_html, model_card_html, model_card_markdown
from ._report import write_report
from ._run_folder import RunFolder, load_run

__all__ = [
    "CARD_SECTIONS",
    "COMPARISON_METRICS",
    "LESION_TASKS",
    "RunFolder",
    "comparison_markdown",
    "comparison_rows",
    "comparison_table",
    "framed_thumbnail",
    "is_lesion_run",
    "lesion_task_rows",
    "load_run",
    "localisation_summary",
    "markdown_to_html",
    "model_card_html",
    "model_card_markdown",
    "panel_colour",
    "task_comparison_rows",
    "task_comparison_table",
    "write_comparison",
    "write_report",
]
