"""Suggest a BI-RADS assessment category from a model's class probabilities.

This is a *model suggestion* for research use, not a radiologist's assessment.
The rule follows the ACR BI-RADS likelihood-of-malignancy ranges:

=========  ===========================================================
category   rule (p = the model's calibrated P(malignant))
=========  ===========================================================
0          image not assessable (unreadable, not a mammogram, out of the
           training distribution), or the task gives no P(malignant) and
           the image is not confidently normal
1          p <= ``cat3_max`` and P(normal) >= ``confident``
2          p <= ``cat3_max`` and P(benign) >= ``confident``
3          p <= ``cat3_max`` (2 %)
4A         ``cat3_max`` < p <= ``cat4a_max`` (2-10 %)
4B         ``cat4a_max`` < p <= ``cat4b_max`` (10-50 %)
4C         ``cat4b_max`` < p < ``cat5_min`` (50-95 %)
5          p >= ``cat5_min`` (95 %)
=========  ===========================================================

For a ``normal_vs_abnormal`` model (no malignant class) only 1 (confident
normal) or 0 (an abnormality the model cannot grade) are possible.

Thresholds are configurable: pass ``thresholds=`` a :class:`BiradsThresholds`
or a mapping with any of its field names (for example the ``birads:`` section
of a YAML file given to ``mammokit serve --birads-config``).

:func:`assess` is what the web app and ``mammokit predict`` use. It adds two
guards around :func:`suggest_birads`:

- no category at all from a model that has not shown it can separate the
  classes (see ``mammokit.bundle.model_evidence``);
- the ACR ranges are applied to P(malignant) moved by Bayes' rule from the
  prevalence the model was calibrated at (e.g. 16% malignant in mini-MIAS) to a
  deployment prevalence (default :data:`DEFAULT_DEPLOYMENT_PREVALENCE`, a
  screening population; an assumption, see docs/web.md).
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields

import numpy as np

from .constants import BENIGN, MALIGNANT, NORMAL
from .errors import ConfigError
from .evaluate import Calibrator

__all__ = ["BIRADS_DESCRIPTIONS", "BIRADS_SEVERITY", "DEFAULT_DEPLOYMENT_PREVALENCE", "PREVALENCE_SOURCE", "BiradsAssessment",
           "BiradsSuggestion", "BiradsThresholds", "assess", "check_prevalence", "deployment_prior",
           "mean_probabilities", "most_severe", "shift_prevalence", "suggest_birads"]

# Cancers per screening exam in US community practice: cancer detection rate 5.1 per 1000 screens plus
# false-negative rate 0.8 per 1000 (cancers diagnosed within a year of a negative screen), BCSC
# 2007-2013, 1,682,504 digital screening mammograms (Lehman et al., Radiology 2017;283(1):49-58).
# An assumption about where the model is used, not a property of the model.
DEFAULT_DEPLOYMENT_PREVALENCE = 0.0059
PREVALENCE_SOURCE = ("BCSC screening benchmarks, Lehman et al. Radiology 2017;283(1):49-58: cancer detection "
                     "rate 5.1 + false-negative rate 0.8 per 1000 digital screening mammograms (assumed)")

BIRADS_DESCRIPTIONS: dict[str, str] = {
    "0": "Incomplete: needs additional imaging evaluation",
    "1": "Negative",
    "2": "Benign",
    "3": "Probably benign",
    "4A": "Low suspicion for malignancy",
    "4B": "Moderate suspicion for malignancy",
    "4C": "High suspicion for malignancy",
    "5": "Highly suggestive of malignancy",
}


@dataclass(frozen=True)
class BiradsThresholds:
    """Probability cut-offs (fractions, not percent). Defaults are the ACR ranges."""

    cat3_max: float = 0.02
    cat4a_max: float = 0.10
    cat4b_max: float = 0.50
    cat5_min: float = 0.95
    confident: float = 0.90  # P(normal) or P(benign) needed for category 1 or 2

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if not isinstance(v, (int, float)) or not 0.0 < float(v) < 1.0:
                raise ConfigError(f"BI-RADS threshold {f.name}={v!r} must be a number between 0 and 1")
        if not self.cat3_max < self.cat4a_max < self.cat4b_max < self.cat5_min:
            raise ConfigError(
                "BI-RADS thresholds must increase: cat3_max < cat4a_max < cat4b_max < cat5_min "
                f"(got {self.cat3_max}, {self.cat4a_max}, {self.cat4b_max}, {self.cat5_min})"
            )

    @classmethod
    def from_mapping(cls, values: Mapping[str, float] | None) -> BiradsThresholds:
        if not values:
            return cls()
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"unknown BI-RADS threshold(s) {unknown}; known: {sorted(known)}")
        return cls(**{k: float(v) for k, v in values.items()})


@dataclass(frozen=True)
class BiradsSuggestion:
    category: str  # "0", "1", "2", "3", "4A", "4B", "4C", "5"
    description: str
    rule: str  # the rule that produced the category, in words with the numbers used

    @property
    def label(self) -> str:
        return f"BI-RADS {self.category}"


def _pct(x: float) -> str:
    return f"{100 * x:.4g}%"


def _make(category: str, rule: str) -> BiradsSuggestion:
    return BiradsSuggestion(category, BIRADS_DESCRIPTIONS[category], rule)


def _check_probabilities(probabilities: Mapping[str, float]) -> dict[str, float]:
    if not probabilities:
        raise ConfigError("suggest_birads needs class probabilities; got none")
    probs: dict[str, float] = {}
    for k, v in probabilities.items():
        v = float(v)
        if math.isnan(v) or v < -1e-6 or v > 1 + 1e-6:
            raise ConfigError(f"probability of {k!r} is {v}; probabilities must lie in [0, 1]")
        probs[str(k)] = min(max(v, 0.0), 1.0)
    total = sum(probs.values())
    if abs(total - 1.0) > 1e-3:
        raise ConfigError(f"class probabilities sum to {total:.4f}, not 1")
    return probs


def suggest_birads(
    probabilities: Mapping[str, float],
    *,
    assessable: bool = True,
    thresholds: BiradsThresholds | Mapping[str, float] | None = None,
    reason: str | None = None,
) -> BiradsSuggestion:
    """The suggested category for one image, with the rule that produced it.

    `assessable=False` (unreadable, not a mammogram, out of distribution) gives 0;
    `reason` says why, and is repeated in the rule text.
    """
    t = thresholds if isinstance(thresholds, BiradsThresholds) else BiradsThresholds.from_mapping(thresholds)
    if not assessable:
        why = reason or "the image could not be assessed"
        return _make("0", f"not assessable: {why}")
    probs = _check_probabilities(probabilities)
    p_normal = probs.get(NORMAL)
    p_benign = probs.get(BENIGN)
    if MALIGNANT not in probs:
        if p_normal is not None and p_normal >= t.confident:
            return _make("1", f"P(normal) = {_pct(p_normal)} >= {_pct(t.confident)} (confident normal)")
        return _make(
            "0",
            "the model gives no probability of malignancy and the image is not confidently normal"
            + (f" (P(normal) = {_pct(p_normal)} < {_pct(t.confident)})" if p_normal is not None else ""),
        )
    p = probs[MALIGNANT]
    pm = f"P(malignant) = {_pct(p)}"
    if p <= t.cat3_max:
        if p_normal is not None and p_normal >= t.confident:
            return _make(
                "1", f"{pm} <= {_pct(t.cat3_max)} and P(normal) = {_pct(p_normal)} >= {_pct(t.confident)}"
            )
        if p_benign is not None and p_benign >= t.confident:
            return _make(
                "2", f"{pm} <= {_pct(t.cat3_max)} and P(benign) = {_pct(p_benign)} >= {_pct(t.confident)}"
            )
        return _make("3", f"{pm} <= {_pct(t.cat3_max)}")
    if p <= t.cat4a_max:
        return _make("4A", f"{_pct(t.cat3_max)} < {pm} <= {_pct(t.cat4a_max)}")
    if p <= t.cat4b_max:
        return _make("4B", f"{_pct(t.cat4a_max)} < {pm} <= {_pct(t.cat4b_max)}")
    if p < t.cat5_min:
        return _make("4C", f"{_pct(t.cat4b_max)} < {pm} < {_pct(t.cat5_min)}")
    return _make("5", f"{pm} >= {_pct(t.cat5_min)}")


# --- prevalence shift --------------------------------------------------------------------------------
def check_prevalence(value) -> float:
    """A deployment prevalence: a fraction strictly between 0 and 1 (one clear error otherwise)."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"prevalence {value!r} is not a number (give a fraction, e.g. 0.0059)") from None
    if not 0.0 < v < 1.0 or math.isnan(v):
        raise ConfigError(f"prevalence {value!r} must be a fraction between 0 and 1 (e.g. 0.0059 = 5.9 per 1000)")
    return v


