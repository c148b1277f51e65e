"""Importers: the research project's seed format and a generic long-format demand CSV.

Seed format (``../shared/seed-data``; see its README):

- item master (``item_inventory.csv``): item, location, on_hand, safety_stock (weeks,
  fractional kept), sales (mean weekly units), volume, leadtime (days), cost, MaxCubes.
  Lead time in weeks = ``ceil(days / 7)`` (98, 119, 154 days -> 14, 17, 22 weeks), so an
  order never arrives earlier than the supplier promised.
- ``demand_forecast.csv``: item, location, week, year, units (float). ISO year/week become
  the ISO Monday date. Item-locations without forecast rows are excluded and reported in
  the returned warnings.
- ``open_purchase_orders.csv``: po_number, item, location, week, year, units: placed into
  the ISO week they arrive (orders due before the first planning week count as on hand,
  see :mod:`inventory.data.instance`).

Not in the seed files, so taken from ``params.yaml`` (group ``data``) and documented:
costs by the seed convention (lost-sale cost U[30, 40] seeded by ``data.seed``, overstock
half, understock a third); ramp limit ``max(1, round(ramp_share x sales))``; last week's
order ``round(sales)``; per location, container volume = MaxCubes, container cost
``data.container_cost`` and containers per week ``ceil(capacity_share x mean weekly
forecast volume / container volume)``. The seed format has no demand history: the history
file is written with its header only.

Generic long format (:func:`import_demand_csv`): columns sku, week (ISO Monday) or date
(any day; rows are summed into their ISO week), demand, and optionally location. Weeks without a row
between a SKU's first week and the last week of the file count as zero demand.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from inventory.config import DataConfig
from inventory.data.generate import max_containers_for, seed_costs
from inventory.data.schemas import (
    MAX_NUMBER,
    DataValidationError,
    Tables,
    check_table,
    check_tables,
    empty_frame,
    read_raw,
)

__all__ = [
    "ImportResult",
    "import_seed",
    "import_demand_csv",
    "read_demand_rows",
    "fill_weeks",
    "SEED_COLUMNS",
    "MAX_HISTORY_WEEKS",
]

MAX_HISTORY_WEEKS = 20 * 52 + 1
"""Longest demand history accepted (20 years of weeks)."""

SEED_COLUMNS = {
    "items": [
        "item",
        "location",
        "on_hand",
        "safety_stock",
        "sales",
        "volume",
        "leadtime",
        "cost",
        "MaxCubes",
    ],
    "forecast": ["item", "location", "week", "year", "units"],
    "open_pos": ["po_number", "item", "location", "week", "year", "units"],
}


@dataclass(frozen=True)
class ImportResult:
    """Validated tables plus warnings for the user (e.g. excluded items)."""

    tables: Tables
    warnings: tuple[str, ...]


def _read_seed(path: str | Path, kind: str) -> pd.DataFrame:
    frame = read_raw(path)
    missing = [c for c in SEED_COLUMNS[kind] if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{path}: missing column(s) {', '.join(missing)}; a seed-format "
            f"{kind} file has {', '.join(SEED_COLUMNS[kind])}"
        )
    for column in ("item", "location"):
        frame[column] = frame[column].str.strip()
    return frame


def _numbers(frame: pd.DataFrame, columns: list[str], path: str | Path) -> pd.DataFrame:
    """Parse numeric columns, or raise one error listing every bad cell."""
    frame = frame.copy()
    bad = []
    for column in columns:
        parsed = pd.to_numeric(frame[column], errors="coerce")
        huge = parsed.abs() > MAX_NUMBER  # inf, 1e308: they overflow sums and solvers
        parsed = parsed.where(~huge)
        for i in frame.index[parsed.isna()]:
            bad.append(
                {
                    "file": Path(path).name,
                    "column": column,
                    "check": f"must be between -{MAX_NUMBER:g} and {MAX_NUMBER:g}"
                    if huge[i]
                    else "must be a number",
                    "line": int(i) + 2,
                    "value": frame.at[i, column],
                }
            )
        frame[column] = parsed
    if bad:
        raise DataValidationError(pd.DataFrame(bad), str(path))
    return frame


def _iso_monday(frame: pd.DataFrame, path: str | Path) -> pd.Series:
    """Monday of ISO ``year``/``week``; every impossible pair is reported at once."""
    year, week = frame["year"], frame["week"]
    whole = (year % 1 == 0) & (week % 1 == 0) & week.between(1, 53) & year.between(1900, 2999)
    text = year.where(whole, 2000).astype(int).astype(str) + "-W"
    text += week.where(whole, 1).astype(int).astype(str).str.zfill(2) + "-1"
    monday = pd.to_datetime(text, format="%G-W%V-%u", errors="coerce").where(whole)
    # %G-W%V accepts week 53 of a 52-week year and rolls over; reject that too.
    rolled = monday.notna() & (monday.dt.isocalendar().week.astype(float) != week)
    bad = frame.index[monday.isna() | rolled]
    if len(bad):
        failures = pd.DataFrame(
            {
                "file": Path(path).name,
                "column": "year, week",
                "check": "must be an ISO week",
                "line": bad + 2,
                "value": year[bad].astype(str) + " w" + week[bad].astype(str),
            }
        )
        raise DataValidationError(failures, str(path))
    return monday


def import_seed(
    items: str | Path, forecast: str | Path, open_pos: str | Path, config: DataConfig
) -> ImportResult:
    """Read the seed format into validated tables (see the module docstring).

    Raises:
        ValueError: unreadable files, missing columns or values failing the schemas.
    """
    item_frame = _numbers(_read_seed(items, "items"), SEED_COLUMNS["items"][2:], items)
    fc = _numbers(_read_seed(forecast, "forecast"), ["week", "year", "units"], forecast)
    pos = _numbers(_read_seed(open_pos, "open_pos"), ["week", "year", "units"], open_pos)
    keys = pd.MultiIndex.from_frame(item_frame[["item", "location"]])
    covered = keys.isin(pd.MultiIndex.from_frame(fc[["item", "location"]]))
    warnings = []
    if not covered.all():
        missing = [f"{i}@{loc}" for i, loc in keys[~covered]]
        warnings.append(
            f"{len(missing)} item-location(s) in {Path(items).name} have no "
            f"forecast rows and were excluded: {', '.join(missing)}"
        )
    item_frame = item_frame[covered]
    if item_frame.empty:
        raise ValueError(f"{items}: no item has forecast rows in {forecast}; nothing to import")
    kept = pd.MultiIndex.from_frame(item_frame[["item", "location"]])
    fc = fc[pd.MultiIndex.from_frame(fc[["item", "location"]]).isin(kept)]
    pos = pos[pd.MultiIndex.from_frame(pos[["item", "location"]]).isin(kept)]
    fc = fc.assign(monday=_iso_monday(fc, forecast))
    pos = pos.assign(monday=_iso_monday(pos, open_pos))
    frames = _seed_frames(item_frame, fc, pos, config)
    files = {
        "catalog": f"{Path(items).name} (as catalog.csv)",
        "forecast": f"{Path(forecast).name} (as forecast.csv)",
        "open_pos": f"{Path(open_pos).name} (as open_purchase_orders.csv)",
    }
    return ImportResult(check_tables(frames, "seed import", files), tuple(warnings))


def _seed_frames(
    items: pd.DataFrame, fc: pd.DataFrame, pos: pd.DataFrame, config: DataConfig
) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(config.seed)
    sales = items["sales"].to_numpy(dtype=float)
    catalog = pd.DataFrame(
        {
            "sku": items["item"],
            "location": items["location"],
            "volume": items["volume"],
            "safety_stock_weeks": items["safety_stock"],
            "lead_time_weeks": np.ceil(items["leadtime"] / 7 - 1e-9).astype(int),
            "ramp_limit": np.maximum(1, np.round(config.ramp_share * sales)),
            **seed_costs(rng, len(items)),
            "on_hand": items["on_hand"],
            "unit_cost": items["cost"],
            "last_order": np.round(sales),
        }
    )
    forecast = pd.DataFrame(
        {
            "sku": fc["item"],
            "location": fc["location"],
            "week": fc["monday"],
            "forecast": fc["units"],
        }
    ).sort_values(["location", "sku", "week"])
    open_pos = pd.DataFrame(
        {
            "po_number": pos["po_number"].str.strip(),
            "sku": pos["item"],
            "location": pos["location"],
            "week": pos["monday"],
            "units": pos["units"],
        }
    ).sort_values(["location", "sku", "week", "po_number"])
    container = items.groupby("location", sort=True)["MaxCubes"].max()
    return {
        "catalog": catalog,
        "history": empty_frame("history"),
        "forecast": forecast,
        "open_pos": open_pos,
        "warehouse": _warehouse(catalog, forecast, container, config),
    }


def _warehouse(
    catalog: pd.DataFrame, forecast: pd.DataFrame, container_volume: pd.Series, config: DataConfig
) -> pd.DataFrame:
    """Per location: containers per week sized to ``capacity_share`` x demand volume."""
    volume = catalog.set_index(["sku", "location"])["volume"]
    weekly = forecast.groupby(["sku", "location"])["forecast"].mean()
    demand_volume = (weekly * volume.reindex(weekly.index)).groupby(level="location").sum()
    rows = []
    for location, cubes in container_volume.items():
        rows.append(
            {
                "location": location,
                "container_volume": float(cubes),
                "max_containers": max_containers_for(
                    float(demand_volume.get(location, 0.0)), float(cubes), config.capacity_share
                ),
                "container_cost": config.container_cost,
            }
        )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- long format


def read_demand_rows(path: str | Path, config: DataConfig) -> pd.DataFrame:
    """Read and validate a long-format demand file: weekly rows (sku, location, week, demand).

    Raises:
        ValueError: missing columns, or bad values (every one listed at once).
    """
    frame = read_raw(path)
    if {"week", "date"} <= set(frame.columns):
        raise ValueError(
            f"{path}: has both a week and a date column; keep one (week: ISO Monday, "
            "date: any day, summed into its week)"
        )
    time_column = "week" if "week" in frame.columns else "date"
    missing = [c for c in ("sku", time_column, "demand") if c not in frame.columns]
    missing = ["week or date" if c == "date" else c for c in missing]
    if missing:
        raise ValueError(
            f"{path}: missing column(s) {', '.join(missing)}; expected sku, "
            "week (ISO Monday) or date, demand, and optionally location"
        )
    extra = [str(c) for c in frame.columns if c not in ("sku", "location", time_column, "demand")]
    if extra:  # exports often carry more columns: say which are not read
        warnings.warn(f"{path}: ignoring column(s) {', '.join(extra)}", stacklevel=2)
        frame = frame.drop(columns=extra)
    if "location" not in frame.columns:
        frame["location"] = config.locations[0]
    if time_column == "week":
        return _check_span(check_table("history", frame, str(path), Path(path).name), path)
    rows = check_table("demand_by_date", frame, str(path), Path(path).name)
    rows["week"] = rows["date"] - pd.to_timedelta(rows["date"].dt.dayofweek, unit="D")
    weekly = rows.groupby(["sku", "location", "week"], as_index=False)["demand"].sum()
    return _check_span(weekly, path)


def _check_span(history: pd.DataFrame, path: str | Path) -> pd.DataFrame:
    """Reject a history longer than :data:`MAX_HISTORY_WEEKS` (a mistyped year would fill
    decades of zero-demand weeks), naming its first and last week."""
    if history.empty:
        return history
    first, last = history["week"].idxmin(), history["week"].idxmax()
    weeks = (history.at[last, "week"] - history.at[first, "week"]).days // 7 + 1
    if weeks > MAX_HISTORY_WEEKS:
        raise ValueError(
            f"{path}: demand history spans {weeks} weeks, more than {MAX_HISTORY_WEEKS} "
            f"(20 years): first week {history.at[first, 'week']:%Y-%m-%d} (sku "
            f"{history.at[first, 'sku']}), last week {history.at[last, 'week']:%Y-%m-%d} "
            f"(sku {history.at[last, 'sku']}); check for a mistyped year"
        )
    return history


def fill_weeks(history: pd.DataFrame) -> pd.DataFrame:
    """Zero demand for weeks without rows, from each SKU's first week to the last week."""
    last = history["week"].max()
    parts = []
    for (sku, location), rows in history.groupby(["sku", "location"], sort=True):
        weeks = pd.date_range(rows["week"].min(), last, freq="7D")
        series = rows.set_index("week")["demand"].reindex(weeks, fill_value=0.0)
        parts.append(
            pd.DataFrame(
                {"sku": sku, "location": location, "week": weeks, "demand": series.to_numpy()}
            )
        )
    return pd.concat(parts, ignore_index=True)


