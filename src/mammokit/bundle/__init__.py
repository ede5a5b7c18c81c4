"""Model bundles: save a trained head + standardiser + calibrator with its manifest; load a Predictor.

    from mammokit.bundle import load_bundle
    predictor = load_bundle("runs/mias-cv/bundle")
    pred = predictor.predict("mdb001.png")   # pred.label, pred.probabilities (calibrated), pred.in_distribution
"""
from ._load import Predictor, load_bundle
from ._prediction import Prediction
from ._save import BUNDLE_FORMAT, git_commit, save_bundle, standardised_distance

__all__ = ["BUNDLE_FORMAT", "Prediction", "Predictor", "git_commit", "load_bundle", "save_bundle",
           "standardised_distance"]
