"""Relaxed sales: a proven lower bound from the model without lost-sales binaries.

The model with ``sales <= stock`` and ``sales <= demand`` only contains every plan's true
trajectory, so its proven bound bounds the optimum from below; its integer orders, replayed
by the simulator (sales = min(stock, demand)), are a feasible plan whose simulated cost is
the objective.
"""

from __future__ import annotations

import math
import time
from dataclasses import replace
from typing import Any

import numpy as np
import pyomo.environ as pyo

from inventory.config import MilpConfig, default_config
from inventory.instance import Instance
from inventory.milp.lagrangian import exact_method, exact_plan, lagrangian_plan, replay_cost
from inventory.milp.model import PlanProblem, binaries_needed, build_plan_model
from inventory.milp.solvers import SolveResult, relative_gap, solve, time_left

__all__ = ["relaxed_plan", "solve_relaxed"]


def _held_back(model: pyo.ConcreteModel, demand: np.ndarray) -> np.ndarray:
    """SKUs (P,) where a solved relaxed model sold less than ``min(stock, demand)``."""
    held = np.zeros(len(model.P), dtype=bool)
    for k, t, p in model.KTP:
        sellable = min(pyo.value(model.stock[k, t, p]), float(demand[k, t, p]))
        held[p] |= pyo.value(model.sales[k, t, p]) < sellable - 1e-6
    return held


def _relaxed_rounds(
    problem: PlanProblem, settings: MilpConfig, start: float
) -> tuple[SolveResult, int]:
    """Monolithic relaxed solves, adding binaries for SKUs that held sales back.

    Every round's model is still a relaxation (binaries only on some SKUs), so each
    round's bound is valid; the best bound and the cheapest replayed plan are kept.
    Stops at the target gap, when no new SKU held back, after ``relaxed_rounds``, or
    when the safety net (``safety_time_limit_s`` from ``start``) stopped a solve.
    """
    exact = np.zeros(problem.instance.n_skus, dtype=bool)
    needed = binaries_needed(problem.instance, terminal=problem.terminal)
    best, best_cost, bound, rounds, limit_hit = None, math.inf, -math.inf, 0, False
    node_limit_hits = 0
    for rounds in range(1, settings.relaxed_rounds + 1):
        model = build_plan_model(problem, exact_lost_sales=exact)
        result = solve(
            model,
            solver=settings.solver,
            safety_time_limit_s=time_left(start, settings.safety_time_limit_s),
            mip_gap=settings.mip_gap / 2,
            max_nodes=settings.max_nodes,
        )
        limit_hit |= result.limit_hit
        node_limit_hits += result.node_limit_hits
        if result.status == "infeasible":
            return result, rounds
        if result.bound is not None and math.isfinite(result.bound):
            bound = max(bound, result.bound)
        if result.orders is None:
            break
        _, cost = replay_cost(problem, result.orders)
        if cost < best_cost:
            best, best_cost = result, cost
        gap = relative_gap(best_cost, bound if math.isfinite(bound) else None)
        held = _held_back(model, problem.demand) & needed & ~exact
        if (gap is not None and gap <= settings.mip_gap) or not held.any() or limit_hit:
            break
        exact |= held
    if best is None:
        empty = SolveResult("no_solution", None, None, None, 0.0, settings.solver)
        return replace(empty, limit_hit=limit_hit, node_limit_hits=node_limit_hits), rounds
    objective = best.objective
    details = {"relaxed_objective": objective}
    hit = replace(best, limit_hit=limit_hit, node_limit_hits=node_limit_hits)
    return replace(hit, bound=bound, details=details), rounds


def _relaxed_solve(
    problem: PlanProblem, settings: MilpConfig, start: float
) -> tuple[SolveResult, int]:
    """The relaxed model's solve: (result, rounds)."""
    if exact_method(problem.instance, settings) == "lagrangian" and problem.instance.n_skus > 1:
        # GLPK finds no plan for large monolithic relaxed models either, while each
        # relaxed subproblem of one SKU is quick (bench/RESULTS.md, MILP).
        return lagrangian_plan(problem, settings, exact_lost_sales=False), 1
    return _relaxed_rounds(problem, settings, start)


