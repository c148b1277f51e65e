"""The one executable week as compiled loops (numba): one pass over memory, not one per
numpy operation.

Every week the product runs goes through these kernels, via
:class:`inventory.dynamics.WeekKernel`: :func:`inventory.dynamics.simulate`,
:func:`inventory.dynamics.simulate_cost_by_sku`, :func:`inventory.dynamics.project_orders`
and the environment and VecEnv of :mod:`inventory.env`. The tests compare them bit for
bit (signed zeros and non-finite proposals included) with the readable numpy week and
with the plain per-SKU loop of ``tests/oracle.py``. One week is:

1. :func:`band`: clean the proposal (as ``np.nan_to_num``: NaN and +inf to 0, -inf to the
   most negative float), round it (``np.rint``, ties to even) and clip it to the
   whole-unit ramp band; write the orders, the band's lower edge and the ramp flags.
2. numpy: the shipped volume ``orders @ volume`` and, for the rows over the container
   capacity, the volumes of the band's lower edge and of the part above it. Dot products
   stay numpy's because their summation order (BLAS's, which depends on the CPU) decides
   which rows are scaled, by how much and how many containers ship; a compiled loop
   would sum in another order.
3. :func:`scale_to_capacity` for those rows, then the week kernel, one definition
   compiled twice: :data:`full_week` (every per-week output, for the simulator's
   trajectories and the env) or :data:`cost_week` (costs only, for searches): put the
   orders in transit, receive, serve demand, price the week, count the containers.

Why the bits are numpy's: every element goes through the same IEEE operations in the
same order as the numpy expression it replaces (no fastmath, so LLVM neither reassociates
nor contracts ``a * b + c`` into a fused multiply-add), and each element's result
depends only on its own operands, so a loop over elements gives what a sequence of whole
array passes gives. The functions numpy does not define by a single IEEE operation are
written out as numpy computes them: ``np.maximum(a, b)`` and ``np.minimum(a, b)``
return ``b`` on a tie (so ``np.maximum(-0.0, 0.0)`` is ``+0.0`` and
``np.maximum(0.0, -0.0)`` is ``-0.0``) and propagate NaN; ``np.clip(x, lo, hi)`` is
``min(max(x, lo), hi)`` in that convention (numpy's ``_NPY_CLIP``); ``np.nan_to_num``
as above. :data:`cost_week` sums each week as ``(lost-sales + overstock) +
understock`` and then adds it to the running total per SKU, the order in which the full
path's components add up. A test on edge values (ties, signed zeros, +-inf, NaN, a
capacity below the ramp floor) fails if any of these conventions is changed.

Every array argument is C-contiguous float64 (int64 lead times, bool flags), outputs
writable and inputs typed read-only (which accepts both), so each kernel has exactly one
signature, compiled when this module is imported and cached on disk (``cache=True``).
Compiling takes about 2 s of CPU once per machine (and after each change of this file);
every process then pays about 0.5 s of CPU once to import numba (which imports
scipy.linalg) and load the kernels from the cache, 0.3 s if scipy is already imported.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numba as nb
import numpy as np

__all__ = ["band", "scale_to_capacity", "full_week", "cost_week"]

_NEG_MAX = -np.finfo(np.float64).max  # what np.nan_to_num makes of -inf
_JIT: dict[str, Any] = {"cache": True, "nogil": True, "error_model": "numpy", "boundscheck": False}
# Outputs and state are writable arrays; inputs are typed read-only, which accepts both.
_F1, _F2, _F3 = nb.float64[::1], nb.float64[:, ::1], nb.float64[:, :, ::1]
_B2 = nb.boolean[:, ::1]
_R1, _R2, _R3 = (nb.types.Array(nb.float64, dims, "C", readonly=True) for dims in (1, 2, 3))
_I1 = nb.types.Array(nb.int64, 1, "C", readonly=True)


@nb.njit(inline="always")
def _maximum(a: float, b: float) -> float:
    """``np.maximum``: NaN wins, a tie returns ``b``."""
    return a if (a > b or a != a) else b


@nb.njit(inline="always")
def _minimum(a: float, b: float) -> float:
    """``np.minimum``: NaN wins, a tie returns ``b``."""
    return a if (a < b or a != a) else b


@nb.njit(inline="always")
def _clean(x: float) -> float:
    """``np.nan_to_num(x, nan=0.0, posinf=0.0)``."""
    if x != x or x == np.inf:
        return 0.0
    if x == -np.inf:
        return _NEG_MAX
    return x


@nb.njit(inline="always")
def _due_slots(t: int, lead_time_weeks: np.ndarray, width: int) -> np.ndarray:
    """Ring slot of the week each SKU's order placed in week ``t`` arrives, (P,): lead
    time 0 is this week's slot, received right after the order is placed."""
    due = np.empty(lead_time_weeks.size, dtype=np.int64)
    for p in range(lead_time_weeks.size):
        due[p] = (t + lead_time_weeks[p]) % width
    return due


