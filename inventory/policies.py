"""Ordering policies behind one Protocol, all run through the same projection.

A policy proposes orders; :func:`inventory.dynamics.simulate` projects them onto the ramp
band and the container capacity, so no policy can break a constraint. Every policy here
follows :class:`Policy`:

- :class:`OrderUpTo`: the planners' rule. Order up to the forecast over lead time plus
  review period plus safety-stock weeks, minus the inventory position.
- :class:`BaseStock`: order up to a level per SKU and week (units).
- :class:`SSPolicy`: (s, S): when the inventory position falls below the reorder point
  ``s``, order up to ``S``.
- :class:`PlanReplay`: replay a fixed order plan (T, P) or (N, T, P), e.g. a MILP plan.
- :class:`DoNothing`: never order.

:func:`tune_base_stock` and :func:`tune_s_s` pick levels per SKU by simulation on training
scenarios (see their docstrings for the parameterisation).

Vocabulary (stockpyl): ``inventory_position`` = on hand + placed orders in transit + open
purchase orders still due; ``base_stock_level`` = order-up-to level in units.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from inventory.dynamics import State, simulate_cost_by_sku
from inventory.model import Instance

__all__ = [
    "Policy",
    "OrderUpTo",
    "BaseStock",
    "SSPolicy",
    "PlanReplay",
    "DoNothing",
    "cover_levels",
    "planner_levels",
    "inventory_position",
    "open_po_due",
    "tune_base_stock",
    "tune_s_s",
    "TuningResult",
]


@runtime_checkable
class Policy(Protocol):
    """What :func:`inventory.dynamics.simulate` needs from a policy."""

    def reset(self, instance: Instance, n_scenarios: int) -> None:
        """Prepare for ``n_scenarios`` parallel runs of ``instance`` from week 0."""

    def act(self, instance: Instance, state: State, t: int) -> np.ndarray:
        """Proposed orders (before projection) for week ``t``, shape (N, P)."""


# --------------------------------------------------------------------------- helpers


def _extended_forecast(instance: Instance, extra_weeks: int) -> np.ndarray:
    """Forecast (T + extra, P): beyond the horizon, the mean of the last min(4, T) weeks."""
    tail = instance.forecast[-min(4, instance.horizon_weeks) :].mean(axis=0)
    return np.vstack([instance.forecast, np.tile(tail, (extra_weeks, 1))])


def cover_levels(instance: Instance, cover_weeks: np.ndarray) -> np.ndarray:
    """Forecast demand over ``cover_weeks`` (P,) weeks from each week, shape (T, P).

    ``cover_weeks`` may be fractional: 2.5 weeks = two weeks plus half of the third.
    Beyond the horizon the forecast continues at the mean of its last four weeks.
    """
    cover = np.maximum(np.asarray(cover_weeks, dtype=float), 0.0)
    whole = np.floor(cover + 1e-9).astype(np.int64)
    frac = cover - whole
    horizon = instance.horizon_weeks
    extended = _extended_forecast(instance, int(whole.max()) + 1)
    cumulative = np.vstack([np.zeros((1, instance.n_skus)), np.cumsum(extended, axis=0)])
    start = np.arange(horizon)[:, None]
    cols = np.arange(instance.n_skus)[None, :]
    end = start + whole[None, :]
    return cumulative[end, cols] - cumulative[start, cols] + frac * extended[end, cols]


def planner_levels(instance: Instance, review_period_weeks: int = 1) -> np.ndarray:
    """The planners' order-up-to levels (T, P): forecast over L + R + S weeks."""
    cover = instance.lead_time_weeks + review_period_weeks + instance.safety_stock_weeks
    return cover_levels(instance, cover)


def open_po_due(instance: Instance) -> np.ndarray:
    """Open purchase orders due in week t or later, shape (T + 1, P)."""
    suffix = np.cumsum(instance.arrivals[::-1], axis=0)[::-1]
    return np.vstack([suffix, np.zeros((1, instance.n_skus))])


def inventory_position(
    instance: Instance, state: State, due: np.ndarray | None = None
) -> np.ndarray:
    """On hand + placed orders in transit + open POs still due, shape (N, P).

    Args:
        instance: The planning instance.
        state: State at the start of week ``state.t`` (before receipts).
        due: Precomputed :func:`open_po_due` (saves work in a loop).
    """
    due = open_po_due(instance) if due is None else due
    return state.on_hand + state.in_transit() + due[state.t]


# --------------------------------------------------------------------------- policies


