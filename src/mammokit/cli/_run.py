"""CLI: `mammokit run CONFIG.yaml [--set key=value ...] [--out DIR]` and `mammokit evaluate RUN_DIR`."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from ._app import app, data_app, users_app  # noqa: F401


def _fmt(entry) -> str:
    if not isinstance(entry, dict) or entry.get("value") is None:
        return "n/a"
    ci = entry.get("ci")
    if ci and None not in ci:
        return f"{entry['value']:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]"
    return f"{entry['value']:.3f}"


def metrics_table(metrics: dict, title: str) -> Table:
    """A rich table of the headline metrics (value and 95% patient-bootstrap CI)."""
    from ..evaluate import SCALAR_METRICS

    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value [95% CI, patient bootstrap]")
    for name in SCALAR_METRICS:
        label = name.replace("_", " ")
        if name in ("sensitivity", "specificity"):
            label += f" ({metrics.get('positive_class', 'positive')})"
        table.add_row(label, _fmt(metrics["metrics"].get(name)))
    cal = metrics.get("calibration") or {}
    if cal.get("before"):
        table.add_row("Brier before -> after", f"{cal['before']['brier']:.3f} -> {cal['after']['brier']:.3f}")
        table.add_row("ECE before -> after", f"{cal['before']['ece']:.3f} -> {cal['after']['ece']:.3f}")
    return table


def lesion_tables(metrics: dict) -> list:
    """For lesion-model runs: the per-task AUC table and the localisation line; [] for other runs."""
    from ..report import lesion_task_rows, localisation_summary

    rows = lesion_task_rows(metrics)
    if not rows:
        return []
    from ..report._text import fmt

    table = Table(title="lesion model: image-level ROC-AUC (CI: patient bootstrap)")
    for column in ("task", "mean", "each repeat", "pooled [95% CI]", "n"):
        table.add_column(column, no_wrap=True)
    for r in rows:
        ci = f"[{r.ci[0]:.3f}, {r.ci[1]:.3f}]" if r.ci else ""
        task = "3-class macro" if r.key == "3class" else r.key.replace("_", " ")
        table.add_row(task, fmt(r.mean), " ".join(fmt(v) for v in r.per_repeat),
                      f"{fmt(r.pooled)} {ci}".strip(), str(r.n_test_rows if r.n_test_rows is not None else "n/a"))
    out: list = [table]
    loc = localisation_summary(metrics)
    if loc:
        per_repeat = ", ".join(f"{rate} (n={n})" for _, rate, n in loc["per_repeat"])
        out.append(f"localisation hit rate {loc['hit_rate']} (mean over repeats, {loc['n']} abnormal test images "
                   f"with coordinates per repeat)" + (f"; per repeat {per_repeat}" if per_repeat else ""))
    return out


def _print_summary(metrics: dict, run_dir: Path) -> None:
    console = Console()
    title = (f"{metrics['name']}: {metrics['protocol']} | {metrics['task']} | {metrics['backbone']} + "
             f"{metrics['model']} | balance {metrics['balance']} | {metrics['n_test_rows']} test rows")
    console.print(metrics_table(metrics, title))
    for item in lesion_tables(metrics):
        console.print(item)
    raw = (metrics.get("metrics_raw") or {})
    if raw.get("balanced_accuracy"):
        console.print("decided on the head's balanced-prior (uncalibrated) probabilities instead: balanced accuracy "
                      f"{_fmt(raw['balanced_accuracy'])}, sensitivity {_fmt(raw.get('sensitivity'))}, "
                      f"specificity {_fmt(raw.get('specificity'))}")
    if metrics.get("leaky"):
        leak = metrics.get("leak") or {}
        console.print(
            f"[bold red]LEAKY protocol:[/] {leak.get('synthetic_test_rows', '?')} of {leak.get('test_rows', '?')} test rows "
            f"are synthetic ({leak.get('synthetic_test_fraction', 0):.0%}); "
            f"{leak.get('test_rows_interpolated_from_training_images', '?')} were interpolated from training images; "
            f"{leak.get('real_test_images_with_other_breast_in_training', '?')} real test images have the other "
            "breast in training. These figures overstate performance on new patients."
        )
    if (metrics.get("per_repeat") and len(metrics["per_repeat"]) > 1
            and all(isinstance(r, dict) and r.get("accuracy") is not None for r in metrics["per_repeat"])):
        mean = metrics.get("per_repeat_mean", {})
        console.print("per-repeat accuracy: " + ", ".join(f"{r['accuracy']:.3f}" for r in metrics["per_repeat"])
                      + (f" (mean {mean['accuracy']:.3f})" if mean.get("accuracy") is not None else ""))
    t = metrics.get("timing_s", {})
    console.print(f"run folder: {run_dir}   (features {t.get('features', '?')} s, fit+evaluate "
                  f"{t.get('fit_evaluate', '?')} s)")
    from ..constants import RESEARCH_DISCLAIMER

    console.print(f"[dim]{RESEARCH_DISCLAIMER}[/]")


@app.command("run")
def run_cmd(
    config: Annotated[Path, typer.Argument(help="experiment config (YAML), e.g. configs/mias-cv.yaml")],
    set_: Annotated[list[str] | None,
                    typer.Option("--set", help="override a config key: key.sub=value (repeatable)")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="run folder (default runs/<name>)")] = None,
    no_report: Annotated[bool, typer.Option("--no-report", help="skip figures and report.html")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", help="no progress bar")] = False,
) -> None:
    """Run an experiment: features, protocol, metrics with CIs, bundle, report."""
    from ..orchestration import load_config, run_config

    cfg = load_config(config, set_ or [])
    run_dir = run_config(cfg, out, progress=not quiet, report=not no_report)
    _print_summary(json.loads((run_dir / "metrics.json").read_text()), run_dir)


@app.command("evaluate")
def evaluate_cmd(
    run_dir: Annotated[Path, typer.Argument(help="a run folder written by `mammokit run`")],
    n_boot: Annotated[int | None,
                      typer.Option("--n-boot", help="bootstrap samples (default: the run's config)")] = None,
    write: Annotated[bool, typer.Option("--write", help="also rewrite the run's metrics.json")] = False,
) -> None:
    """Recompute the metrics of a run from its predictions.csv and print the table."""
    from ..evaluate import evaluate_run

    metrics = evaluate_run(run_dir, n_boot=n_boot, write=write)
    _print_summary(metrics, run_dir)
