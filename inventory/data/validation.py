"""The validation report: every problem of the data folder, as JSON-ready data.

:func:`validation_report` runs the schema and cross-table checks of
:func:`~inventory.data.load_tables` and then builds the instance of every location over
the planning horizon, so a forecast too short for ``data.horizon_weeks`` is caught
here and not in a later stage.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from inventory.data.instance import build_instance
from inventory.data.schemas import FAILURE_COLUMNS, FILES, DataValidationError, load_tables
from inventory.instance import Instance
from inventory.milp.model import RAMP_FLOOR_FIX, ramp_floor_conflict

__all__ = ["validation_report", "raise_if_invalid", "lead_time_problems", "ramp_floor_problems"]


def validation_report(data_dir: str | Path, horizon_weeks: int) -> dict[str, Any]:
    """Validate ``data_dir``; never raises for bad data, the problems are in the report.

    Returns:
        ``{"valid", "data_dir", "horizon_weeks", "rows", "locations", "n_problems",
        "problems"}`` with one problem per failing file / column / check / line.
    """
    report: dict[str, Any] = {
        "valid": False,
        "data_dir": str(data_dir),
        "horizon_weeks": horizon_weeks,
        "rows": {},
        "locations": [],
    }
    try:
        tables = load_tables(data_dir)
    except DataValidationError as exc:
        return _with_problems(report, exc.failures)
    report["rows"] = {name: len(getattr(tables, name)) for name in FILES}
    report["locations"] = tables.locations()
    problems = []
    for location in tables.locations():
        try:
            instance = build_instance(tables, location, horizon_weeks)
        except ValueError as exc:
            problems.append(
                {
                    "file": FILES["forecast"],
                    "column": "week",
                    "check": "covers the planning horizon",
                    "line": "",
                    "value": str(exc),
                }
            )
            continue
        problems += lead_time_problems(instance) + ramp_floor_problems(instance)
    return _with_problems(report, pd.DataFrame(problems, columns=FAILURE_COLUMNS))


def lead_time_problems(instance: Instance) -> list[dict[str, Any]]:
    """One problem per SKU whose lead time exceeds the horizon: nothing it orders could
    arrive within the plan, so every policy would only ever see its initial stock."""
    horizon = instance.horizon_weeks
    return [
        {
            "file": FILES["catalog"],
            "column": "lead_time_weeks",
            "check": f"at most the planning horizon ({horizon} weeks, data.horizon_weeks)",
            "line": "",
            "value": f"{sku} @ {instance.location}: {int(lead)} weeks",
        }
        for sku, lead in zip(instance.skus, instance.lead_time_weeks, strict=True)
        if lead > horizon
    ]


def ramp_floor_problems(instance: Instance) -> list[dict[str, Any]]:
    """The hard constraints are infeasible when some week's ramp floor cannot be ordered.

    The same check as the MILP's (:func:`~inventory.milp.model.ramp_floor_conflict`):
    whole-unit orders falling as fast as the ramp allows from ``last_order`` must stay in
    each SKU's band and fit the containers, in every week of the horizon.

    Returns:
        One problem naming the location, the week, the SKU or the largest floors and the
        allowed values, or none.
    """
    conflict = ramp_floor_conflict(instance)
    if conflict is None:
        return []
    return [
        {
            "file": FILES["catalog"],
            "column": "last_order, ramp_limit",
            "check": f"ramp floor fits every week; {RAMP_FLOOR_FIX}",
            "line": "",
            "value": f"{instance.location}: {conflict}",
        }
    ]


def _with_problems(report: dict[str, Any], failures: pd.DataFrame) -> dict[str, Any]:
    records = failures.astype(object).where(failures.notna(), "").to_dict(orient="records")
    return report | {"valid": not records, "n_problems": len(records), "problems": records}


def raise_if_invalid(report: dict[str, Any]) -> None:
    """Raise :class:`DataValidationError` (a ValueError) listing the report's problems."""
    if not report["valid"]:
        failures = pd.DataFrame(report["problems"], columns=FAILURE_COLUMNS)
        raise DataValidationError(failures, report["data_dir"])