class BaseStock:
    """Order up to a base-stock level: ``x = max(0, level_t - inventory_position)``.

    Args:
        levels: Base-stock levels in units, shape (P,) (constant), (T, P) (per week) or
            (N, T, P) (per scenario, used by the tuner to evaluate many candidates at once).
    """

    def __init__(self, levels: np.ndarray) -> None:
        self.levels = np.asarray(levels, dtype=float)

    def reset(self, instance: Instance, n_scenarios: int) -> None:
        self._due = open_po_due(instance)
        self._n = n_scenarios

    def _level(self, t: int) -> np.ndarray:
        if self.levels.ndim == 1:
            return self.levels
        return self.levels[:, t] if self.levels.ndim == 3 else self.levels[t]

    def act(self, instance: Instance, state: State, t: int) -> np.ndarray:
        position = inventory_position(instance, state, self._due)
        return np.maximum(self._level(t) - position, 0.0)


class OrderUpTo(BaseStock):
    """The planners' rule: order up to the forecast over lead time + review period +
    safety-stock weeks, minus the inventory position (on hand, in transit, open POs)."""

    def __init__(self, review_period_weeks: int = 1) -> None:
        super().__init__(np.zeros(0))
        self.review_period_weeks = review_period_weeks

    def reset(self, instance: Instance, n_scenarios: int) -> None:
        self.levels = planner_levels(instance, self.review_period_weeks)
        super().reset(instance, n_scenarios)


class SSPolicy:
    """(s, S): when the inventory position is below the reorder point ``s``, order up to
    ``S``; otherwise order nothing. Levels shaped like :class:`BaseStock` levels.

    Args:
        reorder_points: ``s`` in units.
        order_up_to: ``S`` in units (>= ``s``).
    """

    def __init__(self, reorder_points: np.ndarray, order_up_to: np.ndarray) -> None:
        self.reorder = BaseStock(reorder_points)
        self.level = BaseStock(order_up_to)

    def reset(self, instance: Instance, n_scenarios: int) -> None:
        self.reorder.reset(instance, n_scenarios)
        self.level.reset(instance, n_scenarios)

    def act(self, instance: Instance, state: State, t: int) -> np.ndarray:
        position = inventory_position(instance, state, self.level._due)
        trigger = position < self.reorder._level(t)
        return np.where(trigger, np.maximum(self.level._level(t) - position, 0.0), 0.0)


class PlanReplay:
    """Replay a fixed order plan: (T, P) for every scenario or (N, T, P) per scenario."""

    def __init__(self, plan: np.ndarray) -> None:
        self.plan = np.asarray(plan, dtype=float)
        if self.plan.ndim not in (2, 3):
            raise ValueError(f"plan must be (T, P) or (N, T, P), got shape {self.plan.shape}")

    def reset(self, instance: Instance, n_scenarios: int) -> None:
        if self.plan.shape[-2:] != instance.forecast.shape:
            raise ValueError(
                f"plan shape {self.plan.shape} does not match the instance "
                f"(T, P) = {instance.forecast.shape}"
            )
        if self.plan.ndim == 3 and self.plan.shape[0] not in (1, n_scenarios):
            raise ValueError(f"plan has {self.plan.shape[0]} scenarios, expected {n_scenarios}")
        self._n = n_scenarios

    def act(self, instance: Instance, state: State, t: int) -> np.ndarray:
        week = self.plan[:, t] if self.plan.ndim == 3 else self.plan[t]
        return np.broadcast_to(week, (self._n, instance.n_skus))


class DoNothing:
    """Never order (the projection may still force orders up to the ramp floor)."""

    def reset(self, instance: Instance, n_scenarios: int) -> None:
        self._n = n_scenarios

    def act(self, instance: Instance, state: State, t: int) -> np.ndarray:
        return np.zeros((self._n, instance.n_skus))


# --------------------------------------------------------------------------- tuning


@dataclass(frozen=True)
class TuningResult:
    """Levels chosen per SKU by simulation, and their cost on the training scenarios.

    Attributes:
        policy: The tuned policy (:class:`BaseStock` or :class:`SSPolicy`).
        safety_units: Offset per SKU added to the forecast over lead time + review
            period (P,); the base-stock level (or reorder point) is ``cover + offset``.
        order_quantity: (s, S) only: ``S - s`` per SKU (P,), else zeros.
        cost_per_sku: Mean cost per SKU over the training scenarios (P,).
    """

    policy: BaseStock | SSPolicy
    safety_units: np.ndarray
    order_quantity: np.ndarray
    cost_per_sku: np.ndarray


def _mean_sku_cost(
    instance: Instance,
    demand: np.ndarray,
    make_policy,
    candidates: list[np.ndarray],
    terminal: bool,
) -> np.ndarray:
    """Mean cost per SKU (G, P) of G candidate parameter sets, simulated in one batch.

    ``candidates`` holds arrays shaped (G, P); ``make_policy`` turns arrays shaped
    (G * N, T, P) into a policy. Candidate ``g`` runs on all N scenarios (common random
    numbers), so per-SKU differences between candidates are measured precisely.
    """
    n = demand.shape[0]
    n_candidates = candidates[0].shape[0]
    tiled = np.tile(demand, (n_candidates, 1, 1))
    expanded = [np.repeat(c, n, axis=0)[:, None, :] for c in candidates]
    per_sku, _ = simulate_cost_by_sku(instance, tiled, make_policy(*expanded), terminal=terminal)
    return per_sku.reshape(n_candidates, n, -1).mean(axis=1)


