"""CLI: `mammokit data fetch` and `mammokit data info`, thin over mammokit.datasets."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from ..errors import ConfigError
from ._app import app, data_app, users_app  # noqa: F401

FETCHABLE = ("mias",)


@data_app.command("fetch")
def fetch(
    name: Annotated[str, typer.Argument(help="Data set to fetch: mias (mini-MIAS, 322 images).")],
    dest: Annotated[Path, typer.Option("--dest", help="Folder to put the verified copy in (created if needed).")],
    source: Annotated[str | None, typer.Option(
        "--from",
        help="A local folder, a .tar/.tar.gz/.zip archive or a URL. Default: the official PEIPA archive.",
    )] = None,
) -> None:
    """Fetch a data set and verify every image against the official MD5 list."""
    from ..datasets import fetch_mias

    if name not in FETCHABLE:
        raise ConfigError(f"cannot fetch {name!r}; fetchable: {', '.join(FETCHABLE)}")
    console = Console()
    fetch_mias(dest, source, report=lambda msg: console.print(msg, markup=False, highlight=False, soft_wrap=True))


@data_app.command("info")
def info(
    dataset: Annotated[str, typer.Option(
        "--dataset", help="mias, folder, manifest, or a public-dataset adapter: cbis-ddsm, rsna, vindr-mammo, "
                          "inbreast, cmmd (docs/datasets.md).")] = "mias",
    data: Annotated[Path | None, typer.Option(
        "--data", help="Data folder (mias, folder, adapters) or CSV (manifest). mias default: $MAMMOKIT_MIAS or "
                       "../shared.",
    )] = None,
    task: Annotated[str, typer.Option(
        "--task", help="3class, normal_vs_abnormal, benign_vs_malignant or cancer_vs_no_cancer.")] = "3class",
) -> None:
    """Count images and patients per class for a data set and task."""
    from ..datasets import check_task, load_dataset, task_targets

    check_task(task)  # fail on a typo before reading any data
    records = load_dataset(dataset, data)
    targets = task_targets(records, task)
    images, patients = targets.class_counts(), targets.patient_counts()
    table = Table(title=f"{dataset} - task {task}")
    table.add_column("class")
    table.add_column("images", justify="right")
    table.add_column("patients", justify="right")
    for cls in targets.classes:
        table.add_row(cls, str(images[cls]), str(patients[cls]))
    table.add_row("total", str(len(targets)), str(len(set(targets.groups.tolist()))), style="bold")
    console = Console()
    console.print(table)
    dropped = len(records) - len(targets)
    console.print(f"{len(records)} images from {len({r.patient for r in records})} patients"
                  + (f"; {dropped} not used by this task" if dropped else ""), highlight=False)
