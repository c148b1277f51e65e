"""The heuristic incumbent: a sound rule's plan that every plan solve must beat.

Every plan solve (:func:`inventory.milp.solve_plan`: open loop, SAA, hindsight, rolling
windows; any method) also simulates the planners' order-up-to rule
(:class:`inventory.policies.OrderUpTo`) on the plan's demand and returns the cheaper of
the two plans, both costed by the same replay. So a plan stopped early by the safety net,
or a solver that found none, is never worse than the rule, and a plan always exists.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from inventory import dynamics
from inventory.milp.lagrangian import replay_cost
from inventory.milp.model import PlanProblem
from inventory.milp.solvers import SolveResult, relative_gap
from inventory.policies import OrderUpTo

__all__ = ["heuristic_plan", "keep_better"]


def heuristic_plan(problem: PlanProblem) -> tuple[np.ndarray, float]:
    """The order-up-to rule's plan (T, P) and its mean cost on the problem's scenarios.

    An open-loop plan is one vector shared by the ``K`` scenarios, so the rule is
    simulated on their mean demand (the demand itself when ``K = 1``); its orders, which
    the simulator has already projected onto the ramps and the containers, are then
    costed on every scenario like any plan (:func:`inventory.milp.lagrangian.replay_cost`).
    """
    mean_demand = problem.demand.mean(axis=0, keepdims=True)
    sim = dynamics.simulate(problem.instance, mean_demand, OrderUpTo(), terminal=False)
    return replay_cost(problem, sim.orders[0])


def keep_better(result: SolveResult, problem: PlanProblem, mip_gap: float) -> SolveResult:
    """``result`` or the heuristic incumbent, whichever costs less (ties: the solver's).

    ``details["incumbent"]`` says which won (``solver`` or ``heuristic``) and
    ``details["heuristic_objective"]`` is the rule's cost; the solver's proven bound is
    kept either way, and the status is recomputed from the returned plan's gap.
    """
    plan, cost = heuristic_plan(problem)
    details = {**result.details, "heuristic_objective": cost, "solver_status": result.status}
    if result.status == "infeasible":
        return result
    if result.orders is not None and result.objective is not None and result.objective <= cost:
        return replace(result, details={**details, "incumbent": "solver"})
    gap = relative_gap(cost, result.bound)
    status = "optimal" if gap is not None and gap <= mip_gap + 1e-9 else "feasible"
    return replace(
        result,
        status=status,
        objective=cost,
        gap=gap,
        orders=plan,
        details={**details, "incumbent": "heuristic"},
    )
