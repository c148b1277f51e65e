"""The one transition and the one cost (DESIGN.md section 2), vectorised over scenarios.

Every part of the product scores inventory with this module: the environment, the
evaluator, the MILP replay check and the recommender. Arrays are shaped
``(N, P)`` (scenarios x SKUs) per week, ``(N, T, P)`` over the horizon.

Sequence of events in week ``t`` for every SKU ``p``:

1. Receive what arrives this week: orders placed ``L_p`` weeks ago and open purchase
   orders due this week.
2. Place the order ``x_t`` (after the projection below); with ``L_p = 0`` it arrives at
   once, before demand.
3. Serve demand from stock; the rest is lost: ``sales = min(stock, D)``,
   ``lost = D - sales``, ``end = stock - sales``.
4. Pay ``F*lost + H*max(end - tau, 0) + G*max(tau - end, 0)`` with
   ``tau = S_p * forecast_t``, plus ``container_cost`` per container shipped.

After the last week an optional terminal cost prices the inventory position (on hand plus
everything still in transit) against the position the next ``L_p`` weeks need:
``required = tau_last + L_p * forecast_tail_mean`` (the mean of the last min(4, T)
weeks); shortfall costs ``G`` and excess ``H`` per unit. Without it a plan could stop
ordering in the last ``L_p`` weeks (those orders never arrive inside the horizon) and
leave the next period empty.

Projection (how constraints are enforced, deterministically, for every policy):

1. Round the proposal to whole units and clip to the ramp band
   ``[max(0, last - R), last + R]``.
2. If the total volume exceeds ``container_volume * max_containers``, scale the part
   above the band's lower edge down by one common factor and round down; if even the
   lower edge does not fit, scale all orders down (capacity wins over the ramp floor and
   the breach is counted in ``ramp_breaches``).

One executable week: :func:`simulate`, :func:`simulate_cost_by_sku`, the environment and
its VecEnv (:mod:`inventory.env`) and :func:`project_orders` all run the compiled loops of
:mod:`inventory.fused_week` (numba) through :class:`WeekKernel`, which write each output
once instead of passing over memory for every elementary operation. The tests hold two
independent oracles (``tests/oracle.py``): the same week as readable whole-array numpy,
which the kernels must match bit for bit (signed zeros included; the fused_week
docstring says why they can), and a plain per-SKU Python loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np

from inventory.instance import Instance

if TYPE_CHECKING:
    from inventory.policies import Policy

__all__ = [
    "State",
    "Projection",
    "SimulationResult",
    "WeekArrays",
    "WeekKernel",
    "initial_state",
    "project_orders",
    "terminal_cost",
    "terminal_cost_by_sku",
    "required_position",
    "forecast_tail_mean",
    "terminal_prices",
    "terminal_cost_of_position",
    "TAIL_WEEKS",
    "containers_used",
    "simulate",
    "simulate_plan",
    "simulate_cost_by_sku",
    "COST_COMPONENTS",
]

COST_COMPONENTS = ("lost_sales", "overstock", "understock", "containers")
TAIL_WEEKS = 4  # weeks of forecast whose mean is the demand rate after the horizon
_EPS = 1e-9


@dataclass
class State:
    """Mutable state of ``N`` parallel copies of one instance at the start of week ``t``.

    Attributes:
        t: Current week index (0..T).
        on_hand: Units in stock, shape (N, P).
        ring: Receipts of placed orders by arrival week modulo ``W = max(L) + 1``,
            shape (W, N, P) (week-major: summing and reading a slot are contiguous).
        last_order: Order placed in the previous week, shape (N, P).
        transit_total: ``ring.sum(axis=0)`` kept up to date by :func:`simulate` and
            :func:`simulate_cost_by_sku` (whole units, so the running total is exact),
            which saves the policies a (W, N, P) sum every week; None: sum the ring.
    """

    t: int
    on_hand: np.ndarray
    ring: np.ndarray
    last_order: np.ndarray
    transit_total: np.ndarray | None = field(default=None, repr=False, compare=False)

    def copy(self) -> State:
        return State(self.t, self.on_hand.copy(), self.ring.copy(), self.last_order.copy())

    def pipeline(self) -> np.ndarray:
        """Placed orders in transit by weeks ahead: ``[:, k]`` arrives in week ``t + k``."""
        width = self.ring.shape[0]
        order = (self.t + np.arange(width)) % width
        return self.ring[order].transpose(1, 0, 2)

    def in_transit(self) -> np.ndarray:
        """Units ordered and not yet received, shape (N, P)."""
        if self.transit_total is not None:
            return self.transit_total.copy()
        return self.ring.sum(axis=0)


@dataclass
class Projection:
    """What the projection did to the proposed orders of one week."""

    orders: np.ndarray
    adjusted_units: np.ndarray
    ramp_limited: np.ndarray
    capacity_limited: np.ndarray
    ramp_breaches: np.ndarray


@dataclass
class SimulationResult:
    """Outputs of :func:`simulate` over a horizon; (N, T, P) arrays unless noted."""

    orders: np.ndarray
    proposed: np.ndarray
    adjusted_units: np.ndarray
    ramp_limited: np.ndarray
    capacity_limited: np.ndarray
    received: np.ndarray
    demand: np.ndarray
    sales: np.ndarray
    lost: np.ndarray
    end_inventory: np.ndarray
    target: np.ndarray
    cost_lost_sales: np.ndarray
    cost_overstock: np.ndarray
    cost_understock: np.ndarray
    containers: np.ndarray  # (N, T)
    cost_containers: np.ndarray  # (N, T)
    cost_terminal: np.ndarray  # (N,)
    extras: dict = field(default_factory=dict)

    def cost_by_component(self) -> dict[str, np.ndarray]:
        """Total cost per component per scenario, each shape (N,)."""
        return {
            "lost_sales": self.cost_lost_sales.sum(axis=(1, 2)),
            "overstock": self.cost_overstock.sum(axis=(1, 2)),
            "understock": self.cost_understock.sum(axis=(1, 2)),
            "containers": self.cost_containers.sum(axis=1),
            "terminal": self.cost_terminal,
        }

    def total_cost(self) -> np.ndarray:
        """Total cost per scenario over the horizon, terminal cost included, shape (N,)."""
        parts = list(self.cost_by_component().values())
        return sum(parts[1:], start=parts[0])


def initial_state(instance: Instance, n_scenarios: int) -> State:
    """State at the start of week 0 for ``n_scenarios`` copies."""
    width = int(instance.lead_time_weeks.max()) + 1
    p = instance.n_skus
    return State(
        t=0,
        on_hand=np.broadcast_to(instance.on_hand, (n_scenarios, p)).astype(float),
        ring=np.zeros((width, n_scenarios, p)),
        last_order=np.broadcast_to(instance.last_order, (n_scenarios, p)).astype(float),
    )


def project_orders(instance: Instance, proposed: np.ndarray, last_order: np.ndarray) -> Projection:
    """Project proposed orders onto the ramp band and the container capacity.

    The compiled projection of every simulated week, for one batch of proposals.

    Args:
        instance: The planning instance.
        proposed: Proposed order quantities, shape (N, P); any real values.
        last_order: Orders of the previous week, shape (N, P).

    Returns:
        The feasible integer orders and what the projection changed.
    """
    proposed = np.ascontiguousarray(proposed, dtype=float)
    last_order = np.ascontiguousarray(np.broadcast_to(last_order, proposed.shape), dtype=float)
    n = proposed.shape[0]
    orders = np.empty(proposed.shape)
    ramp_limited = np.empty(proposed.shape, dtype=bool)
    capacity_limited = np.empty(proposed.shape, dtype=bool)
    breaches = np.zeros(n, dtype=bool)
    WeekKernel(instance, n).project(
        proposed, last_order, orders, ramp_limited, capacity_limited, breaches=breaches
    )
    adjusted = np.abs(orders - np.nan_to_num(proposed, nan=0.0, posinf=0.0))
    return Projection(orders, adjusted, ramp_limited, capacity_limited, breaches)


def containers_used(instance: Instance, orders: np.ndarray) -> np.ndarray:
    """Whole containers needed to ship ``orders`` (..., P) -> (...)."""
    loaded = orders @ instance.volume
    return np.ceil(loaded / instance.container_volume - 1e-9).clip(min=0)


def forecast_tail_mean(instance: Instance) -> np.ndarray:
    """Demand rate assumed after the horizon, shape (P,).

    The mean forecast of the last ``min(TAIL_WEEKS, T)`` weeks; the terminal cost, the
    environment's look-ahead and the policies' extended forecast all use this one rule.
    """
    return instance.forecast[-min(TAIL_WEEKS, instance.horizon_weeks) :].mean(axis=0)


def required_position(instance: Instance) -> np.ndarray:
    """Inventory position the weeks after the horizon need, shape (P,).

    ``tau_last + L_p * forecast_tail_mean``.
    """
    return instance.target[-1] + instance.lead_time_weeks * forecast_tail_mean(instance)


def terminal_prices(instance: Instance) -> tuple[np.ndarray, np.ndarray]:
    """Per-unit prices of the terminal position, each shape (P,): (excess, shortfall).

    Excess above :func:`required_position` costs ``H``, shortfall ``G``; the MILP prices its
    terminal variables with these same coefficients.
    """
    return instance.overstock_cost, instance.understock_cost


def terminal_cost_of_position(
    instance: Instance, position: np.ndarray, required: np.ndarray | None = None
) -> np.ndarray:
    """Terminal cost per SKU of an end-of-horizon inventory position, shape of ``position``.

    Args:
        instance: The instance.
        position: On hand plus everything still in transit, shape (..., P).
        required: Required position (P,); default :func:`required_position`.
    """
    need = required_position(instance) if required is None else required
    gap = position - need
    excess_price, shortfall_price = terminal_prices(instance)
    return excess_price * np.maximum(gap, 0.0) + shortfall_price * np.maximum(-gap, 0.0)


def terminal_cost_by_sku(instance: Instance, state: State) -> np.ndarray:
    """Cost of the end-of-horizon inventory position per SKU, shape (N, P)."""
    return terminal_cost_of_position(instance, state.on_hand + state.in_transit())


def terminal_cost(instance: Instance, state: State) -> np.ndarray:
    """Cost of the end-of-horizon inventory position, shape (N,); see module docstring."""
    return terminal_cost_by_sku(instance, state).sum(axis=1)


def _frozen(view: np.ndarray) -> np.ndarray:
    """A read-only view of ``view``."""
    view = view.view()
    view.flags.writeable = False
    return view


@dataclass
class WeekArrays:
    """Where :meth:`WeekKernel.full_week` writes one week: (N, P) arrays unless noted, all
    C-contiguous (views of :func:`simulate`'s week-major buffers, or the env's own)."""

    orders: np.ndarray
    ramp_limited: np.ndarray  # bool
    capacity_limited: np.ndarray  # bool
    adjusted_units: np.ndarray
    received: np.ndarray
    sales: np.ndarray
    lost: np.ndarray
    end_inventory: np.ndarray
    cost_lost_sales: np.ndarray
    cost_overstock: np.ndarray
    cost_understock: np.ndarray
    containers: np.ndarray  # (N,)
    cost_containers: np.ndarray  # (N,)

    @classmethod
    def empty(cls, n: int, n_skus: int) -> WeekArrays:
        """Fresh arrays for ``n`` rows."""

        def fresh(name: str) -> np.ndarray:
            if name in ("containers", "cost_containers"):
                return np.empty(n)
            flag = name in ("ramp_limited", "capacity_limited")
            return np.empty((n, n_skus), dtype=bool if flag else float)

        return cls(**{name: fresh(name) for name in cls.__dataclass_fields__})

    def total_cost(self) -> np.ndarray:
        """Cost of the week per row, shape (N,)."""
        per_sku = self.cost_lost_sales + self.cost_overstock + self.cost_understock
        return per_sku.sum(axis=1) + self.cost_containers


class WeekKernel:
    """The week's projection and transition for a batch of ``n`` rows, compiled.

    :func:`simulate`, :func:`simulate_cost_by_sku` and the environment call it every
    week. It runs the loops of :mod:`inventory.fused_week` around numpy's
    ``orders @ volume``, with every per-instance constant prepared once as the contiguous
    arrays the kernels take. It also keeps the in-transit total running
    (``state.transit_total``) instead of summing the ring, which gives the same bits while
    the sums are exact (see ``exact_transit``). Tests compare results with the numpy week
    of ``tests/oracle.py`` bit for bit (signed zeros included) and with its per-SKU loop.
    """

    def __init__(self, instance: Instance, n: int) -> None:
        self.fused  # noqa: B018 (load the kernels now, not in the first week)
        self.n = n
        self.lead = np.ascontiguousarray(instance.lead_time_weeks, dtype=np.int64)
        self.width = int(self.lead.max()) + 1
        self.ramp = np.ascontiguousarray(instance.ramp_limit, dtype=float)
        # Whole, non-negative ramp limits (no -0.0): the band's upper edge needs no
        # rounding when the last order is whole too (floor(x + 1e-9) == x).
        self.whole_ramp = bool(
            np.all(np.isfinite(self.ramp) & (self.ramp == np.floor(self.ramp)))
            and not np.any(np.signbit(self.ramp))
        )
        initial = np.asarray(instance.last_order, dtype=float)
        self.whole_initial_order = bool(
            np.all(np.isfinite(initial) & (initial >= 0) & (initial == np.floor(initial)))
        )
        self.volume = instance.volume
        self.capacity = instance.capacity_volume
        self.container_volume = float(instance.container_volume)
        self.container_cost = float(instance.container_cost)
        self.arrivals = np.ascontiguousarray(instance.arrivals, dtype=float)
        self.target = np.ascontiguousarray(instance.target, dtype=float)
        self.costs = tuple(
            np.ascontiguousarray(getattr(instance, name), dtype=float)
            for name in ("lost_sale_cost", "overstock_cost", "understock_cost")
        )
        # Orders are whole units bounded by the ramp (order_t <= last order + (t + 1) *
        # (R + 1)), so while W times that bound stays below 2**52 every partial sum of
        # the ring is an exact integer and a running in-transit total equals the sum.
        largest = np.max(instance.last_order, initial=0.0) + (instance.horizon_weeks + 1) * (
            np.max(self.ramp, initial=0.0) + 1.0
        )
        self.exact_transit = bool(self.width * largest < 2.0**52)
        self.low = np.empty((n, instance.n_skus))
        self.no_transit = np.empty((0, 0))
        # Stand-ins for the outputs one mode of the week kernel does not write, and
        # scratch for the projection flags the cost-only mode does not keep.
        self.no_cost, self.no_shared = np.empty((0, 0)), np.empty(0)
        self.no_trajectories = (self.no_cost,) * 7 + (self.no_shared,) * 2
        self.scratch_ramp_limited = np.empty((n, instance.n_skus), dtype=bool)
        self.scratch_capacity_limited = np.empty((n, instance.n_skus), dtype=bool)

    @property
    def fused(self) -> ModuleType:
        """:mod:`inventory.fused_week`, imported on first use: it imports numba (0.2 s).

        A property, not an attribute, so that a kernel (and an env holding one) pickles.
        """
        from inventory import fused_week

        return fused_week

    def track_transit(self, state: State) -> None:
        """Keep ``state.transit_total`` from now on, when it is exact (see __init__)."""
        if self.exact_transit and not state.ring.any():
            state.transit_total = np.zeros(state.ring.shape[1:])

    def project(
        self,
        proposed: np.ndarray,
        last_order: np.ndarray,
        orders: np.ndarray,
        ramp_limited: np.ndarray,
        capacity_limited: np.ndarray,
        *,
        whole_last_order: bool = False,
        breaches: np.ndarray | None = None,
    ) -> np.ndarray:
        """The projection of ``proposed`` (N, P) into ``orders`` and the two flag arrays.

        ``whole_last_order``: the caller knows ``last_order`` holds whole units >= 0 (any
        projected order does). ``breaches`` (N,), if given, is set where even the band's
        lower edge does not fit the containers (it must hold False on entry).

        Returns:
            The shipped volume per row, ``orders @ volume`` (N,).
        """
        round_high = not (whole_last_order and self.whole_ramp)
        low = self.low
        self.fused.band(
            proposed, last_order, self.ramp, round_high, low, orders, ramp_limited, capacity_limited
        )
        total = orders @ self.volume
        over = total > self.capacity + _EPS
        if not over.any():
            return total
        rows = np.flatnonzero(over)
        sub, sub_low = orders[rows], low[rows]
        floor_volume = sub_low @ self.volume
        extra_volume = (sub - sub_low) @ self.volume
        if breaches is not None:
            breaches[rows] = floor_volume > self.capacity + _EPS
        self.fused.scale_to_capacity(
            rows, floor_volume, extra_volume, self.capacity, low, orders, capacity_limited
        )
        return orders @ self.volume

    def transit(self, state: State) -> tuple[np.ndarray, bool]:
        """The running in-transit total for the kernels and whether to keep it."""
        if state.transit_total is None:
            return self.no_transit, False
        return state.transit_total, True

    def full_week(
        self,
        state: State,
        proposed: np.ndarray,
        demand: np.ndarray,
        week: WeekArrays,
    ) -> None:
        """Project ``proposed`` (N, P) and run week ``state.t`` on ``demand`` (N, T, P),
        writing every output into ``week``; moves the ring (and the running in-transit
        total) to the next week. The caller sets the rest of the state from ``week``."""
        loaded = self._project_week(
            state, proposed, week.orders, week.ramp_limited, week.capacity_limited
        )
        self.fused.full_week(
            *self._week_inputs(state, proposed, demand, week.orders, loaded),
            week.end_inventory,
            self.no_cost,
            self.no_shared,
            week.adjusted_units,
            week.received,
            week.sales,
            week.lost,
            week.cost_lost_sales,
            week.cost_overstock,
            week.cost_understock,
            week.containers,
            week.cost_containers,
        )

    def cost_week(
        self,
        state: State,
        proposed: np.ndarray,
        demand: np.ndarray,
        orders: np.ndarray,
        end_inventory: np.ndarray,
        cost_by_sku: np.ndarray,
        cost_shared: np.ndarray,
    ) -> None:
        """:meth:`full_week` keeping only the orders, the end inventory and the costs:
        the week's cost is added to ``cost_by_sku`` (N, P) and the container cost to
        ``cost_shared`` (N,); row ``i`` faces demand row ``i % M`` of ``demand``."""
        loaded = self._project_week(
            state, proposed, orders, self.scratch_ramp_limited, self.scratch_capacity_limited
        )
        self.fused.cost_week(
            *self._week_inputs(state, proposed, demand, orders, loaded),
            end_inventory,
            cost_by_sku,
            cost_shared,
            *self.no_trajectories,
        )

    def _project_week(
        self,
        state: State,
        proposed: np.ndarray,
        orders: np.ndarray,
        ramp_limited: np.ndarray,
        capacity_limited: np.ndarray,
    ) -> np.ndarray:
        """:meth:`project` of week ``state.t``'s proposals; returns the shipped volume."""
        return self.project(
            proposed,
            np.ascontiguousarray(state.last_order, dtype=float),
            orders,
            ramp_limited,
            capacity_limited,
            whole_last_order=state.t > 0 or self.whole_initial_order,
        )

    def _week_inputs(
        self,
        state: State,
        proposed: np.ndarray,
        demand: np.ndarray,
        orders: np.ndarray,
        loaded: np.ndarray,
    ) -> tuple:
        """The arguments of the week kernels before their outputs, in their order."""
        return (
            state.t,
            proposed,
            orders,
            state.ring,
            *self.transit(state),
            self.lead,
            self.arrivals,
            np.ascontiguousarray(state.on_hand, dtype=float),
            demand,
            self.target,
            *self.costs,
            loaded,
            self.container_volume,
            self.container_cost,
        )