def _pick(grid: np.ndarray, cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-SKU argmin over candidates: (best values (P,), best costs (P,))."""
    best = cost.argmin(axis=0)
    cols = np.arange(grid.shape[1])
    return grid[best, cols], cost[best, cols]


def _demand_scale(instance: Instance) -> np.ndarray:
    return np.maximum(instance.forecast.mean(axis=0), 1e-3)


def tune_base_stock(
    instance: Instance,
    train_demand: np.ndarray,
    *,
    review_period_weeks: int = 1,
    grid_points: int = 21,
    terminal: bool = True,
) -> TuningResult:
    """Tune a base-stock level per SKU by simulation on training scenarios.

    The level of SKU ``p`` in week ``t`` is ``cover_tp + offset_p``, where ``cover`` is
    the forecast over lead time + review period (:func:`cover_levels`): it follows
    seasonality, and with a stationary forecast it is a constant base-stock level. The
    offset (safety stock in units) is searched per SKU: a coarse grid of ``grid_points``
    values from -1 to ``S_p + 3`` weeks of mean demand, then whole units around the best.
    All SKUs move through the grid together (one batched simulation per stage), and each
    SKU keeps its own cheapest offset. SKUs interact only through the container capacity,
    which this per-SKU choice treats as given. Container costs are shared and ignored.

    Args:
        instance: The planning instance.
        train_demand: Training scenarios (N, T, P), not the evaluation ones.
        review_period_weeks: Weeks between orders (R).
        grid_points: Coarse grid size per SKU.
        terminal: Include the terminal cost (as the evaluation does).
    """
    cover = cover_levels(instance, instance.lead_time_weeks + review_period_weeks)
    scale = _demand_scale(instance)

    def make(offsets: np.ndarray) -> BaseStock:
        return BaseStock(cover[None] + offsets)

    offset = _search_offsets(instance, train_demand, make, scale, grid_points, terminal)
    cost = _mean_sku_cost(instance, train_demand, make, [offset[None]], terminal)[0]
    return TuningResult(BaseStock(cover + offset), offset, np.zeros_like(offset), cost)


def _search_offsets(instance, demand, make, scale, grid_points, terminal) -> np.ndarray:
    """Coarse grid in weeks of demand, then whole units around the best (per SKU)."""
    weeks = np.linspace(0.0, 1.0, grid_points)[:, None]
    coarse = scale * (-1.0 + weeks * (instance.safety_stock_weeks + 4.0))
    best, _ = _pick(coarse, _mean_sku_cost(instance, demand, make, [coarse], terminal))
    step = np.maximum(1.0, np.ceil((coarse[1] - coarse[0]) / 8.0))
    fine = np.rint(best) + step * np.arange(-8, 9)[:, None]
    best, _ = _pick(fine, _mean_sku_cost(instance, demand, make, [fine], terminal))
    return best


def tune_s_s(
    instance: Instance,
    train_demand: np.ndarray,
    *,
    review_period_weeks: int = 1,
    grid_points: int = 21,
    terminal: bool = True,
    base: TuningResult | None = None,
) -> TuningResult:
    """Tune (s, S) per SKU: ``s = cover + offset``, ``S = s + Q``.

    Starts from the tuned base-stock offset (``Q = 0`` is base stock), then searches a
    joint grid of reorder-point offsets around it and order quantities ``Q`` of 0 to 4
    weeks of mean demand, per SKU as in :func:`tune_base_stock`.
    """
    base = base or tune_base_stock(
        instance,
        train_demand,
        review_period_weeks=review_period_weeks,
        grid_points=grid_points,
        terminal=terminal,
    )
    cover = cover_levels(instance, instance.lead_time_weeks + review_period_weeks)
    scale = _demand_scale(instance)
    step = np.maximum(1.0, np.rint(scale / 4))
    shifts = np.arange(-6, 3)[:, None] * step
    quantities = np.array([0.0, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0])[:, None] * scale
    offsets = (base.safety_units + shifts)[:, None, :] + 0 * quantities[None]
    sizes = np.broadcast_to(np.rint(quantities)[None], offsets.shape)
    grid_offsets = offsets.reshape(-1, instance.n_skus)
    grid_sizes = sizes.reshape(-1, instance.n_skus)

    def make(offset: np.ndarray, size: np.ndarray) -> SSPolicy:
        return SSPolicy(cover[None] + offset, cover[None] + offset + size)

    cost = _mean_sku_cost(instance, train_demand, make, [grid_offsets, grid_sizes], terminal)
    best = cost.argmin(axis=0)
    cols = np.arange(instance.n_skus)
    offset, size = grid_offsets[best, cols], grid_sizes[best, cols]
    policy = SSPolicy(cover + offset, cover + offset + size)
    return TuningResult(policy, offset, size, cost[best, cols])
