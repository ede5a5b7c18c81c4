"""Rewrite tests/golden/expected.json from the current code. Say why in the commit that changes it.

    .venv/bin/python tests/golden/update_expected.py          # after a change that moves the figures:
                                                              # keeps only this machine's entry
    .venv/bin/python tests/golden/update_expected.py --add    # same code, another CPU: add its entry

Each entry holds one machine's figures with its CPU model and kernel fingerprint (_compute.kernel_fingerprint);
the test compares exactly on a machine whose fingerprint is recorded.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _compute import EXPECTED, compute, machine_entry

if __name__ == "__main__":
    entry = machine_entry(compute())
    machines = []
    if "--add" in sys.argv[1:] and EXPECTED.is_file():
        machines = [m for m in json.loads(EXPECTED.read_text())["machines"]
                    if m.get("fingerprint") != entry["fingerprint"]]
    EXPECTED.write_text(json.dumps({"machines": machines + [entry]}, indent=1, allow_nan=False) + "\n")
    print(f"wrote {EXPECTED} ({len(machines) + 1} machine(s); this one: {entry['cpu']}, {entry['fingerprint']})")
