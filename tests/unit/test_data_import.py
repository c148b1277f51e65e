"""Seed-format import on the real files (skipped without them) and the long-format CSV
import."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from inventory.config import DataConfig, load_config
from inventory.data import build_instance
from inventory.data.importers import import_demand_csv, import_seed

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def data_config() -> DataConfig:
    return load_config(ROOT / "params.yaml").data


def _seed(seed_data: Path, items: str, config: DataConfig):  # noqa: ANN202
    return import_seed(
        seed_data / items,
        seed_data / "demand_forecast.csv",
        seed_data / "open_purchase_orders.csv",
        config,
    )


def test_seed_item_inventory_gives_25_item_locations_at_4_locations(
    seed_data: Path, data_config: DataConfig
) -> None:
    result = _seed(seed_data, "item_inventory.csv", data_config)
    tables = result.tables
    assert result.warnings == ()
    assert len(tables.catalog) == 25
    assert tables.locations() == ["3010", "3200", "3210", "3220"]
    weeks = tables.forecast.groupby(["sku", "location"])["week"].agg(["size", "min", "max"])
    assert (weeks["size"] == 52).all()
    assert (weeks["min"] == pd.Timestamp("2023-05-01")).all()  # 2023 w18
    assert (weeks["max"] == pd.Timestamp("2024-04-22")).all()  # 2024 w17
    assert tables.history.empty
    for location in tables.locations():
        instance = build_instance(tables, location, 52)
        assert instance.horizon_weeks == 52


def test_seed_units_and_conventions(seed_data: Path, data_config: DataConfig) -> None:
    tables = _seed(seed_data, "item_inventory.csv", data_config).tables
    catalog = tables.catalog.set_index(["sku", "location"])
    row = catalog.loc[("20064068014", "3210")]
    assert row["safety_stock_weeks"] == 8.5  # fractional weeks kept
    assert row["lead_time_weeks"] == 14  # 98 days
    assert catalog.loc[("20080884", "3200"), "lead_time_weeks"] == 17  # 119 days
    assert catalog.loc[("20052773001", "3010"), "lead_time_weeks"] == 22  # 154 days
    assert catalog["lost_sale_cost"].between(30, 40).all()
    np.testing.assert_allclose(catalog["overstock_cost"], catalog["lost_sale_cost"] / 2)
    forecast = tables.forecast
    first = forecast[(forecast["sku"] == "20014461018")]
    assert first.empty  # not in item_inventory.csv
    assert (forecast["forecast"] % 1 != 0).any()  # float units kept
    warehouse = tables.warehouse.set_index("location")
    assert warehouse.loc["3010", "container_volume"] == 2300  # MaxCubes of that location


def test_seed_open_pos_land_in_their_arrival_week(seed_data: Path, data_config: DataConfig) -> None:
    tables = _seed(seed_data, "item_inventory.csv", data_config).tables
    raw = pd.read_csv(seed_data / "open_purchase_orders.csv", dtype={"item": str, "location": str})
    raw = raw[(raw["item"] == "20064068008") & (raw["location"] == "3210")]
    instance = build_instance(tables, "3210", 52)
    p = instance.skus.index("20064068008")
    inside = raw[(raw["year"] == 2023) & (raw["week"] >= 18)]
    early = raw[(raw["year"] == 2023) & (raw["week"] < 18)]
    for week, units in inside.groupby("week")["units"].sum().items():
        assert instance.arrivals[week - 18, p] == units
    assert instance.arrivals[:, p].sum() == inside["units"].sum()
    assert instance.on_hand[p] == 16 + early["units"].sum()


def test_seed_50_reports_42_without_forecast_and_imports_8(
    seed_data: Path, data_config: DataConfig
) -> None:
    result = _seed(seed_data, "item_inventory_50.csv", data_config)
    assert len(result.tables.catalog) == 8
    assert len(result.warnings) == 1
    assert result.warnings[0].startswith("42 item-location(s)")
    assert "20052773009@3010" in result.warnings[0]


def test_seed_missing_column_names_the_file(
    tmp_path: Path, seed_data: Path, data_config: DataConfig
) -> None:
    items = pd.read_csv(seed_data / "item_inventory.csv").drop(columns="leadtime")
    items.to_csv(tmp_path / "items.csv", index=False)
    with pytest.raises(ValueError, match=r"items.csv: missing column\(s\) leadtime"):
        import_seed(
            tmp_path / "items.csv",
            seed_data / "demand_forecast.csv",
            seed_data / "open_purchase_orders.csv",
            data_config,
        )


def test_import_csv_aggregates_dates_to_iso_weeks(tmp_path: Path, data_config: DataConfig) -> None:
    rows = ["sku,date,demand"]
    rows += ["A,2024-01-01,2", "A,2024-01-03,3", "A,2024-01-07,1"]  # week of Mon 2024-01-01
    rows += ["A,2024-01-17,4", "B,2024-01-10,5", "B,2024-01-24,7"]
    (tmp_path / "demand.csv").write_text("\n".join(rows) + "\n")
    tables = import_demand_csv(tmp_path / "demand.csv", data_config).tables
    history = tables.history.set_index(["sku", "week"])["demand"]
    assert history[("A", pd.Timestamp("2024-01-01"))] == 6
    assert history[("A", pd.Timestamp("2024-01-08"))] == 0  # gap filled with zero
    assert history[("A", pd.Timestamp("2024-01-15"))] == 4
    assert ("B", pd.Timestamp("2024-01-01")) not in history.index  # B starts later
    assert history[("B", pd.Timestamp("2024-01-22"))] == 7
    forecast = tables.forecast
    assert forecast["week"].min() == pd.Timestamp("2024-01-29")
    assert forecast.groupby("sku").size().eq(data_config.horizon_weeks).all()
    assert tables.catalog["location"].eq(data_config.locations[0]).all()
    assert tables.catalog["volume"].eq(data_config.default_volume).all()
    instance = build_instance(tables, data_config.locations[0], 10)
    # last-13-week means, zero weeks included: A (6+0+4+0)/4, B (5+0+7)/3
    np.testing.assert_allclose(instance.forecast[0], [2.5, 4.0], atol=1e-3)


def test_import_csv_takes_given_catalog_rows(tmp_path: Path, data_config: DataConfig) -> None:
    (tmp_path / "demand.csv").write_text(
        "sku,week,demand,location\nA,2024-01-01,2,W1\nB,2024-01-01,3,W1\n"
    )
    (tmp_path / "catalog.csv").write_text("sku,location,volume,lead_time_weeks\nA,W1,2.5,3\n")
    tables = import_demand_csv(
        tmp_path / "demand.csv", data_config, catalog=tmp_path / "catalog.csv"
    ).tables
    catalog = tables.catalog.set_index("sku")
    assert catalog.loc["A", "volume"] == 2.5
    assert catalog.loc["A", "lead_time_weeks"] == 3
    assert catalog.loc["B", "volume"] == data_config.default_volume
    assert tables.warehouse["location"].tolist() == ["W1"]


def test_import_csv_catalog_with_bad_value_is_rejected(
    tmp_path: Path, data_config: DataConfig
) -> None:
    (tmp_path / "demand.csv").write_text("sku,week,demand\nA,2024-01-01,2\n")
    (tmp_path / "catalog.csv").write_text("sku,location,volume\nA,L1,-1\n")
    config = data_config.model_copy(update={"locations": ("L1",)})
    with pytest.raises(ValueError, match="volume"):
        import_demand_csv(tmp_path / "demand.csv", config, catalog=tmp_path / "catalog.csv")


def test_seed_bad_values_point_into_the_item_file(
    tmp_path: Path, seed_data: Path, data_config: DataConfig
) -> None:
    items = pd.read_csv(seed_data / "item_inventory.csv", dtype=str)
    items.loc[3, "volume"] = "0"
    items.loc[7, "leadtime"] = "-7"
    items.to_csv(tmp_path / "items.csv", index=False)
    with pytest.raises(ValueError) as info:
        import_seed(
            tmp_path / "items.csv",
            seed_data / "demand_forecast.csv",
            seed_data / "open_purchase_orders.csv",
            data_config,
        )
    failures = info.value.failures
    assert failures[["file", "column", "line"]].values.tolist() == [
        ["items.csv (as catalog.csv)", "volume", 5],
        ["items.csv (as catalog.csv)", "lead_time_weeks", 9],
    ]


def test_seed_text_in_a_number_column(
    tmp_path: Path, seed_data: Path, data_config: DataConfig
) -> None:
    items = pd.read_csv(seed_data / "item_inventory.csv", dtype=str)
    items.loc[0, "on_hand"] = "plenty"
    items.to_csv(tmp_path / "items.csv", index=False)
    with pytest.raises(ValueError, match=r"on_hand\s+must be a number\s+2\s+plenty"):
        import_seed(
            tmp_path / "items.csv",
            seed_data / "demand_forecast.csv",
            seed_data / "open_purchase_orders.csv",
            data_config,
        )


def test_seed_impossible_iso_weeks_are_listed(
    tmp_path: Path, seed_data: Path, data_config: DataConfig
) -> None:
    pos = pd.read_csv(seed_data / "open_purchase_orders.csv", dtype=str)
    items = pd.read_csv(seed_data / "item_inventory.csv", dtype=str)
    keys = set(zip(items["item"], items["location"], strict=True))
    mine = [
        i for i, key in enumerate(zip(pos["item"], pos["location"], strict=True)) if key in keys
    ][:2]
    pos.loc[mine[0], "week"] = "60"
    pos.loc[mine[1], ["year", "week"]] = ["2023", "53"]  # 2023 has 52 ISO weeks
    pos.to_csv(tmp_path / "pos.csv", index=False)
    with pytest.raises(ValueError) as info:
        import_seed(
            seed_data / "item_inventory.csv",
            seed_data / "demand_forecast.csv",
            tmp_path / "pos.csv",
            data_config,
        )
    failures = info.value.failures
    assert failures["line"].tolist() == [mine[0] + 2, mine[1] + 2]
    assert (failures["check"] == "must be an ISO week").all()
