"""The one transition and cost: hand-computed weeks, invariants, and the oracles."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from inventory.dynamics import (
    _Replay,
    initial_state,
    project_orders,
    simulate,
    simulate_cost_by_sku,
    simulate_plan,
)
from inventory.policies import BaseStock, planner_levels
from inventory.testing import make_instance
from tests import oracle
from tests.oracle import simulate_loop, step_by_step


def one_sku(horizon: int, **fields):
    """A single-SKU instance with generous capacity and ramp unless overridden."""
    base = make_instance(1, horizon, seed=0, open_pos=False)
    defaults = {
        "volume": np.array([1.0]),
        "ramp_limit": np.array([100.0]),
        "last_order": np.array([0.0]),
        "container_volume": 1000.0,
        "max_containers": 1,
        "arrivals": np.zeros((horizon, 1)),
    }
    defaults.update(fields)
    return replace(base, **defaults)


def costs(**kw):
    return {
        "lost_sale_cost": np.array([kw["F"]]),
        "overstock_cost": np.array([kw["H"]]),
        "understock_cost": np.array([kw["G"]]),
    }


def test_hand_computed_weeks_lead_time_0() -> None:
    instance = one_sku(
        3,
        lead_time_weeks=np.array([0]),
        on_hand=np.array([5.0]),
        safety_stock_weeks=np.array([1.0]),
        forecast=np.full((3, 1), 4.0),
        arrivals=np.array([[0.0], [2.0], [0.0]]),
        **costs(F=10.0, H=2.0, G=3.0),
    )
    result = simulate_plan(instance, np.array([[3.0], [0.0], [6.0]]), np.array([[[6], [7], [2]]]))
    np.testing.assert_array_equal(result.received[0, :, 0], [3, 2, 6])
    np.testing.assert_array_equal(result.sales[0, :, 0], [6, 4, 2])
    np.testing.assert_array_equal(result.lost[0, :, 0], [0, 3, 0])
    np.testing.assert_array_equal(result.end_inventory[0, :, 0], [2, 0, 4])
    np.testing.assert_array_equal(result.cost_understock[0, :, 0], [6, 12, 0])
    np.testing.assert_array_equal(result.cost_lost_sales[0, :, 0], [0, 30, 0])
    assert result.cost_terminal[0] == 0.0
    assert result.total_cost()[0] == 48.0


def test_hand_computed_weeks_lead_time_1() -> None:
    instance = one_sku(
        3,
        lead_time_weeks=np.array([1]),
        on_hand=np.array([5.0]),
        safety_stock_weeks=np.array([0.5]),
        forecast=np.full((3, 1), 4.0),
        **costs(F=10.0, H=2.0, G=3.0),
    )
    result = simulate_plan(instance, np.array([[3.0], [0.0], [8.0]]), np.full((1, 3, 1), 4.0))
    np.testing.assert_array_equal(result.received[0, :, 0], [0, 3, 0])
    np.testing.assert_array_equal(result.end_inventory[0, :, 0], [1, 0, 0])
    np.testing.assert_array_equal(result.lost[0, :, 0], [0, 0, 4])
    np.testing.assert_array_equal(result.cost_understock[0, :, 0], [3, 6, 6])
    # position 0 on hand + 8 in transit vs required 2 + 1 week x 4 = 6: 2 over at H = 2
    assert result.cost_terminal[0] == 4.0
    assert result.total_cost()[0] == 3 + 6 + 46 + 4


def test_hand_computed_weeks_lead_time_3_with_open_po_and_ramp() -> None:
    instance = one_sku(
        5,
        lead_time_weeks=np.array([3]),
        on_hand=np.array([10.0]),
        safety_stock_weeks=np.array([0.0]),
        forecast=np.full((5, 1), 3.0),
        ramp_limit=np.array([3.0]),
        arrivals=np.array([[0.0], [0], [5], [0], [0]]),
        **costs(F=10.0, H=1.0, G=0.5),
    )
    result = simulate_plan(instance, np.array([[2.0], [4], [0], [0], [0]]), np.full((1, 5, 1), 3.0))
    np.testing.assert_array_equal(result.orders[0, :, 0], [2, 4, 1, 0, 0])
    np.testing.assert_array_equal(result.ramp_limited[0, :, 0], [0, 0, 1, 0, 0])
    np.testing.assert_array_equal(result.adjusted_units[0, :, 0], [0, 0, 1, 0, 0])
    np.testing.assert_array_equal(result.received[0, :, 0], [0, 0, 5, 2, 4])
    np.testing.assert_array_equal(result.end_inventory[0, :, 0], [7, 4, 6, 5, 6])
    np.testing.assert_array_equal(result.cost_overstock[0, :, 0], [7, 4, 6, 5, 6])
    # position 6 + 1 in transit vs required 0 + 3 weeks x 3 = 9: short 2 at G = 0.5
    assert result.cost_terminal[0] == 1.0
    assert result.total_cost()[0] == 29.0


def test_projection_scales_the_part_above_the_ramp_floor_to_fit_containers() -> None:
    instance = replace(
        make_instance(2, 2, seed=0),
        volume=np.array([1.0, 2.0]),
        container_volume=10.0,
        max_containers=1,
        ramp_limit=np.array([100.0, 100.0]),
    )
    proj = project_orders(instance, np.array([[6.0, 4.0]]), np.zeros((1, 2)))
    np.testing.assert_array_equal(proj.orders, [[4, 2]])
    np.testing.assert_array_equal(proj.capacity_limited, [[True, True]])
    np.testing.assert_array_equal(proj.adjusted_units, [[2, 2]])


@pytest.mark.parametrize("seed", range(20))
def test_projection_never_breaks_capacity_or_ramp(seed: int) -> None:
    rng = np.random.default_rng(seed)
    instance = make_instance(6, 2, seed=seed, capacity_share=rng.uniform(0.2, 1.5))
    instance = replace(instance, ramp_limit=rng.uniform(0.5, 8, 6).round(1))
    last = rng.integers(0, 20, (50, 6)).astype(float) + rng.choice([0, 0.5], (50, 6))
    proposed = rng.normal(10, 15, (50, 6))
    proposed[rng.random((50, 6)) < 0.05] = np.nan
    proj = project_orders(instance, proposed, last)
    orders = proj.orders
    assert np.all(orders >= 0) and np.all(orders == np.round(orders))
    assert np.all(orders @ instance.volume <= instance.capacity_volume + 1e-6)
    ramp_ok = np.abs(orders - last) <= instance.ramp_limit + 1e-9
    # outside the band only when even the band's floor does not fit (reported as breach)
    assert np.all(ramp_ok | proj.ramp_breaches[:, None])
    floor_units = np.ceil(np.maximum(last - instance.ramp_limit, 0) - 1e-9)
    floor_volume = floor_units @ instance.volume
    assert np.all(proj.ramp_breaches == (floor_volume > instance.capacity_volume + 1e-6))
    expected = oracle.project_orders(instance, proposed, last)
    for name in ("orders", "adjusted_units", "ramp_limited", "capacity_limited", "ramp_breaches"):
        assert_bitwise(getattr(proj, name), getattr(expected, name), name)


@pytest.mark.parametrize("seed", range(8))
def test_conservation_on_random_instances(seed: int) -> None:
    instance = make_instance(5, 15, seed=seed)
    rng = np.random.default_rng(seed)
    demand = rng.poisson(instance.forecast * 1.2, (30, 15, 5)).astype(float)
    result = simulate(instance, demand, BaseStock(planner_levels(instance) * 1.1))
    start = np.concatenate(
        [np.broadcast_to(instance.on_hand, (30, 1, 5)), result.end_inventory[:, :-1]], axis=1
    )
    np.testing.assert_allclose(start + result.received - result.sales, result.end_inventory)
    np.testing.assert_allclose(result.sales + result.lost, demand)
    assert np.all(result.end_inventory >= 0) and np.all(result.lost >= 0)
    # every unit ordered or due on a PO is received in the horizon or still in transit
    ordered = result.orders.sum(axis=1) + instance.arrivals.sum(axis=0)
    late = np.array(
        [
            result.orders[:, instance.horizon_weeks - lead :, p].sum(axis=1)
            for p, lead in enumerate(instance.lead_time_weeks)
        ]
    ).T
    np.testing.assert_allclose(result.received.sum(axis=1) + late, ordered)


FIELDS = (
    "orders",
    "sales",
    "lost",
    "end_inventory",
    "cost_lost_sales",
    "cost_overstock",
    "cost_understock",
    "containers",
    "cost_containers",
    "cost_terminal",
)


def assert_same(result, loop) -> None:
    for name in ("orders", "sales", "lost", "end_inventory", "containers"):
        np.testing.assert_array_equal(getattr(result, name), loop[name], err_msg=name)
    for name in FIELDS:
        np.testing.assert_allclose(
            getattr(result, name), loop[name], rtol=1e-12, atol=1e-9, err_msg=name
        )


@pytest.mark.parametrize("seed", range(10))
def test_vectorised_matches_plain_loop_on_random_plans(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    instance = make_instance(
        int(rng.integers(1, 8)),
        12,
        seed=seed,
        capacity_share=rng.uniform(0.3, 1.2),
        container_cost=float(rng.choice([0.0, 50.0])),
    )
    shape = (4, *instance.forecast.shape)
    demand = rng.poisson(instance.forecast, shape).astype(float)
    proposals = rng.normal(instance.forecast * 1.3, 6, shape)
    result = simulate_plan(instance, proposals, demand)
    assert_same(result, simulate_loop(instance, demand, proposals))


@pytest.mark.parametrize("seed", range(6))
def test_vectorised_matches_plain_loop_with_state_feedback(seed: int) -> None:
    instance = make_instance(5, 10, seed=seed, capacity_share=0.7)
    demand = np.random.default_rng(seed).poisson(instance.forecast, (3, 10, 5)).astype(float)
    levels = np.rint(planner_levels(instance) * 1.2)
    result = simulate(instance, demand, BaseStock(levels), terminal=True)
    assert_same(result, simulate_loop(instance, demand, base_stock_levels=levels))


def test_fractional_band_edges_still_give_whole_orders() -> None:
    instance = replace(make_instance(2, 1, seed=0), ramp_limit=np.array([1.5, 0.4]))
    state = initial_state(instance, 1)
    proj = project_orders(instance, np.array([[0.0, 50.0]]), state.last_order + 0.3)
    assert np.all(proj.orders == np.round(proj.orders))


def assert_bitwise(actual: np.ndarray, expected: np.ndarray, name: str) -> None:
    """Same shape, dtype and bytes: catches signed zeros and NaN payloads too."""
    actual, expected = np.ascontiguousarray(actual), np.ascontiguousarray(expected)
    assert actual.shape == expected.shape and actual.dtype == expected.dtype, name
    assert actual.tobytes() == expected.tobytes(), name


def _assert_cost_only_path(instance, demand, proposals, expected) -> None:
    """simulate_cost_by_sku adds each week's cost per SKU in the full path's order."""
    per_sku, shared = simulate_cost_by_sku(instance, demand, _Replay(proposals))
    weekly = expected["cost_lost_sales"] + expected["cost_overstock"] + expected["cost_understock"]
    running = np.zeros(weekly[:, 0].shape)
    for t in range(instance.horizon_weeks):
        running += weekly[:, t]
    assert_bitwise(per_sku, running + expected["cost_terminal_by_sku"], "cost_by_sku")
    assert_bitwise(shared, expected["cost_containers"].sum(axis=1), "containers")


@pytest.mark.parametrize("seed", range(12))
def test_batched_simulation_is_bitwise_the_numpy_oracle(seed: int) -> None:
    """simulate's compiled week computes exactly the numpy oracle's project_orders +
    advance, bit for bit (zeros keep their sign, non-finite proposals are cleaned the
    same way)."""
    rng = np.random.default_rng(seed)
    instance = make_instance(
        int(rng.integers(1, 8)),
        int(rng.integers(1, 12)),
        seed=seed,
        max_lead_time=int(rng.integers(0, 5)),
        capacity_share=rng.uniform(0.2, 1.4),
        container_cost=float(rng.choice([0.0, 50.0])),
    )
    p = instance.n_skus
    if seed % 2:
        fractional = rng.integers(0, 5, p) + rng.choice([0.0, 0.5], p)
        instance = replace(
            instance, ramp_limit=rng.uniform(0.3, 6, p).round(1), last_order=fractional
        )
    shape = (int(rng.integers(1, 9)), *instance.forecast.shape)
    demand = rng.poisson(instance.forecast, shape).astype(float)
    proposals = rng.normal(instance.forecast * 1.2, 6, shape)
    proposals[rng.random(shape) < 0.1] = -0.0
    proposals[rng.random(shape) < 0.05] = -0.4
    if seed % 3 == 0:
        proposals[rng.random(shape) < 0.05] = np.nan
        proposals[rng.random(shape) < 0.03] = np.inf
    expected = step_by_step(instance, demand, proposals)
    result = simulate_plan(instance, proposals, demand)
    for name, value in expected.items():
        if name in ("cost_terminal_by_sku", "in_transit"):
            continue
        assert_bitwise(getattr(result, name), value, name)
    assert_bitwise(result.extras["cost_terminal_by_sku"], expected["cost_terminal_by_sku"], "term")
    assert_bitwise(result.proposed, proposals, "proposed")

    _assert_cost_only_path(instance, demand, proposals, expected)


def test_cost_only_path_with_repeats_matches_full_simulation() -> None:
    instance = make_instance(6, 20, seed=3, capacity_share=0.6)
    rng = np.random.default_rng(3)
    demand = rng.poisson(instance.forecast, (5, 20, 6)).astype(float)
    offsets = rng.integers(-4, 5, (15, 6)).astype(float)
    levels = np.rint(planner_levels(instance))
    per_sku, shared = simulate_cost_by_sku(instance, demand, BaseStock(levels, offsets), repeats=3)
    full = simulate(instance, np.tile(demand, (3, 1, 1)), BaseStock(levels, offsets))
    np.testing.assert_allclose(per_sku.sum(axis=1) + shared, full.total_cost(), rtol=1e-12)
    np.testing.assert_array_equal(shared, full.cost_containers.sum(axis=1))


class _CheckTransit(BaseStock):
    """Base-stock policy that checks the running in-transit total against the ring."""

    def act(self, instance, state, t: int) -> np.ndarray:
        assert state.transit_total is not None
        assert_bitwise(state.in_transit(), state.ring.sum(axis=0), "in_transit")
        return super().act(instance, state, t)


def test_running_in_transit_total_is_the_ring_sum_every_week() -> None:
    instance = make_instance(7, 30, seed=5, max_lead_time=5, capacity_share=0.6)
    demand = np.random.default_rng(5).poisson(instance.forecast, (6, 30, 7)).astype(float)
    levels = np.rint(planner_levels(instance) * 1.3)
    simulate(instance, demand, _CheckTransit(levels))
    simulate_cost_by_sku(instance, demand, _CheckTransit(levels), repeats=2)


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
@pytest.mark.parametrize("overstock", [-1.0, np.inf])
def test_cost_only_path_outside_its_shortcut_still_sums_the_components(overstock: float) -> None:
    """Negative or infinite costs (not valid input) take the component-by-component sum."""
    instance = make_instance(4, 10, seed=2)
    instance = replace(instance, overstock_cost=np.array([1.0, overstock, 2.0, 0.5]))
    demand = np.random.default_rng(2).poisson(instance.forecast, (3, 10, 4)).astype(float)
    levels = np.rint(planner_levels(instance) * 1.2)
    per_sku, _ = simulate_cost_by_sku(instance, demand, BaseStock(levels), terminal=False)
    full = simulate(instance, demand, BaseStock(levels), terminal=False)
    weekly = full.cost_lost_sales + full.cost_overstock + full.cost_understock
    expected = np.zeros(per_sku.shape)
    for t in range(instance.horizon_weeks):
        expected += weekly[:, t]
    assert_bitwise(per_sku, expected, "per_sku")


@pytest.mark.parametrize("seed", range(8))
def test_compiled_week_is_bitwise_numpy_on_edge_values(seed: int) -> None:
    """The compiled kernels on the values where numpy's conventions show: signed zeros
    (ramp 0, last order -0.0, target 0), rounding ties, +-inf and NaN proposals, zero
    costs, and a capacity below the ramp floor (every order scaled down)."""
    rng = np.random.default_rng(1000 + seed)
    p = int(rng.integers(1, 7))
    instance = make_instance(
        p,
        int(rng.integers(1, 10)),
        seed=seed,
        max_lead_time=int(rng.integers(0, 4)),
        capacity_share=float(rng.choice([0.02, 0.3, 1.5])),
        container_cost=float(rng.choice([0.0, 40.0])),
    )
    instance = replace(
        instance,
        ramp_limit=rng.choice([0.0, 1.0, 2.5, 40.0], p),
        last_order=rng.choice([-0.0, 0.0, 0.5, 3.0, 7.0], p),
        safety_stock_weeks=rng.choice([0.0, 1.0], p),
        overstock_cost=rng.choice([0.0, 2.0], p),
        understock_cost=rng.choice([0.0, 3.0], p),
    )
    shape = (int(rng.integers(1, 6)), *instance.forecast.shape)
    demand = rng.poisson(instance.forecast, shape).astype(float)
    proposals = rng.choice([-0.0, 0.0, 0.5, 1.5, 2.5, -0.5, 4.0, 1e300], shape)
    proposals[rng.random(shape) < 0.1] = rng.choice([np.nan, np.inf, -np.inf])
    expected = step_by_step(instance, demand, proposals)
    result = simulate_plan(instance, proposals, demand)
    for name, value in expected.items():
        if name not in ("cost_terminal_by_sku", "in_transit"):
            assert_bitwise(getattr(result, name), value, name)
    assert_bitwise(result.extras["cost_terminal_by_sku"], expected["cost_terminal_by_sku"], "t")
    _assert_cost_only_path(instance, demand, proposals, expected)
