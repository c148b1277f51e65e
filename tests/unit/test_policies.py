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
    _Batch,
    _coordinate_search,
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


def sku_by_sku_search(evaluate, params, axis, step, *, lower=-np.inf, max_passes=12):
    """The quadratic search the tuner had before issue 17, kept as an oracle: every
    candidate moves one SKU, with the others at the incumbent (6 x P candidates a pass)."""
    n_skus = params[axis].shape[0]
    per_sku, total = evaluate(*[p[None] for p in params])
    incumbent, best_total, best_per_sku = [p.copy() for p in params], float(total[0]), per_sku[0]
    moves = np.array([-3, -2, -1, 1, 2, 3])
    for _ in range(max_passes):
        tried = np.maximum(incumbent[axis] + moves[:, None] * step, lower)
        candidates = np.repeat(incumbent[axis][None, None], len(moves), 0).repeat(n_skus, 1)
        sku = np.arange(n_skus)
        candidates[:, sku, sku] = tried
        flat = candidates.reshape(-1, n_skus)
        others = [np.broadcast_to(p, flat.shape) for p in incumbent]
        others[axis] = flat
        flat_per_sku, totals = evaluate(*others)
        totals = totals.reshape(len(moves), n_skus)
        best_move = totals.argmin(axis=0)
        improves = totals[best_move, sku] < best_total - 1e-9
        combined = np.where(improves, tried[best_move, sku], incumbent[axis])
        trial = [p[None] for p in incumbent]
        trial[axis] = combined[None]
        combined_sku, combined_total = evaluate(*trial)
        single = np.unravel_index(totals.argmin(), totals.shape)
        if improves.sum() > 1 and combined_total[0] < min(best_total, totals[single]) - 1e-9:
            incumbent[axis], best_total, best_per_sku = combined, combined_total[0], combined_sku[0]
        elif totals[single] < best_total - 1e-9:
            index = single[0] * n_skus + single[1]
            incumbent[axis] = flat[index].copy()
            best_per_sku, best_total = flat_per_sku[index], float(totals[single])
        elif np.all(step <= 1):
            break
        else:
            step = np.maximum(1.0, np.floor(step / 2))
    return incumbent, best_per_sku, float(best_total)


def uncoupled_tuning_case(seed: int):
    """An instance whose SKUs share nothing (containers never bind, no container cost)."""
    instance = replace(make_instance(6, 16, seed=seed), container_volume=1e9, container_cost=0.0)
    train = np.random.default_rng(seed).poisson(instance.forecast, (30, 16, 6)).astype(float)
    levels = planner_levels(instance)
    step = np.maximum(1.0, np.rint(np.maximum(instance.forecast.mean(axis=0), 1.0) / 2))
    return instance, train, levels, step


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_linear_search_takes_the_sku_by_sku_moves_when_skus_share_nothing(seed: int) -> None:
    instance, train, levels, step = uncoupled_tuning_case(seed)
    base = _Batch(instance, train, lambda off: BaseStock(levels, off), True)
    start = [np.zeros(instance.n_skus)]
    linear = _coordinate_search(base, start, 0, step)
    oracle = sku_by_sku_search(base, start, 0, step)
    np.testing.assert_array_equal(linear[0][0], oracle[0][0])
    assert linear[2] == pytest.approx(oracle[2], rel=1e-12)
    assert not np.array_equal(linear[0][0], start[0])  # the search moved
    s_s = _Batch(instance, train, lambda off, q: SSPolicy(levels, q, off), True)
    params = [linear[0][0], np.zeros(instance.n_skus)]
    linear = _coordinate_search(s_s, params, 1, step, lower=0.0)
    oracle = sku_by_sku_search(s_s, params, 1, step, lower=0.0)
    np.testing.assert_array_equal(linear[0][1], oracle[0][1])


def test_linear_search_simulates_a_logarithmic_number_of_candidates_per_pass() -> None:
    n_skus, passes = 40, 3
    instance = make_instance(n_skus, 12, seed=5, capacity_share=0.7)
    train = np.random.default_rng(5).poisson(instance.forecast, (8, 12, n_skus)).astype(float)
    levels = planner_levels(instance)
    batch = _Batch(instance, train, lambda off: BaseStock(levels, off), True)
    candidates: list[int] = []

    def counted(*params: np.ndarray):
        candidates.append(params[0].shape[0])
        return batch(*params)

    step = np.full(n_skus, 2.0)
    (offset,), per_sku, total = _coordinate_search(
        counted, [np.zeros(n_skus)], 0, step, max_passes=passes
    )
    assert sum(candidates) <= 1 + passes * (6 + 1 + int(np.ceil(np.log2(n_skus))))
    # The capacity binds here, and the result is what it claims on the whole vector.
    check_per_sku, check_total = batch(offset[None])
    assert check_total[0] == total
    np.testing.assert_array_equal(check_per_sku[0], per_sku)
    assert total < batch(np.zeros((1, n_skus)))[1][0]


def test_tuning_is_deterministic() -> None:
    instance = make_instance(8, 16, seed=4, capacity_share=0.7)
    train = np.random.default_rng(4).poisson(instance.forecast, (20, 16, 8)).astype(float)
    first, second = tune_s_s(instance, train), tune_s_s(instance, train)
    np.testing.assert_array_equal(first.safety_units, second.safety_units)
    np.testing.assert_array_equal(first.order_quantity, second.order_quantity)
    assert first.cost == second.cost


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
