"""Validated tables -> the :class:`~inventory.instance.Instance` of one location.

Planning weeks start at the earliest forecast week of the location and run for
``horizon_weeks`` weeks; every SKU of the location needs a forecast for each of them.

Open purchase orders are placed into the planning week they arrive in. Orders due
*before* the first planning week are treated as already received and added to on hand
(the catalog's on-hand snapshot is taken before they arrived); orders due after the last
planning week are outside the problem and ignored.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from inventory.config import Config
from inventory.data.schemas import FILES, Tables, check_tables, frames_of, load_tables
from inventory.instance import Instance

__all__ = ["build_instance", "load_instance", "planning_weeks"]

_PER_SKU = (
    "volume",
    "safety_stock_weeks",
    "ramp_limit",
    "lost_sale_cost",
    "overstock_cost",
    "understock_cost",
    "unit_cost",
    "on_hand",
    "last_order",
)


def planning_weeks(forecast: pd.DataFrame, location: str, horizon_weeks: int) -> pd.DatetimeIndex:
    """The ``horizon_weeks`` Mondays planned at ``location``, from its first forecast week."""
    weeks = forecast.loc[forecast["location"] == location, "week"]
    if weeks.empty:
        raise ValueError(f"{FILES['forecast']}: no forecast rows for location {location!r}")
    return pd.date_range(weeks.min(), periods=horizon_weeks, freq="7D")


def _forecast_matrix(
    forecast: pd.DataFrame, location: str, skus: list[str], weeks: pd.DatetimeIndex
) -> np.ndarray:
    rows = forecast[forecast["location"] == location]
    table = rows.pivot(index="week", columns="sku", values="forecast")
    table = table.reindex(index=weeks, columns=skus)
    missing = table.isna()
    if missing.to_numpy().any():
        short = [f"{sku} ({int(missing[sku].sum())} weeks)" for sku in skus if missing[sku].any()]
        raise ValueError(
            f"{FILES['forecast']}: location {location!r} needs a forecast for each of the "
            f"{len(weeks)} planning weeks from {weeks[0]:%Y-%m-%d}; missing for "
            f"{', '.join(short[:10])}{' ...' if len(short) > 10 else ''} "
            "(shorten data.horizon_weeks or extend the forecast)"
        )
    return table.to_numpy(dtype=float)


def _arrivals(
    open_pos: pd.DataFrame, location: str, skus: list[str], weeks: pd.DatetimeIndex
) -> tuple[np.ndarray, np.ndarray]:
    """(arrivals (T, P), units due before week 0 per SKU (P,))."""
    rows = open_pos[(open_pos["location"] == location) & open_pos["sku"].isin(skus)]
    offset = ((rows["week"] - weeks[0]).dt.days // 7).to_numpy()
    column = pd.Index(skus).get_indexer(rows["sku"])
    units = rows["units"].to_numpy(dtype=float)
    arrivals = np.zeros((len(weeks), len(skus)))
    inside = (offset >= 0) & (offset < len(weeks))
    np.add.at(arrivals, (offset[inside], column[inside]), units[inside])
    early = np.zeros(len(skus))
    np.add.at(early, column[offset < 0], units[offset < 0])
    return arrivals, early


def _at(frame: pd.DataFrame, location: str) -> pd.DataFrame:
    if "location" not in frame.columns:
        return frame
    return frame[frame["location"].astype(str) == location]


def build_instance(
    tables: Tables, location: str, horizon_weeks: int, forecast: pd.DataFrame | None = None
) -> Instance:
    """The planning instance of ``location`` over ``horizon_weeks`` weeks.

    Args:
        tables: Validated input tables (:func:`~inventory.data.load_tables`).
        location: Location id (as in ``catalog.csv``).
        horizon_weeks: Planning weeks.
        forecast: Optional override of ``tables.forecast`` with columns sku, location,
            week, forecast (e.g. the forecast stage's output); validated like the file.

    Raises:
        ValueError: unknown location, or a forecast that does not cover the horizon.
    """
    if location not in tables.locations():
        raise ValueError(
            f"{FILES['catalog']}: location {location!r} not found; locations: "
            f"{', '.join(tables.locations())}"
        )
    if forecast is not None:
        # Checked against this location only: an override may cover just the planned one.
        frames = {name: _at(frame, location) for name, frame in frames_of(tables).items()}
        frames["forecast"] = _at(forecast, location)
        tables = check_tables(frames, "forecast override")
    catalog = tables.catalog[tables.catalog["location"] == location]
    skus = catalog["sku"].tolist()
    weeks = planning_weeks(tables.forecast, location, horizon_weeks)
    arrivals, early = _arrivals(tables.open_pos, location, skus, weeks)
    warehouse = tables.warehouse.set_index("location").loc[location]
    per_sku = {name: catalog[name].to_numpy(dtype=float) for name in _PER_SKU}
    per_sku["on_hand"] = per_sku["on_hand"] + early
    instance = Instance(
        location=location,
        skus=tuple(skus),
        lead_time_weeks=catalog["lead_time_weeks"].to_numpy(dtype=np.int64),
        forecast=_forecast_matrix(tables.forecast, location, skus, weeks),
        arrivals=arrivals,
        container_volume=float(warehouse["container_volume"]),
        max_containers=int(warehouse["max_containers"]),
        container_cost=float(warehouse["container_cost"]),
        weeks=weeks.to_numpy().astype("datetime64[D]"),
        **per_sku,
    )
    instance.validate()
    return instance


def load_instance(
    config: Config, location: str | None = None, forecast: pd.DataFrame | None = None
) -> Instance:
    """Load ``config.data.dir`` and build one location's instance.

    ``location`` defaults to ``config.simulation.location``; the horizon is
    ``config.data.horizon_weeks``.
    """
    tables = load_tables(config.data.dir)
    return build_instance(
        tables, location or config.simulation.location, config.data.horizon_weeks, forecast
    )
