"""Write a model bundle: a folder a later ``load_bundle`` (CLI predict, web app) turns into a Predictor.

Files (no pickle anywhere):
  manifest.json     what the model is, where it came from, how it was trained and scored
  head.pt           the dense head's torch state_dict (loaded with weights_only=True), or
  head.npz          the logistic baseline's coef/intercept
  scaler.npz        StandardScaler mean/scale (fitted on training rows only)
  calibrator.json   prior correction + calibration parameters

The manifest also says what the model has shown it can do (``discrimination``, ``near_constant``) and the
class prevalence its probabilities refer to (``prevalence``); see ``bundle._evidence``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

from .._json import strict_dumps
from ..errors import ModelError
from ..protocols import FittedPipeline
from ._evidence import prevalence_block
from ._manifest import MANIFEST, common_fields

# A feature vector further than this many times the training set's 99th-percentile
# standardised distance (and further than every training image) is flagged as out of distribution.
OOD_FACTOR = 1.5
# Share of the image inside the breast mask expected of a mammogram.
MASK_FRACTION_RANGE = (0.03, 0.97)


def standardised_distance(Z: np.ndarray) -> np.ndarray:
    """Root-mean-square z-score per row: how far a feature vector is from the training mean."""
    Z = np.asarray(Z, dtype=np.float64)
    return np.sqrt(np.mean(Z**2, axis=1))


def save_bundle(path: str | Path, pipe: FittedPipeline, *, X_train: np.ndarray, classes, task: str,
                features: dict, preprocess: dict, backbone_identity: str, dataset: dict, seed: int,
                metrics_summary: dict | None = None, trained_on: str = "", protocol: str = "",
                discrimination: dict | None = None, near_constant: dict | None = None) -> Path:
    """Write ``pipe`` (scaler + model + calibrator) and its manifest to folder ``path``.

    ``discrimination`` / ``near_constant``: measured on the run's out-of-fold predictions
    (``discrimination_from_summary``, ``near_constant_from``); without them the bundle has not earned a
    BI-RADS suggestion."""
    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    # Imported here so that loading a bundle (this package) never imports torch; saving follows training,
    # which has imported it already.
    import torch

    from ..models import DenseHead

    if type(pipe.model) is DenseHead:  # exactly the paper's head: subclasses have other architectures
        state = pipe.model.state()
        torch.save(state["state_dict"], out / "head.pt")
        head = {"file": "head.pt", "type": "dense_head", "n_features": state["n_features"],
                "hidden": state["hidden"], "dropout": state["dropout"]}
    elif isinstance(pipe.model, LogisticRegression):
        np.savez(out / "head.npz", coef=pipe.model.coef_, intercept=pipe.model.intercept_)
        head = {"file": "head.npz", "type": "logistic", "n_features": int(pipe.model.coef_.shape[1])}
    else:
        raise ModelError(f"bundles hold the dense head or the logistic baseline, not {type(pipe.model).__name__}")
    sc = pipe.scaler
    np.savez(out / "scaler.npz", mean=sc.mean_, scale=sc.scale_, var=sc.var_, n_samples_seen=sc.n_samples_seen_)
    (out / "calibrator.json").write_text(strict_dumps(pipe.calibrator.to_dict(), indent=2))
    d = standardised_distance(sc.transform(np.asarray(X_train, dtype=np.float32)))
    ood = {"distance": "rms standardised feature distance",
           "train_q50": float(np.quantile(d, 0.5)), "train_q99": float(np.quantile(d, 0.99)),
           "train_max": float(d.max()), "threshold": float(max(OOD_FACTOR * np.quantile(d, 0.99), d.max())),
           "mask_fraction_range": list(MASK_FRACTION_RANGE)}
    manifest = common_fields(
        model_type=head["type"], task=task, classes=classes, positive_class=classes[-1],
        backbone={"name": features["backbone"], "weights": features.get("weights"),
                  "identity": backbone_identity, "tta": bool(features.get("tta", False))},
        dataset=dataset, seed=seed, trained_on=trained_on, metrics=metrics_summary,
        discrimination=discrimination, near_constant=near_constant, prevalence=_prevalence(pipe, classes), ood=ood)
    manifest.update({
        "label_map": {c: k for k, c in enumerate(classes)},
        "head": head,
        "preprocess": dict(preprocess),
        "calibration": pipe.calibrator.to_dict()["fitted_method"],
        "protocol": protocol,
        "training": {k: v for k, v in pipe.info.items() if k != "calibration"},
    })
    (out / MANIFEST).write_text(strict_dumps(manifest, indent=2, allow_nan=False))
    return out


def _prevalence(pipe: FittedPipeline, classes) -> dict | None:
    """The real class frequencies of the final model's training rows (what its calibrated output refers to)."""
    prior = pipe.calibrator.prior_real
    if prior is None:
        return None
    return prevalence_block(classes, prior, "class frequencies of the final model's training rows (its "
                                           "calibrated probabilities refer to this prevalence)")