def simulate(
    instance: Instance,
    demand: np.ndarray,
    policy: Policy,
    *,
    terminal: bool = True,
) -> SimulationResult:
    """Run ``policy`` on every demand scenario of ``demand`` (N, T, P).

    ``policy`` follows :class:`inventory.policies.Policy`: ``reset(instance, n)`` then
    ``act(instance, state, t) -> proposed orders (N, P)`` each week. Its proposals are
    projected onto the ramp band and the containers, so no policy can break a constraint.
    """
    demand = np.ascontiguousarray(demand, dtype=float)
    n, horizon, p = demand.shape
    if (horizon, p) != instance.forecast.shape:
        raise ValueError(
            f"demand has shape {demand.shape}; expected (N, {instance.horizon_weeks}, "
            f"{instance.n_skus}) to match the instance"
        )
    # Buffers are week-major (T, N, P): each week the kernel writes its outputs straight
    # into one contiguous block, and the result exposes (N, T, P) views. The state's
    # on-hand and last order are read-only views of the week's block (a fresh array every
    # week; read-only so that a policy cannot rewrite the recorded trajectory). The target
    # is the same in every scenario (a view).
    weekly = (
        "orders",
        "proposed",
        "adjusted_units",
        "received",
        "sales",
        "lost",
        "end_inventory",
        "cost_lost_sales",
        "cost_overstock",
        "cost_understock",
    )
    buffers = {name: np.empty((horizon, n, p)) for name in weekly}
    buffers["ramp_limited"] = np.empty((horizon, n, p), dtype=bool)
    buffers["capacity_limited"] = np.empty((horizon, n, p), dtype=bool)
    state = initial_state(instance, n)
    policy.reset(instance, n)
    kernel = WeekKernel(instance, n)
    kernel.track_transit(state)
    containers = np.empty((horizon, n))
    cost_containers = np.empty((horizon, n))
    for t in range(horizon):
        week = WeekArrays(
            containers=containers[t],
            cost_containers=cost_containers[t],
            **{name: buffer[t] for name, buffer in buffers.items() if name != "proposed"},
        )
        proposed = buffers["proposed"][t]
        proposed[...] = policy.act(instance, state, t)
        kernel.full_week(state, proposed, demand, week)
        state.on_hand, state.last_order = _frozen(week.end_inventory), _frozen(week.orders)
        state.t = t + 1
    out = {name: buffer.transpose(1, 0, 2) for name, buffer in buffers.items()}
    out["target"] = np.broadcast_to(instance.target, (n, horizon, p))
    final_by_sku = terminal_cost_by_sku(instance, state) if terminal else np.zeros((n, p))
    return SimulationResult(
        demand=demand,
        containers=containers.T,
        cost_containers=cost_containers.T,
        cost_terminal=final_by_sku.sum(axis=1),
        extras={"cost_terminal_by_sku": final_by_sku},
        **out,
    )


