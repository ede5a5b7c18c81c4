"""BI-RADS suggestion rules: every ACR range, its boundaries, the 0/1/2 special cases, bad input."""
from __future__ import annotations

import pytest

from mammokit.birads import BIRADS_DESCRIPTIONS, BiradsThresholds, suggest_birads
from mammokit.errors import ConfigError


def three(p_mal: float, p_normal: float | None = None) -> dict[str, float]:
    """A 3-class probability dict with P(malignant) = p_mal; the rest to normal (default) or split."""
    rest = 1.0 - p_mal
    if p_normal is None:
        p_normal = rest / 2
    return {"normal": p_normal, "benign": rest - p_normal, "malignant": p_mal}


# (probabilities, expected category) - boundaries included: <=2% -> 3, (2,10] -> 4A, (10,50] -> 4B,
# (50,95) -> 4C, >=95% -> 5.
TEST_CASES_ACR = [
    (three(0.0), "3"),
    (three(0.02), "3"),
    (three(0.0201), "4A"),
    (three(0.10), "4A"),
    (three(0.1001), "4B"),
    (three(0.50), "4B"),
    (three(0.5001), "4C"),
    (three(0.9499), "4C"),
    (three(0.95), "5"),
    (three(1.0), "5"),
    ({"benign": 0.97, "malignant": 0.03}, "4A"),  # benign_vs_malignant task
    ({"benign": 0.6, "malignant": 0.4}, "4B"),
]


@pytest.mark.parametrize("probs, expected", TEST_CASES_ACR)
def test_acr_ranges(probs, expected):
    s = suggest_birads(probs)
    assert s.category == expected
    assert s.description == BIRADS_DESCRIPTIONS[expected]
    assert "P(malignant)" in s.rule


TEST_CASES_CONFIDENT = [
    ({"normal": 0.97, "benign": 0.02, "malignant": 0.01}, "1"),
    ({"normal": 0.02, "benign": 0.97, "malignant": 0.01}, "2"),
    ({"normal": 0.50, "benign": 0.49, "malignant": 0.01}, "3"),  # low risk but not confident
    ({"normal": 0.95, "benign": 0.0, "malignant": 0.05}, "4A"),  # confident normal yet P(mal) > 2%
    ({"normal": 0.95, "abnormal": 0.05}, "1"),  # normal_vs_abnormal task
    ({"normal": 0.60, "abnormal": 0.40}, "0"),  # abnormal but no malignancy estimate
]


@pytest.mark.parametrize("probs, expected", TEST_CASES_CONFIDENT)
def test_confident_normal_and_benign(probs, expected):
    assert suggest_birads(probs).category == expected


def test_not_assessable_gives_zero_with_reason():
    s = suggest_birads(three(0.99), assessable=False, reason="out of the training distribution")
    assert s.category == "0"
    assert "out of the training distribution" in s.rule
    assert s.label == "BI-RADS 0"


TEST_CASES_THRESHOLDS = [
    ({"cat3_max": 0.05}, three(0.04), "3"),
    ({"cat5_min": 0.80}, three(0.85), "5"),
    (BiradsThresholds(confident=0.6), {"normal": 0.7, "benign": 0.29, "malignant": 0.01}, "1"),
]


@pytest.mark.parametrize("thresholds, probs, expected", TEST_CASES_THRESHOLDS)
def test_configurable_thresholds(thresholds, probs, expected):
    assert suggest_birads(probs, thresholds=thresholds).category == expected
    assert suggest_birads(probs).category != expected  # the defaults disagree, so the setting mattered


TEST_CASES_INVALID = [
    ({}, None, "needs class probabilities"),
    ({"normal": 0.5, "malignant": 0.2}, None, "sum to"),
    ({"normal": 1.5, "malignant": -0.5}, None, "must lie in"),
    (three(0.1), {"cat3_max": 0.2}, "must increase"),
    (three(0.1), {"cat4_max": 0.2}, "unknown BI-RADS threshold"),
    (three(0.1), {"confident": 1.5}, "between 0 and 1"),
]


@pytest.mark.parametrize("probs, thresholds, message", TEST_CASES_INVALID)
def test_invalid_input(probs, thresholds, message):
    with pytest.raises(ConfigError, match=message):
        suggest_birads(probs, thresholds=thresholds)
