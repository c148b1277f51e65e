"""Optimal order plans: a Pyomo MILP of exactly the simulator's problem, solved with GLPK or HiGHS.

The model (:func:`build_plan_model` of a :class:`PlanProblem`) is the problem of DESIGN.md
section 2 with the timing of :mod:`inventory.dynamics`, over ``K`` demand scenarios that
share one order plan (``K = 1``: the deterministic plan on the forecast, or the hindsight
plan of one scenario; ``K > 1``: the sample-average plan). With ``x`` the orders, ``y`` the
sales and ``z`` a binary:

- stock ``s[k,t,p] = e[k,t-1,p] + arrivals[t,p] + x[t-L_p,p]`` (``e[-1] = on_hand``);
  end inventory ``e = s - y``; lost sales ``D - y``;
- sales ``y = min(s, D)`` exactly: ``y <= s``, ``y <= D``, ``y >= D z`` and
  ``y >= s - (s_max - D) z`` with ``s_max`` the largest stock the data allows in that
  SKU-week (tight big-M from the order bounds, not a constant). Cells where the stock
  bounds decide the minimum are fixed without a binary; SKUs for which holding stock
  back can never pay (``G = 0``, or no safety stock and ``F >= G``) need no binaries at
  all, because selling a held-back unit changes the cost by ``-F - sum(H) + G <= 0``;
- ``e - tau = over - under`` priced ``H over + G under``, ``tau = S forecast``;
- container capacity ``sum_p v_p x[t,p] <= container_volume * n_t`` with integer
  ``n_t <= max_containers`` paid ``container_cost`` each (without a container cost the
  constraint is simply ``<= capacity``);
- ramps ``|x[t] - x[t-1]| <= R`` with ``x[-1] = last_order``.

End of horizon: the optional terminal cost prices the inventory position (end inventory
+ orders still in transit) against :func:`inventory.dynamics.required_position` with the
coefficients of :func:`inventory.dynamics.terminal_prices`; without it a plan would stop
ordering in the last ``L_p`` weeks. ``solve_plan(..., terminal=...)`` follows
``config.simulation.terminal_cost``, so replaying the plan with
:func:`inventory.dynamics.simulate_plan` gives the objective.

Methods (``milp.method``), one module each:

- ``monolithic``: the whole model, solved by :func:`solve` (:mod:`.solvers`).
- ``lagrangian`` (:mod:`.lagrangian`): decomposition by SKU, pricing the shared container
  capacity with multipliers ``lambda_t`` (subgradient); the dual value is a proven lower
  bound (subproblems solved to ``milp.lagrangian_subproblem_gap``) and the primal plan is
  the subproblem plans fitted into the capacity by the cheapest single-unit moves or by
  the simulator's projection, costed by the simulator. For large models, where GLPK
  struggles with the monolithic one.
- ``relaxed`` (:mod:`.relaxed`): the model without the lost-sales binaries; its proven
  bound is a lower bound on the optimum and its integer orders, replayed by the
  simulator, a feasible plan. Where holding stock back to stay near the safety-stock
  target pays (large ``G``, ramp-limited SKUs) the replay can be well above the bound, so
  ``auto`` does not choose it and ``milp.relaxed_fallback`` runs the exact method after it.
- ``auto``: monolithic for HiGHS or small models, else Lagrangian.

Results are functions of the data, the settings and the seeds, not of the machine's
speed: every solve stops at a gap, the Lagrangian after ``milp.lagrangian_iterations``
iterations (or earlier at the gap), the relaxed rounds after ``milp.relaxed_rounds``.
Wall-clock limits (``milp.safety_time_limit_s``, ``milp.rolling_safety_time_limit_s``)
are only a safety net; a result they stopped says so (``SolveResult.limit_hit``). Every
plan solve returns the better of the solver's plan and the heuristic incumbent, the
planners' order-up-to rule simulated on the plan's demand (:mod:`.incumbent`).

Rolling-horizon windows (:mod:`.windows`) cut the problem seen from one state at a later
week. Measured solve times and gaps: ``bench/bench_milp.py`` and ``bench/RESULTS.md``.
"""

from inventory.milp.incumbent import heuristic_plan, keep_better
from inventory.milp.lagrangian import solve_lagrangian
from inventory.milp.model import (
    PlanBounds,
    PlanProblem,
    binaries_needed,
    build_plan_model,
    check_feasible,
    plan_bounds,
    plan_orders,
)
from inventory.milp.plan import solve_plan
from inventory.milp.relaxed import solve_relaxed
from inventory.milp.solvers import STATUSES, SolverError, SolveResult, find_glpsol, solve
from inventory.milp.windows import window_instance

__all__ = [
    "SolveResult",
    "SolverError",
    "heuristic_plan",
    "keep_better",
    "PlanProblem",
    "PlanBounds",
    "plan_bounds",
    "check_feasible",
    "binaries_needed",
    "build_plan_model",
    "solve",
    "solve_plan",
    "solve_lagrangian",
    "solve_relaxed",
    "plan_orders",
    "window_instance",
    "find_glpsol",
    "STATUSES",
]