def simulate_cost_by_sku(
    instance: Instance, demand: np.ndarray, policy, *, terminal: bool = True, repeats: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Like :func:`simulate`, keeping only the costs (no (N, T, P) trajectories).

    For searches that simulate many candidates at once (policy tuning): with
    ``repeats = C`` the policy runs on ``C * N`` rows, row ``r`` facing scenario ``r % N``
    (the demand array is not copied C times).

    Returns:
        Cost per scenario and SKU over the horizon, terminal included, shape (N, P), and
        the container cost per scenario, shape (N,).
    """
    demand = np.ascontiguousarray(demand, dtype=float)
    n = demand.shape[0] * repeats
    p = instance.n_skus
    state = initial_state(instance, n)
    policy.reset(instance, n)
    kernel = WeekKernel(instance, n)
    kernel.track_transit(state)
    per_sku = np.zeros((n, p))
    shared = np.zeros(n)
    # The orders and the end inventory become the state. Two buffers of each, used in
    # turn: week t writes one while the state (week t - 1's) is read from the other, so
    # no (N, P) array is allocated per week (at 400 SKUs and 150k candidate rows the
    # fresh pages of two 491 MB arrays a week were 45% of the CPU, in system time). A
    # policy sees each week's state read-only and must not keep it beyond the week.
    orders_buffers, end_buffers = np.empty((2, n, p)), np.empty((2, n, p))
    for t in range(instance.horizon_weeks):
        proposed = np.broadcast_to(np.asarray(policy.act(instance, state, t), dtype=float), (n, p))
        orders, end = orders_buffers[t % 2], end_buffers[t % 2]
        kernel.cost_week(
            state, np.ascontiguousarray(proposed), demand, orders, end, per_sku, shared
        )
        state.on_hand, state.last_order, state.t = _frozen(end), _frozen(orders), t + 1
    if terminal:
        per_sku += terminal_cost_by_sku(instance, state)
    return per_sku, shared


class _Replay:
    """Minimal policy replaying fixed orders (N or 1, T, P); see policies.PlanReplay."""

    def __init__(self, plan: np.ndarray) -> None:
        self.plan = np.asarray(plan, dtype=float)

    def reset(self, instance: Instance, n_scenarios: int) -> None:
        self.n = n_scenarios

    def act(self, instance: Instance, state: State, t: int) -> np.ndarray:
        return np.broadcast_to(
            self.plan[:, t] if self.plan.ndim == 3 else self.plan[t], (self.n, instance.n_skus)
        )


def simulate_plan(
    instance: Instance, plan: np.ndarray, demand: np.ndarray, *, terminal: bool = True
) -> SimulationResult:
    """Replay an order plan (T, P) or (N, T, P) on demand scenarios (N, T, P)."""
    return simulate(instance, demand, _Replay(plan), terminal=terminal)
