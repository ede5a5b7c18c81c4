"""Model bundles: save a trained head + standardiser + calibrator with its manifest; load a Predictor.

    from mammokit.bundle import load_bundle
    predictor = load_bundle("runs/mias-cv/bundle")
    pred = predictor.predict("mdb001.png")   # pred.label, pred.probabilities (calibrated), pred.in_distribution
"""
from ._batch import BatchSummary, assessment_of, predict_records, records_from_paths
from ._evidence import (
    ModelEvidence,
    discrimination_from_summary,
    model_evidence,
    near_constant_from,
    prevalence_block,
)
from ._lesion import (
    LesionPrediction,
    LesionPredictor,
    load_lesion_bundle,
    save_lesion_bundle,
    view_to_original,
)
from ._load import HeadPredictor, evidence_of, load_bundle
from ._manifest import BUNDLE_FORMAT, COMMON_FIELDS, MODEL_TYPES, Predictor, read_manifest
from ._prediction import Prediction
from ._save import save_bundle, standardised_distance
from ._served import SERVED_FILE, choose_served_bundle, rank_bundles, served_bundle_path

__all__ = [
    "BUNDLE_FORMAT",
    "COMMON_FIELDS",
    "MODEL_TYPES",
    "SERVED_FILE",
    "BatchSummary",
    "HeadPredictor",
    "LesionPrediction",
    "LesionPredictor",
    "ModelEvidence",
    "Prediction",
    "Predictor",
    "assessment_of",
    "choose_served_bundle",
    "discrimination_from_summary",
    "evidence_of",
    "load_bundle",
    "load_lesion_bundle",
    "model_evidence",
    "near_constant_from",
    "predict_records",
    "prevalence_block",
    "rank_bundles",
    "read_manifest",
    "records_from_paths",
    "save_bundle",
    "save_lesion_bundle",
    "served_bundle_path",
    "standardised_distance",
    "view_to_original",
]
