"""CLI: `mammokit features` — extract (and cache) deep features for a data set."""
from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from ..features._defaults import DEFAULT_BATCH_SIZE, DEFAULT_RUNTIME, DEFAULT_THREADS
from ._app import app


@app.command("features")
def features_cmd(
    dataset: str = typer.Option("mias", "--dataset", help="mias | folder | manifest"),
    data: Path | None = typer.Option(None, "--data", help="data folder (or manifest CSV); mias defaults to ../shared"),
    backbone: str = typer.Option("efficientnet_lite2", "--backbone", help="efficientnet_lite0 | efficientnet_lite2 | resnet50"),
    weights: str | None = typer.Option(None, "--weights", help="weights file, 'imagenet' or 'random'"),
    size: int = typer.Option(384, "--size", help="square model input side in pixels"),
    mode: str | None = typer.Option(None, "--mode", help="caffe | imagenet (default: the backbone's own)"),
    cache: Path | None = typer.Option(None, "--cache", help="feature cache folder (default ./cache)"),
    batch_size: int = typer.Option(DEFAULT_BATCH_SIZE, "--batch-size", min=1,
                                   help="images per backbone call (default chosen by benchmarks/throughput.py)"),
    threads: int | None = typer.Option(DEFAULT_THREADS, "--threads", min=1,
                                          help="model intra-op threads (default chosen by benchmarks/pipeline.py)"),
    tta: bool = typer.Option(False, "--tta/--no-tta", help="average with the horizontally flipped image"),
    runtime: str = typer.Option(DEFAULT_RUNTIME, "--runtime",
                                help="onnx | torch | torch-channels-last (default chosen by benchmarks/throughput.py)"),
    out: Path | None = typer.Option(None, "--out", help="also save X and ids to this .npz"),
    engine: str = typer.Option("local", "--engine", help="local (in-process, default) | ray (Ray Data actors; "
                                                          "needs mammokit[ray], see docs/scaling.md)"),
    address: str | None = typer.Option(None, "--address", help="--engine ray: join this Ray cluster "
                                                                   "(host:port or auto); default a local Ray"),
    actors: int | None = typer.Option(None, "--actors", min=1, help="--engine ray: actor pool size "
                                                                        "(default one per cluster CPU)"),
) -> None:
    """Extract pooled backbone features for every image, with a progress bar, and report throughput."""
    import numpy as np

    from ..datasets import load_dataset
    from ..features import extract_features, resolve_preprocess

    records = load_dataset(dataset, data)
    cfg = resolve_preprocess(backbone, None, size=size, mode=mode)
    fs = extract_features(records, backbone=backbone, weights=weights, preprocess=cfg, cache_dir=cache,
                          batch_size=batch_size, threads=threads, tta=tta, runtime=runtime, engine=engine,
                          address=address, actors=actors)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        np.savez(out, X=fs.X, ids=np.asarray(fs.ids))
    s = fs.stats
    table = Table(title=f"features: {backbone} @ {cfg.size}px, {cfg.mode} preprocessing, runtime {runtime}")
    for col in ("images", "seconds", "images/s", "cache hits", "computed"):
        table.add_column(col, justify="right")
    table.add_row(str(s["images"]), f"{s['seconds']:.2f}", f"{s['images_per_s']:.1f}", str(s["cache_hits"]),
                  str(s["computed"]))
    Console().print(table)
    print(f"images={s['images']} seconds={s['seconds']:.3f} images_per_s={s['images_per_s']:.1f} "
          f"cache_hits={s['cache_hits']} feature_dim={fs.X.shape[1] if fs.X.ndim == 2 else fs.X.shape[1:]}")
