"""Run the CLI as a user does: ``python -m inventory ...`` in a folder, output captured."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def run_inventory(cwd: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """``python -m inventory <args>`` in ``cwd`` (no exception on a non-zero exit)."""
    return subprocess.run(
        [sys.executable, "-m", "inventory", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
