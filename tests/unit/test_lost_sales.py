"""Lost-sales oracle: value iteration against published optima, brute force and the simulator."""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pytest

from inventory.lost_sales import (
    LostSalesProblem,
    OraclePolicy,
    base_stock_table,
    best_base_stock,
    evaluate_base_stock,
    evaluate_policy,
    lost_sales_instance,
    simulated_cost_per_week,
    solve,
)
from inventory.policies import BaseStock

# Monte Carlo tolerance: 4 standard errors plus the demand truncation (1e-9 of mass).
SE_MULTIPLE = 4.0


@pytest.mark.parametrize(("lead_time", "optimum", "base_stock"), [(1, 4.04, 4.16), (2, 4.40, 4.64)])
def test_published_optima(lead_time: int, optimum: float, base_stock: float) -> None:
    """Zipkin (2008), Poisson mean 5, h = 1, p = 4: optimal and best base-stock cost."""
    problem = LostSalesProblem(5.0, lead_time, 1.0, 4.0)
    solution = solve(problem)
    assert solution.average_cost == pytest.approx(optimum, abs=0.005)
    assert best_base_stock(problem)[1] == pytest.approx(base_stock, abs=0.005)
    assert not solution.cap_reached


@pytest.mark.parametrize(("mean", "lead_time", "lost_sale"), [(2.0, 1, 9.0), (3.0, 2, 4.0)])
def test_value_iteration_reproduces_simulated_costs(
    mean: float, lead_time: int, lost_sale: float
) -> None:
    """The VI's own policy and a base-stock level, run by ``simulate``, cost what the
    Markov chain says, within Monte Carlo error."""
    problem = LostSalesProblem(mean, lead_time, 1.0, lost_sale)
    solution = solve(problem)
    level, level_cost, _ = best_base_stock(problem)
    instance = lost_sales_instance(problem, 2100, on_hand=level)
    for policy, exact in (
        (OraclePolicy(solution.policy), solution.average_cost),
        (BaseStock(np.array([float(level)])), level_cost),
    ):
        mean_cost, error = simulated_cost_per_week(
            instance, policy, n_scenarios=200, warmup_weeks=100, seed=3
        )
        assert abs(mean_cost - exact) <= SE_MULTIPLE * error + 1e-6, (policy, mean_cost, exact)


def test_optimum_is_exact_for_its_policy_and_below_base_stock() -> None:
    problem = LostSalesProblem(3.0, 2, 1.0, 9.0)
    solution = solve(problem)
    assert solution.lower_bound <= solution.average_cost <= solution.upper_bound
    assert evaluate_policy(problem, solution.policy) == pytest.approx(
        solution.average_cost, rel=1e-6
    )
    _, base_cost, costs = best_base_stock(problem)
    assert solution.average_cost < base_cost == min(costs.values())


def _plain_gain(problem: LostSalesProblem, orders: dict) -> float:
    """Long-run cost per week from the empty state, by plain Python and matrix powers."""
    pmf = problem.demand_pmf()
    states = sorted(orders)
    where = {state: i for i, state in enumerate(states)}
    matrix = np.zeros((len(states), len(states)))
    cost = np.zeros(len(states))
    for state in states:
        stock, pipeline = state[0], state[1:] + (orders[state],)
        for demand, prob in enumerate(pmf):
            end = max(stock - demand, 0)
            cost[where[state]] += prob * (
                problem.lost_sale_cost * max(demand - stock, 0) + problem.holding_cost * end
            )
            following = (end + pipeline[0],) + pipeline[1:]
            matrix[where[state], where[following]] += prob
    # The lazy chain's limit is the Cesaro limit of the chain (any policy, even multichain).
    limit = (matrix + np.eye(len(states))) / 2
    for _ in range(14):
        limit = limit @ limit
    return float(limit[where[(0,) * problem.lead_time_weeks]] @ cost)


@pytest.mark.parametrize("lead_time", [1, 2])
def test_value_iteration_matches_brute_force(lead_time: int) -> None:
    """Every stationary deterministic policy of a tiny case, enumerated."""
    cap = 4 if lead_time == 1 else 3
    problem = LostSalesProblem(1.0, lead_time, 1.0, 4.0, max_position=cap)
    states = [s for s in itertools.product(range(cap + 1), repeat=lead_time) if sum(s) <= cap]
    choices = [range(cap - sum(state) + 1) for state in states]
    gains = [
        _plain_gain(problem, dict(zip(states, picked, strict=True)))
        for picked in itertools.product(*choices)
    ]
    assert solve(problem, tolerance=1e-10).average_cost == pytest.approx(min(gains), rel=1e-7)


def test_base_stock_table_orders_up_to_the_level() -> None:
    problem = LostSalesProblem(2.0, 2, 1.0, 4.0)
    table = base_stock_table(problem, 5, size=8)
    assert table[0, 0] == 5 and table[2, 1] == 2 and table[4, 3] == 0
    assert evaluate_base_stock(problem, 5) == pytest.approx(evaluate_policy(problem, table))


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="lead_time_weeks"):
        LostSalesProblem(5.0, 0, 1.0, 4.0)
    with pytest.raises(ValueError, match="demand_mean"):
        LostSalesProblem(0.0, 1, 1.0, 4.0)
    problem = LostSalesProblem(2.0, 2, 1.0, 4.0)
    with pytest.raises(ValueError, match="shape"):
        evaluate_policy(problem, np.zeros(5, dtype=int))
    with pytest.raises(ValueError, match="box"):
        evaluate_policy(problem, np.full((5, 5), 4))
    other = lost_sales_instance(LostSalesProblem(2.0, 1, 1.0, 4.0), 10)
    with pytest.raises(ValueError, match="lead time 2"):
        OraclePolicy(solve(problem).policy).reset(other, 3)


def test_problem_from_instance_round_trips() -> None:
    problem = LostSalesProblem(3.0, 3, 2.0, 19.0)
    instance = lost_sales_instance(problem, 20)
    assert LostSalesProblem.from_instance(instance) == problem
    with pytest.raises(ValueError, match="ramp limit"):
        LostSalesProblem.from_instance(replace(instance, ramp_limit=np.array([3.0])))
    with pytest.raises(ValueError, match="safety stock"):
        LostSalesProblem.from_instance(replace(instance, safety_stock_weeks=np.array([1.0])))
