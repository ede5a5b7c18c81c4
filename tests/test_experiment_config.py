"""Experiment configs: YAML over defaults, --set overrides, unknown keys and bad values rejected."""
from __future__ import annotations

from pathlib import Path

import pytest

from mammokit.constants import REPO_ROOT
from mammokit.errors import ConfigError, InputFileError
from mammokit.orchestration import DEFAULTS, load_config

CONFIGS = REPO_ROOT / "configs"


@pytest.mark.parametrize("name,protocol,backbone", [("paper-module1", "module1", "resnet50"),
                                                    ("paper-module2", "module2", "resnet50"),
                                                    ("mias-cv", "cv", "efficientnet_lite2")])
def test_shipped_configs_load(name, protocol, backbone):
    cfg = load_config(CONFIGS / f"{name}.yaml")
    assert cfg["name"] == name and cfg["protocol"]["name"] == protocol
    assert cfg["features"]["backbone"] == backbone and cfg["balance"] == "smote"
    assert cfg["model"]["type"] == "dense_head" and isinstance(cfg["seed"], int)


def test_overrides_are_parsed_as_yaml_values():
    cfg = load_config(CONFIGS / "mias-cv.yaml", ["protocol.repeats=1", "features.backbone=efficientnet_lite0",
                                                 "calibration.prior_correction=false", "model.lr=0.01",
                                                 "dataset.data=/some/where"])
    assert cfg["protocol"]["repeats"] == 1 and cfg["features"]["backbone"] == "efficientnet_lite0"
    assert cfg["calibration"]["prior_correction"] is False and cfg["model"]["lr"] == 0.01
    assert cfg["dataset"]["data"] == "/some/where"
    assert load_config(None)["protocol"] == DEFAULTS["protocol"]


def test_name_defaults_to_the_file_stem(tmp_path):
    p = tmp_path / "my-run.yaml"
    p.write_text("task: normal_vs_abnormal\n")
    cfg = load_config(p)
    assert cfg["name"] == "my-run" and cfg["task"] == "normal_vs_abnormal"


@pytest.mark.parametrize("text,overrides,match", [
    ("modle: {type: logistic}\n", [], "unknown config key.*modle"),
    ("", ["model.typo=3"], "unknown config key.*model.typo"),
    ("", ["protocol.name=module3"], "protocol.name"),
    ("", ["balance=smotish"], "balance"),
    ("", ["task=4class"], "task"),
    ("", ["protocol.folds=1"], "folds"),
    ("model: 3\n", [], "model must be a mapping"),
    ("- a\n- b\n", [], "mapping"),
    ("a: [\n", [], "not valid YAML"),
    ("", ["seed"], "key.sub=value"),
])
def test_bad_configs_are_config_errors(tmp_path, text, overrides, match):
    p = tmp_path / "c.yaml"
    p.write_text(text)
    with pytest.raises(ConfigError, match=match) as info:
        load_config(p, overrides)
    assert "\n" not in str(info.value)


def test_missing_config_file():
    with pytest.raises(InputFileError, match="config file not found"):
        load_config(Path("/nonexistent/config.yaml"))


def test_run_refuses_models_it_cannot_train_on_pooled_features(tmp_path):
    from mammokit.orchestration import run_config

    cfg = load_config(None, ["model.type=cnn_lstm"])  # valid for `mammokit compare`, not for `run`
    with pytest.raises(ConfigError, match="mammokit compare"):
        run_config(cfg, tmp_path / "run")
    assert not (tmp_path / "run").exists()
