"""Append new weeks of demand to the data folder's history (a data import, not a stage).

New weekly demand (a CSV like the drift check's ``--new-demand``: sku, week, demand and
optionally location) goes through the same validation as the long-format import
(:func:`inventory.data.importers.read_demand_rows`). The new weeks must follow the history:
at each location, the first new week is the week after its last history week (or any
week when the history is empty), and every week up to the last new one has a row per SKU
that has demand rows (missing weeks count as zero demand, as in the import).

The given forecast (``forecast.csv``) defines the planning weeks, so it rolls forward with
the history: its weeks up to the last new week are dropped and as many are added after its
end, repeating the dropped values (a yearly forecast repeats its season; the forecast stage
re-forecasts from the history anyway). On hand and open purchase orders are today's state
and are left as they are (``inventory recommend --state`` takes today's).

The whole folder is validated again (every cross-table check) before anything is written,
and each file is written atomically. Recording the new folder as a new data version is
DVC's job (``dvc add data``), see the README.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from inventory.config import DataConfig
from inventory.data.importers import fill_weeks, read_demand_rows
from inventory.data.schemas import Tables, check_tables, frames_of, load_tables, write_tables

__all__ = ["AppendResult", "append_demand", "roll_forecast"]


@dataclass(frozen=True)
class AppendResult:
    """What an append did.

    Attributes:
        tables: The validated tables with the longer history and the rolled forecast.
        first_week: First appended week (ISO Monday, ``YYYY-MM-DD``).
        last_week: Last appended week.
        n_weeks: Weeks appended (per location, at most).
        n_rows: History rows added.
    """

    tables: Tables
    first_week: str
    last_week: str
    n_weeks: int
    n_rows: int


def _check_follows(history: pd.DataFrame, new: pd.DataFrame, path: str | Path) -> None:
    """Raise unless each location's new weeks start the week after its last history week."""
    problems = []
    for location, rows in new.groupby("location", sort=True):
        past = history.loc[history["location"] == location, "week"]
        if past.empty:
            continue
        expected = past.max() + pd.Timedelta(weeks=1)
        if rows["week"].min() != expected:
            problems.append(
                f"location {location}: new weeks start {rows['week'].min():%Y-%m-%d}, the "
                f"history ends {past.max():%Y-%m-%d} (the next week is {expected:%Y-%m-%d})"
            )
    if problems:
        raise ValueError(
            f"{path}: the new weeks must follow the demand history without gap or overlap; "
            + "; ".join(problems)
        )


def roll_forecast(forecast: pd.DataFrame, last_week: pd.Timestamp, location: str) -> pd.DataFrame:
    """Move ``location``'s given forecast past ``last_week`` (module docstring)."""
    here = forecast["location"] == location
    rows = forecast[here]
    dropped = rows[rows["week"] <= last_week]
    if dropped.empty:
        return forecast
    span = pd.Timedelta(weeks=rows["week"].nunique())
    added = dropped.assign(week=dropped["week"] + span)
    kept = rows[rows["week"] > last_week]
    return pd.concat([forecast[~here], kept, added], ignore_index=True)


def append_demand(path: str | Path, data_dir: str | Path, config: DataConfig) -> AppendResult:
    """Validate new weekly demand and append it to ``data_dir`` (module docstring).

    Args:
        path: CSV of new weeks: sku, week (or date), demand[, location].
        data_dir: The data folder (read, then rewritten file by file, atomically).
        config: The ``data`` group (a file without location is ``data.locations[0]``).

    Returns:
        What was appended.

    Raises:
        ValueError: a bad file or value (every one listed), weeks that do not follow the
            history, or SKUs not in the catalog.
    """
    tables = load_tables(data_dir)
    new = fill_weeks(read_demand_rows(path, config))
    _check_follows(tables.history, new, path)
    frames = frames_of(tables)
    frames["history"] = pd.concat([tables.history, new], ignore_index=True)
    for location, rows in new.groupby("location", sort=True):
        frames["forecast"] = roll_forecast(frames["forecast"], rows["week"].max(), location)
    checked = check_tables(frames, f"{path} appended to {data_dir}")
    write_tables(checked, data_dir)
    return AppendResult(
        tables=checked,
        first_week=f"{new['week'].min():%Y-%m-%d}",
        last_week=f"{new['week'].max():%Y-%m-%d}",
        n_weeks=int(new.groupby("location")["week"].nunique().max()),
        n_rows=len(new),
    )