def import_demand_csv(
    path: str | Path,
    config: DataConfig,
    catalog: str | Path | None = None,
    open_pos: str | Path | None = None,
) -> ImportResult:
    """Build a full data folder from a long-format demand file (module docstring).

    The forecast over ``config.horizon_weeks`` weeks after the last history week is the
    mean of each SKU's last 13 weeks (a placeholder; the forecast stage re-forecasts).
    SKUs missing from ``catalog`` get ``data.default_*`` values, seeded seed-convention
    costs, ramp limit ``max(1, round(ramp_share x mean))``, on hand covering the safety
    stock plus one week, and last order ``round(mean)``.

    Raises:
        ValueError: bad file, bad values (all listed at once) or duplicate (sku, week).
    """
    raw = read_demand_rows(path, config)
    history = fill_weeks(raw)
    mean = history.groupby(["sku", "location"], sort=True)["demand"].apply(
        lambda s: s.tail(13).mean()
    )
    start = history["week"].max() + pd.Timedelta(weeks=1)
    weeks = pd.date_range(start, periods=config.horizon_weeks, freq="7D")
    forecast = pd.DataFrame(
        [
            {"sku": sku, "location": loc, "week": week, "forecast": round(float(value), 3)}
            for (sku, loc), value in mean.items()
            for week in weeks
        ]
    )
    cat = check_table(
        "catalog", _catalog_with_defaults(mean, config, catalog), str(catalog or "catalog defaults")
    )
    pos = empty_frame("open_pos") if open_pos is None else read_raw(open_pos)
    container = pd.Series(config.container_volume, index=sorted(cat["location"].unique()))
    frames = {
        "catalog": cat,
        "history": history,
        "forecast": forecast,
        "open_pos": pos,
        "warehouse": _warehouse(cat, forecast, container, config),
    }
    return ImportResult(check_tables(frames, "CSV import"), ())


