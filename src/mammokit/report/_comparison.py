"""write_comparison(run_dirs, out_dir): Module 1 vs Module 2 vs CV side by side (chart, page, JSON, Markdown)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from .._json import strict_dumps
from ..constants import RESEARCH_DISCLAIMER
from ..errors import InputFileError, MammokitError
from ._figures import plain, save_figure
from ._html import png_data_uri, render, utc_now, write_text_atomic
from ._lesion import LESION_TASKS, is_lesion_run, lesion_task_rows
from ._run_folder import METRICS_FILE, _load_metrics
from ._text import fmt, fmt_ci, is_number, metric_entry, protocol_description

COMPARISON_METRICS = ("accuracy", "balanced_accuracy", "macro_f1", "macro_roc_auc")
SHORT_LABELS = {"accuracy": "Accuracy", "balanced_accuracy": "Balanced acc.", "macro_f1": "Macro F1",
                "macro_roc_auc": "Macro ROC-AUC"}
TASK_SHORT_LABELS = {"normal_vs_abnormal": "Normal vs abnormal", "benign_vs_malignant": "Benign vs malignant",
                     "3class": "3-class macro"}


def _load_summary(run_dir: Path) -> dict:
    """Only metrics.json is needed to compare runs."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise InputFileError(run_dir, "not a run folder (no such directory)")
    return _load_metrics(run_dir / METRICS_FILE)


def comparison_rows(run_dirs) -> list[dict]:
    """One dict per run: name, protocol, leaky, n_test_rows and, per compared metric, value and CI.

    ``{"name": "mias-cv", "protocol": "cv", "leaky": False, "run_dir": "...", "n_test_rows": 966,
       "accuracy": {"value": 0.61, "ci": [0.57, 0.65]}, ...}``
    """
    rows = []
    for run_dir in run_dirs:
        metrics = _load_summary(Path(run_dir))
        row = {
            "name": str(metrics.get("name") or Path(run_dir).name),
            "protocol": str(metrics.get("protocol") or ""),
            "leaky": bool(metrics.get("leaky")),
            "run_dir": str(run_dir),
            "n_test_rows": metrics.get("n_test_rows"),
        }
        leak = metrics.get("leak")
        if isinstance(leak, dict):
            row["synthetic_test_fraction"] = leak.get("synthetic_test_fraction")
        for key in COMPARISON_METRICS:
            value, ci = metric_entry(metrics["metrics"], key)
            row[key] = {"value": value, "ci": list(ci) if ci else None}
        rows.append(row)
    return rows


def task_comparison_rows(run_dirs) -> list[dict]:
    """Whole-image vs lesion-aware side by side: per run, the pooled ROC-AUC (95% CI) of each image-level task it
    measured and, for lesion runs, the localisation hit rate. [] unless at least one run is a lesion run.

    A whole-image run measures one task (its "task"); a lesion run measures all three from the same predictions.
    """
    summaries = [(Path(d), _load_summary(Path(d))) for d in run_dirs]
    if not any(is_lesion_run(m) for _, m in summaries):
        return []
    rows = []
    for run_dir, metrics in summaries:
        tasks: dict[str, dict | None] = {key: None for key, _ in LESION_TASKS}
        if is_lesion_run(metrics):
            for t in lesion_task_rows(metrics):
                tasks[t.key] = {"value": t.pooled, "ci": list(t.ci) if t.ci else None, "mean_of_repeats": t.mean}
        elif metrics.get("task") in tasks:
            value, ci = metric_entry(metrics["metrics"], "macro_roc_auc")
            mean = (metrics.get("per_repeat_mean") or {}).get("macro_roc_auc")
            tasks[metrics["task"]] = {"value": value, "ci": list(ci) if ci else None,
                                      "mean_of_repeats": mean if is_number(mean) else None}
        loc = metrics.get("localisation") if isinstance(metrics.get("localisation"), dict) else None
        rows.append({
            "name": str(metrics.get("name") or run_dir.name), "model": str(metrics.get("model") or ""),
            "protocol": str(metrics.get("protocol") or ""), "leaky": bool(metrics.get("leaky")),
            "run_dir": str(run_dir), "tasks": tasks,
            "localisation": None if loc is None else {"hit_rate": loc.get("hit_rate"), "n": loc.get("n")},
        })
    return rows


def task_comparison_table(rows: list[dict]) -> tuple[list[str], list[list[str]]]:
    """Header and string cells of task_comparison_rows: pooled AUC [95% CI] per task, localisation hit rate."""
    header = ["run", "model"] + [f"{TASK_SHORT_LABELS.get(key, key)} AUC [95% CI]" for key, _ in LESION_TASKS] \
        + ["localisation hit rate"]
    body = []
    for row in rows:
        cells = [row["name"] + (" (LEAKY)" if row["leaky"] else ""), row["model"] or "\u2013"]
        for key, _ in LESION_TASKS:
            entry = row["tasks"][key]
            cells.append("not measured" if entry is None else
                         f"{fmt(entry['value'])} [{fmt_ci(tuple(entry['ci']) if entry['ci'] else None)}]")
        loc = row["localisation"]
        cells.append("\u2013" if loc is None else f"{fmt(loc['hit_rate'])} (n={loc['n']})")
        body.append(cells)
    return header, body


