"""Lagrangian decomposition by SKU, its primal repairs, and the exact methods.

The container capacity couples the SKUs; pricing it per week with multipliers
``lambda_t >= 0`` leaves one small MILP per SKU (:func:`_sku_subproblem`). The sum of the
subproblems' proven bounds is a lower bound on the optimum; the subproblem plans, which may
overload a few weeks, are fitted into the capacity by :func:`_greedy_repair`,
:func:`_shift_repair` or the simulator's projection, and every plan
is costed by the simulator (:func:`replay_cost`).
"""

from __future__ import annotations

import contextlib
import math
import multiprocessing
import os
import time
from dataclasses import dataclass, field

import numpy as np
import pyomo.environ as pyo
from pyomo.opt import TerminationCondition

from inventory import dynamics
from inventory.config import MilpConfig, default_config
from inventory.instance import Instance
from inventory.milp.model import EPS, PlanProblem, build_plan_model, check_feasible, order_bounds
from inventory.milp.solvers import (
    SolveResult,
    glpk_tmlim,
    relative_gap,
    solve,
    solver_by_name,
    time_left,
)

__all__ = [
    "replay_cost",
    "exact_method",
    "exact_plan",
    "lagrangian_plan",
    "solve_lagrangian",
    "subproblem_workers",
]


# --------------------------------------------------------------------------- costing


def _terminal_cost(problem: PlanProblem, sim: dynamics.SimulationResult) -> np.ndarray:
    """Terminal cost (N,) of a simulated plan, with the problem's position terms."""
    horizon = problem.instance.horizon_weeks
    lead = problem.instance.lead_time_weeks
    late = np.arange(horizon)[:, None] >= horizon - lead[None, :]
    position = sim.end_inventory[:, -1] + (sim.orders * late[None]).sum(axis=1)
    position = position + problem.transit_beyond
    by_sku = dynamics.terminal_cost_of_position(problem.instance, position, problem.required)
    return by_sku.sum(axis=1)


def replay_cost(problem: PlanProblem, plan: np.ndarray) -> tuple[np.ndarray, float]:
    """Project ``plan`` with the simulator and return (feasible plan, mean cost)."""
    sim = dynamics.simulate_plan(problem.instance, plan, problem.demand, terminal=False)
    feasible = sim.orders[0]
    cost = sim.total_cost()
    if problem.terminal:
        cost = cost + _terminal_cost(problem, sim)
    return feasible, float(cost.mean())


def _sku_costs(problem: PlanProblem, sku: int, columns: np.ndarray) -> np.ndarray:
    """Mean cost of one SKU for candidate order columns (T, M), shape (M,).

    The simulator's cost of SKU ``sku`` (DESIGN.md section 2, terminal cost as in
    :func:`replay_cost`) for ``M`` plans at once, without the projection: the caller
    keeps the candidates within the ramps and the capacity.
    """
    instance, demand = problem.instance, problem.demand
    lead = int(instance.lead_time_weeks[sku])
    lost_cost = instance.lost_sale_cost[sku]
    over_cost, under_cost = instance.overstock_cost[sku], instance.understock_cost[sku]
    sku_demand = demand[:, :, sku, None]  # (K, T, 1)
    end = np.full((demand.shape[0], columns.shape[1]), float(instance.on_hand[sku]))
    cost = np.zeros_like(end)
    for t in range(columns.shape[0]):
        stock = end + instance.arrivals[t, sku] + (columns[t - lead] if t >= lead else 0.0)
        end = np.maximum(stock - sku_demand[:, t], 0.0)
        excess = end - instance.target[t, sku]
        cost += lost_cost * np.maximum(sku_demand[:, t] - stock, 0.0)
        cost += over_cost * np.maximum(excess, 0.0) + under_cost * np.maximum(-excess, 0.0)
    if problem.terminal:
        excess_price, shortfall_price = (price[sku] for price in dynamics.terminal_prices(instance))
        position = end + columns[columns.shape[0] - lead :].sum(axis=0)
        excess = position + problem.transit_beyond[sku] - problem.required[sku]
        cost += excess_price * np.maximum(excess, 0.0) + shortfall_price * np.maximum(-excess, 0.0)
    return cost.mean(axis=0)


# --------------------------------------------------------------------------- subproblems


