"""The multi-process torture run (tests/integration/torture.py) as part of ``make test``:
about 45 s of a server written over HTTP and SIGKILLed, CLI writers SIGKILLed mid-write, a
writing thread, CLI searches, checks and optimizes, all on one collection. Longer runs by
hand: ``python tests/integration/torture.py --seconds 600 --seed N``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

TORTURE = Path(__file__).parent / "torture.py"


def test_no_acknowledged_write_is_lost_under_torture(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            str(TORTURE),
            "--seconds",
            "45",
            "--seed",
            "2026",
            "--workdir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["failures"] == [], summary
    assert proc.returncode == 0, proc.stderr[-2000:]
    # the run did what it claims: kills landed, writes were acknowledged and checked
    assert summary["server kills"] >= 3
    assert summary["cli writer kills"] >= 1
    assert summary["acked"] >= 50
    assert summary["ids read back after restarts"] >= 20
    assert summary["checks"] >= 2
    assert summary["ids checked at the end"] >= 60
