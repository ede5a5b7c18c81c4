"""Rewrite tests/golden/expected.json from the current code. Say why in the commit that changes it.

    .venv/bin/python tests/golden/update_expected.py
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _compute import EXPECTED, compute

if __name__ == "__main__":
    EXPECTED.write_text(json.dumps(compute(), indent=1, allow_nan=False) + "\n")
    print(f"wrote {EXPECTED}")
