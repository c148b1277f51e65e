"""Policies: the planners' rule, tuned base-stock and (s, S), plan replay, do-nothing."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from scipy import stats

from inventory.dynamics import initial_state, simulate
from inventory.policies import (
    BaseStock,
    DoNothing,
    OrderUpTo,
    PlanReplay,
    Policy,
    SSPolicy,
    cover_levels,
    inventory_position,
    planner_levels,
    tune_base_stock,
    tune_s_s,
)
from inventory.scenarios import deterministic_demand
from inventory.testing import make_instance


def newsvendor_instance(horizon: int):
    """Snyder & Shen Example 4.7 as one SKU: h = 1, p = 4, lead time 0, no safety stock."""
    base = make_instance(1, horizon, seed=0, open_pos=False)
    return replace(
        base,
        forecast=np.full((horizon, 1), 6.0),
        safety_stock_weeks=np.array([0.0]),
        lead_time_weeks=np.array([0]),
        lost_sale_cost=np.array([4.0]),
        overstock_cost=np.array([1.0]),
        understock_cost=np.array([0.0]),
        ramp_limit=np.array([1000.0]),
        container_volume=1e6,
        on_hand=np.array([8.0]),
        last_order=np.array([6.0]),
        arrivals=np.zeros((horizon, 1)),
    )


def newsvendor_cost(level: int, mean: float = 6.0, h: float = 1.0, p: float = 4.0) -> float:
    demand = np.arange(0, 200)
    pmf = stats.poisson.pmf(demand, mean)
    return float(pmf @ (h * np.maximum(level - demand, 0) + p * np.maximum(demand - level, 0)))


def test_closed_form_oracle_is_the_published_example() -> None:
    costs = {level: newsvendor_cost(level) for level in range(4, 13)}
    assert min(costs, key=costs.get) == 8
    assert costs[8] == pytest.approx(3.5701, abs=1e-4)


def test_tuner_reproduces_textbook_base_stock_level_and_cost() -> None:
    instance = newsvendor_instance(100)
    rng = np.random.default_rng(0)
    train = rng.poisson(6.0, (300, 100, 1)).astype(float)
    tuned = tune_base_stock(instance, train, terminal=False)
    np.testing.assert_array_equal(tuned.policy.level(0), [8.0])
    fresh = rng.poisson(6.0, (400, 100, 1)).astype(float)
    weekly = simulate(instance, fresh, tuned.policy, terminal=False).total_cost() / 100
    error = weekly.std(ddof=1) / np.sqrt(len(weekly))
    assert abs(weekly.mean() - 3.5701) < 4 * error
    assert error < 0.02


def test_tuning_never_worse_than_its_start_on_training() -> None:
    instance = make_instance(4, 20, seed=3)
    train = np.random.default_rng(1).poisson(instance.forecast, (40, 20, 4)).astype(float)
    base = tune_base_stock(instance, train)
    s_s = tune_s_s(instance, train, base=base)
    rule = simulate(instance, train, OrderUpTo()).total_cost().mean()
    assert np.all(s_s.order_quantity >= 0)
    assert s_s.cost <= base.cost + 1e-9 <= rule + 2e-9
    tuned = simulate(instance, train, base.policy).total_cost().mean()
    assert tuned == pytest.approx(base.cost)
    assert isinstance(s_s.policy, SSPolicy)


def test_every_policy_follows_the_protocol() -> None:
    instance = make_instance(3, 6)
    for policy in (
        OrderUpTo(),
        BaseStock(np.ones(3)),
        SSPolicy(np.ones(3), np.ones(3)),
        PlanReplay(np.ones((6, 3))),
        DoNothing(),
    ):
        assert isinstance(policy, Policy)
        result = simulate(instance, deterministic_demand(instance, 2), policy)
        assert result.orders.shape == (2, 6, 3)


def test_cover_levels_handle_fractional_weeks_and_the_horizon_end() -> None:
    instance = replace(make_instance(2, 4), forecast=np.array([[1.0, 2], [3, 4], [5, 6], [7, 8]]))
    levels = cover_levels(instance, np.array([1.5, 2.0]))
    np.testing.assert_allclose(levels[:, 0], [1 + 1.5, 3 + 2.5, 5 + 3.5, 7 + 0.5 * 4])
    np.testing.assert_allclose(levels[:, 1], [2 + 4, 4 + 6, 6 + 8, 8 + 5])


def test_order_up_to_orders_up_to_cover_minus_position() -> None:
    instance = make_instance(3, 8, seed=2)
    policy = OrderUpTo(review_period_weeks=2)
    policy.reset(instance, 1)
    state = initial_state(instance, 1)
    expected = planner_levels(instance, 2)[0] - inventory_position(instance, state)
    np.testing.assert_allclose(policy.act(instance, state, 0), np.maximum(expected, 0))
    cover = instance.lead_time_weeks + 2 + instance.safety_stock_weeks
    np.testing.assert_allclose(planner_levels(instance, 2), cover_levels(instance, cover))
    position = instance.on_hand + instance.arrivals.sum(axis=0)
    np.testing.assert_allclose(inventory_position(instance, state)[0], position)


def test_s_s_orders_only_below_the_reorder_point() -> None:
    instance = make_instance(2, 3)
    state = initial_state(instance, 1)
    state.on_hand[:] = [5.0, 20.0]
    instance = replace(instance, arrivals=np.zeros((3, 2)))
    policy = SSPolicy(np.array([10.0, 10.0]), np.array([20.0, 20.0]))
    policy.reset(instance, 1)
    np.testing.assert_array_equal(policy.act(instance, state, 0), [[25.0, 0.0]])


def test_plan_replay_checks_its_shape() -> None:
    instance = make_instance(3, 6)
    with pytest.raises(ValueError, match="does not match"):
        PlanReplay(np.ones((5, 3))).reset(instance, 1)
    with pytest.raises(ValueError, match="scenarios"):
        PlanReplay(np.ones((4, 6, 3))).reset(instance, 2)
