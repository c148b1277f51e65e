"""This week's orders: what the chosen policy orders now, and why.

The recommender runs the chosen policy through the one simulator
(:func:`inventory.dynamics.simulate`) on demand equal to the forecast, starting from
today's state (on hand, the order placed last week, open purchase orders). Week 0 of that
run is the recommendation, so it is by construction what the policy does in its first week
of any evaluation, after the same projection onto the ramp band and the container capacity.
The following weeks give the projected on-hand against the safety-stock target over each
SKU's lead time.

Per SKU the recommendation says:

- ``order_units``: units to order this week (after projection), ``proposed_units`` before;
- ``order_volume`` and ``containers_filled`` (order volume / container volume);
- ``projected_on_hand`` and ``target`` in the week the order arrives (``arrival_week``) and
  the lowest projected on-hand over the lead time;
- ``reason``: ``capacity-limited`` (scaled down to fit the containers), ``ramp-limited``
  (clipped to the ramp band around last week's order), ``below target`` (without the
  order, the projected stock at its arrival would be below the target there), ``covers
  later weeks`` (an order the arrival week does not need: stock built ahead of a ramp or
  capacity limit, or a policy level above the target) or ``no order needed``.

Today's state may come from a CSV (:func:`read_state`): one row per SKU with ``sku`` and
``on_hand``, optionally ``last_order`` and ``open_po_week_<k>`` columns (units arriving
``k`` weeks from now, 0 = this week).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from inventory.config import Config
from inventory.data.schemas import MAX_NUMBER, ONLY_EMPTY_IS_MISSING
from inventory.dynamics import SimulationResult, containers_used, simulate
from inventory.identifiers import csv_safe, markdown_text
from inventory.instance import Instance
from inventory.io import read_json, write_csv, write_json, write_text
from inventory.report import best_policy, markdown_table
from inventory.scenarios import DemandModel, deterministic_demand

if TYPE_CHECKING:
    from inventory.policy_factories import PolicySources

__all__ = [
    "REASONS",
    "Recommendation",
    "read_state",
    "apply_state",
    "recommend_orders",
    "to_markdown",
    "choose_policy",
    "write_recommendation",
]

REASONS = (
    "capacity-limited",
    "ramp-limited",
    "below target",
    "no order needed",
    "covers later weeks",
)
_PO_COLUMN = re.compile(r"^open_po_week_(\d+)$")


@dataclass(frozen=True)
class Recommendation:
    """This week's orders for one location.

    Attributes:
        policy: Name of the policy that produced the orders.
        orders: One row per SKU (see the module docstring for the columns).
        projection: Projected on-hand against target per SKU and week over the lead time
            (long format: sku, week, weeks_ahead, projected_on_hand, target).
        summary: Warehouse totals: units, volume, containers, container fill rate.
        plan: The policy simulated on the forecast over the whole horizon (long format:
            sku, week, order_units, end_inventory, target), for the report's plot.
    """

    policy: str
    orders: pd.DataFrame
    projection: pd.DataFrame
    summary: dict[str, float | int | str]
    plan: pd.DataFrame


def read_state(path: str | Path, instance: Instance) -> pd.DataFrame:
    """Read and check today's state CSV against the instance's SKUs.

    Raises:
        ValueError: missing file or columns, unknown or duplicate SKUs, negative or
            non-numeric values, an open PO beyond the horizon.
    """
    path = Path(path)
    if not path.exists():
        raise ValueError(f"{path}: state file not found")
    try:
        frame = pd.read_csv(path, dtype={"sku": str}, **ONLY_EMPTY_IS_MISSING)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not a readable CSV ({exc})") from exc
    missing = {"sku", "on_hand"} - set(frame.columns)
    if missing:
        raise ValueError(
            f"{path}: missing column(s) {', '.join(sorted(missing))}; expected sku, on_hand "
            "and optionally last_order, open_po_week_0, open_po_week_1, ..."
        )
    unknown_cols = [
        c
        for c in frame.columns
        if c not in ("sku", "on_hand", "last_order") and not _PO_COLUMN.match(str(c))
    ]
    if unknown_cols:
        raise ValueError(f"{path}: unknown column(s) {', '.join(unknown_cols)}")
    problems = []
    frame["sku"] = frame["sku"].fillna("").str.strip()
    empty = frame.index[frame["sku"] == ""].tolist()
    if empty:
        problems.append(f"column sku: empty on line(s) {[i + 2 for i in empty]}")
    named = frame.loc[frame["sku"] != "", "sku"]
    duplicated = sorted(named[named.duplicated()].unique())
    if duplicated:
        problems.append(f"duplicate sku(s) {', '.join(duplicated)}")
    unknown = sorted(set(named) - set(instance.skus))
    if unknown:
        problems.append(
            f"sku(s) not in the catalog of {instance.location}: {', '.join(map(repr, unknown))}"
        )
    for column in frame.columns.drop("sku"):
        values = pd.to_numeric(frame[column], errors="coerce")
        bad = frame.index[values.isna() | (values < 0) | (values > MAX_NUMBER)].tolist()
        if bad:
            problems.append(
                f"column {column}: lines {[i + 2 for i in bad]} must be numbers >= 0 "
                f"(at most {MAX_NUMBER:g})"
            )
        weeks = _PO_COLUMN.match(str(column))
        if weeks and int(weeks.group(1)) >= instance.horizon_weeks:
            problems.append(f"column {column}: beyond the {instance.horizon_weeks}-week horizon")
    if problems:
        raise ValueError(f"{path}: " + "; ".join(problems))
    return frame


def apply_state(instance: Instance, state: pd.DataFrame) -> Instance:
    """The instance with today's on hand, last order and open POs from ``state``.

    SKUs absent from ``state`` keep the instance's values. Open PO columns replace the
    instance's open POs of the SKUs listed.
    """
    index = {sku: i for i, sku in enumerate(instance.skus)}
    rows = np.array([index[sku] for sku in state["sku"]], dtype=np.int64)
    on_hand = instance.on_hand.astype(float).copy()
    on_hand[rows] = state["on_hand"].to_numpy(dtype=float)
    last_order = instance.last_order.astype(float).copy()
    if "last_order" in state:
        last_order[rows] = state["last_order"].to_numpy(dtype=float)
    arrivals = instance.arrivals.astype(float).copy()
    po_columns = [(c, m) for c in state.columns if (m := _PO_COLUMN.match(str(c)))]
    if po_columns:
        arrivals[:, rows] = 0.0
        for column, match in po_columns:
            week = int(match.group(1))
            arrivals[week, rows] = state[column].to_numpy(dtype=float)
    return replace(instance, on_hand=on_hand, last_order=last_order, arrivals=arrivals)


def _reasons(result: SimulationResult, lead: np.ndarray) -> np.ndarray:
    """Per SKU, why this week's order is what it is (:data:`REASONS`). An order that the
    projected stock at its arrival, without it, would not need to reach the target there
    (a plan that builds stock ahead of a ramp or capacity limit, a base-stock level above
    the target) covers later weeks rather than a shortfall."""
    orders = result.orders[0, 0]
    cols = np.arange(orders.shape[0])
    without = result.end_inventory[0][lead, cols] - orders
    short = without < result.target[0][lead, cols] - 1e-9
    return np.select(
        [
            result.capacity_limited[0, 0] > 0,
            result.ramp_limited[0, 0] > 0,
            (orders > 0) & short,
            orders > 0,
        ],
        [REASONS[0], REASONS[1], REASONS[2], REASONS[4]],
        default=REASONS[3],
    )


def _plan(instance: Instance, result: SimulationResult) -> pd.DataFrame:
    weeks, skus = np.meshgrid(
        np.arange(instance.horizon_weeks), np.arange(instance.n_skus), indexing="ij"
    )
    return pd.DataFrame(
        {
            "sku": np.asarray(instance.skus)[skus.ravel()],
            "week": pd.DatetimeIndex(instance.weeks[weeks.ravel()]).strftime("%Y-%m-%d"),
            "order_units": result.orders[0].ravel(),
            "end_inventory": result.end_inventory[0].ravel(),
            "target": result.target[0].ravel(),
        }
    )


def _projection(instance: Instance, result: SimulationResult, weeks: int) -> pd.DataFrame:
    end = result.end_inventory[0, :weeks]
    target = result.target[0, :weeks]
    ahead, sku = np.meshgrid(np.arange(weeks), np.arange(instance.n_skus), indexing="ij")
    return pd.DataFrame(
        {
            "sku": np.asarray(instance.skus)[sku.ravel()],
            "week": pd.DatetimeIndex(instance.weeks[:weeks][ahead.ravel()]).strftime("%Y-%m-%d"),
            "weeks_ahead": ahead.ravel(),
            "projected_on_hand": end.ravel(),
            "target": target.ravel(),
        }
    )


def recommend_orders(
    instance: Instance, policy, policy_name: str, lookahead_weeks: int = 0
) -> Recommendation:
    """This week's orders of ``policy`` from the instance's current state.

    Args:
        instance: The planning instance (its on hand, last order and open POs are today's).
        policy: Any :class:`inventory.policies.Policy`.
        policy_name: Name reported with the orders.
        lookahead_weeks: Weeks of projection; 0 means the longest lead time + 1.

    Returns:
        The recommendation; ``orders`` equals week 0 of ``simulate`` with this policy.
    """
    weeks = lookahead_weeks or int(instance.lead_time_weeks.max()) + 1
    weeks = min(weeks, instance.horizon_weeks)
    result = simulate(instance, deterministic_demand(instance, 1), policy, terminal=False)
    orders = result.orders[0, 0]
    volume = orders * instance.volume
    lead = np.minimum(instance.lead_time_weeks.astype(np.int64), instance.horizon_weeks - 1)
    cols = np.arange(instance.n_skus)
    end = result.end_inventory[0]
    lowest = np.array([end[: lead[p] + 1, p].min() for p in cols])
    frame = pd.DataFrame(
        {
            "sku": instance.skus,
            "location": instance.location,
            "week": str(instance.weeks[0]),
            "order_units": orders.astype(np.int64),
            "proposed_units": np.round(result.proposed[0, 0], 2),
            "order_volume": np.round(volume, 3),
            "containers_filled": np.round(volume / instance.container_volume, 3) + 0.0,
            "on_hand": instance.on_hand,
            "lead_time_weeks": instance.lead_time_weeks,
            "arrival_week": pd.DatetimeIndex(instance.weeks[lead]).strftime("%Y-%m-%d"),
            "projected_on_hand": np.round(end[lead, cols], 2),
            "target": np.round(result.target[0][lead, cols], 2),
            "lowest_projected_on_hand": np.round(lowest, 2),
            "reason": _reasons(result, lead),
        }
    )
    containers = int(containers_used(instance, orders))
    loaded = float(volume.sum())
    summary: dict[str, float | int | str] = {
        "policy": policy_name,
        "location": instance.location,
        "week": str(instance.weeks[0]),
        "order_units": int(orders.sum()),
        "order_volume": round(loaded, 3),
        "containers": containers,
        "max_containers": int(instance.max_containers),
        "container_fill_rate": round(loaded / (containers * instance.container_volume), 4)
        if containers
        else 0.0,
        "skus_ordered": int((orders > 0).sum()),
        **{
            f"skus_{r.replace(' ', '_').replace('-', '_')}": int((frame["reason"] == r).sum())
            for r in REASONS
        },
    }
    projection = _projection(instance, result, weeks)
    return Recommendation(policy_name, frame, projection, summary, _plan(instance, result))


def to_markdown(recommendation: Recommendation) -> str:
    """A readable markdown page: totals, then one table row per SKU."""
    s = recommendation.summary
    columns = [
        "sku",
        "order_units",
        "containers_filled",
        "on_hand",
        "lead_time_weeks",
        "arrival_week",
        "projected_on_hand",
        "target",
        "reason",
    ]
    table = recommendation.orders[columns].rename(
        columns={
            "order_units": "order (units)",
            "containers_filled": "containers",
            "on_hand": "on hand",
            "lead_time_weeks": "lead time (weeks)",
            "arrival_week": "arrives",
            "projected_on_hand": "projected on hand at arrival",
            "target": "target at arrival",
        }
    )
    lines = [
        f"# Orders for the week of {s['week']} ({markdown_text(s['location'])})",
        "",
        f"Policy: **{markdown_text(s['policy'])}**. Order {s['order_units']} units in "
        f"{s['skus_ordered']} SKUs: "
        f"{s['order_volume']} volume in {s['containers']} of {s['max_containers']} containers "
        f"(fill rate {100 * float(s['container_fill_rate']):.1f}%).",
        "",
        "Projected on hand assumes demand equals the forecast and the policy keeps ordering.",
        "",
        markdown_table(table),
        "",
    ]
    return "\n".join(lines)


def choose_policy(config: Config, metrics_dir: Path) -> str:
    """``recommend.policy``, or with ``best`` the cheapest policy of the last evaluation.

    Raises:
        ValueError: ``best`` and no evaluation of ``recommend.mode`` exists yet.
    """
    if config.recommend.policy != "best":
        return config.recommend.policy
    path = metrics_dir / f"evaluation_{config.recommend.mode}.json"
    if not path.exists():
        raise ValueError(
            f"{path} not found: recommend.policy is 'best', which reads the last evaluation; "
            f"run `inventory evaluate --mode {config.recommend.mode}` or name a policy in "
            "params.yaml (recommend.policy)"
        )
    return best_policy(read_json(path))


def write_recommendation(
    config: Config,
    instance: Instance,
    state: str | Path | None,
    *,
    metrics_dir: Path,
    reports_dir: Path,
    artifacts_dir: Path,
    demand_model: tuple[DemandModel, str] | None = None,
    sources: PolicySources | None = None,
    summary_dir: Path | None = None,
) -> dict[str, str]:
    """Build the chosen policy as the evaluator does, recommend, write CSV/markdown/JSON.

    Args:
        config: The validated config (``recommend`` group).
        instance: The planning instance.
        state: Optional CSV of today's state (:func:`read_state`).
        metrics_dir: Folder of the evaluation metrics (``best``) and, unless
            ``summary_dir`` is given, of ``recommendation.json``.
        reports_dir: Folder of ``recommendation.csv`` and ``.md``.
        artifacts_dir: Folder of ``projection.csv`` and ``plan.csv``.
        demand_model: (model, description) of stochastic mode, as the evaluator's.
        sources: What the policy reads (model folder, solved plans, tuning cache).
        summary_dir: Folder of ``recommendation.json`` (default ``metrics_dir``).

    Returns:
        The files written, by name (``orders``, ``markdown``, ``projection``, ``plan``,
        ``metrics``).

    Raises:
        ValueError: the policy's input is missing (e.g. no trained model: the message
            says how to make it), or a bad state file.
    """
    from inventory.policy_factories import build_policies
    from inventory.scenarios import scenarios_for

    if state is not None:
        instance = apply_state(instance, read_state(state, instance))
    name = choose_policy(config, metrics_dir)
    mode = config.recommend.mode
    scenarios = scenarios_for(config, instance, mode, demand_model)
    built = build_policies(config, instance, mode, scenarios.training, sources, names=[name])
    policy = built[name]
    rec = recommend_orders(instance, policy, name, config.recommend.lookahead_weeks)
    files = {
        # csv_safe: no cell a spreadsheet would run as a formula (ids are checked at input)
        "orders": write_csv(reports_dir / "recommendation.csv", csv_safe(rec.orders)),
        "markdown": write_text(reports_dir / "recommendation.md", to_markdown(rec)),
        "projection": write_csv(artifacts_dir / "projection.csv", csv_safe(rec.projection)),
        "plan": write_csv(artifacts_dir / "plan.csv", csv_safe(rec.plan)),
        "metrics": write_json((summary_dir or metrics_dir) / "recommendation.json", rec.summary),
    }
    return {key: str(path) for key, path in files.items()}
