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
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields

from .constants import BENIGN, MALIGNANT, NORMAL
from .errors import ConfigError

__all__ = ["BIRADS_DESCRIPTIONS", "BiradsSuggestion", "BiradsThresholds", "suggest_birads"]

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