def _sku_subproblem(task: tuple) -> tuple[np.ndarray, float, bool, int]:
    """Solve one SKU's priced subproblem (module level so a process pool can run it).

    Returns (orders (T,), proven bound, whether the safety net stopped the solver,
    1 if HiGHS's node limit stopped it before the gap else 0).
    """
    sub, price, solver, gap, safety_time_limit_s, max_nodes, exact = task
    model = build_plan_model(sub, capacity_price=price, exact_lost_sales=exact)
    result = solve(
        model,
        solver=solver,
        mip_gap=gap,
        safety_time_limit_s=safety_time_limit_s,
        max_nodes=max_nodes,
    )
    if result.status == "infeasible":
        raise ValueError(f"Lagrangian subproblem of SKU {sub.instance.skus[0]} is infeasible")
    # Stopped before a plan: the ramp floor is always feasible, and 0 is a valid bound
    # (every cost term and the capacity price are >= 0), so the dual stays a bound.
    if result.orders is not None:
        orders = result.orders[:, 0]
    else:
        orders = order_bounds(sub.instance)[0][:, 0]
    bound = result.bound if result.bound is not None and math.isfinite(result.bound) else 0.0
    return orders, bound, result.limit_hit, result.node_limit_hits


def _solve_subproblems(
    problem: PlanProblem,
    price: np.ndarray,
    settings: MilpConfig,
    start: float,
    pool,
    exact: bool = True,
) -> tuple[np.ndarray, float, bool, int]:
    """Plans (T, P), the sum of proven subproblem bounds at ``price``, limit_hit, and
    the number of subproblems HiGHS's node limit (``milp.max_nodes``) stopped.

    Each subproblem is solved to ``min(mip_gap / 2, lagrangian_subproblem_gap)``: the
    dual value sums the subproblems' proven bounds, so their gap is lost from the bound.
    The solves stop at that gap or the node limit, whatever the machine's speed; each
    gets the plan's remaining safety net (``safety_time_limit_s`` from ``start``) as its time limit.
    """
    gap = min(settings.mip_gap / 2, settings.lagrangian_subproblem_gap)

    def task(p: int) -> tuple:
        safety_s = time_left(start, settings.safety_time_limit_s)
        return (problem.sku(p), price, settings.solver, gap, safety_s, settings.max_nodes, exact)

    tasks = [task(p) for p in range(problem.instance.n_skus)]
    outcomes = list(pool.map(_sku_subproblem, tasks)) if pool else list(map(_sku_subproblem, tasks))
    plan = np.stack([outcome[0] for outcome in outcomes], axis=1)
    dual = float(sum(outcome[1] for outcome in outcomes))
    limit_hit = any(outcome[2] for outcome in outcomes)
    return plan, dual, limit_hit, sum(outcome[3] for outcome in outcomes)


def _lp_capacity_prices(
    problem: PlanProblem, settings: MilpConfig, safety_time_limit_s: float, exact=True
) -> np.ndarray | None:
    """Starting multipliers: the capacity duals of the plan model's LP relaxation, (T,).

    ``lambda_t = -dual`` of week ``t``'s container constraint (a ``<=`` row of a
    minimisation has a dual <= 0). They are the optimal multipliers of the LP's own
    Lagrangian dual, so the first exact round already starts near a good price instead of
    at zero, where a hard-binding capacity is ignored. None if the LP gives no duals.
    """
    model = build_plan_model(problem, exact_lost_sales=exact)
    pyo.TransformationFactory("core.relax_integer_vars").apply_to(model)
    model.dual = pyo.Suffix(direction=pyo.Suffix.IMPORT)
    opt = solver_by_name(settings.solver)
    with contextlib.suppress(Exception):
        if settings.solver == "glpk":
            opt.options["tmlim"] = glpk_tmlim(safety_time_limit_s)
            results = opt.solve(model, load_solutions=False)
        else:
            # threads as in solve(): HiGHS fixes its thread pool at the first solve of the
            # process, and a later solve asking for another count finds no solution.
            options = {"time_limit": float(safety_time_limit_s), "threads": 1}
            results = opt.solve(model, load_solutions=False, options=options)
        if results.solver.termination_condition != TerminationCondition.optimal:
            return None
        model.solutions.load_from(results)
        duals = [model.dual.get(model.container_capacity[t]) for t in model.T]
        if any(d is None for d in duals):
            return None
        return np.maximum(0.0, -np.asarray(duals, dtype=float))
    return None


# --------------------------------------------------------------------------- repairs


