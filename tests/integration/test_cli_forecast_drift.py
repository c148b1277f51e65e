"""`inventory forecast` and `inventory drift` as a user runs them, on the default data."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from tests.integration.cli import run_inventory as run

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow  # three Evidently runs in fresh processes (~20 s idle)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Default data, then `inventory forecast`."""
    folder = tmp_path_factory.mktemp("project")
    shutil.copy(ROOT / "params.yaml", folder / "params.yaml")
    assert run(folder, "data", "generate").returncode == 0
    result = run(folder, "forecast")
    assert result.returncode == 0, result.stderr
    return folder


def test_forecast_writes_validated_outputs(project: Path) -> None:
    summary = json.loads((project / "metrics" / "forecast.json").read_text())
    assert summary["source"] == "backtest"
    assert summary["overall"]["wape"] < summary["overall"]["seasonal_naive_wape"]
    forecast = pd.read_csv(project / "artifacts" / "forecast.csv")
    assert {"q10", "q50", "q90", "model"} <= set(forecast.columns)
    assert len(forecast) == 25 * 52
    model = json.loads((project / "artifacts" / "demand_model.json").read_text())
    assert len(model["locations"]["L1"]["family"]) == 25


def test_drift_on_recent_history_keeps_and_on_a_shifted_window_retrains(project: Path) -> None:
    result = run(project, "drift")
    assert result.returncode == 0, result.stderr
    assert (
        json.loads((project / "metrics" / "drift.json").read_text())["gate"]["decision"] == "keep"
    )
    backtest = pd.read_csv(project / "artifacts" / "forecast_backtest.csv")
    forecast = pd.read_csv(project / "artifacts" / "forecast.csv")
    weeks = sorted(forecast["week"].unique())[:13]
    recent = backtest[backtest["week"] >= sorted(backtest["week"].unique())[-13]]
    shifted = forecast[forecast["week"].isin(weeks)][["sku", "week"]].copy()
    # last quarter's actual demand, 50% up, replayed over the next 13 weeks
    per_sku = recent.groupby("sku")["demand"].apply(list)
    shifted["demand"] = [
        1.5 * per_sku[sku][i % len(per_sku[sku])] for i, sku in enumerate(shifted["sku"])
    ]
    shifted.to_csv(project / "new.csv", index=False)
    result = run(project, "drift", "--new-demand", "new.csv")
    assert result.returncode == 0, result.stderr
    payload = json.loads((project / "metrics" / "drift.json").read_text())
    assert payload["gate"]["decision"] == "retrain", payload
    assert (project / "reports" / "drift.html").exists()


def test_drift_with_a_bad_csv_is_one_error_line(project: Path) -> None:
    (project / "bad.csv").write_text("sku,demand\nSKU001,3\n")
    result = run(project, "drift", "--new-demand", "bad.csv")
    assert result.returncode == 1
    assert result.stderr.startswith("error: ") and "week" in result.stderr
