"""A plain per-SKU Python loop of the dynamics: the executable specification.

:func:`simulate_loop` runs the sequence of events of DESIGN.md section 2 one scenario,
one week and one SKU at a time with Python floats, exactly as a planner would on paper.
It exists to check :mod:`inventory.dynamics` (tests demand exact agreement on random
instances) and as the baseline of ``bench/bench_simulator.py``. Never use it for real
work: it is hundreds of times slower.
"""

from __future__ import annotations

import math

import numpy as np

from inventory.instance import Instance

__all__ = ["simulate_loop"]


def _project(instance: Instance, proposed: list[float], last: list[float]) -> list[float]:
    """Ramp band, then container capacity; see :func:`inventory.dynamics.project_orders`."""
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
