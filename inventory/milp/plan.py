"""The entry point: choose the method from ``config.milp`` and solve a plan."""

from __future__ import annotations

import numpy as np

from inventory.config import MilpConfig, default_config
from inventory.instance import Instance
from inventory.milp.incumbent import keep_better
from inventory.milp.lagrangian import exact_method, exact_plan
from inventory.milp.model import PlanProblem
from inventory.milp.relaxed import relaxed_plan
from inventory.milp.solvers import SolveResult

__all__ = ["solve_plan"]


def solve_plan(
    instance: Instance,
    demand: np.ndarray | None = None,
    *,
    settings: MilpConfig | None = None,
    terminal: bool = True,
    method: str | None = None,
    transit_beyond: np.ndarray | None = None,
    required: np.ndarray | None = None,
) -> SolveResult:
    """The cost-minimal plan shared by the demand scenarios (None = the forecast).

    Args:
        instance: The planning instance.
        demand: (K, T, P) or (T, P) demand; the plan minimises the mean cost over K.
        settings: Solver, limits and method (``config.milp``); defaults if None.
        terminal: Include the terminal cost (``config.simulation.terminal_cost``).
        method: Override ``settings.method`` (``auto``, ``monolithic``, ``lagrangian``,
            ``relaxed``; ``auto`` never picks ``relaxed``, see the package docstring).
        transit_beyond: Units arriving after the horizon (P,), for the terminal position;
            see :meth:`inventory.milp.PlanProblem.create`.
        required: Required terminal position (P,); default
            :func:`inventory.dynamics.required_position`.

    Returns:
        The cheaper of the solver's plan and the heuristic incumbent
        (:func:`inventory.milp.incumbent.keep_better`), so ``orders`` (T, P) is always
        there unless the data is infeasible.
    """
    settings = settings or default_config().milp
    method = method or settings.method
    problem = PlanProblem.create(
        instance, demand, terminal=terminal, transit_beyond=transit_beyond, required=required
    )
    if method == "auto":
        method = exact_method(instance, settings)
    if method == "relaxed":
        result = relaxed_plan(problem, settings)
    else:
        result = exact_plan(problem, settings, method)
    return keep_better(result, problem, settings.mip_gap)
