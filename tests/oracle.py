"""Test oracles of the dynamics: independent implementations of DESIGN.md section 2.

The product has one executable week, the compiled kernels of :mod:`inventory.fused_week`
behind :mod:`inventory.dynamics` (the simulator, the env and the VecEnv all run it). This
module holds the two implementations the tests check it against:

- the readable numpy week (:func:`project_orders`, :func:`advance`, :func:`step_by_step`):
  whole-array expressions the kernels must reproduce bit for bit, signed zeros included;
- :func:`simulate_loop`, a plain per-SKU Python loop one scenario, one week and one SKU
  at a time with Python floats, exactly as a planner would on paper (tests demand exact
  agreement on random instances; ``bench/bench_simulator.py`` times it as the baseline).

Both keep their own copies of the rules (the min(4, T) tail mean, the terminal cost) on
purpose: an oracle that called the code under test would check nothing. Never use them
for real work: they are many times slower.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from inventory.dynamics import Projection, State, initial_state
from inventory.instance import Instance

__all__ = [
    "WeekOutcome",
    "project_orders",
    "week_cost",
    "advance",
    "terminal_cost_by_sku",
    "step_by_step",
    "simulate_loop",
]

_EPS = 1e-9


@dataclass
class WeekOutcome:
    """Per-week outputs of :func:`advance`, each shaped (N, P) unless noted."""

    orders: np.ndarray
    received: np.ndarray
    sales: np.ndarray
    lost: np.ndarray
    end_inventory: np.ndarray
    target: np.ndarray
    cost_lost_sales: np.ndarray
    cost_overstock: np.ndarray
    cost_understock: np.ndarray
    containers: np.ndarray  # (N,)
    cost_containers: np.ndarray  # (N,)

    def total_cost(self) -> np.ndarray:
        """Cost of the week per scenario, shape (N,)."""
        per_sku = self.cost_lost_sales + self.cost_overstock + self.cost_understock
        return per_sku.sum(axis=1) + self.cost_containers


def project_orders(instance: Instance, proposed: np.ndarray, last_order: np.ndarray) -> Projection:
    """Project proposed orders (N, P) onto the ramp band and the container capacity."""
    proposed = np.asarray(proposed, dtype=float)
    if not np.isfinite(proposed).all():
        proposed = np.nan_to_num(proposed, nan=0.0, posinf=0.0)
    low = np.ceil(np.maximum(0.0, last_order - instance.ramp_limit) - 1e-9)
    high = np.maximum(low, np.floor(last_order + instance.ramp_limit + 1e-9))
    rounded = np.rint(proposed)
    orders = np.clip(rounded, low, high)
    ramp_limited = orders != rounded
    capacity = instance.capacity_volume
    volume = instance.volume
    total = orders @ volume
    over = total > capacity + _EPS
    capacity_limited = np.zeros_like(ramp_limited)
    breaches = np.zeros(orders.shape[0], dtype=bool)
    if over.any():
        rows = np.flatnonzero(over)
        sub, sub_low = orders[rows], low[rows]
        floor_volume = sub_low @ volume
        fits_floor = floor_volume <= capacity + _EPS
        extra_volume = (sub - sub_low) @ volume
        factor = np.where(
            fits_floor, (capacity - floor_volume) / np.maximum(extra_volume, _EPS), 0.0
        )
        scaled = np.where(
            fits_floor[:, None],
            sub_low + np.floor((sub - sub_low) * factor[:, None] + 1e-9),
            np.floor(sub_low * (capacity / np.maximum(floor_volume, _EPS))[:, None] + 1e-9),
        )
        capacity_limited[rows] = scaled != sub
        breaches[rows] = ~fits_floor
        orders[rows] = scaled
    adjusted = np.abs(orders - proposed)
    return Projection(orders, adjusted, ramp_limited, capacity_limited, breaches)


def week_cost(
    instance: Instance, t: int, lost: np.ndarray, end_inventory: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(target, lost-sales cost, overstock cost, understock cost) of week ``t``, (N, P)."""
    target = instance.safety_stock_weeks * instance.forecast[t]
    gap = end_inventory - target
    return (
        np.broadcast_to(target, end_inventory.shape),
        instance.lost_sale_cost * lost,
        instance.overstock_cost * np.maximum(gap, 0.0),
        instance.understock_cost * np.maximum(-gap, 0.0),
    )