def relaxed_plan(problem: PlanProblem, settings: MilpConfig) -> SolveResult:
    """:func:`solve_relaxed` on a :class:`PlanProblem`."""
    start = time.perf_counter()
    relaxed, rounds = _relaxed_solve(problem, settings, start)
    if relaxed.status == "infeasible":
        return replace(relaxed, method="relaxed", solve_time_s=time.perf_counter() - start)
    bound = relaxed.bound if relaxed.bound is not None else -math.inf
    plan, cost = None, math.inf
    if relaxed.orders is not None:
        plan, cost = replay_cost(problem, relaxed.orders)
    details: dict[str, Any] = {
        "relaxed_objective": relaxed.details.get("relaxed_objective", relaxed.objective),
        "relaxed_time_s": round(relaxed.solve_time_s, 3),
        "relaxed_rounds": rounds,
        "replay_objective": cost if plan is not None else None,
    }
    gap = relative_gap(cost if plan is not None else None, bound)
    limit_hit, node_limit_hits = relaxed.limit_hit, relaxed.node_limit_hits
    if settings.relaxed_fallback and (gap is None or gap > settings.mip_gap):
        method = exact_method(problem.instance, settings)
        left = {"safety_time_limit_s": time_left(start, settings.safety_time_limit_s)}
        exact = exact_plan(problem, settings.model_copy(update=left), method)
        limit_hit |= exact.limit_hit
        node_limit_hits += exact.node_limit_hits
        details["fallback"] = exact.method
        if exact.orders is not None and exact.objective is not None and exact.objective < cost:
            plan, cost = exact.orders, exact.objective
        if exact.bound is not None and math.isfinite(exact.bound):
            bound = max(bound, exact.bound)
    result = _relaxed_result(plan, cost, bound, settings, time.perf_counter() - start, details)
    return replace(result, limit_hit=limit_hit, node_limit_hits=node_limit_hits)


def _relaxed_result(plan, cost, bound, settings, elapsed, details) -> SolveResult:
    objective = cost if plan is not None else None
    gap = relative_gap(objective, bound if math.isfinite(bound) else None)
    if plan is None:
        status = "no_solution"
    else:
        status = "optimal" if gap is not None and gap <= settings.mip_gap + 1e-9 else "feasible"
    return SolveResult(
        status,
        objective,
        bound if math.isfinite(bound) else None,
        gap,
        elapsed,
        settings.solver,
        "relaxed",
        orders=plan,
        details=details,
    )


def solve_relaxed(
    instance: Instance,
    demand: np.ndarray | None = None,
    *,
    settings: MilpConfig | None = None,
    terminal: bool = True,
    transit_beyond: np.ndarray | None = None,
    required: np.ndarray | None = None,
) -> SolveResult:
    """Relaxed-sales plan: a proven lower bound and a simulated feasible plan.

    The model without lost-sales binaries (``exact_lost_sales=False``) contains every
    plan's true trajectory, so its proven bound bounds the true optimum from below. Its
    orders are integer and satisfy ramps and capacity, so replaying them through the
    simulator (sales = min(stock, demand)) gives a feasible plan whose cost is the upper
    bound; where the relaxation sold all it could, the two agree. The relaxed model is
    solved to half the target gap; if the replayed plan is still above ``mip_gap`` and
    ``milp.relaxed_fallback`` is on, the exact method (monolithic for HiGHS or small
    models, else Lagrangian) runs after it and the better plan and the better bound are
    kept. ``milp.safety_time_limit_s`` is a safety net for the whole (``limit_hit``).

    Args:
        instance: The planning instance.
        demand: (K, T, P) or (T, P) demand scenarios; None = the forecast.
        terminal: Include the terminal cost.
        transit_beyond: Units arriving after the horizon (P,), for the terminal position.
        required: Required terminal position (P,); default
            :func:`inventory.dynamics.required_position`.
        settings: ``config.milp``; defaults if None.
    """
    problem = PlanProblem.create(
        instance, demand, terminal=terminal, transit_beyond=transit_beyond, required=required
    )
    return relaxed_plan(problem, settings or default_config().milp)