def comparison_table(rows: list[dict]) -> tuple[list[str], list[list[str]]]:
    """Header and string cells (value and 95% CI per metric) for printing with rich or as Markdown."""
    header = ["run", "protocol"] + [f"{SHORT_LABELS[k]} (95% CI)" for k in COMPARISON_METRICS]
    body = []
    for row in rows:
        cells = [row["name"], row["protocol"] + (" (LEAKY)" if row["leaky"] else "")]
        for key in COMPARISON_METRICS:
            entry = row[key]
            ci = tuple(entry["ci"]) if entry["ci"] else None
            cells.append(f"{fmt(entry['value'])} [{fmt_ci(ci)}]")
        body.append(cells)
    return header, body


_TASKS_MD_INTRO = ("\n## Image-level tasks\n\nPooled ROC-AUC with 95% patient-bootstrap CI per task; a whole-image run "
                   "measures only its own task, a lesion run all three plus localisation (hit rate: mean over repeats; "
                   "n: images scored per repeat).\n\n")


def comparison_markdown(rows: list[dict]) -> str:
    header, body = comparison_table(rows)
    return _markdown(header, body)


def _markdown(header: list[str], body: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |" for cells in body]
    return "\n".join(lines) + "\n"


def comparison_figure(rows: list[dict], title: str) -> Figure:
    """Grouped bars: one group per metric, one bar per run, 95% CI error bars; LEAKY runs hatched."""
    n_runs, n_metrics = len(rows), len(COMPARISON_METRICS)
    width = 0.8 / max(n_runs, 1)
    fig = Figure(figsize=(max(7.0, 1.9 * n_metrics + 0.5 * n_runs), 4.6), layout="constrained")
    ax = fig.subplots()
    x = np.arange(n_metrics)
    colours = [f"C{i % 10}" for i in range(n_runs)]
    for i, row in enumerate(rows):
        values = np.array([np.nan if row[k]["value"] is None else row[k]["value"] for k in COMPARISON_METRICS])
        err = np.zeros((2, n_metrics))
        has_ci = np.zeros(n_metrics, dtype=bool)
        for j, key in enumerate(COMPARISON_METRICS):
            ci = row[key]["ci"]
            if ci and not np.isnan(values[j]):
                err[:, j] = [max(values[j] - ci[0], 0.0), max(ci[1] - values[j], 0.0)]
                has_ci[j] = True
        label = plain(f"{row['name']} ({row['protocol']})" + (" LEAKY" if row["leaky"] else ""))
        pos = x - 0.4 + width * (i + 0.5)
        bars = ax.bar(pos, np.nan_to_num(values), width * 0.92, color=colours[i], label=label,
                      hatch="///" if row["leaky"] else None, edgecolor="darkred" if row["leaky"] else "white",
                      alpha=0.75 if row["leaky"] else 1.0)
        if has_ci.any():
            ax.errorbar(pos[has_ci], values[has_ci], yerr=err[:, has_ci], fmt="none", ecolor="black",
                        capsize=3, lw=1)
        for bar, v in zip(bars, values):
            if not np.isnan(v):
                ax.text(bar.get_x() + bar.get_width() / 2, 0.02, f"{v:.2f}", ha="center", va="bottom",
                        fontsize=7, rotation=90, color="white" if not row["leaky"] else "black")
    ax.set_xticks(x, [SHORT_LABELS[k] for k in COMPARISON_METRICS])
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("score (95% CI)")
    ax.set_title(plain(title))
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=min(n_runs, 3), frameon=False)
    return fig


def write_comparison(run_dirs, out_dir: str | Path, title: str = "Module 1 vs Module 2 vs cross-validation") -> Path:
    """Write comparison.png, comparison.html, comparison.json and comparison.md into out_dir;
    return the path of comparison.html."""
    run_dirs = [Path(d) for d in run_dirs]
    if not run_dirs:
        raise MammokitError("write_comparison: no run folders given")
    rows = comparison_rows(run_dirs)
    tasks = task_comparison_rows(run_dirs)
    task_header, task_body = task_comparison_table(tasks)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    chart = save_figure(comparison_figure(rows, title), out_dir / "comparison.png")
    generated = utc_now()
    summary = {"title": title, "generated": generated, "metrics": list(COMPARISON_METRICS), "runs": rows}
    if tasks:  # only when a lesion run takes part, so other comparisons keep their old shape
        summary["image_level_tasks"] = tasks
    write_text_atomic(out_dir / "comparison.json", strict_dumps(summary, indent=2) + "\n")
    write_text_atomic(out_dir / "comparison.md", f"# {title}\n\n{RESEARCH_DISCLAIMER}\n\n"
                      + comparison_markdown(rows)
                      + "\nValues are point estimates with 95% patient-bootstrap CIs in brackets."
                      + (" LEAKY runs are inflated (SMOTE before the split).\n" if any(r["leaky"] for r in rows)
                         else "\n")
                      + (_TASKS_MD_INTRO + _markdown(task_header, task_body) if tasks else ""))
    header, body = comparison_table(rows)
    seen = {}
    for r in rows:
        seen.setdefault(r["protocol"], r["name"])
    html = render(
        "comparison.html.j2", title=title, disclaimer=RESEARCH_DISCLAIMER, generated=generated,
        any_leaky=any(r["leaky"] for r in rows), chart_uri=png_data_uri(chart), header=header,
        rows=[{"leaky": r["leaky"], "cells": cells} for r, cells in zip(rows, body)],
        protocols=[(name, protocol, protocol_description(protocol)) for protocol, name in seen.items()],
        task_header=task_header, task_rows=[{"leaky": r["leaky"], "cells": c} for r, c in zip(tasks, task_body)],
    )
    return write_text_atomic(out_dir / "comparison.html", html)

