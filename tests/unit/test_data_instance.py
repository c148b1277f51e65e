"""Tables -> Instance: weeks, forecast matrix, open POs in their arrival week, early POs
added to on hand, clear errors for an unknown location or a short forecast."""

from __future__ import annotations

import pandas as pd
import pytest

from inventory.data import check_tables, load_instance
from inventory.data.instance import build_instance


def _tables(open_po_weeks: list[str], forecast_weeks: int = 4):  # noqa: ANN202
    weeks = pd.date_range("2024-01-01", periods=forecast_weeks, freq="7D")
    catalog = pd.DataFrame(
        {
            "sku": ["B", "A"],
            "location": "W",
            "volume": [2.0, 1.0],
            "safety_stock_weeks": [1.5, 0.0],
            "lead_time_weeks": [2, 0],
            "ramp_limit": [3, 1],
            "lost_sale_cost": [30, 40],
            "overstock_cost": [15, 20],
            "understock_cost": [10, 13],
            "on_hand": [5, 0],
            "unit_cost": [1, 2],
            "last_order": [4, 1],
        }
    )
    forecast = pd.DataFrame(
        {
            "sku": ["A"] * len(weeks) + ["B"] * len(weeks),
            "location": "W",
            "week": list(weeks) * 2,
            "forecast": [float(i) for i in range(len(weeks))] + [10.0] * len(weeks),
        }
    )
    open_pos = pd.DataFrame(
        {
            "po_number": [f"P{i}" for i in range(len(open_po_weeks))],
            "sku": "B",
            "location": "W",
            "week": pd.to_datetime(open_po_weeks),
            "units": 7.0,
        }
    )
    warehouse = pd.DataFrame(
        {
            "location": ["W"],
            "container_volume": [100.0],
            "max_containers": [2],
            "container_cost": [5.0],
        }
    )
    history = pd.DataFrame(columns=["sku", "location", "week", "demand"])
    return check_tables(
        {
            "catalog": catalog,
            "history": history,
            "forecast": forecast,
            "open_pos": open_pos,
            "warehouse": warehouse,
        }
    )


def test_instance_arrays_follow_catalog_order() -> None:
    instance = build_instance(_tables([]), "W", 3)
    assert instance.skus == ("B", "A")
    assert instance.forecast.tolist() == [[10, 0], [10, 1], [10, 2]]
    assert instance.lead_time_weeks.tolist() == [2, 0]
    assert instance.capacity_volume == 200
    assert instance.container_cost == 5
    assert str(instance.weeks[0]) == "2024-01-01"


def test_open_pos_in_arrival_week_early_ones_on_hand_late_ones_dropped() -> None:
    tables = _tables(["2023-12-25", "2024-01-08", "2024-01-08", "2024-01-15", "2024-03-04"])
    instance = build_instance(tables, "W", 3)
    assert instance.arrivals[:, 0].tolist() == [0, 14, 7]
    assert instance.arrivals[:, 1].tolist() == [0, 0, 0]
    assert instance.on_hand.tolist() == [5 + 7, 0]


def test_unknown_location_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match="location 'X' not found; locations: W"):
        build_instance(_tables([]), "X", 3)


def test_forecast_shorter_than_horizon_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="needs a forecast for each of the 6 planning weeks"):
        build_instance(_tables([]), "W", 6)


def test_forecast_override_is_validated() -> None:
    tables = _tables([])
    bad = tables.forecast.assign(forecast=-1.0)
    with pytest.raises(ValueError, match="must be >= 0"):
        build_instance(tables, "W", 3, forecast=bad)


def test_load_instance_uses_the_configured_location_and_horizon(repo_root, tmp_path) -> None:  # noqa: ANN001
    from inventory import stages
    from inventory.config import load_config

    config = load_config(repo_root / "params.yaml")
    data = config.data.model_copy(update={"dir": str(tmp_path), "horizon_weeks": 10})
    config = config.model_copy(update={"data": data})
    stages.generate(config)
    instance = load_instance(config)
    assert instance.location == config.simulation.location
    assert instance.horizon_weeks == 10


def test_forecast_override_may_cover_only_the_planned_location() -> None:
    tables = _tables([])
    other = tables.catalog.assign(location="V")
    two = check_tables(
        {
            "catalog": pd.concat([tables.catalog, other]),
            "history": tables.history,
            "forecast": pd.concat([tables.forecast, tables.forecast.assign(location="V")]),
            "open_pos": tables.open_pos,
            "warehouse": pd.concat([tables.warehouse, tables.warehouse.assign(location="V")]),
        }
    )
    override = tables.forecast.assign(forecast=1.0, week=tables.forecast["week"].astype(str))
    instance = build_instance(two, "W", 3, forecast=override)
    assert (instance.forecast == 1.0).all()
