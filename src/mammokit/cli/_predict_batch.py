"""`mammokit predict --out preds.csv|preds.parquet ...`: the batch path (bundle/_batch.py) behind the predict command."""
from __future__ import annotations

import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table


def batch_records(images: list[Path] | None, dataset: str | None, data: Path | None) -> list:
    """The records to predict: a dataset (adapter, folder of class folders, manifest, mias) or image files
    and folders given as arguments; a lone .csv argument is read as a manifest."""
    from ..bundle import records_from_paths
    from ..datasets import load_dataset
    from ..errors import ConfigError

    if dataset is not None:
        if images:
            raise ConfigError("give either images or --dataset/--data, not both")
        return load_dataset(dataset, data)
    if data is not None:
        raise ConfigError("--data needs --dataset (e.g. --dataset cbis-ddsm --data DIR)")
    if not images:
        raise ConfigError("nothing to predict: give images, a folder, a manifest .csv or --dataset")
    if len(images) == 1 and images[0].suffix.lower() == ".csv":
        return load_dataset("manifest", images[0])
    return records_from_paths(images)


def run_batch(predictor, records: list, out: Path, *, prevalence: float, batch_size: int | None,
              threads: int | None, cache: Path | None, restart: bool, engine: str = "local",
              address: str | None = None) -> int:
    """Write the CSV or Parquet file, print a summary table and the unreadable images; the number of failures."""
    from ..bundle import predict_records
    from ..constants import RESEARCH_DISCLAIMER

    s = predict_records(predictor, records, out, prevalence=prevalence, batch_size=batch_size, threads=threads,
                        cache_dir=cache, restart=restart, engine=engine, address=address)
    table = Table(title=f"predict: {out}")
    for col in ("images", "computed", "resumed", "failed", "breasts", "seconds", "images/s"):
        table.add_column(col, justify="right")
    table.add_row(str(s.images), str(s.computed), str(s.resumed), str(len(s.failed)), str(s.breasts),
                  f"{s.seconds:.2f}", f"{s.images_per_s:.1f}")
    Console(stderr=True).print(table)
    for path, reason in s.failed:
        print(f"mammokit: unreadable: {reason}" if reason.startswith(path) else f"mammokit: unreadable: {path}: {reason}",
              file=sys.stderr)
    print(f"images={s.images} computed={s.computed} resumed={s.resumed} failed={len(s.failed)} "
          f"breasts={s.breasts} seconds={s.seconds:.3f} images_per_s={s.images_per_s:.2f} out={out}")
    print(RESEARCH_DISCLAIMER)
    return len(s.failed)
