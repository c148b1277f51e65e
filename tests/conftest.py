"""Shared fixtures. Seed-data tests skip cleanly when ../shared/seed-data is absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SEED_DATA = Path(os.environ.get("INVENTORY_SEED_DATA", ROOT.parent / "shared" / "seed-data"))


@pytest.fixture
def seed_data() -> Path:
    """The research project's real files; skips the test when they are absent."""
    if not (SEED_DATA / "item_inventory.csv").exists():
        pytest.skip(f"seed data not found at {SEED_DATA}")
    return SEED_DATA


@pytest.fixture
def repo_root() -> Path:
    return ROOT


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run when no test passed (an empty or all-skipped run proves nothing)."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    passed = len(reporter.stats.get("passed", [])) if reporter else 0
    if exitstatus == 0 and passed == 0:
        session.exitstatus = pytest.ExitCode.NO_TESTS_COLLECTED
