"""Did retraining help? The PPO models scored on the new demand that triggered it.

When the drift gate says "retrain", the new weeks of demand are appended to the history
and the pipeline re-runs. To tell whether that helped, each PPO model (one per demand
mode) is simulated on the new demand itself: one scenario, the weeks of the new-demand CSV
at ``simulation.location``, from the same start state (the catalog's on hand and the open
purchase orders arriving in those weeks). Each model plans with its own pipeline's
forecast: the previous model (scored before the append) with the forecast it was trained
on, which covers the new weeks; the retrained model with the retrained forecast, whose
first weeks follow the new ones and are moved onto them (the level it learned from the
drift). The cost is priced alike for both: on the scoring instance, whose forecast is the
demand that happened (so the safety-stock target and the terminal price are S weeks of
realised demand, not of either model's forecast); each model still observes and plans with
its own forecast (:class:`PlansWith`). The retrained model has seen the new weeks in
training: the comparison says whether it adapted, not how it will do on weeks neither model
has seen.

:func:`costs_on_new_demand` scores the models; :func:`compare_costs` compares two scorings.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from inventory.data import Tables, build_instance
from inventory.dynamics import State
from inventory.instance import Instance

__all__ = [
    "PlansWith",
    "new_demand_instance",
    "costs_on_new_demand",
    "compare_costs",
    "comparison_markdown",
]


class PlansWith:
    """A policy that observes its own planning instance while simulated on another.

    The simulator passes the scoring instance (same weeks, SKUs and state, another
    forecast); the wrapped policy sees ``planning`` instead.
    """

    def __init__(self, policy: Any, planning: Instance) -> None:
        self.policy, self.planning = policy, planning

    def reset(self, instance: Instance, n_scenarios: int) -> None:
        self.policy.reset(self.planning, n_scenarios)

    def act(self, instance: Instance, state: State, t: int) -> np.ndarray:
        return self.policy.act(self.planning, state, t)


def _on_weeks(
    forecast: pd.DataFrame, location: str, weeks: pd.DatetimeIndex
) -> tuple[pd.DataFrame, str]:
    """The forecast of ``weeks`` at ``location`` and where it comes from."""
    rows = forecast[forecast["location"] == location]
    covered = rows[rows["week"].isin(weeks)]
    if covered["week"].nunique() == len(weeks):
        return covered, "forecast of these weeks"
    first = np.sort(rows["week"].unique())[: len(weeks)]
    if len(first) < len(weeks):
        raise ValueError(
            f"the forecast of {location} has {len(first)} weeks; the new demand has {len(weeks)}"
        )
    moved = rows[rows["week"].isin(first)].copy()
    moved["week"] = moved["week"].map(dict(zip(first, weeks, strict=True)))
    return moved, f"first {len(weeks)} forecast weeks from {pd.Timestamp(first[0]):%Y-%m-%d}, moved"


def new_demand_instance(
    tables: Tables, location: str, new_demand: pd.DataFrame, forecast: pd.DataFrame
) -> tuple[Instance, np.ndarray, str]:
    """The instance of the new weeks, their demand (1, T, P) and the forecast's source.

    Args:
        tables: The data folder's tables (catalog, warehouse, open POs).
        location: The location scored.
        new_demand: sku, location, week, demand (consecutive weeks).
        forecast: The pipeline's forecast (sku, location, week, forecast).

    Raises:
        ValueError: no new demand at ``location``, or a SKU of the catalog without a row in
            some new week.
    """
    rows = new_demand[new_demand["location"] == location]
    if rows.empty:
        raise ValueError(f"new demand: no rows for location {location!r}")
    weeks = pd.date_range(rows["week"].min(), rows["week"].max(), freq="7D")
    on_weeks, source = _on_weeks(forecast, location, weeks)
    instance = build_instance(tables, location, len(weeks), on_weeks)
    table = rows.pivot_table(index="week", columns="sku", values="demand", aggfunc="sum")
    table = table.reindex(index=weeks, columns=list(instance.skus))
    if table.isna().to_numpy().any():
        missing = [sku for sku in instance.skus if table[sku].isna().any()]
        raise ValueError(
            f"new demand: every SKU of {location} needs a row in each of its "
            f"{len(weeks)} weeks; missing for {', '.join(missing[:10])}"
        )
    return instance, table.to_numpy(dtype=float)[None], source


def costs_on_new_demand(
    planning: Instance, demand: np.ndarray, model_dirs: dict[str, Path], terminal: bool
) -> dict[str, Any]:
    """Simulate each PPO model of ``model_dirs`` (mode -> folder) on ``demand`` (1, T, P),
    planning on ``planning`` and priced on realised demand (module docstring).

    Returns:
        Per mode: total cost, its components, lost units and fill rate; a mode without a
        model in its folder is reported as missing.
    """
    from inventory.dynamics import simulate
    from inventory.ppo_policy import MODEL_FILE, PPOPolicy

    scoring = replace(planning, forecast=demand[0].copy())
    scores: dict[str, Any] = {}
    for mode, folder in model_dirs.items():
        if not (Path(folder) / MODEL_FILE).exists():
            scores[mode] = {"model": str(folder), "missing": True}
            continue
        policy = PlansWith(PPOPolicy.load(folder, planning), planning)
        result = simulate(scoring, demand, policy, terminal=terminal)
        total_demand = float(demand.sum())
        scores[mode] = {
            "model": str(folder),
            "total_cost": round(float(result.total_cost()[0]), 4),
            "components": {k: round(float(v[0]), 4) for k, v in result.cost_by_component().items()},
            "lost_units": round(float(result.lost.sum()), 4),
            "fill_rate": round(1 - float(result.lost.sum()) / total_demand, 6)
            if total_demand > 0
            else None,
        }
    return scores


def compare_costs(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """Per mode: the cost of the previous and of the retrained model, and whether it fell.

    Args:
        before: :func:`costs_on_new_demand` payload of the previous models (with ``scores``).
        after: The same for the retrained models.
    """
    modes: dict[str, Any] = {}
    for mode, old in before["scores"].items():
        new = after["scores"].get(mode, {})
        if "total_cost" not in old or "total_cost" not in new:
            modes[mode] = {"helped": None, "reason": "a model is missing"}
            continue
        change = new["total_cost"] - old["total_cost"]
        modes[mode] = {
            "cost_before": old["total_cost"],
            "cost_after": new["total_cost"],
            "change": round(change, 4),
            "change_pct": round(100 * change / old["total_cost"], 2) if old["total_cost"] else None,
            "helped": bool(change < 0),
        }
    helped = [m["helped"] for m in modes.values() if m["helped"] is not None]
    return {
        "weeks": before["weeks"],
        "location": before["location"],
        "modes": modes,
        "helped": bool(helped) and all(helped),
    }


def comparison_markdown(comparison: dict[str, Any], title: str) -> str:
    """A short markdown table of :func:`compare_costs`."""
    lines = [
        f"# {title}",
        "",
        f"New demand: {comparison['location']}, weeks {comparison['weeks']}.",
        "",
        "| mode | cost before | cost after | change | helped |",
        "|---|---:|---:|---:|---|",
    ]
    for mode, row in comparison["modes"].items():
        if row["helped"] is None:
            lines.append(f"| {mode} | | | | {row['reason']} |")
            continue
        pct = f" ({row['change_pct']:+.1f}%)" if row["change_pct"] is not None else ""
        lines.append(
            f"| {mode} | {row['cost_before']:,.1f} | {row['cost_after']:,.1f} | "
            f"{row['change']:+,.1f}{pct} | {'yes' if row['helped'] else 'no'} |"
        )
    scored = [m for m, row in comparison["modes"].items() if row["helped"] is not None]
    lower = [m for m in scored if comparison["modes"][m]["helped"]]
    verdict = (
        f"retraining lowered the cost on the new demand in {len(lower)} of {len(scored)} "
        f"mode(s){': ' + ', '.join(lower) if lower else ''}."
    )
    return "\n".join([*lines, "", f"Verdict: {verdict}"]) + "\n"
