"""Which bundle `make serve` uses: the best measured one, never a leaky or near-constant one."""
from __future__ import annotations

import json

import pytest

from mammokit.bundle import SERVED_FILE, choose_served_bundle, rank_bundles, served_bundle_path
from mammokit.errors import ModelError


def _bundle(tmp_path, name, *, auc_ci, near_constant=False, leaky=False, task="normal_vs_abnormal"):
    b = tmp_path / name / "bundle"
    b.mkdir(parents=True)
    manifest = {"kind": "mammokit-bundle", "format": 1, "model_type": "logistic", "backbone": {},
                "task": task, "classes": ["normal", "abnormal"],
                "discrimination": {task: {"auc": sum(auc_ci) / 2, "ci": list(auc_ci)}},
                "near_constant": {"value": near_constant, "spread": 0.001 if near_constant else 0.2},
                "metrics": {"leaky": leaky}}
    (b / "manifest.json").write_text(json.dumps(manifest))
    return b


def test_the_best_lower_bound_wins_and_leaky_or_constant_bundles_never_do(tmp_path):
    leaky = _bundle(tmp_path, "m1", auc_ci=(0.90, 0.98), leaky=True)  # best figures, but measured with a leak
    constant = _bundle(tmp_path, "cv", auc_ci=(0.60, 0.70), near_constant=True)
    chance = _bundle(tmp_path, "weak", auc_ci=(0.45, 0.62))  # not earned: lower bound below 0.5
    good = _bundle(tmp_path, "lesion", auc_ci=(0.58, 0.74))
    better = _bundle(tmp_path, "lesion2", auc_ci=(0.61, 0.70))  # lower point estimate, higher lower bound
    choice = choose_served_bundle([leaky, constant, chance, good, better], tmp_path)
    assert choice["bundle"] == str(better)
    order = [r["bundle"] for r in choice["candidates"]]
    assert order[:3] == [str(better), str(good), str(chance)]
    assert {r["bundle"] for r in choice["candidates"] if not r["eligible"]} == {str(leaky), str(constant)}
    assert served_bundle_path(tmp_path) == better
    assert json.loads((tmp_path / SERVED_FILE).read_text())["bundle"] == str(better)


def test_no_eligible_bundle_means_no_default(tmp_path):
    constant = _bundle(tmp_path, "cv", auc_ci=(0.40, 0.60), near_constant=True)
    assert choose_served_bundle([constant], tmp_path)["bundle"] is None
    assert served_bundle_path(tmp_path) is None


def test_a_bundle_without_evidence_ranks_last_and_is_not_served(tmp_path):
    old = tmp_path / "old" / "bundle"
    old.mkdir(parents=True)
    (old / "manifest.json").write_text(json.dumps({"kind": "mammokit-bundle", "format": 1, "model_type": "dense_head",
                                                   "task": "3class", "classes": ["normal", "abnormal"],
                                                   "backbone": {}}))  # as written before the evidence fields
    ok = _bundle(tmp_path, "ok", auc_ci=(0.52, 0.66))
    ranked = rank_bundles([old, ok])
    assert [r["bundle"] for r in ranked] == [str(ok), str(old)]
    assert ranked[1]["eligible"] is False  # no near-constancy check recorded: treated as not shown


def test_unreadable_choices_are_one_line_errors(tmp_path):
    (tmp_path / SERVED_FILE).write_text("{not json")
    with pytest.raises(ModelError, match=SERVED_FILE):
        served_bundle_path(tmp_path)
    with pytest.raises(ModelError, match="missing: not a model bundle folder"):
        rank_bundles([tmp_path / "missing"])
    (tmp_path / "stray").mkdir()
    (tmp_path / "stray" / "manifest.json").write_text("[]")
    with pytest.raises(ModelError, match="stray/manifest.json: not a mammokit bundle manifest"):
        rank_bundles([tmp_path / "stray"])
    assert served_bundle_path(tmp_path / "nowhere") is None
