"""BI-RADS suggestion rules: every ACR range, its boundaries, the 0/1/2 special cases, bad input."""
from __future__ import annotations

import pytest

from mammokit.birads import (
    BIRADS_DESCRIPTIONS,
    DEFAULT_DEPLOYMENT_PREVALENCE,
    BiradsThresholds,
    assess,
    check_prevalence,
    deployment_prior,
    shift_prevalence,
    suggest_birads,
)
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


# --- prevalence shift (hand-computed) -------------------------------------------------------------------
# Bayes' rule: p_dep(c) ∝ p(c) · π_dep(c) / π_train(c); π_dep(malignant) = d, the other classes keep their
# training ratio and share 1 - d.
#
# 1) π_train = (0.6, 0.2, 0.2), p = (0.5, 0.3, 0.2), d = 0.01:
#    π_dep = (0.6·0.99/0.8, 0.2·0.99/0.8, 0.01) = (0.7425, 0.2475, 0.01); ratios (1.2375, 1.2375, 0.05);
#    p·ratio = (0.61875, 0.37125, 0.01), sum 1.0 -> p_dep = (0.61875, 0.37125, 0.01).
# 2) binary, π_train(malignant) = 0.16, p(malignant) = 0.9, d = 0.005:
#    odds 9 · (0.005/0.995) / (0.16/0.84) = 0.2374372 -> p_dep = 0.2374372 / 1.2374372 = 0.1918781.
# 3) p equal to the training prior moves exactly to the deployment prior: (0.6, 0.2, 0.2) -> (0.7425, 0.2475, 0.01).
TEST_CASES_SHIFT = [
    ({"normal": 0.5, "benign": 0.3, "malignant": 0.2}, {"normal": 0.6, "benign": 0.2, "malignant": 0.2}, 0.01,
     {"normal": 0.61875, "benign": 0.37125, "malignant": 0.01}),
    ({"benign": 0.1, "malignant": 0.9}, {"benign": 0.84, "malignant": 0.16}, 0.005,
     {"benign": 1 - 0.1918781, "malignant": 0.1918781}),
    ({"normal": 0.6, "benign": 0.2, "malignant": 0.2}, {"normal": 0.6, "benign": 0.2, "malignant": 0.2}, 0.01,
     {"normal": 0.7425, "benign": 0.2475, "malignant": 0.01}),
]


@pytest.mark.parametrize("probs, training, d, expected", TEST_CASES_SHIFT)
def test_prior_shift_hand_computed(probs, training, d, expected):
    shifted = shift_prevalence(probs, training, deployment_prior(training, "malignant", d))
    for c, v in expected.items():
        assert shifted[c] == pytest.approx(v, abs=1e-6), c


def test_deployment_prior_keeps_the_other_classes_ratio():
    assert deployment_prior({"normal": 0.6, "benign": 0.2, "malignant": 0.2}, "malignant", 0.01) == pytest.approx(
        {"normal": 0.7425, "benign": 0.2475, "malignant": 0.01})


MIAS_PRIOR = {"normal": 207 / 322, "benign": 63 / 322, "malignant": 52 / 322}


def test_assess_uses_deployment_prevalence():
    """The issue's case: the MIAS class prior itself (16.1% malignant) is 4B at MIAS prevalence, but at the
    screening prevalence P(malignant) is the deployment prior itself (0.59%), so category 3."""
    a = assess(MIAS_PRIOR, earned=True, training_prevalence=MIAS_PRIOR)
    assert suggest_birads(MIAS_PRIOR).category == "4B"
    assert a.category == "3" and a.rule_used == "deployment prevalence" and a.withheld is None
    assert a.p_malignant_training == pytest.approx(52 / 322)
    assert a.p_malignant_deployment == pytest.approx(DEFAULT_DEPLOYMENT_PREVALENCE)
    assert a.deployment_prevalence == DEFAULT_DEPLOYMENT_PREVALENCE and a.training_prevalence == pytest.approx(52 / 322)
    assert "deployment prevalence of 0.59% malignant" in a.rule and "16.15%" in a.rule
    # a configured prevalence changes the category: 0.5 of malignant at 16% prior -> p_dep at 10%:
    # odds 1 · (0.1/0.9)/(0.1615/0.8385) = 0.5769 -> 0.3658 -> 4B; at 1%: odds 0.0524 -> 0.0498 -> 4A
    p = {"normal": 0.3, "benign": 0.2, "malignant": 0.5}
    assert assess(p, earned=True, training_prevalence=MIAS_PRIOR, deployment_prevalence=0.10).category == "4B"
    assert assess(p, earned=True, training_prevalence=MIAS_PRIOR, deployment_prevalence=0.01).category == "4A"


def test_assess_withholds_from_an_unproven_model():
    a = assess(three(0.3), earned=False, warning="has not shown it can separate the classes: AUC CI 0.4-0.6",
               training_prevalence=MIAS_PRIOR)
    assert a.category is None and a.label == "no BI-RADS category" and a.rule_used == "none"
    assert "AUC CI 0.4-0.6" in a.withheld
    assert a.p_malignant_deployment is not None  # both probabilities are still reported


def test_assess_without_training_prevalence_gives_no_category():
    a = assess(three(0.3), earned=True, training_prevalence=None)
    assert a.category is None and "prevalence" in a.withheld


def test_assess_normal_vs_abnormal_stays_at_training_prevalence():
    a = assess({"normal": 0.95, "abnormal": 0.05}, earned=True, training_prevalence={"normal": 0.6, "abnormal": 0.4})
    assert a.category == "1" and a.rule_used == "training prevalence" and a.p_malignant_deployment is None


@pytest.mark.parametrize("value", [0, 1, -0.1, "many", float("nan")])
def test_bad_prevalence(value):
    with pytest.raises(ConfigError, match="prevalence"):
        check_prevalence(value)