def deployment_prior(training: Mapping[str, float], positive: str, prevalence: float) -> dict[str, float]:
    """Class prior where ``positive`` has ``prevalence`` and the other classes keep their training ratios."""
    rest = sum(v for c, v in training.items() if c != positive)
    if positive not in training or rest <= 0:
        raise ConfigError(f"training prevalence {dict(training)} has no {positive!r} class or nothing else")
    return {c: (prevalence if c == positive else (1.0 - prevalence) * v / rest) for c, v in training.items()}


def shift_prevalence(probabilities: Mapping[str, float], training: Mapping[str, float],
                     deployment: Mapping[str, float]) -> dict[str, float]:
    """Bayes' rule: p_dep(c|x) ∝ p(c|x) · π_dep(c) / π_train(c) (the calibrator's prior correction)."""
    classes = list(probabilities)
    shift = Calibrator("none", prior_fit=[training[c] for c in classes],
                       prior_real=[deployment[c] for c in classes])
    out = shift.transform(np.array([[probabilities[c] for c in classes]], dtype=np.float64))[0]
    return {c: float(v) for c, v in zip(classes, out)}


@dataclass(frozen=True)
class BiradsAssessment:
    """The category (or why there is none) and the probabilities the rule saw."""

    category: str | None  # None: withheld (the model has not earned a category)
    description: str
    rule: str
    withheld: str | None  # the plain warning shown at the top when category is None
    p_malignant_training: float | None  # at the prevalence the model was calibrated at
    p_malignant_deployment: float | None  # moved to the deployment prevalence
    training_prevalence: float | None  # of malignant
    deployment_prevalence: float | None
    rule_used: str  # "deployment prevalence", "training prevalence" or "none"

    @property
    def label(self) -> str:
        return f"BI-RADS {self.category}" if self.category is not None else "no BI-RADS category"

    def as_dict(self) -> dict:
        return asdict(self)