def _greedy_repair(problem: PlanProblem, plan: np.ndarray) -> np.ndarray:
    """Fit a plan into the container capacity by the cheapest single-unit moves.

    While a week is overloaded, every SKU ordering in it proposes moving one unit to each
    week with room, or dropping it, within its ramp band; the move with the smallest cost
    increase (:func:`_sku_costs`) per unit of volume freed is applied. The subproblem
    plans of a Lagrangian iteration overload a few weeks slightly, so a few hundred moves
    suffice. Overload that no single move can fix is left to the simulator's projection.
    """
    instance = problem.instance
    plan = plan.astype(float)
    volume, ramp = instance.volume, instance.ramp_limit + 1e-9
    cap = instance.capacity_volume + 1e-9
    load = plan @ volume
    base = [_sku_costs(problem, p, plan[:, [p]])[0] for p in range(instance.n_skus)]
    while (over := np.flatnonzero(load > cap)).size:
        week, best = int(over[0]), None
        for p in np.flatnonzero(plan[week] >= 1):
            room = np.flatnonzero(load + volume[p] <= cap)
            targets = np.append(room[room != week], -1)  # -1: drop the unit
            columns = np.repeat(plan[:, [p]], targets.size, axis=1)
            columns[week] -= 1
            moved = targets >= 0
            columns[targets[moved], np.flatnonzero(moved)] += 1
            previous = np.vstack([np.full((1, targets.size), instance.last_order[p]), columns[:-1]])
            ok = np.flatnonzero((np.abs(columns - previous) <= ramp[p]).all(axis=0))
            if ok.size == 0:
                continue
            costs = _sku_costs(problem, int(p), columns[:, ok])
            j = int(np.argmin(costs))
            increase = (costs[j] - base[p]) / volume[p]
            if best is None or increase < best[0]:
                best = (increase, p, int(targets[ok[j]]), float(costs[j]))
        if best is None:
            break
        _, p, target_week, base[p] = best
        plan[week, p] -= 1
        load[week] -= volume[p]
        if target_week >= 0:
            plan[target_week, p] += 1
            load[target_week] += volume[p]
    return plan


def _shift_repair(instance: Instance, plan: np.ndarray) -> np.ndarray:  # noqa: C901 - one greedy loop
    """Fit a plan into the container capacity by moving units to weeks with room.

    Overloaded weeks are fixed in order: one unit at a time (largest volume first) moves to
    the latest earlier week with room, else the earliest later one, when the ramp limits
    still hold around both weeks; units that fit nowhere are dropped when the ramp allows.
    Far cheaper for the plan than the simulator's proportional cut, which never makes the
    units up later; whatever overload remains is left to that projection.
    """
    plan = plan.copy()
    horizon, _ = plan.shape
    volume, ramp = instance.volume, instance.ramp_limit + 1e-9
    cap = instance.capacity_volume + 1e-9
    load = plan @ volume

    def ramp_ok(p: int, week: int) -> bool:
        for w in (week, week + 1):
            if w < horizon:
                prev = plan[w - 1, p] if w else instance.last_order[p]
                if abs(plan[w, p] - prev) > ramp[p]:
                    return False
        return True

    def move(p: int, src: int, dst: int | None) -> bool:
        plan[src, p] -= 1
        if dst is not None:
            plan[dst, p] += 1
        if ramp_ok(p, src) and (dst is None or ramp_ok(p, dst)):
            load[src] -= volume[p]
            if dst is not None:
                load[dst] += volume[p]
            return True
        plan[src, p] += 1
        if dst is not None:
            plan[dst, p] -= 1
        return False

    order = np.argsort(-volume)
    for t in range(horizon):
        while load[t] > cap:
            targets = [*range(t - 1, -1, -1), *range(t + 1, horizon)]
            moved = any(
                move(p, t, s)
                for p in order
                if plan[t, p] >= 1
                for s in targets
                if load[s] + volume[p] <= cap
            ) or any(move(p, t, None) for p in order if plan[t, p] >= 1)
            if not moved:
                break
    return plan


# --------------------------------------------------------------------------- the method


@dataclass
class _Search:
    """The subgradient search's running state: best bound, best plan and its cost."""

    price: np.ndarray
    limit_hit: bool = False
    node_limit_hits: int = 0
    best_bound: float = -math.inf
    best_cost: float = math.inf
    best_plan: np.ndarray | None = None
    raw_plan: np.ndarray | None = None
    step_scale: float = 1.0
    stall: int = 0
    history: list = field(default_factory=list)

    def gap(self) -> float | None:
        return relative_gap(self.best_cost, self.best_bound)

    def offer(self, label, plan: np.ndarray, cost: float) -> None:
        """Keep a repaired plan if it is the cheapest so far (logged in ``history``)."""
        self.history.append((label, self.best_bound, cost))
        if cost < self.best_cost:
            self.best_cost, self.best_plan = cost, plan