def advance(
    instance: Instance, state: State, orders: np.ndarray, demand: np.ndarray
) -> WeekOutcome:
    """Run week ``state.t`` with projected ``orders`` and ``demand`` (N, P), in place."""
    t, width = state.t, state.ring.shape[0]
    slot = t % width
    state.transit_total = None
    received = state.ring[slot] + instance.arrivals[t]
    state.ring[slot] = 0.0
    lead = np.asarray(instance.lead_time_weeks, dtype=np.int64)
    for weeks in np.unique(lead):
        skus = np.flatnonzero(lead == weeks)
        if weeks == 0:  # arrives this week, before demand
            received[:, skus] += orders[:, skus]
        else:
            arriving = state.ring[(t + weeks) % width]
            arriving[:, skus] += orders[:, skus]
    stock = state.on_hand + received
    sales = np.minimum(stock, demand)
    lost = demand - sales
    end = stock - sales
    target, c_lost, c_over, c_under = week_cost(instance, t, lost, end)
    containers = np.ceil(orders @ instance.volume / instance.container_volume - 1e-9).clip(min=0)
    state.on_hand = end
    state.last_order = orders
    state.t = t + 1
    return WeekOutcome(
        orders=orders,
        received=received,
        sales=sales,
        lost=lost,
        end_inventory=end,
        target=target,
        cost_lost_sales=c_lost,
        cost_overstock=c_over,
        cost_understock=c_under,
        containers=containers,
        cost_containers=instance.container_cost * containers,
    )


def terminal_cost_by_sku(instance: Instance, state: State) -> np.ndarray:
    """Terminal cost per scenario and SKU (N, P), computed independently of dynamics."""
    horizon = instance.horizon_weeks
    tail = instance.forecast[-min(4, horizon) :].mean(axis=0)
    required = instance.safety_stock_weeks * instance.forecast[-1]
    required = required + instance.lead_time_weeks * tail
    gap = state.on_hand + state.ring.sum(axis=0) - required
    return instance.overstock_cost * np.maximum(gap, 0.0) + instance.understock_cost * np.maximum(
        -gap, 0.0
    )


def step_by_step(instance: Instance, demand: np.ndarray, proposals: np.ndarray) -> dict:
    """The horizon week by week through the numpy :func:`project_orders` and
    :func:`advance`: arrays named like ``SimulationResult`` fields (N, T, P) or (N, T),
    plus ``cost_terminal_by_sku`` and ``in_transit`` (N, P)."""
    state = initial_state(instance, demand.shape[0])
    weeks = []
    for t in range(instance.horizon_weeks):
        projection = project_orders(instance, proposals[:, t], state.last_order)
        week = advance(instance, state, projection.orders, demand[:, t])
        weeks.append({"projection": projection, "week": week})
    out = {
        name: np.stack([getattr(w["projection"], name) for w in weeks], axis=1)
        for name in ("adjusted_units", "ramp_limited", "capacity_limited")
    }
    for name in ("orders", "received", "sales", "lost", "end_inventory", "cost_lost_sales"):
        out[name] = np.stack([getattr(w["week"], name) for w in weeks], axis=1)
    for name in ("cost_overstock", "cost_understock", "containers", "cost_containers"):
        out[name] = np.stack([getattr(w["week"], name) for w in weeks], axis=1)
    out["cost_terminal_by_sku"] = terminal_cost_by_sku(instance, state)
    out["in_transit"] = state.in_transit()
    return out


def _project(instance: Instance, proposed: list[float], last: list[float]) -> list[float]:
    """Ramp band, then container capacity, one scenario (see DESIGN.md section 2)."""
    skus = range(instance.n_skus)
    volume = instance.volume.tolist()
    ramp = instance.ramp_limit.tolist()
    low = [math.ceil(max(0.0, last[p] - ramp[p]) - 1e-9) for p in skus]
    high = [max(low[p], math.floor(last[p] + ramp[p] + 1e-9)) for p in skus]
    orders = [float(min(max(round(proposed[p]), low[p]), high[p])) for p in skus]
    capacity = instance.capacity_volume
    if sum(orders[p] * volume[p] for p in skus) <= capacity + 1e-9:
        return orders
    floor_volume = sum(low[p] * volume[p] for p in skus)
    if floor_volume <= capacity + 1e-9:
        extra = sum((orders[p] - low[p]) * volume[p] for p in skus)
        factor = (capacity - floor_volume) / max(extra, 1e-9)
        return [low[p] + math.floor((orders[p] - low[p]) * factor + 1e-9) for p in skus]
    factor = capacity / max(floor_volume, 1e-9)
    return [float(math.floor(low[p] * factor + 1e-9)) for p in skus]


