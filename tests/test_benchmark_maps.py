"""benchmarks/maps.py --quick (issue 12): both runtimes compute the same maps, the engine-settings sweep measures
each ONNX Runtime setting against eager, and the Markdown states each target against the measured figure."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def maps_bench():
    sys.path.insert(0, str(BENCH))
    try:
        import maps

        yield maps
    finally:
        sys.path.remove(str(BENCH))


@pytest.mark.xdist_group("onnx-lite0-224")
def test_maps_quick_measures_speed_and_parity_per_engine_setting(tmp_path, maps_bench):
    out = tmp_path / "maps.json"
    maps_bench.main(["--quick", "--out", str(out)])
    data = json.loads(out.read_text())
    r = data["result"]
    assert r["images"] == 2 and r["sizes"] == "256+320"
    assert 0 < r["max_abs_diff"] < 1e-3  # the same network in two engines, not two different maps
    rows = data["engine_settings"]
    assert [row["size"] for row in rows] == [256, 320]
    for row in rows:
        for key in ("default", "no_layout", "bn_kept"):
            assert row[f"{key}_s"] > 0 and 0 < row[f"{key}_diff"] < 1e-3
            assert row[f"{key}_speedup"] == pytest.approx(row["eager_s"] / row[f"{key}_s"])
    md = out.with_suffix(".md").read_text()
    assert "target >= 5x on the total" in md and "target <= 1e-4" in md
    assert "ONNX, BN kept, no optimisation: max abs diff" in md
    # A result saved before the sweep existed renders without its table.
    old = {k: v for k, v in data.items() if k != "engine_settings"}
    assert "Engine alone" not in maps_bench.markdown(old) and "Engine alone" in md
