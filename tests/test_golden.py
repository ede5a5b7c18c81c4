"""Same seed, same numbers: the demo's protocol rows and a comparison cell, recomputed from a committed
feature matrix, equal the committed figures exactly (to the last bit of every probability).

If this fails after a deliberate change to training or evaluation, run
`.venv/bin/python tests/golden/update_expected.py` and say in the commit why the figures moved.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "golden"))

from _compute import EXPECTED, compute


@pytest.mark.slow
def test_golden_figures_are_reproduced_exactly():
    expected = json.loads(EXPECTED.read_text())
    got = json.loads(json.dumps(compute()))  # the same float -> text -> float round trip as the file
    for row in expected:
        assert got[row] == expected[row], f"golden row {row} moved"
    assert set(got) == set(expected)


def test_math_libraries_are_pinned_before_torch_loads():
    """Importing mammokit first pins MKL, torch's and oneDNN's code paths (what makes another CPU agree)."""
    from mammokit._numerics import PINNED_ENV

    env = {k: v for k, v in os.environ.items() if k not in PINNED_ENV}
    code = ("import json, mammokit, torch; from mammokit._numerics import numerics_report; "
            "r = numerics_report(); r['capability'] = torch.backends.cpu.get_cpu_capability(); print(json.dumps(r))")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["env"] == PINNED_ENV
    assert report["pinned_before_load"] is True
    assert report["capability"] == "AVX2"


def test_a_users_own_setting_wins_and_late_pinning_is_reported():
    code = ("import torch, json, mammokit; from mammokit._numerics import numerics_report; "
            "print(json.dumps(numerics_report()))")
    env = {**os.environ, "MKL_CBWR": "COMPATIBLE"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["env"]["MKL_CBWR"] == "COMPATIBLE"
    assert report["pinned_before_load"] is False and report["loaded_before_pin"] == ["torch"]
