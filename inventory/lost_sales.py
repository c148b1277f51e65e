"""Exact optima for single-SKU lost-sales instances: relative value iteration (issue 15).

The yardstick DESIGN.md section 3 asks for where the optimum is computable: one SKU,
stationary Poisson demand, lead time ``L >= 1`` weeks, holding cost ``h`` per unit of end
inventory, lost-sale cost ``p`` per unit, safety stock 0 (so the target cost vanishes), no
binding ramp or container capacity. The model is the simulator's (:mod:`inventory.dynamics`)
week by week:

1. receive the order placed ``L`` weeks ago;
2. order ``x >= 0`` (it arrives at the start of week ``t + L``);
3. serve demand ``D ~ Poisson(mean)`` from stock, the rest is lost;
4. pay ``p * lost + h * end``.

State (after step 1): ``(s, q_1, ..., q_{L-1})`` with ``s`` the stock on hand after the
receipt and ``q_k`` the order arriving ``k`` weeks from now (``q_{L-1}`` was placed last
week). After ordering, the next state is ``(max(s - D, 0) + q_1, q_2, ..., q_{L-1}, x)``.

Truncations, both reported: demand is cut at the ``1 - tail_probability`` quantile and
renormalised; the inventory position after ordering (``s + sum(q) + x``) is capped at
``max_position``, by default a few units above Morton's (1969) bound (the newsvendor
quantile of ``L + 1`` weeks of demand at ``p / (p + h)``, which no optimal order exceeds);
:attr:`LostSalesSolution.cap_reached` says whether any optimal order touched the cap.

:func:`solve` runs relative value iteration (average cost) until the Odoni bounds on the
optimal cost per week meet within ``tolerance``. :func:`evaluate_policy` computes the exact
average cost of any stationary policy table on the same Markov chain, which gives the
best base-stock level (:func:`best_base_stock`). :class:`OraclePolicy` orders by a policy
table in :func:`inventory.dynamics.simulate`, and :func:`simulated_cost_per_week` measures
any policy's average cost per week there (after a warm-up), which is how PPO is compared.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from math import comb
from typing import Any

import numpy as np
from scipy import stats

from inventory.dynamics import State, simulate
from inventory.instance import Instance
from inventory.policies import Policy

__all__ = [
    "LostSalesProblem",
    "LostSalesSolution",
    "solve",
    "evaluate_policy",
    "base_stock_table",
    "evaluate_base_stock",
    "best_base_stock",
    "OraclePolicy",
    "lost_sales_instance",
    "simulated_cost_per_week",
]

_UNLIMITED = 1e6  # ramp limit and container volume that never bind


@dataclass(frozen=True)
class LostSalesProblem:
    """A single-SKU lost-sales problem with Poisson demand.

    Attributes:
        demand_mean: Mean weekly demand (Poisson), > 0.
        lead_time_weeks: Weeks from order to arrival, >= 1.
        holding_cost: h, per unit of end inventory and week, >= 0.
        lost_sale_cost: p, per unit of lost demand, > 0.
        max_position: Cap on the inventory position after ordering (units); None: Morton's
            bound plus ``position_margin``.
        tail_probability: Demand above the ``1 - tail_probability`` quantile is dropped
            and the rest renormalised.
        position_margin: Units added to Morton's bound for the default cap.
    """

    demand_mean: float
    lead_time_weeks: int
    holding_cost: float
    lost_sale_cost: float
    max_position: int | None = None
    tail_probability: float = 1e-9
    position_margin: int = 3

    def __post_init__(self) -> None:
        if not self.demand_mean > 0:
            raise ValueError(f"demand_mean must be > 0, got {self.demand_mean}")
        if int(self.lead_time_weeks) != self.lead_time_weeks or self.lead_time_weeks < 1:
            raise ValueError(
                f"lead_time_weeks must be a whole number >= 1, got {self.lead_time_weeks} "
                "(lead time 0 is a newsvendor: use the base-stock policy)"
            )
        if self.holding_cost < 0 or not self.lost_sale_cost > 0:
            raise ValueError("holding_cost must be >= 0 and lost_sale_cost > 0")
        if not 0 < self.tail_probability < 1e-3:
            raise ValueError(f"tail_probability must be in (0, 1e-3), got {self.tail_probability}")
        if self.max_position is not None and self.max_position < 1:
            raise ValueError(f"max_position must be >= 1, got {self.max_position}")

    @classmethod
    def from_instance(cls, instance: Instance, **options: Any) -> LostSalesProblem:
        """The problem of a one-SKU instance built like :func:`lost_sales_instance`.

        Raises:
            ValueError: more than one SKU, safety stock, a non-stationary forecast, open
                purchase orders, a lead time below 1, or a ramp, container capacity or
                container cost that could change the orders or the cost.
        """
        if instance.n_skus != 1:
            raise ValueError(f"the lost-sales oracle takes one SKU, got {instance.n_skus}")
        forecast = instance.forecast[:, 0]
        if instance.safety_stock_weeks[0] != 0 or np.ptp(forecast) != 0:
            raise ValueError("the lost-sales oracle needs safety stock 0 and a constant forecast")
        if instance.arrivals.any():
            raise ValueError("the lost-sales oracle does not model open purchase orders")
        problem = cls(
            demand_mean=float(forecast[0]),
            lead_time_weeks=int(instance.lead_time_weeks[0]),
            holding_cost=float(instance.overstock_cost[0]),
            lost_sale_cost=float(instance.lost_sale_cost[0]),
            **options,
        )
        cap = problem.position_cap
        binding = instance.ramp_limit[0] < cap + instance.last_order[0]
        if binding or instance.capacity_volume < cap * instance.volume[0]:
            raise ValueError(
                f"the lost-sales oracle needs orders up to {cap} units never cut: raise the "
                "ramp limit and the container capacity (see lost_sales_instance)"
            )
        if instance.container_cost != 0:
            raise ValueError("the lost-sales oracle does not price containers: set cost 0")
        return problem

    @property
    def position_cap(self) -> int:
        """The cap on the inventory position after ordering, in units."""
        if self.max_position is not None:
            return int(self.max_position)
        ratio = self.lost_sale_cost / (self.lost_sale_cost + self.holding_cost)
        morton = stats.poisson.ppf(ratio, (self.lead_time_weeks + 1) * self.demand_mean)
        return int(morton) + self.position_margin

    def demand_pmf(self) -> np.ndarray:
        """Truncated, renormalised Poisson probabilities of demand 0..d_max."""
        top = int(stats.poisson.ppf(1 - self.tail_probability, self.demand_mean))
        pmf = stats.poisson.pmf(np.arange(top + 1), self.demand_mean)
        return pmf / pmf.sum()

    def week_cost(self, size: int) -> np.ndarray:
        """Expected cost of a week that starts with ``s`` units on hand, s = 0..size-1."""
        pmf = self.demand_pmf()
        stock = np.arange(size)[:, None]
        demand = np.arange(pmf.size)[None, :]
        lost = np.maximum(demand - stock, 0) @ pmf
        end = np.maximum(stock - demand, 0) @ pmf
        return self.lost_sale_cost * lost + self.holding_cost * end

    def on_hand_matrix(self, size: int) -> np.ndarray:
        """``M[s, k]``: probability that ``s`` units on hand end the week at ``k``."""
        pmf = self.demand_pmf()
        matrix = np.zeros((size, size))
        for demand, prob in enumerate(pmf):
            stock = np.arange(size)
            np.add.at(matrix, (stock, np.maximum(stock - demand, 0)), prob)
        return matrix


@dataclass(frozen=True)
class LostSalesSolution:
    """The result of :func:`solve`.

    Attributes:
        problem: The problem solved.
        average_cost: Optimal average cost per week (midpoint of the bounds).
        lower_bound: Odoni lower bound on the optimal cost per week.
        upper_bound: Odoni upper bound.
        policy: Optimal order per state, int array of shape ``(B + 1,) * L`` indexed by
            ``(s, q_1, ..., q_{L-1})`` with ``B`` the position cap; -1 where the position
            ``s + sum(q)`` exceeds the cap (states the chain never visits).
        n_states: Number of states (position <= cap).
        iterations: Value-iteration sweeps.
        seconds: Wall-clock time of the solve (reported, never a stopping rule).
        cap_reached: Whether some optimal order brings the position exactly to the cap
            (then raise ``max_position``).
    """

    problem: LostSalesProblem
    average_cost: float
    lower_bound: float
    upper_bound: float
    policy: np.ndarray = field(repr=False)
    n_states: int
    iterations: int
    seconds: float
    cap_reached: bool


def _index_sum(size: int, dims: int) -> np.ndarray:
    """Sum of the indices of every cell of the box ``(size,) * dims``."""
    grids = np.indices((size,) * dims, dtype=np.int32)
    return grids.sum(axis=0)


def _bellman(
    values: np.ndarray, matrix: np.ndarray, cost: np.ndarray, index_sum: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """One Bellman sweep: new values and argmin orders over the box ``(n,) * L``.

    With post-order vector ``(s, a_1, ..., a_L)`` (``a_L`` the new order), the expected
    next value is ``sum_k M[s, k] V(k + a_1, a_2, ..., a_L)``; for each ``a_1`` that is one
    matrix product on the sub-box where the position stays within the cap.
    """
    size, dims = values.shape[0], values.ndim
    new = np.zeros_like(values)
    orders = np.full(values.shape, -1, dtype=np.int16)
    if dims == 1:
        expected = np.full((size, size), np.inf)  # (s, order)
        for order in range(size):
            room = size - order
            expected[:room, order] = matrix[:room, :room] @ values[order:]
        best = expected.argmin(axis=1)
        return cost + expected[np.arange(size), best], best.astype(np.int16)
    for first in range(size):
        room = size - first
        block = values[(slice(first, None),) + (slice(None, room),) * (dims - 1)]
        expected = (matrix[:room, :room] @ block.reshape(room, -1)).reshape((room,) * dims)
        feasible = index_sum[(slice(None, room),) * dims] < room
        expected = np.where(feasible, expected, np.inf)
        best = expected.argmin(axis=-1)
        low = np.take_along_axis(expected, best[..., None], axis=-1)[..., 0]
        visited = np.isfinite(low)
        cell = (slice(None, room), first) + (slice(None, room),) * (dims - 2)
        new[cell] = np.where(visited, cost[:room].reshape((room,) + (1,) * (dims - 2)) + low, 0.0)
        orders[cell] = np.where(visited, best, -1)
    return new, orders


def solve(
    problem: LostSalesProblem, *, tolerance: float = 1e-7, max_iterations: int = 20_000
) -> LostSalesSolution:
    """The optimal average cost per week and policy by relative value iteration.

    Stops when the Odoni bounds ``min/max (TV - V)`` over the states meet within
    ``tolerance`` relative to the cost.

    Raises:
        ValueError: the bounds did not meet within ``max_iterations`` sweeps.
    """
    started = time.perf_counter()
    cap, dims = problem.position_cap, problem.lead_time_weeks
    size = cap + 1
    matrix, cost = problem.on_hand_matrix(size), problem.week_cost(size)
    index_sum = _index_sum(size, dims)
    states = index_sum <= cap
    values = np.zeros((size,) * dims)
    for iteration in itertools.count(1):
        new, orders = _bellman(values, matrix, cost, index_sum)
        change = (new - values)[states]
        low, high = float(change.min()), float(change.max())
        values = np.where(states, new - new.flat[0], 0.0)
        if high - low <= tolerance * max(abs(high), 1e-12):
            break
        if iteration == max_iterations:
            raise ValueError(
                f"value iteration did not converge in {max_iterations} sweeps (bounds "
                f"{low:.6g}..{high:.6g}); raise max_iterations or tolerance"
            )
    position = index_sum + np.maximum(orders, 0)
    return LostSalesSolution(
        problem=problem,
        average_cost=(low + high) / 2,
        lower_bound=low,
        upper_bound=high,
        policy=orders,
        n_states=comb(cap + dims, dims),
        iterations=iteration,
        seconds=time.perf_counter() - started,
        cap_reached=bool(np.any(states & (orders > 0) & (position == cap))),
    )


def evaluate_policy(
    problem: LostSalesProblem,
    policy: np.ndarray,
    *,
    tolerance: float = 1e-9,
    max_iterations: int = 50_000,
) -> float:
    """Exact average cost per week of a stationary policy table (RVI on its own chain).

    Args:
        problem: The problem.
        policy: Orders per state, shape ``(n,) * L`` like :attr:`LostSalesSolution.policy`;
            every state with position ``<= n - 1`` needs an order that keeps the position
            after ordering ``<= n - 1``.
        tolerance: Relative gap of the bounds at which to stop.
        max_iterations: Sweeps before giving up.

    Raises:
        ValueError: the table has the wrong shape or leaves the box, or no convergence.
    """
    dims, size = problem.lead_time_weeks, policy.shape[0]
    if policy.shape != (size,) * dims:
        raise ValueError(f"policy table shape {policy.shape}; expected ({size},) * {dims}")
    index_sum = _index_sum(size, dims)
    cells = np.argwhere(index_sum < size)  # (n_states, L): (s, q_1, ..., q_{L-1})
    order = policy[tuple(cells.T)].astype(np.int64)
    if np.any(order < 0) or np.any(cells.sum(axis=1) + order >= size):
        raise ValueError("policy table: orders must be >= 0 and keep the position in the box")
    compact = np.full((size,) * dims, -1, dtype=np.int64)
    compact[tuple(cells.T)] = np.arange(len(cells))
    pmf = problem.demand_pmf()
    on_hand = np.maximum(cells[:, :1] - np.arange(pmf.size)[None, :], 0)  # (n_states, D)
    arriving = order if dims == 1 else cells[:, 1]
    following = [cells[:, k] for k in range(2, dims)] + ([order] if dims > 1 else [])
    target = (on_hand + arriving[:, None],) + tuple(
        np.broadcast_to(f[:, None], on_hand.shape) for f in following
    )
    successors = compact[target]
    cost = problem.week_cost(size)[cells[:, 0]]
    values = np.zeros(len(cells))
    for _ in range(max_iterations):
        new = cost + values[successors] @ pmf
        change = new - values
        low, high = float(change.min()), float(change.max())
        values = new - new[0]
        if high - low <= tolerance * max(abs(high), 1e-12):
            return (low + high) / 2
    raise ValueError(f"policy evaluation did not converge in {max_iterations} sweeps")


def base_stock_table(problem: LostSalesProblem, level: int, size: int | None = None) -> np.ndarray:
    """The base-stock policy ``x = max(level - position, 0)`` as a table over ``(n,) * L``
    with ``n = size`` (default ``max(level, cap) + 1``)."""
    size = max(level, problem.position_cap) + 1 if size is None else size
    if not 0 <= level < size:
        raise ValueError(f"base-stock level must be in 0..{size - 1}, got {level}")
    position = _index_sum(size, problem.lead_time_weeks)
    return np.maximum(level - position, 0).astype(np.int16)


def evaluate_base_stock(problem: LostSalesProblem, level: int) -> float:
    """Exact average cost per week of the base-stock level ``level`` (units)."""
    return evaluate_policy(problem, base_stock_table(problem, level))


def best_base_stock(
    problem: LostSalesProblem, levels: range | None = None
) -> tuple[int, float, dict[int, float]]:
    """The best base-stock level by exact evaluation of every level in ``levels``.

    Default levels: from the mean demand over the lead time up to the position cap plus
    ``position_margin``.

    Returns:
        The best level, its average cost per week and the cost of every level tried.

    Raises:
        ValueError: the best level is at an end of ``levels`` (widen the range).
    """
    if levels is None:
        low = int(problem.lead_time_weeks * problem.demand_mean)
        levels = range(low, problem.position_cap + problem.position_margin + 1)
    costs = {level: evaluate_base_stock(problem, level) for level in levels}
    best = min(costs, key=lambda level: costs[level])
    if len(costs) > 2 and best in (levels[0], levels[-1]):
        raise ValueError(f"best base-stock level {best} is at the end of {levels}; widen it")
    return best, costs[best], costs


class OraclePolicy:
    """Orders by a policy table (:attr:`LostSalesSolution.policy`) in the simulator.

    The simulator's state at the start of week ``t`` is before the receipt, so the table's
    state is ``s = on_hand + pipeline[:, 0]`` and ``q_k = pipeline[:, k]``. A state outside
    the table (position above its cap, never reached from a position within it) orders 0.

    Args:
        policy: Orders per state, shape ``(n,) * L``.
    """

    def __init__(self, policy: np.ndarray) -> None:
        self.policy = np.asarray(policy)
        self.lead_time_weeks = self.policy.ndim

    def reset(self, instance: Instance, n_scenarios: int) -> None:
        if instance.n_skus != 1 or int(instance.lead_time_weeks[0]) != self.lead_time_weeks:
            raise ValueError(
                f"this oracle orders for one SKU with lead time {self.lead_time_weeks} weeks; "
                f"the instance has {instance.n_skus} SKU(s), lead times "
                f"{instance.lead_time_weeks.tolist()}"
            )
        if instance.arrivals.any():
            raise ValueError("the lost-sales oracle does not model open purchase orders")

    def act(self, instance: Instance, state: State, t: int) -> np.ndarray:
        pipeline = state.pipeline()[:, : self.lead_time_weeks, 0]
        cells = pipeline.copy()
        cells[:, 0] += state.on_hand[:, 0]
        cells = np.rint(cells).astype(np.int64)
        size = self.policy.shape[0]
        inside = cells.sum(axis=1) < size
        orders = np.zeros(len(cells))
        picked = cells[inside]
        orders[inside] = self.policy[tuple(picked.T)]
        return np.maximum(orders, 0.0)[:, None]


def lost_sales_instance(
    problem: LostSalesProblem, horizon_weeks: int, on_hand: float = 0.0
) -> Instance:
    """A one-SKU :class:`Instance` of ``problem`` (no safety stock, ramp or capacity)."""
    return Instance(
        location="LS",
        skus=("LS",),
        volume=np.ones(1),
        safety_stock_weeks=np.zeros(1),
        lead_time_weeks=np.array([problem.lead_time_weeks]),
        ramp_limit=np.array([_UNLIMITED]),
        lost_sale_cost=np.array([float(problem.lost_sale_cost)]),
        overstock_cost=np.array([float(problem.holding_cost)]),
        understock_cost=np.zeros(1),
        unit_cost=np.zeros(1),
        on_hand=np.array([float(on_hand)]),
        last_order=np.zeros(1),
        forecast=np.full((horizon_weeks, 1), float(problem.demand_mean)),
        arrivals=np.zeros((horizon_weeks, 1)),
        container_volume=_UNLIMITED,
        max_containers=1,
        container_cost=0.0,
        weeks=(np.datetime64("2024-01-01") + 7 * np.arange(horizon_weeks)).astype("datetime64[D]"),
    )


def simulated_cost_per_week(
    instance: Instance,
    policy: Policy,
    *,
    n_scenarios: int = 100,
    warmup_weeks: int = 100,
    seed: int = 0,
) -> tuple[float, float]:
    """Average cost per week of ``policy`` in the simulator after a warm-up.

    Demand is Poisson with the instance's (constant) forecast as mean, drawn with
    ``seed``; the terminal cost is left out. The standard error treats the scenarios'
    averages as independent draws.

    Returns:
        Mean cost per week and its standard error.
    """
    if not 0 <= warmup_weeks < instance.horizon_weeks:
        raise ValueError(f"warmup_weeks must be in 0..{instance.horizon_weeks - 1}")
    rng = np.random.default_rng(seed)
    demand = rng.poisson(instance.forecast, (n_scenarios,) + instance.forecast.shape)
    result = simulate(instance, demand.astype(float), policy, terminal=False)
    weekly = result.cost_lost_sales + result.cost_overstock + result.cost_understock
    per_scenario = weekly[:, warmup_weeks:].sum(axis=2).mean(axis=1)
    return float(per_scenario.mean()), float(per_scenario.std(ddof=1) / np.sqrt(n_scenarios))