def _initial_prices(
    problem: PlanProblem, settings: MilpConfig, start: float, exact: bool
) -> tuple[np.ndarray, bool]:
    """Zero, or the LP relaxation's capacity duals (``lagrangian_initial_prices: lp``),
    and whether the safety net stopped the LP (its prices are then zero)."""
    price = np.zeros(problem.instance.horizon_weeks)
    # Exact subproblems only: with relaxed sales the LP is slow and its prices made the
    # replayed plans worse (bench/RESULTS.md, MILP).
    if settings.lagrangian_initial_prices == "lp" and exact:
        safety_s = time_left(start, settings.safety_time_limit_s)
        began = time.perf_counter()
        lp_prices = _lp_capacity_prices(problem, settings, safety_s, exact)
        if lp_prices is not None:
            return lp_prices, False
        return price, time.perf_counter() - began >= safety_s
    return price, False


def _iterate(
    search: _Search, iteration: int, problem, settings, start: float, pool, exact: bool
) -> bool:
    """Subgradient iteration number ``iteration``; True when the search should stop."""
    instance = problem.instance
    plan, dual, hit, nodes_hit = _solve_subproblems(
        problem, search.price, settings, start, pool, exact
    )
    search.limit_hit |= hit
    search.node_limit_hits += nodes_hit
    gain = instance.container_cost - search.price * instance.container_volume
    containers = np.where(gain < 0, instance.max_containers, 0)
    dual += float((gain * containers).sum())
    improved = dual > search.best_bound + 1e-9 * max(1.0, abs(dual))
    search.best_bound = max(search.best_bound, dual)
    feasible, cost = replay_cost(problem, plan)
    greedy, greedy_cost = replay_cost(problem, _greedy_repair(problem, plan))
    if greedy_cost < cost:
        feasible, cost = greedy, greedy_cost
    if cost < search.best_cost:
        search.best_cost, search.best_plan, search.raw_plan = cost, feasible, plan
    search.history.append((iteration, dual, cost))
    subgradient = plan @ instance.volume - instance.container_volume * containers
    gap = search.gap()
    if gap is not None and gap <= settings.mip_gap:
        return True
    search.stall = 0 if improved else search.stall + 1
    if search.stall >= 3:
        search.step_scale, search.stall = search.step_scale / 2, 0
    direction = np.where((search.price <= 0) & (subgradient < 0), 0.0, subgradient)
    norm = float(direction @ direction)
    if norm <= EPS:
        return True  # plan fits capacity with complementary slackness: optimal
    # Polyak step towards a target a little above the bound: the repaired cost of
    # early iterations is far above the optimum and would overshoot.
    target = min(search.best_cost, search.best_bound * 1.02 + 1e-6)
    step = search.step_scale * max(target - dual, 0.0) / norm
    search.price = np.maximum(0.0, search.price + step * subgradient)
    return False


def subproblem_workers(settings: MilpConfig, n_skus: int) -> int:
    """Processes for the SKU subproblems: ``lagrangian_workers`` (0 = one per core).

    One (no pool) inside a daemonic process (a Prefect/Dask or multiprocessing worker),
    which may not start children; the result is the same either way.
    """
    if multiprocessing.current_process().daemon:
        return 1
    workers = settings.lagrangian_workers or len(os.sched_getaffinity(0))
    return max(1, min(workers, n_skus))


def _subgradient_search(
    problem: PlanProblem, settings: MilpConfig, start: float, exact: bool
) -> tuple[_Search, int]:
    """The multiplier loop: ``lagrangian_iterations`` iterations at most.

    It stops earlier at the target gap or with complementary slackness (both functions
    of the data), or when the plan's safety net ``safety_time_limit_s`` has run out
    (``limit_hit``). Which process solves which subproblem does not change any result.
    """
    search = _Search(*_initial_prices(problem, settings, start, exact))
    iteration = 0
    workers = subproblem_workers(settings, problem.instance.n_skus)
    pool = None
    if workers > 1:
        from concurrent.futures import ProcessPoolExecutor

        pool = ProcessPoolExecutor(workers)
    try:
        for iteration in range(1, settings.lagrangian_iterations + 1):
            if _iterate(search, iteration, problem, settings, start, pool, exact):
                break
            if time.perf_counter() - start >= settings.safety_time_limit_s:
                search.limit_hit = True
                break
    finally:
        if pool is not None:
            pool.shutdown()
    return search, iteration