def simulate_loop(
    instance: Instance,
    demand: np.ndarray,
    proposals: np.ndarray | None = None,
    *,
    base_stock_levels: np.ndarray | None = None,
    terminal: bool = True,
) -> dict[str, np.ndarray]:
    """Simulate with plain Python loops over scenarios, weeks and SKUs.

    Args:
        instance: The planning instance.
        demand: Demand scenarios (N, T, P).
        proposals: Proposed orders (N, T, P) or (T, P) (a replayed plan), or
        base_stock_levels: levels (T, P): propose ``max(0, level - inventory position)``.
        terminal: Add the terminal cost.

    Returns:
        Arrays named like :class:`inventory.dynamics.SimulationResult` fields: ``orders``,
        ``sales``, ``lost``, ``end_inventory``, ``cost_lost_sales``, ``cost_overstock``,
        ``cost_understock`` (N, T, P); ``containers``, ``cost_containers`` (N, T);
        ``cost_terminal`` (N,).
    """
    n, horizon, n_skus = demand.shape
    names3 = (
        "orders",
        "sales",
        "lost",
        "end_inventory",
        "cost_lost_sales",
        "cost_overstock",
        "cost_understock",
    )
    out = {name: np.zeros((n, horizon, n_skus)) for name in names3}
    out.update(
        containers=np.zeros((n, horizon)),
        cost_containers=np.zeros((n, horizon)),
        cost_terminal=np.zeros(n),
    )
    lead = [int(v) for v in instance.lead_time_weeks]
    # Plain Python numbers throughout (no numpy scalars in the loop): a fair baseline.
    arrivals = instance.arrivals.tolist()
    due = [[sum(col[t:]) for col in instance.arrivals.T.tolist()] for t in range(horizon)]
    target = (instance.safety_stock_weeks * instance.forecast).tolist()
    lost_cost, over_cost, under_cost, volume = (
        getattr(instance, name).tolist()
        for name in ("lost_sale_cost", "overstock_cost", "understock_cost", "volume")
    )
    levels = None if base_stock_levels is None else np.asarray(base_stock_levels).tolist()
    rows = {name: np.zeros((horizon, n_skus)) for name in names3}
    for s in range(n):
        on_hand = [float(v) for v in instance.on_hand]
        last = [float(v) for v in instance.last_order]
        pending = [[0.0] * (horizon + max(lead) + 1) for _ in range(n_skus)]
        wanted_rows = demand[s].tolist()
        plan = None if proposals is None else (proposals[s] if proposals.ndim == 3 else proposals)
        plan = None if plan is None else plan.tolist()
        weeks = {name: [] for name in names3}
        for t in range(horizon):
            if levels is not None:
                proposed = [
                    max(levels[t][p] - (on_hand[p] + sum(pending[p][t:]) + due[t][p]), 0.0)
                    for p in range(n_skus)
                ]
            else:
                proposed = plan[t]
            orders = _project(instance, proposed, last)
            loaded = 0.0
            week = {name: [0.0] * n_skus for name in names3}
            for p in range(n_skus):
                received = pending[p][t] + arrivals[t][p]
                pending[p][t + lead[p]] += orders[p]
                if lead[p] == 0:
                    received += orders[p]
                stock = on_hand[p] + received
                wanted = wanted_rows[t][p]
                sales = min(stock, wanted)
                end = stock - sales
                gap = end - target[t][p]
                week["orders"][p] = orders[p]
                week["sales"][p] = sales
                week["lost"][p] = wanted - sales
                week["end_inventory"][p] = end
                week["cost_lost_sales"][p] = lost_cost[p] * (wanted - sales)
                week["cost_overstock"][p] = over_cost[p] * max(gap, 0.0)
                week["cost_understock"][p] = under_cost[p] * max(-gap, 0.0)
                on_hand[p] = end
                loaded += orders[p] * volume[p]
            for name in names3:
                weeks[name].append(week[name])
            containers = max(math.ceil(loaded / instance.container_volume - 1e-9), 0)
            out["containers"][s, t] = containers
            out["cost_containers"][s, t] = instance.container_cost * containers
            last = orders
        for name in names3:
            rows[name][:] = weeks[name]
            out[name][s] = rows[name]
        if terminal:
            out["cost_terminal"][s] = _terminal(instance, on_hand, pending, horizon)
    return out


def _terminal(
    instance: Instance, on_hand: list[float], pending: list[list[float]], horizon: int
) -> float:
    tail_weeks = min(4, horizon)
    total = 0.0
    for p in range(instance.n_skus):
        tail = sum(float(v) for v in instance.forecast[horizon - tail_weeks :, p]) / tail_weeks
        required = (
            instance.safety_stock_weeks[p] * instance.forecast[-1, p]
            + instance.lead_time_weeks[p] * tail
        )
        gap = on_hand[p] + sum(pending[p][horizon:]) - required
        total += instance.overstock_cost[p] * max(gap, 0.0)
        total += instance.understock_cost[p] * max(-gap, 0.0)
    return total