def _catalog_with_defaults(
    mean: pd.Series, config: DataConfig, catalog: str | Path | None
) -> pd.DataFrame:
    keys = mean.index.to_frame(index=False)
    rng = np.random.default_rng(config.seed)
    safety = config.default_safety_stock_weeks
    values = mean.to_numpy(dtype=float)
    defaults = pd.DataFrame(
        {
            "sku": keys["sku"],
            "location": keys["location"],
            "volume": config.default_volume,
            "safety_stock_weeks": safety,
            "lead_time_weeks": config.default_lead_time_weeks,
            "ramp_limit": np.maximum(1, np.round(config.ramp_share * values)),
            **seed_costs(rng, len(keys)),
            "on_hand": np.round(values * (safety + 1)),
            "unit_cost": 0.0,
            "last_order": np.round(values),
        }
    )
    if catalog is None:
        return defaults
    given = read_raw(catalog)
    if not {"sku", "location"} <= set(given.columns):
        raise ValueError(f"{catalog}: a catalog needs at least the columns sku, location")
    given["sku"], given["location"] = given["sku"].str.strip(), given["location"].str.strip()
    merged = defaults.set_index(["sku", "location"]).astype(object)
    given = given.set_index(["sku", "location"])
    columns = [c for c in merged.columns if c in given.columns]
    common = merged.index.intersection(given.index)
    merged.loc[common, columns] = given.loc[common, columns]
    extra = given.index.difference(merged.index)
    if len(extra):
        raise ValueError(
            f"{catalog}: SKU(s) without demand rows: "
            f"{', '.join(f'{s}@{loc}' for s, loc in extra[:10])}"
        )
    return merged.reset_index()
