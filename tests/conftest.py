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