def assess(probabilities: Mapping[str, float], *, earned: bool, warning: str | None = None,
           training_prevalence: Mapping[str, float] | None = None,
           deployment_prevalence: float = DEFAULT_DEPLOYMENT_PREVALENCE, assessable: bool = True,
           reason: str | None = None, thresholds: BiradsThresholds | Mapping[str, float] | None = None,
           ) -> BiradsAssessment:
    """The BI-RADS suggestion for one image, from probabilities at the model's training prevalence.

    ``earned=False`` gives no category and ``warning`` says why. With a malignant class the ACR ranges are
    applied at ``deployment_prevalence``; without one (normal vs abnormal) at the training prevalence.
    """
    probs = _check_probabilities(probabilities)
    deployment_prevalence = check_prevalence(deployment_prevalence)
    p_train = probs.get(MALIGNANT)
    train_prev = None if not training_prevalence else training_prevalence.get(MALIGNANT)
    shifted, p_dep = probs, None
    if p_train is not None and train_prev is not None:
        shifted = shift_prevalence(probs, training_prevalence,
                                   deployment_prior(training_prevalence, MALIGNANT, deployment_prevalence))
        p_dep = shifted[MALIGNANT]
    common = {"p_malignant_training": p_train, "p_malignant_deployment": p_dep, "training_prevalence": train_prev,
                  "deployment_prevalence": deployment_prevalence if p_train is not None else None}
    if not earned:
        text = warning or "This model has not shown it can separate the classes, so it gives no BI-RADS category."
        return BiradsAssessment(None, "", "no category: the model has not earned one", text, rule_used="none",
                                **common)
    if p_train is not None and train_prev is None:
        text = ("No BI-RADS category: the bundle does not record the prevalence its probabilities refer to, "
                "so P(malignant) cannot be moved to the deployment prevalence.")
        return BiradsAssessment(None, "", "no category: training prevalence unknown", text, rule_used="none",
                                **common)
    s = suggest_birads(shifted, assessable=assessable, thresholds=thresholds, reason=reason)
    if p_dep is not None:
        used = "deployment prevalence"
        rule = (f"{s.rule}, at the deployment prevalence of {_pct(deployment_prevalence)} malignant "
                f"(the model's P(malignant) = {_pct(p_train)} at its training prevalence of {_pct(train_prev)})")
    else:
        used = "training prevalence"
        rule = f"{s.rule} (the model has no malignant class; probabilities at its training prevalence)"
    if not assessable:
        rule = s.rule
    return BiradsAssessment(s.category, s.description, rule, None, rule_used=used, **common)


# --- several images: a breast, an exam -------------------------------------------------------------------
# ACR BI-RADS (5th ed.) hierarchy for the overall assessment of an exam, least to most urgent:
# 1 < 2 < 3 < 0 < 4 < 5 (category 6, known cancer, is never suggested here).
BIRADS_SEVERITY = ("1", "2", "3", "0", "4A", "4B", "4C", "5")


def most_severe(categories) -> str | None:
    """The exam's category: the most urgent of its breasts' (None when there is none)."""
    known = [c for c in categories if c is not None]
    return max(known, key=BIRADS_SEVERITY.index) if known else None


def mean_probabilities(per_view: list[Mapping[str, float]]) -> dict[str, float]:
    """A breast's class probabilities: the mean over its views (each at the training prevalence)."""
    if not per_view:
        raise ConfigError("a breast needs at least one image")
    classes = list(per_view[0])
    return {c: float(np.mean([float(p[c]) for p in per_view])) for c in classes}
