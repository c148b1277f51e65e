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

from inventory.dynamics import State, forecast_tail_mean, simulate_cost_by_sku
from inventory.instance import Instance

__all__ = [
    "Policy",
    "ObservesDemand",
    "LimitsScenarios",
    "BoundsScenarios",
    "EvaluatesInParallel",
    "ReportsSolverHealth",
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


# Optional capabilities the evaluator checks for (``isinstance``); a policy declares one by
# having the member, as the MILP hindsight and rolling-horizon policies do.


@runtime_checkable
class ObservesDemand(Protocol):
    """A perfect-information benchmark: sees the scenarios before it is simulated."""

    def observe_demand(self, demand: np.ndarray) -> None:
        """Take the demand scenarios (N, T, P) it will be simulated on."""


@runtime_checkable
class LimitsScenarios(Protocol):
    """A policy run on the first ``max_scenarios`` shared scenarios only (None: all)."""

    max_scenarios: int | None


@runtime_checkable
class BoundsScenarios(Protocol):
    """A policy that proves a lower bound on any policy's cost per observed scenario."""

    @property
    def scenario_bounds(self) -> np.ndarray | None:
        """Bound per scenario (NaN where none was proven), None before it has run."""


@runtime_checkable
class ReportsSolverHealth(Protocol):
    """A policy that runs a solver at run time and reports how its solves went.

    ``solver_health`` has exactly these keys: ``solves`` (solver calls since ``reset`` or
    construction), ``limit_hits`` (how many the wall-clock safety net stopped),
    ``fallback_weeks`` (scenario-weeks that used the fallback rule because a solve gave
    no plan; 0 for fixed plans), ``heuristic_plans`` (solves whose returned plan is the
    heuristic incumbent) and ``own_gap`` (relative gap of the plan to its proven bound;
    None where it does not apply).
    """

    @property
    def solver_health(self) -> dict[str, int | float | bool | None]:
        """The counters above, read by the evaluator after simulating."""


@runtime_checkable
class EvaluatesInParallel(Protocol):
    """A slow policy whose stress sets may run in worker processes (``True``)."""

    parallel_evaluation: bool


# --------------------------------------------------------------------------- helpers


def _extended_forecast(instance: Instance, extra_weeks: int) -> np.ndarray:
    """Forecast (T + extra, P): beyond the horizon, :func:`forecast_tail_mean`."""
    tail = forecast_tail_mean(instance)
    return np.vstack([instance.forecast, np.tile(tail, (extra_weeks, 1))])


def cover_levels(instance: Instance, cover_weeks: np.ndarray) -> np.ndarray:
    """Forecast demand over ``cover_weeks`` (P,) weeks from each week, shape (T, P).

    ``cover_weeks`` may be fractional: 2.5 weeks = two weeks plus half of the third.
    Beyond the horizon the forecast continues at :func:`forecast_tail_mean`.
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
    # The running total when the simulator keeps one: in_transit() would copy it first.
    transit = state.in_transit() if state.transit_total is None else state.transit_total
    position = state.on_hand + transit
    position += due[state.t]
    return position


# --------------------------------------------------------------------------- policies


class BaseStock:
    """Order up to a base-stock level: ``x = max(0, level_t - inventory_position)``.

    Args:
        levels: Base-stock levels in units, shape (P,) (constant) or (T, P) (per week).
        offset: Added to the levels, shape (P,) or (N, P) (one row per scenario, which
            lets the tuner evaluate many candidate levels in one batch).
    """

    def __init__(self, levels: np.ndarray, offset: np.ndarray | float = 0.0) -> None:
        self.levels = np.asarray(levels, dtype=float)
        self.offset = np.asarray(offset, dtype=float)

    def reset(self, instance: Instance, n_scenarios: int) -> None:
        self._due = open_po_due(instance)

    def level(self, t: int) -> np.ndarray:
        """Base-stock level of week ``t``, shape (P,) or (N, P)."""
        return (self.levels if self.levels.ndim == 1 else self.levels[t]) + self.offset

    def act(self, instance: Instance, state: State, t: int) -> np.ndarray:
        order = self.level(t) - inventory_position(instance, state, self._due)
        return np.maximum(order, 0.0, out=order)


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
    ``S = s + Q``; otherwise order nothing.

    Args:
        reorder_points: ``s`` in units, (P,) or (T, P).
        order_quantity: ``Q = S - s >= 0`` in units, (P,) or (N, P).
        offset: Added to ``s`` (and so to ``S``), (P,) or (N, P).
    """

    def __init__(
        self,
        reorder_points: np.ndarray,
        order_quantity: np.ndarray,
        offset: np.ndarray | float = 0.0,
    ) -> None:
        self.reorder = BaseStock(reorder_points, offset)
        self.order_quantity = np.maximum(np.asarray(order_quantity, dtype=float), 0.0)

    def reset(self, instance: Instance, n_scenarios: int) -> None:
        self.reorder.reset(instance, n_scenarios)

    def act(self, instance: Instance, state: State, t: int) -> np.ndarray:
        position = inventory_position(instance, state, self.reorder._due)
        reorder_point = self.reorder.level(t)
        order = np.maximum(reorder_point + self.order_quantity - position, 0.0)
        return np.where(position < reorder_point, order, 0.0)


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
        safety_units: Offset per SKU added to the planners' order-up-to level (P,): the
            base-stock level (or reorder point) is ``planner_level + offset``.
        order_quantity: (s, S) only: ``Q = S - s`` per SKU (P,), else zeros.
        cost_per_sku: Mean cost per SKU over the training scenarios (P,).
        cost: Mean total cost over the training scenarios (containers included).
    """

    policy: BaseStock | SSPolicy
    safety_units: np.ndarray
    order_quantity: np.ndarray
    cost_per_sku: np.ndarray
    cost: float


class _Batch:
    """Evaluates candidate parameter vectors on the training scenarios in one simulation.

    ``make(params)`` builds a policy from parameter arrays shaped (C * N, P); candidate
    ``c`` runs on all N scenarios (common random numbers), so differences between
    candidates are measured precisely.
    """

    def __init__(self, instance: Instance, demand: np.ndarray, make, terminal: bool) -> None:
        self.instance, self.demand, self.make, self.terminal = instance, demand, make, terminal

    def __call__(self, *params: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean per-SKU cost (C, P) and mean total cost (C,) of candidates (C, P) each."""
        n, count = self.demand.shape[0], params[0].shape[0]
        rows = [np.repeat(p, n, axis=0) for p in params]
        per_sku, shared = simulate_cost_by_sku(
            self.instance, self.demand, self.make(*rows), terminal=self.terminal, repeats=count
        )
        per_sku = per_sku.reshape(count, n, -1).mean(axis=1)
        return per_sku, per_sku.sum(axis=1) + shared.reshape(count, n).mean(axis=1)


def _coordinate_search(
    evaluate,
    params: list[np.ndarray],
    axis: int,
    step: np.ndarray,
    *,
    lower: float = -np.inf,
    max_passes: int = 12,
) -> tuple[list[np.ndarray], np.ndarray, float]:
    """Improve parameter ``params[axis]`` (P,) for every SKU, keeping the others fixed.

    The cost is a sum over SKUs (plus the container cost), so one simulated candidate
    prices a move of every SKU at once. Each pass simulates six candidates, every SKU
    moved by the same -3..3 steps, and reads each SKU's own cost in each; every SKU whose
    best move beats its incumbent cost takes that move. SKUs share the containers, so a
    SKU's cost in a candidate also depends on the others' moves: the combined move is
    accepted only if the whole cost improves. Otherwise the moves with the largest
    gains are tried in halving groups (the best half, quarter, ..., the single best) and
    the cheapest group that improves the whole cost is accepted. With no improving move
    the step halves (down to one unit); with none at one unit the search stops.

    A pass simulates at most ``7 + log2 P`` candidates, each over all P SKUs, so time
    and memory grow linearly with P. The training cost never increases, so the search
    ends at least as good as its start. Without shared capacity (each SKU's cost depends
    on its own parameter only) a SKU's cost in a candidate is exactly its cost moved
    alone, and the search takes the moves of a SKU-by-SKU search.
    """
    per_sku, total = evaluate(*[p[None] for p in params])
    incumbent, best_total, best_per_sku = [p.copy() for p in params], float(total[0]), per_sku[0]
    moves = np.array([-3, -2, -1, 1, 2, 3])
    sku = np.arange(incumbent[axis].shape[0])
    for _ in range(max_passes):
        tried = np.maximum(incumbent[axis] + moves[:, None] * step, lower)  # (K, P)
        moved_per_sku, _ = evaluate(*_rows(incumbent, axis, tried))
        best_move = moved_per_sku.argmin(axis=0)
        gain = best_per_sku - moved_per_sku[best_move, sku]
        accepted = _accept(evaluate, incumbent, axis, tried[best_move, sku], gain, best_total)
        if accepted is not None:
            incumbent[axis], best_per_sku, best_total = accepted
        elif np.all(step <= 1):
            break
        else:
            step = np.maximum(1.0, np.floor(step / 2))
    return incumbent, best_per_sku, float(best_total)


def _rows(params: list[np.ndarray], axis: int, values: np.ndarray) -> list[np.ndarray]:
    """Candidate rows (C, P): ``values`` (C, P) at ``axis``, the others at ``params``."""
    rows = [np.broadcast_to(p, values.shape) for p in params]
    rows[axis] = values
    return rows


def _accept(
    evaluate,
    incumbent: list[np.ndarray],
    axis: int,
    best: np.ndarray,
    gain: np.ndarray,
    best_total: float,
) -> tuple[np.ndarray, np.ndarray, float] | None:
    """The move of every SKU with a positive ``gain`` to ``best`` (P,) if it lowers the
    whole cost, else the cheapest improving one of the halving groups of the largest
    gains; as (parameter (P,), cost per SKU (P,), total). None: no move improves."""
    improving = np.flatnonzero(gain > 1e-9)
    ranked = improving[np.argsort(-gain[improving], kind="stable")]
    sizes = [ranked.size]
    while sizes[-1] > 1:
        sizes.append((sizes[-1] + 1) // 2)
    for group in (sizes[:1], sizes[1:]):
        if not group or group[0] == 0:
            return None
        candidates = np.repeat(incumbent[axis][None], len(group), axis=0)
        for row, size in enumerate(group):
            candidates[row, ranked[:size]] = best[ranked[:size]]
        per_sku, totals = evaluate(*_rows(incumbent, axis, candidates))
        cheapest = int(totals.argmin())
        if totals[cheapest] < best_total - 1e-9:
            return candidates[cheapest], per_sku[cheapest], float(totals[cheapest])
    return None


def _demand_scale(instance: Instance) -> np.ndarray:
    return np.maximum(instance.forecast.mean(axis=0), 1.0)


def tune_base_stock(
    instance: Instance,
    train_demand: np.ndarray,
    *,
    review_period_weeks: int = 1,
    terminal: bool = True,
    max_passes: int = 12,
) -> TuningResult:
    """Tune a base-stock level per SKU by simulation on training scenarios.

    The level of SKU ``p`` in week ``t`` is ``U_tp + offset_p``, where ``U`` is the
    planners' order-up-to level (forecast over lead time + review period + safety-stock
    weeks): it follows seasonality, and with a stationary forecast and no safety stock
    it is a constant base-stock level (the textbook case). The offset starts at 0 (the
    planners' rule, so tuning can only improve on it in training) and moves in whole
    units by :func:`_coordinate_search`, starting with steps of half a week of demand.

    Args:
        instance: The planning instance.
        train_demand: Training scenarios (N, T, P), not the evaluation ones.
        review_period_weeks: Weeks between orders (R).
        terminal: Include the terminal cost (as the evaluation does).
        max_passes: Search passes at most.
    """
    levels = planner_levels(instance, review_period_weeks)
    evaluate = _Batch(instance, train_demand, lambda off: BaseStock(levels, off), terminal)
    step = np.maximum(1.0, np.rint(_demand_scale(instance) / 2))
    start = [np.zeros(instance.n_skus)]
    (offset,), per_sku, total = _coordinate_search(evaluate, start, 0, step, max_passes=max_passes)
    return TuningResult(BaseStock(levels, offset), offset, np.zeros_like(offset), per_sku, total)


def tune_s_s(
    instance: Instance,
    train_demand: np.ndarray,
    *,
    review_period_weeks: int = 1,
    terminal: bool = True,
    max_passes: int = 12,
    base: TuningResult | None = None,
) -> TuningResult:
    """Tune (s, S) per SKU: ``s = U + offset``, ``S = s + Q`` (``U`` as in base stock).

    Starts from the tuned base-stock offset with ``Q = 0`` (which is base stock), then
    searches ``Q >= 0`` and afterwards the offset again, each by :func:`_coordinate_search`.
    """
    base = base or tune_base_stock(
        instance,
        train_demand,
        review_period_weeks=review_period_weeks,
        terminal=terminal,
        max_passes=max_passes,
    )
    levels = planner_levels(instance, review_period_weeks)
    evaluate = _Batch(instance, train_demand, lambda off, q: SSPolicy(levels, q, off), terminal)
    step = np.maximum(1.0, np.rint(_demand_scale(instance) / 2))
    params = [base.safety_units.copy(), np.zeros(instance.n_skus)]
    params, _, _ = _coordinate_search(evaluate, params, 1, step, lower=0.0, max_passes=max_passes)
    params, per_sku, total = _coordinate_search(evaluate, params, 0, step, max_passes=max_passes)
    offset, quantity = params
    return TuningResult(SSPolicy(levels, quantity, offset), offset, quantity, per_sku, total)
