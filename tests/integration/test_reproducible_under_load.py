"""The same answer on a quiet and on a busy machine (issue: results never depend on load).

Runs ``bench/bench_reproducibility.py --tiny --from-worktree``: the tiny profile of the
pipeline in a fresh git + DVC repo, once quiet and once with a busy loop on every core, and
requires every field of ``metrics/*.json`` that is not a time to be identical.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.slow, pytest.mark.solver, pytest.mark.timeout(1500)]


def test_metrics_are_equal_quiet_and_under_load() -> None:
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    env.pop("PREFECT_API_URL", None)
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "bench_reproducibility.py"),
            "--tiny",
            "--from-worktree",
            "--load-per-core",
            "1",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-6000:]
    assert "OK: only time fields differ" in output, output[-6000:]
