"""The model x protocol table as CSV, Markdown and a rich table."""
from __future__ import annotations

import csv
import math
from pathlib import Path

from ...constants import RESEARCH_DISCLAIMER

HEADERS = {"accuracy": "Accuracy", "balanced_accuracy": "Balanced accuracy", "macro_f1": "Macro F1",
           "macro_roc_auc": "Macro ROC-AUC"}
METRICS = tuple(HEADERS)
PROTOCOL_NAMES = {"module1": "Module 1 (LEAKY)", "module2": "Module 2", "cv": "CV"}


def _num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def fmt_ci(entry: dict) -> str:
    """``0.912 (0.871-0.950)``; an en dash where a value is undefined."""
    v, ci = entry.get("value"), entry.get("ci")
    if not _num(v):
        return "\u2013"
    if ci and all(_num(c) for c in ci):
        return f"{v:.3f} ({ci[0]:.3f}\u2013{ci[1]:.3f})"
    return f"{v:.3f}"


def _claim(row: dict) -> str:
    c = row["paper_claim"].get("accuracy")
    return f"{c:.2f}" if _num(c) else "\u2013"


def table_cells(rows: list[dict]) -> tuple[list[str], list[list[str]]]:
    header = ["Model", "Protocol", "Paper's claim (accuracy)"] + [f"{HEADERS[m]} (95% CI)" for m in METRICS] + [
        "Always-majority accuracy", "Test rows"]
    body = [[r["label"], PROTOCOL_NAMES.get(r["protocol"], r["protocol"]), _claim(r)]
            + [fmt_ci(r[m]) for m in METRICS] + [f"{r['majority_accuracy']:.3f}", str(r["n_test_rows"])]
            for r in rows]
    return header, body


def markdown_table(comparison) -> str:
    """The table with its provenance line, as docs/paper-comparison.md shows it."""
    p = comparison.provenance
    header, body = table_cells(comparison.rows)
    lines = [
        (f"Produced by `mammokit compare {p.get('config') or '<config>'}` on {p['date_utc']}; "
        f"machine: {p['machine']}; commit: `{p.get('commit') or 'unknown'}`; "
        f"{p['n_images']} images of {p['n_patients']} patients ({', '.join(f'{k} {v}' for k, v in p['class_counts'].items())}); "
        f"backbone feature map {tuple(p['feature_map'])}; whole comparison {p['seconds_total']:.0f} s "
        f"(features {p['seconds_features']:.0f} s)."),
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join(["---"] * 2 + ["---:"] * (len(header) - 2)) + "|",
    ]
    lines += ["| " + " | ".join(cells) + " |" for cells in body]
    classes = list(comparison.rows[0]["recall"]) if comparison.rows else []
    lines += ["", "Recall per class (the share of each class's test rows the model labels correctly):", "",
              "| Model | Protocol | " + " | ".join(f"recall {c}" for c in classes) + " |",
              "|---|---|" + "---:|" * len(classes)]
    for r in comparison.rows:
        lines.append(f"| {r['label']} | {PROTOCOL_NAMES.get(r['protocol'], r['protocol'])} | "
                     + " | ".join(f"{r['recall'][c]:.3f}" if _num(r["recall"][c]) else "\u2013" for c in classes)
                     + " |")
    leaks = [r for r in comparison.rows if r.get("leak")]
    if leaks:
        lines += ["", "Module 1's leak, counted in each run (test rows are 20% of the balanced data set):", ""]
        for r in leaks:
            k = r["leak"]
            lines.append(
                f"- {r['label']}: {k['synthetic_test_rows']} of {k['test_rows']} test rows are synthetic, "
                f"{k['test_rows_interpolated_from_training_images']} of them interpolated from training images; "
                f"{k['real_test_images_with_other_breast_in_training']} of {k['real_test_images']} real test "
                "images have the same woman's other breast in training.")
    n_boot = comparison.config.get("bootstrap", {}).get("n", "?")
    lines += ["", (f"95% CIs: percentile bootstrap over patients ({n_boot} resamples). "
                   "CV pools the out-of-fold predictions of every repeat. Module 1 is LEAKY (see below): its test "
                   "rows include SMOTE-made rows interpolated from training images."), "", f"*{RESEARCH_DISCLAIMER}*"]
    return "\n".join(lines) + "\n"


def rich_table(comparison):
    from rich.table import Table

    header, body = table_cells(comparison.rows)
    table = Table(title=f"{comparison.name}: the paper's claims vs measured (95% CI, patient bootstrap)")
    for i, h in enumerate(header):
        table.add_column(h, justify="left" if i < 2 else "right", overflow="fold")
    for row, cells in zip(comparison.rows, body):
        table.add_row(*cells, style="red" if row["leaky"] else None)
    return table


def write_tables(comparison) -> dict[str, Path]:
    out: Path = comparison.out_dir
    csv_path = out / "comparison.csv"
    with open(csv_path, "w", newline="") as fh:
        w = csv.writer(fh)
        cols = ["model", "label", "protocol", "leaky", "balance", "input", "n_test_rows", "majority_accuracy",
                "paper_claim_accuracy"]
        for m in METRICS:
            cols += [m, f"{m}_ci_low", f"{m}_ci_high"]
        cols += ["synthetic_test_fraction", "test_rows_seen_by_training", "seconds"]
        w.writerow(cols)
        for r in comparison.rows:
            line = [r["model"], r["label"], r["protocol"], int(r["leaky"]), r["balance"], r["input"],
                    r["n_test_rows"], f"{r['majority_accuracy']:.6g}", r["paper_claim"].get("accuracy", "")]
            for m in METRICS:
                v, ci = r[m]["value"], r[m]["ci"] or [None, None]
                line += ["" if v is None else f"{v:.6g}"] + ["" if c is None else f"{c:.6g}" for c in ci]
            line += [r.get("synthetic_test_fraction", ""), r.get("test_rows_seen_by_training", ""), r["seconds"]]
            w.writerow(line)
    md_path = out / "comparison.md"
    md_path.write_text(f"# {comparison.name}\n\n" + markdown_table(comparison))
    return {"csv": csv_path, "markdown": md_path}
