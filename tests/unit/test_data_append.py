"""Appending new demand weeks to the history: validated like an import, forecast rolled."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from inventory.config import load_config
from inventory.data import FILES, generate_tables, load_tables, write_tables
from inventory.data.append import append_demand, roll_forecast
from inventory.retraining import compare_costs, comparison_markdown

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    config = load_config(ROOT / "params.yaml")
    data = config.data.model_copy(update={"n_skus": 3, "horizon_weeks": 10})
    write_tables(generate_tables(data), tmp_path / "data")
    return tmp_path / "data"


def new_weeks(data_dir: Path, n_weeks: int, start_offset: int = 1) -> pd.DataFrame:
    tables = load_tables(data_dir)
    first = tables.history["week"].max() + pd.Timedelta(weeks=start_offset)
    weeks = pd.date_range(first, periods=n_weeks, freq="7D")
    skus = tables.catalog["sku"].tolist()
    return pd.DataFrame(
        [{"sku": s, "week": f"{w:%Y-%m-%d}", "demand": 7} for w in weeks for s in skus]
    )


def test_new_weeks_join_the_history_and_the_forecast_rolls_forward(data_dir, tmp_path) -> None:
    config = load_config(ROOT / "params.yaml").data
    before = load_tables(data_dir)
    path = tmp_path / "recent.csv"
    new_weeks(data_dir, 4).to_csv(path, index=False)
    result = append_demand(path, data_dir, config)
    after = load_tables(data_dir)
    assert result.n_weeks == 4 and result.n_rows == 12
    assert len(after.history) == len(before.history) + 12
    assert after.forecast["week"].min() > after.history["week"].max()
    assert after.forecast["week"].nunique() == before.forecast["week"].nunique()


def test_overlapping_weeks_and_bad_values_fail_and_leave_the_data_alone(data_dir, tmp_path) -> None:
    config = load_config(ROOT / "params.yaml").data
    original = (data_dir / FILES["history"]).read_bytes()
    overlap = tmp_path / "overlap.csv"
    new_weeks(data_dir, 2, start_offset=0).to_csv(overlap, index=False)
    with pytest.raises(ValueError, match="follow the demand history"):
        append_demand(overlap, data_dir, config)
    bad = tmp_path / "bad.csv"
    new_weeks(data_dir, 2).assign(demand=-1).to_csv(bad, index=False)
    with pytest.raises(ValueError, match="demand"):
        append_demand(bad, data_dir, config)
    assert (data_dir / FILES["history"]).read_bytes() == original


def test_roll_forecast_repeats_the_dropped_weeks_after_the_end() -> None:
    weeks = pd.date_range("2024-01-01", periods=4, freq="7D")
    forecast = pd.DataFrame({"sku": "A", "location": "L1", "week": weeks, "forecast": [1, 2, 3, 4]})
    rolled = roll_forecast(forecast, weeks[1], "L1").sort_values("week")
    assert rolled["forecast"].tolist() == [3, 4, 1, 2]
    assert rolled["week"].min() == weeks[2]


def test_compare_costs_says_whether_retraining_lowered_the_cost() -> None:
    def scored(det: float, sto: float) -> dict:
        scores = {"deterministic": {"total_cost": det}, "stochastic": {"total_cost": sto}}
        return {"weeks": "w", "location": "L1", "scores": scores}

    comparison = compare_costs(scored(100.0, 100.0), scored(90.0, 110.0))
    assert comparison["modes"]["deterministic"]["helped"] is True
    assert comparison["modes"]["stochastic"]["helped"] is False
    assert comparison["modes"]["deterministic"]["change_pct"] == -10.0
    assert not comparison["helped"]
    assert "1 of 2 mode(s): deterministic" in comparison_markdown(comparison, "t")