@nb.njit(nb.void(_R2, _R2, _R1, nb.boolean, _F2, _F2, _B2, _B2), **_JIT)
def band(
    proposed: np.ndarray,
    last_order: np.ndarray,
    ramp: np.ndarray,
    round_high: bool,
    low: np.ndarray,
    orders: np.ndarray,
    ramp_limited: np.ndarray,
    capacity_limited: np.ndarray,
) -> None:
    """Orders clipped to the ramp band, before the container capacity (N, P).

    ``round_high``: round the band's upper edge down to whole units (not needed when the
    last order and the ramp limit are whole). Writes ``low`` (the band's lower edge),
    ``orders``, ``ramp_limited`` and clears ``capacity_limited``.
    """
    n, n_skus = orders.shape
    for i in range(n):
        for p in range(n_skus):
            last = last_order[i, p]
            floor_edge = np.ceil(_maximum(0.0, last - ramp[p]) - 1e-9)
            high = last + ramp[p]
            if round_high:
                high = np.floor(high + 1e-9)
            high = _maximum(floor_edge, high)
            rounded = np.rint(_clean(proposed[i, p]))
            order = _minimum(_maximum(rounded, floor_edge), high)
            low[i, p] = floor_edge
            orders[i, p] = order
            ramp_limited[i, p] = order != rounded
            capacity_limited[i, p] = False


@nb.njit(nb.void(_I1, _R1, _R1, nb.float64, _R2, _F2, _B2), **_JIT)
def scale_to_capacity(
    rows: np.ndarray,
    floor_volume: np.ndarray,
    extra_volume: np.ndarray,
    capacity: float,
    low: np.ndarray,
    orders: np.ndarray,
    capacity_limited: np.ndarray,
) -> None:
    """Scale the orders of ``rows`` (R,) down to the container capacity, in place.

    ``floor_volume`` and ``extra_volume`` (R,) are the volume of the band's lower edge
    and of the orders above it, computed by numpy as in
    the numpy oracle's ``project_orders``. When the lower edge fits, the part above
    it shrinks by one common factor; otherwise every order does. Sets
    ``capacity_limited`` where an order changed.
    """
    n_skus = orders.shape[1]
    for k in range(rows.size):
        i = rows[k]
        fits_floor = floor_volume[k] <= capacity + 1e-9
        if fits_floor:
            factor = (capacity - floor_volume[k]) / _maximum(extra_volume[k], 1e-9)
        else:
            factor = capacity / _maximum(floor_volume[k], 1e-9)
        for p in range(n_skus):
            if fits_floor:
                scaled = low[i, p] + np.floor((orders[i, p] - low[i, p]) * factor + 1e-9)
            else:
                scaled = np.floor(low[i, p] * factor + 1e-9)
            capacity_limited[i, p] = scaled != orders[i, p]
            orders[i, p] = scaled


_WEEK_SIGNATURE = nb.void(
    *(nb.int64, _R2, _R2, _F3, _F2, nb.boolean, _I1, _R2, _R2, _R3, _R2, _R1, _R1, _R1),
    *(_R1, nb.float64, nb.float64, _F2, _F2, _F1, _F2, _F2, _F2, _F2, _F2, _F2, _F2, _F1, _F1),
)