def _final_repairs(search: _Search, problem: PlanProblem, settings: MilpConfig) -> None:
    """Shift repair of the best iteration's raw plan, while the gap is open.

    A MILP re-plan around the overloaded weeks used to follow, in the time left; solved
    to a gap instead, GLPK needed minutes for it on the default data and its plan was
    costlier than the greedy repair's (bench/RESULTS.md, MILP), so it is gone.
    """
    gap = search.gap()
    if (gap is None or gap > settings.mip_gap) and search.raw_plan is not None:
        shifted = _shift_repair(problem.instance, search.raw_plan)
        search.offer("shift", *replay_cost(problem, shifted))


def lagrangian_plan(
    problem: PlanProblem, settings: MilpConfig, *, exact_lost_sales: bool = True
) -> SolveResult:
    """:func:`solve_lagrangian` on a :class:`PlanProblem`."""
    start = time.perf_counter()
    check_feasible(problem.instance)
    search, iterations = _subgradient_search(problem, settings, start, exact_lost_sales)
    _final_repairs(search, problem, settings)
    gap = search.gap()
    status = "optimal" if gap is not None and gap <= settings.mip_gap + 1e-9 else "feasible"
    return SolveResult(
        status,
        search.best_cost,
        search.best_bound,
        gap,
        time.perf_counter() - start,
        settings.solver,
        "lagrangian",
        orders=search.best_plan,
        details={
            "iterations": iterations,
            "max_price": float(search.price.max()),
            "history": search.history,
        },
        limit_hit=search.limit_hit,
        node_limit_hits=search.node_limit_hits,
    )


def solve_lagrangian(
    instance: Instance,
    demand: np.ndarray | None = None,
    *,
    settings: MilpConfig | None = None,
    terminal: bool = True,
    transit_beyond: np.ndarray | None = None,
    required: np.ndarray | None = None,
    exact_lost_sales: bool = True,
) -> SolveResult:
    """Lagrangian decomposition by SKU with the container capacity priced per week.

    ``L(lambda) = sum_p min_x [cost_p(x) + sum_t lambda_t v_p x_tp]
    + sum_t min_{n in 0..max_containers} (container_cost - lambda_t container_volume) n``
    is a lower bound on the optimum for every ``lambda >= 0`` (each SKU term uses its
    subproblem's proven bound, so it stays valid when a subproblem stops at a gap).
    Multipliers follow projected subgradient steps with a Polyak step size, for
    ``milp.lagrangian_iterations`` iterations (fewer at the target gap or with
    complementary slackness); each subproblem is solved to its gap, on
    ``milp.lagrangian_workers`` processes, so the result does not depend on the machine's
    speed unless the safety net ``milp.safety_time_limit_s`` is hit (``limit_hit``).
    Primal plans: each iteration's subproblem plans
    projected by the simulator or repaired by :func:`_greedy_repair`, and at the end, if
    the gap is still above ``mip_gap``, :func:`_shift_repair` of
    the best iteration's plans; the cheapest (simulated cost) is returned. With
    ``exact_lost_sales=False`` the subproblems and the repair use the relaxed-sales model
    (see :func:`inventory.milp.solve_relaxed`): the dual stays a lower bound, and every
    plan is still costed by the simulator.

    Args:
        instance: The planning instance.
        demand: (K, T, P) or (T, P) demand scenarios; None = the forecast.
        terminal: Include the terminal cost.
        transit_beyond: Units arriving after the horizon (P,), for the terminal position.
        required: Required terminal position (P,); default
            :func:`inventory.dynamics.required_position`.
        settings: ``config.milp``; defaults if None.
        exact_lost_sales: False for the relaxed-sales subproblems.
    """
    problem = PlanProblem.create(
        instance, demand, terminal=terminal, transit_beyond=transit_beyond, required=required
    )
    return lagrangian_plan(
        problem, settings or default_config().milp, exact_lost_sales=exact_lost_sales
    )


# --------------------------------------------------------------------------- exact methods


def exact_method(instance: Instance, settings: MilpConfig) -> str:
    """The exact method ``auto`` picks: monolithic for HiGHS or small models, else Lagrangian."""
    small = instance.n_skus * instance.horizon_weeks <= settings.monolithic_max_cells
    return "monolithic" if settings.solver == "highs" or small else "lagrangian"


def exact_plan(problem: PlanProblem, settings: MilpConfig, method: str) -> SolveResult:
    """Solve with ``lagrangian`` (when there are several SKUs) or the monolithic model."""
    if method == "lagrangian" and problem.instance.n_skus > 1:
        return lagrangian_plan(problem, settings)
    model = build_plan_model(problem)
    return solve(
        model,
        solver=settings.solver,
        safety_time_limit_s=settings.safety_time_limit_s,
        mip_gap=settings.mip_gap,
        max_nodes=settings.max_nodes,
    )
