"""The main job on real data (``make demo``): features for all of mini-MIAS, the paper's two
protocols and honest cross-validation on the same features, reports and one side-by-side table.

The paper's configs name ResNet50 with caffe preprocessing. ImageNet ResNet50 weights cannot be had
offline, so the demo runs all three protocols on one offline pretrained backbone (same features for
every protocol, so the differences are the protocols' alone). `mammokit run configs/paper-module1.yaml
--set features.weights=FILE` reproduces the paper's backbone where the weights exist.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from ..constants import DEFAULT_RUNS_DIR, REPO_ROOT

CONFIGS_DIR = REPO_ROOT / "configs"
# (config file, run name). Module 1 first: its leak is the headline the other two correct.
DEMO_RUNS = (("paper-module1.yaml", "paper-module1"), ("paper-module2.yaml", "paper-module2"),
             ("mias-cv.yaml", "mias-cv"))
# The lesion-aware model beside them: the v2 settings at one input size, so that the whole demo stays within
# 15 minutes cold on 2 cores (configs/mias-lesion.yaml is the full candidate set).
DEMO_LESION = ("mias-lesion-demo.yaml", "mias-lesion-demo")
COMPARISON_DIR = "mias-protocols"


@dataclass
class DemoResult:
    feature_stats: dict
    run_dirs: list[Path]
    comparison_dir: Path
    seconds: dict
    served: dict | None = None  # runs/served-bundle.json: which bundle `make serve` uses, and why


def demo_feature_overrides(backbone: str, size: int) -> list[str]:
    from ..features import resolve_preprocess

    mode = resolve_preprocess(backbone, None, size=size).mode  # the backbone's own normalisation
    return [f"features.backbone={backbone}", f"features.size={size}", f"features.mode={mode}",
            "features.weights=null" if backbone != "resnet50" else "features.weights=imagenet"]


def run_demo(*, data: str | Path | None = None, out: str | Path | None = None, backbone: str = "efficientnet_lite2",
             size: int = 384, extra_overrides: list[str] | None = None, lesion: bool = True,
             say=print) -> DemoResult:
    from ..bundle import choose_served_bundle
    from ..datasets import load_dataset
    from ..features import extract_features, resolve_preprocess
    from ..report import write_comparison
    from ._config import load_config
    from ._experiment import run_config

    out = Path(out) if out else DEFAULT_RUNS_DIR
    records = load_dataset("mias", data)
    say(f"mini-MIAS: {len(records)} images, {len({r.patient for r in records})} patients")
    t0 = time.perf_counter()
    fs = extract_features(records, backbone=backbone, preprocess=resolve_preprocess(backbone, None, size=size))
    s = fs.stats
    say(f"features {backbone} @ {size}px: images={s['images']} seconds={s['seconds']:.2f} "
        f"images_per_s={s['images_per_s']:.1f} cache_hits={s['cache_hits']}")
    seconds = {"features": round(time.perf_counter() - t0, 2)}
    overrides = demo_feature_overrides(backbone, size) + [f"dataset.data={data}" if data else "dataset.data=null"]
    overrides += list(extra_overrides or [])
    run_dirs = []
    for cfg_file, name in DEMO_RUNS:
        cfg = load_config(CONFIGS_DIR / cfg_file, overrides)
        t1 = time.perf_counter()
        say(f"running {name} ({cfg['protocol']['name']}) ...")
        run_dirs.append(run_config(cfg, out / name, progress=False))
        seconds[name] = round(time.perf_counter() - t1, 2)
        say(f"  {name}: {seconds[name]:.1f} s -> {out / name}/report.html")
    if lesion:
        cfg_file, name = DEMO_LESION
        cfg = load_config(CONFIGS_DIR / cfg_file, [f"dataset.data={data}" if data else "dataset.data=null"])
        t1 = time.perf_counter()
        say(f"running {name} (lesion-aware model, patient-grouped CV) ...")
        run_dirs.append(run_config(cfg, out / name, progress=True))
        seconds[name] = round(time.perf_counter() - t1, 2)
        say(f"  {name}: {seconds[name]:.1f} s -> {out / name}/report.html")
    comparison = write_comparison(run_dirs, out / COMPARISON_DIR,
                                  title=f"mini-MIAS: Module 1 vs Module 2 vs CV ({backbone} features)"
                                        + (", whole image vs lesion-aware" if lesion else ""))
    served = choose_served_bundle([d / "bundle" for d in run_dirs if (d / "bundle").is_dir()], out)
    say(f"served by `make serve`: {served['bundle'] or 'none (no bundle qualifies; pass --model)'}")
    return DemoResult(feature_stats=s, run_dirs=run_dirs, comparison_dir=Path(comparison), seconds=seconds,
                      served=served)