_WEEK_DOC = """Week ``t`` with projected ``orders`` (N, P): put them in transit, receive, serve
demand, price the week, count the containers.

``ring`` (W, N, P) and ``transit_total`` (N, P, updated when ``track_transit``) are the
state's and change in place; ``demand`` is (M, T, P) and row ``i`` faces demand row
``i % M`` (the repeats of :func:`~inventory.dynamics.simulate_cost_by_sku`); ``arrivals``
and ``target`` are (T, P); ``loaded`` is the shipped volume per row (N,). The end
inventory goes to ``end_inventory``. :data:`full_week` writes every other per-week output
(``adjusted_units`` .. ``cost_understock`` (N, P), ``containers`` and
``cost_containers`` (N,)) and leaves ``cost_by_sku`` and ``cost_shared`` alone;
:data:`cost_week` adds the week's cost to ``cost_by_sku`` (N, P) and the container cost to
``cost_shared`` (N,) and leaves the trajectory outputs alone (they may be empty arrays).
"""


def _week_kernel(keep_trajectories: bool) -> Callable[..., None]:
    """The week kernel with ``keep_trajectories`` fixed at compile time.

    One definition, two compiled specialisations: numba treats the closure variable as
    a constant, so each drops the other's branch. A run-time flag instead cost 4% on the
    full path and 9% on the cost-only path (bench, 1000 x 25 x 52); the disk cache keys
    each closure by its variables, so both load from it.
    """

    @nb.njit(_WEEK_SIGNATURE, **_JIT)
    def week(
        t: int,
        proposed: np.ndarray,
        orders: np.ndarray,
        ring: np.ndarray,
        transit_total: np.ndarray,
        track_transit: bool,
        lead_time_weeks: np.ndarray,
        arrivals: np.ndarray,
        on_hand: np.ndarray,
        demand: np.ndarray,
        target: np.ndarray,
        lost_sale_cost: np.ndarray,
        overstock_cost: np.ndarray,
        understock_cost: np.ndarray,
        loaded: np.ndarray,
        container_volume: float,
        container_cost: float,
        end_inventory: np.ndarray,
        cost_by_sku: np.ndarray,
        cost_shared: np.ndarray,
        adjusted_units: np.ndarray,
        received: np.ndarray,
        sales: np.ndarray,
        lost: np.ndarray,
        cost_lost_sales: np.ndarray,
        cost_overstock: np.ndarray,
        cost_understock: np.ndarray,
        containers: np.ndarray,
        cost_containers: np.ndarray,
    ) -> None:
        n, n_skus = orders.shape
        n_demand = demand.shape[0]
        width = ring.shape[0]
        slot = t % width
        due = _due_slots(t, lead_time_weeks, width)
        for i in range(n):
            row = i % n_demand
            for p in range(n_skus):
                order = orders[i, p]
                ring[due[p], i, p] = ring[due[p], i, p] + order
                arriving = ring[slot, i, p]
                came = arriving + arrivals[t, p]
                if track_transit:
                    transit_total[i, p] = (transit_total[i, p] + order) - arriving
                ring[slot, i, p] = 0.0
                stock = on_hand[i, p] + came
                wanted = demand[row, t, p]
                sold = _minimum(stock, wanted)
                short = wanted - sold
                end = stock - sold
                gap = end - target[t, p]
                end_inventory[i, p] = end
                if keep_trajectories:
                    adjusted_units[i, p] = np.abs(order - _clean(proposed[i, p]))
                    received[i, p] = came
                    sales[i, p] = sold
                    lost[i, p] = short
                    cost_lost_sales[i, p] = lost_sale_cost[p] * short
                    cost_overstock[i, p] = overstock_cost[p] * _maximum(gap, 0.0)
                    cost_understock[i, p] = understock_cost[p] * _maximum(-gap, 0.0)
                else:
                    cost = lost_sale_cost[p] * short + overstock_cost[p] * _maximum(gap, 0.0)
                    cost = cost + understock_cost[p] * _maximum(-gap, 0.0)
                    cost_by_sku[i, p] = cost_by_sku[i, p] + cost
            boxes = _maximum(np.ceil(loaded[i] / container_volume - 1e-9), 0.0)
            if keep_trajectories:
                containers[i] = boxes
                cost_containers[i] = container_cost * boxes
            else:
                cost_shared[i] = cost_shared[i] + container_cost * boxes

    week.__doc__ = _WEEK_DOC
    return week


full_week = _week_kernel(keep_trajectories=True)
cost_week = _week_kernel(keep_trajectories=False)
