"""The plan MILP: a :class:`PlanProblem` of data, a base model and small builders.

:func:`build_plan_model` is a function of data that returns a ``ConcreteModel``: the base
model (stock balance, exact lost sales, safety-stock target, ramps) plus one builder per
optional part: the container capacity (:func:`add_capacity`), its Lagrangian price
instead (:func:`add_capacity_price`) and the terminal position (:func:`add_terminal_position`).
The formulation is described in the :mod:`inventory.milp` package docstring.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyomo.environ as pyo

from inventory import dynamics
from inventory.instance import Instance

__all__ = [
    "PlanProblem",
    "PlanBounds",
    "order_bounds",
    "plan_bounds",
    "check_feasible",
    "ramp_floor_conflict",
    "RAMP_FLOOR_FIX",
    "binaries_needed",
    "base_model",
    "build_plan_model",
    "add_capacity",
    "add_capacity_price",
    "add_terminal_position",
    "plan_orders",
]

EPS = 1e-9
# An objective term a builder returns: a Pyomo expression, or 0.0 for an absent part.
Term = Any

# --------------------------------------------------------------------------- data


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


def _per_sku(name: str, values: np.ndarray | None, default: np.ndarray) -> np.ndarray:
    """``values`` as a float (P,) array (``default`` if None); ValueError on a wrong shape."""
    if values is None:
        return default
    values = np.asarray(values, dtype=float)
    if values.shape != default.shape:
        raise ValueError(f"{name} has shape {values.shape}; expected one value per SKU")
    return values


@dataclass(frozen=True, eq=False)
class PlanProblem:
    """What a plan is optimised for: the instance, its demand scenarios and the horizon's end.

    Build it with :meth:`create`, which fills the defaults and checks the shapes.

    Attributes:
        instance: The planning instance (its forecast sets the safety-stock targets).
        demand: Demand scenarios sharing one plan, shape (K, T, P); the plan minimises the
            mean cost over K.
        terminal: Price the terminal position (``config.simulation.terminal_cost``).
        transit_beyond: Units in transit that arrive after the horizon, shape (P,),
            counted in the terminal position (rolling-horizon windows).
        required: Required terminal position, shape (P,).
    """

    instance: Instance
    demand: np.ndarray
    terminal: bool
    transit_beyond: np.ndarray
    required: np.ndarray

    @classmethod
    def create(
        cls,
        instance: Instance,
        demand: np.ndarray | None = None,
        *,
        terminal: bool = True,
        transit_beyond: np.ndarray | None = None,
        required: np.ndarray | None = None,
    ) -> PlanProblem:
        """The problem with defaults filled in.

        Args:
            instance: The planning instance.
            demand: (K, T, P) or (T, P) demand; None = the forecast.
            terminal: Price the terminal position.
            transit_beyond: Units arriving after the horizon (P,); default none.
            required: Required terminal position (P,); default
                :func:`inventory.dynamics.required_position`.
        """
        return cls(
            instance,
            _as_scenarios(instance, demand),
            terminal,
            _per_sku("transit_beyond", transit_beyond, np.zeros(instance.n_skus)),
            _per_sku("required", required, dynamics.required_position(instance)),
        )

    def sku(self, p: int) -> PlanProblem:
        """The single-SKU problem of SKU index ``p`` (a Lagrangian subproblem's data)."""
        return PlanProblem(
            self.instance.subset([p]),
            self.demand[..., [p]],
            self.terminal,
            self.transit_beyond[[p]],
            self.required[[p]],
        )


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


def order_bounds(instance: Instance) -> tuple[np.ndarray, np.ndarray]:
    """Integer order bounds (T, P) from the ramp band and one week's capacity.

    The lower bound is the fastest descent from ``last_order``, a feasible plan whenever
    :func:`check_feasible` passes.
    """
    horizon, n_skus = instance.forecast.shape
    ramp = instance.ramp_limit
    single_sku_cap = np.floor(instance.capacity_volume / instance.volume + EPS)
    low, high = np.zeros((horizon, n_skus)), np.zeros((horizon, n_skus))
    prev_low = prev_high = instance.last_order.astype(float)
    for t in range(horizon):
        low[t] = np.maximum(0.0, np.ceil(prev_low - ramp - EPS))
        high[t] = np.minimum(np.floor(prev_high + ramp + EPS), single_sku_cap)
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
    low, high = order_bounds(instance)
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


RAMP_FLOOR_FIX = "raise ramp_limit or max_containers, or lower last_order (whole units)"


def ramp_floor_conflict(instance: Instance, shown: int = 5) -> str | None:
    """Why no plan satisfies the hard constraints, or None when one does.

    Orders are whole units and fall by at most ``ramp_limit`` a week, so the fastest
    descent from ``last_order`` (:func:`order_bounds`, ``ceil`` of ``last - (t+1) R``) is
    the least each week must order. A plan exists exactly when, in every week, that floor
    lies inside each SKU's ramp band and one week's capacity, and the floors together fit
    the containers. Open purchase orders do not use capacity. The floors only fall, so the
    first week that fails is week 0 in practice; every week is checked all the same.

    Returns:
        The first conflict, short, naming the SKU (or the largest floors), the week and the
        allowed values (:data:`RAMP_FLOOR_FIX` says how to fix it); None when feasible.
    """
    low, high = order_bounds(instance)
    bad = np.argwhere(low > high + EPS)
    if bad.size:
        t, p = bad[0]
        return (
            f"{instance.skus[p]} must order >= {low[t, p]:g} in week {t} "
            f"({_week(instance, t)}); band and capacity allow <= {high[t, p]:g} "
            f"(last_order {instance.last_order[p]:g}, ramp_limit {instance.ramp_limit[p]:g})"
        )
    floor_volume = low @ instance.volume
    over = np.flatnonzero(floor_volume > instance.capacity_volume + 1e-6)
    if not over.size:
        return None
    t = int(over[0])
    volume = low[t] * instance.volume
    top = np.argsort(-volume, kind="stable")[:shown]
    largest = ", ".join(f"{instance.skus[p]} {low[t, p]:g} ({volume[p]:,.1f})" for p in top)
    return (
        f"week {t} ({_week(instance, t)}) must order >= {floor_volume[t]:,.1f} volume, "
        f"containers hold {instance.capacity_volume:,.1f}; largest floors: {largest}"
    )


def _week(instance: Instance, t: int) -> str:
    return str(np.datetime64(instance.weeks[t], "D"))


def check_feasible(instance: Instance) -> None:
    """Raise ValueError naming the SKU or floors, the week and the allowed values if no
    plan satisfies the hard constraints (see :func:`ramp_floor_conflict`)."""
    conflict = ramp_floor_conflict(instance)
    if conflict is not None:
        raise ValueError(f"infeasible: ramp limit floor: {conflict}; {RAMP_FLOOR_FIX}")


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


# --------------------------------------------------------------------------- base model


def _declare_sets(m: pyo.ConcreteModel, free: np.ndarray) -> None:
    """Scenarios K, weeks T, SKUs P, their product KTP and the binary cells Z."""
    n_scen, horizon, n_skus = free.shape
    m.K = pyo.RangeSet(0, n_scen - 1, doc="demand scenarios")
    m.T = pyo.RangeSet(0, horizon - 1, doc="weeks")
    m.P = pyo.RangeSet(0, n_skus - 1, doc="SKUs")
    m.KTP = pyo.Set(
        initialize=[
            (k, t, p) for k in range(n_scen) for t in range(horizon) for p in range(n_skus)
        ],
        dimen=3,
        doc="scenario-week-SKU cells",
    )
    m.Z = pyo.Set(
        initialize=[tuple(int(i) for i in idx) for idx in np.argwhere(free)],
        dimen=3,
        doc="cells whose min(stock, demand) needs a binary",
    )


def _declare_variables(
    m: pyo.ConcreteModel, problem: PlanProblem, bounds: PlanBounds, sparse: bool
) -> None:
    demand, target = problem.demand, problem.instance.target
    m.order = pyo.Var(
        m.T,
        m.P,
        domain=pyo.NonNegativeIntegers,
        bounds=lambda _, t, p: (bounds.order_low[t, p], bounds.order_high[t, p]),
        doc="units ordered in week t (the plan, shared by the scenarios)",
    )
    m.sales = pyo.Var(
        m.KTP,
        domain=pyo.NonNegativeReals,
        bounds=lambda _, k, t, p: (
            min(bounds.stock_low[k, t, p], demand[k, t, p]),
            min(bounds.stock_high[k, t, p], demand[k, t, p]),
        ),
        doc="units sold",
    )
    m.over = pyo.Var(m.KTP, domain=pyo.NonNegativeReals, doc="end inventory above target")
    m.under = pyo.Var(
        m.KTP,
        domain=pyo.NonNegativeReals,
        bounds=lambda _, k, t, p: (0.0, max(target[t, p], 0.0)),
        doc="end inventory below target",
    )
    m.sell_all = pyo.Var(m.Z, domain=pyo.Binary, doc="1: the whole demand is sold")
    if sparse:
        # An explicit end inventory keeps the LP sparse: the nested stock expression
        # expands to O(T^2) nonzeros, which makes GLPK's simplex the bottleneck.
        m.carry = pyo.Var(m.KTP, domain=pyo.NonNegativeReals, doc="end inventory")


def _add_stock_balance(m: pyo.ConcreteModel, instance: Instance, sparse: bool) -> None:
    """``stock = end inventory of last week + arrivals + orders placed L_p weeks ago``."""
    lead = instance.lead_time_weeks.astype(int)

    @m.Expression(m.KTP, doc="stock available before demand")
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

        @m.Constraint(m.KTP, doc="end inventory = stock - sales")
        def carry_balance(m, k, t, p):
            return m.carry[k, t, p] == m.stock[k, t, p] - m.sales[k, t, p]


def _add_lost_sales(
    m: pyo.ConcreteModel,
    demand: np.ndarray,
    bounds: PlanBounds,
    det_low: np.ndarray,
    det_high: np.ndarray,
) -> None:
    """``sales = min(stock, demand)``: exact on the cells of Z, ``<=`` elsewhere."""

    @m.Constraint(m.KTP, doc="sales <= stock (== where the stock bounds force a sell-out)")
    def sales_within_stock(m, k, t, p):
        if det_high[k, t, p] and not det_low[k, t, p]:
            return m.sales[k, t, p] == m.stock[k, t, p]
        return m.sales[k, t, p] <= m.stock[k, t, p]

    @m.Constraint(m.Z, doc="sell the whole demand when sell_all = 1")
    def sell_demand_if_flagged(m, k, t, p):
        return m.sales[k, t, p] >= float(demand[k, t, p]) * m.sell_all[k, t, p]

    @m.Constraint(m.Z, doc="sell the whole stock when sell_all = 0 (tight big-M)")
    def sell_stock_unless_flagged(m, k, t, p):
        big_m = float(bounds.stock_high[k, t, p] - demand[k, t, p])
        return m.sales[k, t, p] >= m.stock[k, t, p] - big_m * m.sell_all[k, t, p]


def _add_target_and_ramps(m: pyo.ConcreteModel, instance: Instance) -> None:
    """End inventory against the safety-stock target, and the ramp band of the orders."""
    target = instance.target

    @m.Constraint(m.KTP, doc="end inventory - target = over - under")
    def target_gap(m, k, t, p):
        end = m.stock[k, t, p] - m.sales[k, t, p]
        return end - float(target[t, p]) == m.over[k, t, p] - m.under[k, t, p]

    @m.Constraint(m.T, m.P, doc="order rises by at most the ramp limit")
    def ramp_up(m, t, p):
        prev = m.order[t - 1, p] if t else float(instance.last_order[p])
        return m.order[t, p] - prev <= float(instance.ramp_limit[p])

    @m.Constraint(m.T, m.P, doc="order falls by at most the ramp limit")
    def ramp_down(m, t, p):
        prev = m.order[t - 1, p] if t else float(instance.last_order[p])
        return prev - m.order[t, p] <= float(instance.ramp_limit[p])


def base_model(
    problem: PlanProblem, exact_lost_sales: bool | np.ndarray = True
) -> pyo.ConcreteModel:
    """Everything but the capacity, the terminal position and the objective.

    Args:
        problem: The data.
        exact_lost_sales: See :func:`build_plan_model`.
    """
    instance, demand = problem.instance, problem.demand
    check_feasible(instance)
    bounds = plan_bounds(instance, demand)
    exact = np.broadcast_to(np.asarray(exact_lost_sales, dtype=bool), (instance.n_skus,))
    sparse = not exact.all()
    use_binary = binaries_needed(instance, terminal=problem.terminal) & exact
    det_low = bounds.stock_low >= demand - EPS  # always sells the whole demand
    det_high = bounds.stock_high <= demand + EPS  # always sells out
    free = ~det_low & ~det_high & use_binary[None, None, :]

    m = pyo.ConcreteModel(name="inventory_plan")
    _declare_sets(m, free)
    _declare_variables(m, problem, bounds, sparse)
    _add_stock_balance(m, instance, sparse)
    _add_lost_sales(m, demand, bounds, det_low, det_high)
    _add_target_and_ramps(m, instance)
    return m


def _order_volume(m: pyo.ConcreteModel, instance: Instance) -> dict:
    """Order volume of each week, ``sum_p v_p x[t,p]``, as plain expressions.

    Not a named ``Expression``: inside a product with the mutable price it would change
    how Pyomo evaluates the objective (the last bit of a subproblem's value).
    """
    volume = np.asarray(instance.volume, dtype=float)
    return {t: sum(volume[p] * m.order[t, p] for p in range(instance.n_skus)) for t in m.T}


# --------------------------------------------------------------------------- builders


def add_capacity(m: pyo.ConcreteModel, instance: Instance) -> Term:
    """Container capacity per week; returns the container cost term of the objective.

    With a container cost, ``load <= container_volume * n_t`` with integer
    ``n_t <= max_containers`` paid ``container_cost`` each; without, ``load <= capacity``.
    """
    load = _order_volume(m, instance)
    if instance.container_cost <= 0:

        @m.Constraint(m.T, doc="order volume within the container capacity")
        def container_capacity(m, t):
            return load[t] <= instance.capacity_volume

        return 0.0
    m.containers = pyo.Var(
        m.T,
        domain=pyo.NonNegativeIntegers,
        bounds=(0, instance.max_containers),
        doc="containers used in week t",
    )

    @m.Constraint(m.T, doc="order volume within the containers used")  # type: ignore[no-redef]
    def container_capacity(m, t):  # one of the two variants is built
        return load[t] <= instance.container_volume * m.containers[t]

    return instance.container_cost * sum(m.containers[t] for t in m.T)


def add_capacity_price(
    m: pyo.ConcreteModel, instance: Instance, capacity_price: np.ndarray
) -> Term:
    """Price order volume at ``capacity_price[t]`` (T,) instead of a capacity constraint.

    The Lagrangian subproblem's term; the price is the mutable parameter ``m.price``.
    """
    m.price = pyo.Param(
        m.T,
        mutable=True,
        initialize=lambda _, t: float(capacity_price[t]),
        doc="Lagrange multiplier of week t's capacity, per unit of volume",
    )
    load = _order_volume(m, instance)
    return sum(m.price[t] * load[t] for t in m.T)


def add_terminal_position(m: pyo.ConcreteModel, problem: PlanProblem) -> Term:
    """Terminal cost of the inventory position; returns its (all-scenario) objective term.

    Position = end inventory + orders still in transit + ``transit_beyond``, priced against
    ``required`` with :func:`inventory.dynamics.terminal_prices`.
    """
    instance = problem.instance
    horizon, lead = instance.horizon_weeks, instance.lead_time_weeks.astype(int)
    excess_price, shortfall_price = dynamics.terminal_prices(instance)
    m.term_over = pyo.Var(m.K, m.P, domain=pyo.NonNegativeReals, doc="position above required")
    m.term_under = pyo.Var(m.K, m.P, domain=pyo.NonNegativeReals, doc="position below required")

    @m.Constraint(m.K, m.P, doc="position - required = term_over - term_under")
    def terminal_gap(m, k, p):
        last = horizon - 1
        in_transit = sum(m.order[t, p] for t in range(max(0, horizon - lead[p]), horizon))
        position = (
            m.stock[k, last, p]
            - m.sales[k, last, p]
            + in_transit
            + float(problem.transit_beyond[p])
        )
        return position - float(problem.required[p]) == m.term_over[k, p] - m.term_under[k, p]

    return sum(
        excess_price[p] * m.term_over[k, p] + shortfall_price[p] * m.term_under[k, p]
        for k in m.K
        for p in m.P
    )


def _weekly_cost(m: pyo.ConcreteModel, problem: PlanProblem) -> Term:
    """Lost sales, overstock and understock of every cell, summed over the scenarios."""
    instance, demand = problem.instance, problem.demand
    return sum(
        instance.lost_sale_cost[p] * (float(demand[k, t, p]) - m.sales[k, t, p])
        + instance.overstock_cost[p] * m.over[k, t, p]
        + instance.understock_cost[p] * m.under[k, t, p]
        for (k, t, p) in m.KTP
    )


def build_plan_model(
    problem: PlanProblem,
    *,
    capacity_price: np.ndarray | None = None,
    exact_lost_sales: bool | np.ndarray = True,
) -> pyo.ConcreteModel:
    """The plan MILP of the package docstring as a Pyomo ``ConcreteModel``.

    Args:
        problem: Instance, demand scenarios, terminal flag and position (see
            :class:`PlanProblem`).
        capacity_price: If given, shape (T,): drop the container capacity and price each
            unit of order volume at ``capacity_price[t]`` instead (Lagrangian subproblem).
        exact_lost_sales: False drops the lost-sales binaries (``sales <= stock``,
            ``sales <= demand`` only, plus the stock-bound fixings valid for every plan):
            the relaxed model of ``method: relaxed``, whose optimum is a lower bound.
            A (P,) bool array keeps the binaries of the SKUs marked True only.

    Returns:
        The model; ``model.order[t, p]`` is the plan, ``model.cost`` the objective (mean
        cost over the scenarios).
    """
    m = base_model(problem, exact_lost_sales)
    container_term, capacity_term = 0.0, 0.0
    if capacity_price is None:
        container_term = add_capacity(m, problem.instance)
    else:
        capacity_term = add_capacity_price(m, problem.instance, capacity_price)
    terminal_term = add_terminal_position(m, problem) if problem.terminal else 0.0
    n_scen = problem.demand.shape[0]
    m.cost = pyo.Objective(
        expr=(_weekly_cost(m, problem) + terminal_term) / n_scen + container_term + capacity_term,
        sense=pyo.minimize,
        doc="mean cost over the scenarios (+ containers, + capacity price)",
    )
    return m


def plan_orders(model: pyo.ConcreteModel) -> np.ndarray:
    """The order plan (T, P) of a solved model, rounded to whole units."""
    horizon, n_skus = len(model.T), len(model.P)
    values = np.array(
        [[pyo.value(model.order[t, p]) for p in range(n_skus)] for t in range(horizon)], dtype=float
    )
    return np.rint(values)
