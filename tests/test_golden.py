"""Same seed, same numbers: the demo's protocol rows and a comparison cell, recomputed from a committed
feature matrix, equal the committed figures exactly (to the last bit of every probability) on a machine
whose training arithmetic is recorded in expected.json, and within the measured cross-CPU tolerance on
any other.

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

from _compute import EXPECTED, METRICS, TOLERANCE, compute, kernel_fingerprint


def _within_tolerance(got: dict, want: dict) -> list[str]:
    """What moved further than another CPU may move it (empty: nothing)."""
    out = []
    for row, w in want.items():
        g = got[row]
        for k in METRICS:
            pairs = [(g[k]["value"], w[k]["value"])] + list(zip(g[k]["ci"], w[k]["ci"]))
            if any(abs(a - b) > TOLERANCE[k] for a, b in pairs):
                out.append(f"{row} {k}: {g[k]} vs {w[k]}")
    return out


@pytest.mark.slow
def test_golden_figures_are_reproduced_exactly():
    machines = json.loads(EXPECTED.read_text())["machines"]
    got = json.loads(json.dumps(compute()))  # the same float -> text -> float round trip as the file
    assert json.loads(json.dumps(compute())) == got, "two runs with the same seed on one machine differ"
    for m in machines:
        assert set(got) == set(m["rows"])
    fingerprint = kernel_fingerprint()
    same_arithmetic = [m for m in machines if m["fingerprint"] == fingerprint]
    if same_arithmetic:  # a machine like one recorded: every figure and every probability's bits
        for row, want in same_arithmetic[0]["rows"].items():
            assert got[row] == want, f"golden row {row} moved (on {same_arithmetic[0]['cpu']})"
    elif not any(got == m["rows"] for m in machines):  # a CPU never recorded: the measured spread
        moved = [line for m in machines for line in _within_tolerance(got, m["rows"])]
        assert not moved, f"golden figures moved beyond the cross-CPU tolerance: {moved}"


def test_the_fingerprint_tells_mkl_code_paths_apart():
    """The fingerprint must change when the arithmetic does: another MKL code path (measured to move the
    golden figures) gives another fingerprint; the same settings give the same one."""
    code = (f"import sys; sys.path.insert(0, {str(EXPECTED.parent)!r}); import mammokit; "
            "from _compute import kernel_fingerprint; print(kernel_fingerprint())")

    def fp(mkl: str) -> str:
        env = {**os.environ, "MKL_CBWR": mkl}
        return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                              check=True).stdout.strip()

    pinned = fp("AVX2,STRICT")
    assert pinned == kernel_fingerprint() == fp("AVX2,STRICT")
    assert fp("COMPATIBLE") != pinned


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
