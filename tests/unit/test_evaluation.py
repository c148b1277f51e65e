"""The evaluator: shared scenarios, metrics, the policy table, outputs, stage and CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from inventory.config import Config, EvaluationConfig, SimulationConfig
from inventory.dynamics import simulate
from inventory.evaluation import (
    HEADLINE_METRICS,
    evaluate_policies,
    headline_metrics,
    run_evaluation,
    write_evaluation,
)
from inventory.policies import (
    BoundsScenarios,
    DoNothing,
    EvaluatesInParallel,
    LimitsScenarios,
    ObservesDemand,
    OrderUpTo,
    Policy,
)
from inventory.policy_factories import POLICY_FACTORIES, PolicySources, build_policies
from inventory.scenarios import scenarios_for
from inventory.testing import make_instance

CLASSICAL = ("order_up_to", "base_stock", "s_S", "do_nothing")


def small_config(**evaluation) -> Config:
    return Config(
        simulation=SimulationConfig(
            n_eval_scenarios=30,
            n_train_scenarios=8,
            demand_model="poisson",
        ),
        evaluation=EvaluationConfig(**{"tune_max_passes": 3, "policies": CLASSICAL, **evaluation}),
    )


def test_metrics_match_direct_computation_on_shared_scenarios() -> None:
    instance = make_instance(4, 10, seed=1)
    demand = np.random.default_rng(0).poisson(instance.forecast, (25, 10, 4)).astype(float)
    policies = {"rule": OrderUpTo(), "none": DoNothing()}
    evaluation = evaluate_policies(instance, policies, demand, reference="rule")
    rule = simulate(instance, demand, OrderUpTo())
    none = simulate(instance, demand, DoNothing())
    metrics = evaluation.summaries["rule"].metrics
    assert metrics["total_cost"] == pytest.approx(rule.total_cost().mean())
    assert metrics["fill_rate"] == pytest.approx(rule.sales.sum() / demand.sum())
    assert metrics["cycle_service_level"] == pytest.approx((rule.lost == 0).mean())
    assert metrics["total_cost_ci_low"] < metrics["total_cost"] < metrics["total_cost_ci_high"]
    parts = [k for k in metrics if k.startswith("cost_")]
    assert sum(metrics[k] for k in parts) == pytest.approx(metrics["total_cost"])
    diff = none.total_cost() - rule.total_cost()
    other = evaluation.summaries["none"].metrics
    assert other["diff_to_reference"] == pytest.approx(diff.mean())
    half = other["diff_to_reference_ci_high"] - other["diff_to_reference"]
    assert half == pytest.approx(2.0639 * diff.std(ddof=1) / 5, rel=1e-3)  # t(0.975, 24)
    assert metrics["diff_to_reference"] == 0.0
    assert other["fill_rate"] < metrics["fill_rate"]


def test_unknown_reference_or_policy_is_a_clear_error() -> None:
    instance = make_instance(2, 10)
    with pytest.raises(ValueError, match="reference_policy"):
        evaluate_policies(instance, {"a": DoNothing()}, np.ones((1, 10, 2)), reference="b")
    with pytest.raises(ValueError, match="unknown"):
        build_policies(
            small_config(), instance, "deterministic", np.ones((1, 10, 2)), names=["nope"]
        )


def test_every_policy_name_has_a_factory_in_one_explicit_table() -> None:
    config = small_config()
    assert set(config.evaluation.policies) <= set(POLICY_FACTORIES)
    instance = make_instance(2, 10)
    built = build_policies(
        config, instance, "deterministic", np.ones((1, 10, 2)), names=["do_nothing", "order_up_to"]
    )
    assert list(built) == ["do_nothing", "order_up_to"]
    assert all(isinstance(policy, Policy) for policy in built.values())


def test_a_missing_input_is_an_error_that_names_it(tmp_path) -> None:
    instance = make_instance(2, 10)
    folder = tmp_path / "models" / "ppo_stochastic"
    with pytest.raises(ValueError, match=r"ppo_stochastic/policy.pt.*inventory train --mode"):
        build_policies(
            small_config(),
            instance,
            "stochastic",
            np.ones((1, 10, 2)),
            PolicySources(ppo_model=folder),
            names=["ppo"],
        )
    with pytest.raises(ValueError, match="policy ppo needs"):
        build_policies(small_config(), instance, "stochastic", np.ones((1, 10, 2)), names=["ppo"])


def test_optional_capabilities_are_declared_protocols() -> None:
    from inventory.config import MilpConfig
    from inventory.milp_policies import Hindsight, RollingHorizon

    hindsight = Hindsight(MilpConfig(), max_scenarios=2)
    assert isinstance(hindsight, ObservesDemand) and isinstance(hindsight, LimitsScenarios)
    assert isinstance(hindsight, BoundsScenarios)
    assert isinstance(RollingHorizon(MilpConfig()), EvaluatesInParallel)
    rule = OrderUpTo()
    assert not any(
        isinstance(rule, kind)
        for kind in (ObservesDemand, LimitsScenarios, BoundsScenarios, EvaluatesInParallel)
    )


def test_scenarios_are_seeded_and_separate_for_training() -> None:
    instance = make_instance(3, 10, seed=2)
    config = small_config()
    first, second = (
        scenarios_for(config, instance, "stochastic"),
        scenarios_for(config, instance, "stochastic"),
    )
    np.testing.assert_array_equal(first.evaluation, second.evaluation)
    assert first.evaluation.shape == (30, 10, 3) and first.training.shape == (8, 10, 3)
    assert not np.array_equal(first.evaluation[:8], first.training)
    deterministic = scenarios_for(config, instance, "deterministic")
    np.testing.assert_array_equal(deterministic.evaluation[0], instance.forecast)
    simulation = config.simulation.model_copy(update={"demand_model": "fitted"})
    fitted = config.model_copy(update={"simulation": simulation})
    assert "fallback" in scenarios_for(fitted, instance, "stochastic").description


def test_run_evaluation_writes_small_metrics_csv_and_figures(tmp_path) -> None:
    instance = make_instance(4, 10, seed=3)
    stress = {"demand_plus_30": np.rint(np.broadcast_to(instance.forecast * 1.3, (5, 10, 4)))}
    evaluation, paths = run_evaluation(
        small_config(),
        instance,
        "stochastic",
        stress_scenarios=stress,
        metrics_dir=tmp_path / "metrics",
        artifacts_dir=tmp_path / "artifacts",
        figures_dir=tmp_path / "figures",
    )
    payload = json.loads((tmp_path / "metrics" / "evaluation_stochastic.json").read_text())
    assert set(payload["policies"]) == {"order_up_to", "base_stock", "s_S", "do_nothing"}
    assert (tmp_path / "metrics" / "evaluation_stochastic.json").stat().st_size < 2_000
    # the metrics keep the headline (dvc metrics show stays readable), the detail the rest
    assert set(payload["policies"]["base_stock"]) <= set(HEADLINE_METRICS)
    detail = json.loads(Path(paths["detail"]).read_text())
    assert "demand_plus_30" in detail["stress"]
    assert "total_cost_ci_low" in detail["policies"]["base_stock"]
    costs = {n: m["total_cost"] for n, m in payload["policies"].items()}
    assert max(costs, key=costs.get) == "do_nothing"
    weekly = pd.read_csv(paths["weekly"])
    assert set(weekly.columns) >= {"policy", "week", "inventory", "target", "cost"}
    assert len(weekly) == 4 * 10
    assert pd.read_csv(paths["scenario_costs"]).shape == (30, 4)
    for key in ("inventory_figure", "cost_figure"):
        assert Path(paths[key]).read_bytes()[:4] == b"\x89PNG"


def test_write_evaluation_deterministic_has_point_intervals(tmp_path) -> None:
    instance = make_instance(3, 10, seed=4)
    evaluation = evaluate_policies(
        instance,
        {"rule": OrderUpTo(), "none": DoNothing()},
        scenarios_for(small_config(), instance, "deterministic").evaluation,
        reference="rule",
        mode="deterministic",
    )
    paths = write_evaluation(
        evaluation,
        instance,
        metrics_dir=tmp_path,
        artifacts_dir=tmp_path,
        figures_dir=tmp_path,
        n_plot_skus=2,
    )
    rule = json.loads(Path(paths["detail"]).read_text())["policies"]["rule"]
    assert rule["total_cost_ci_low"] == rule["total_cost"] == rule["total_cost_ci_high"]


def test_stage_and_cli_evaluate(tmp_path, monkeypatch) -> None:
    from typer.testing import CliRunner

    from inventory.cli import app

    monkeypatch.chdir(tmp_path)
    (tmp_path / "params.yaml").write_text(
        "data:\n  n_skus: 3\n  history_weeks: 60\n  horizon_weeks: 10\n"
        "simulation:\n  n_eval_scenarios: 12\n  n_train_scenarios: 4\n"
        "  demand_model: gamma\nevaluation:\n  tune_max_passes: 2\n"
        "  policies: [order_up_to, base_stock, s_S, do_nothing]\n"
    )
    assert CliRunner().invoke(app, ["data", "generate"]).exit_code == 0
    result = CliRunner().invoke(app, ["evaluate", "--mode", "both"])
    assert result.exit_code == 0, result.output
    assert "do_nothing" in result.output
    for mode in ("deterministic", "stochastic"):
        assert (tmp_path / "metrics" / f"evaluation_{mode}.json").exists()
        assert (tmp_path / "artifacts" / "evaluation" / mode / "costs.csv").exists()
        assert (tmp_path / "reports" / "figures" / f"evaluation_{mode}_costs.png").exists()
    bad = CliRunner().invoke(app, ["evaluate", "--mode", "sideways"])
    assert bad.exit_code != 0


def test_tuned_levels_are_reused_under_the_same_key(tmp_path, monkeypatch) -> None:
    """A second build (e.g. the recommend stage) takes the stored levels; new data re-tunes."""
    import inventory.policy_factories as factories

    sources = PolicySources(tuning_cache=tmp_path / "tuned")
    config = small_config()
    instance = make_instance(3, 10, seed=4)
    train = scenarios_for(config, instance, "stochastic").training
    first = {
        n: POLICY_FACTORIES[n](config, instance, "stochastic", train, sources) for n in ("s_S",)
    }
    assert len(list((tmp_path / "tuned").glob("*.json"))) == 2  # base_stock and s_S

    def no_tuning(*args, **kwargs):
        raise AssertionError("tuned again although the key matches")

    monkeypatch.setattr(factories, "tune_base_stock", no_tuning)
    monkeypatch.setattr(factories, "tune_s_s", no_tuning)
    again = POLICY_FACTORIES["s_S"](config, instance, "stochastic", train, sources)
    demand = scenarios_for(config, instance, "stochastic").evaluation
    np.testing.assert_array_equal(
        simulate(instance, demand, first["s_S"]).total_cost(),
        simulate(instance, demand, again).total_cost(),
    )
    with pytest.raises(AssertionError, match="tuned again"):
        POLICY_FACTORIES["base_stock"](config, instance, "stochastic", train[:4], sources)


def test_stage_names_the_missing_model_and_the_command(tmp_path, monkeypatch) -> None:
    from inventory import stages
    from inventory.config import config_from_dict

    monkeypatch.chdir(tmp_path)
    config = config_from_dict(
        {
            "data": {"n_skus": 3, "history_weeks": 60, "horizon_weeks": 10},
            "simulation": {"n_eval_scenarios": 4, "n_train_scenarios": 4},
            "evaluation": {"policies": ["order_up_to", "ppo"], "reference_policy": "order_up_to"},
        }
    )
    stages.generate(config)
    message = "policy ppo needs models/ppo_deterministic/policy.pt: run `inventory train --mode"
    with pytest.raises(ValueError, match=message):
        stages.evaluate(config, mode="deterministic")
    assert not (tmp_path / "metrics" / "evaluation_deterministic.json").exists()


class _FakeHindsight(DoNothing):
    """A 'perfect-information' row that orders nothing (so it is expensive), with bounds."""

    max_scenarios = None

    def __init__(self, bounds: float) -> None:
        self._bound = bounds
        self._n = 0

    def observe_demand(self, demand: np.ndarray) -> None:
        self._n = len(demand)

    @property
    def scenario_bounds(self) -> np.ndarray | None:
        return np.full(self._n, self._bound)


class _CountingSolver(OrderUpTo):
    """An order-up-to rule that reports solver health like a MILP policy."""

    def reset(self, instance, n_scenarios: int) -> None:
        super().reset(instance, n_scenarios)
        self.weeks = 0

    def act(self, instance, state, t: int) -> np.ndarray:
        self.weeks += state.on_hand.shape[0]
        return super().act(instance, state, t)

    @property
    def solver_health(self) -> dict:
        return {"solves": 3, "limit_hits": 1, "fallback_weeks": self.weeks, "own_gap": None}


def test_a_hindsight_row_dearer_than_an_implementable_policy_stops_the_evaluation() -> None:
    instance = make_instance(3, 8, seed=2)
    demand = np.random.default_rng(1).poisson(instance.forecast, (6, 8, 3)).astype(float)
    for bad in (_FakeHindsight(bounds=0.0), _FakeHindsight(bounds=-1.0)):
        with pytest.raises(ValueError, match="hindsight.*more than the implementable policy rule"):
            evaluate_policies(
                instance, {"rule": OrderUpTo(), "hindsight": bad}, demand, reference="rule"
            )


def test_a_bound_above_a_policys_cost_stops_the_evaluation() -> None:
    instance = make_instance(3, 8, seed=2)
    demand = np.random.default_rng(1).poisson(instance.forecast, (6, 8, 3)).astype(float)
    cheap = simulate(instance, demand, OrderUpTo()).total_cost()

    class CheapWithWrongBound(OrderUpTo):  # cheapest row, but its 'proof' is wrong
        max_scenarios = None

        def observe_demand(self, demand: np.ndarray) -> None:
            self.n = len(demand)

        @property
        def scenario_bounds(self) -> np.ndarray:
            return np.full(self.n, float(cheap.max()) * 10)

    policies = {"rule": OrderUpTo(review_period_weeks=2), "hindsight": CheapWithWrongBound()}
    with pytest.raises(ValueError, match="proven lower bound on scenario 0"):
        evaluate_policies(instance, policies, demand, reference="rule")


def test_solver_health_reaches_the_metrics_and_the_stress_sets() -> None:
    instance = make_instance(3, 8, seed=2)
    demand = np.random.default_rng(1).poisson(instance.forecast, (5, 8, 3)).astype(float)
    stressed = {"up": demand * 1.3, "down": demand * 0.7}
    evaluation = evaluate_policies(
        instance,
        {"rule": OrderUpTo(), "solver": _CountingSolver()},
        demand,
        reference="rule",
        stress_scenarios=stressed,
    )
    metrics = evaluation.summaries["solver"].metrics
    assert metrics["fallback_weeks"] == 5 * 8
    assert metrics["limit_hits"] == 1 and metrics["limit_hit"] is True
    assert "limit_hit" not in evaluation.summaries["rule"].metrics
    assert evaluation.stress["up"]["solver_fallback_weeks"] == 5 * 8
    assert evaluation.stress["down"]["solver_limit_hits"] == 1


def test_headline_metrics_keep_a_few_numbers_and_ppo_gain() -> None:
    detail = {
        "mode": "stochastic",
        "n_scenarios": 10,
        "reference": "base_stock",
        "policies": {
            "base_stock": {"total_cost": 100.0, "total_cost_ci_low": 90.0, "fill_rate": 0.9},
            "s_S": {"total_cost": 80.0, "fill_rate": 0.95},
            "ppo": {"total_cost": 60.0, "fill_rate": 0.97, "cost_overstock": 1.0},
            "milp_rolling": {"total_cost": 70.0, "limit_hit": True, "limit_hits": 2},
        },
        "stress": {"level_up": {"ppo": 1.0}},
    }
    headline = headline_metrics(detail)
    assert headline["ppo_gain_over_classical"] == pytest.approx(0.25)  # vs s_S
    assert headline["policies"]["base_stock"] == {"total_cost": 100.0, "fill_rate": 0.9}
    assert headline["policies"]["milp_rolling"]["limit_hit"] is True
    assert "stress" not in headline


def test_a_model_that_did_not_beat_its_anchor_is_flagged_in_metrics_and_report() -> None:
    from inventory.report import trust_notes

    class AnchorOnly(OrderUpTo):
        meta = {"beats_anchor": False}

    instance = make_instance(3, 8, seed=2)
    demand = np.random.default_rng(1).poisson(instance.forecast, (4, 8, 3)).astype(float)
    policies = {"rule": OrderUpTo(), "ppo": AnchorOnly()}
    evaluation = evaluate_policies(instance, policies, demand, reference="rule")
    metrics = evaluation.summaries["ppo"].metrics
    assert metrics["beats_anchor"] is False
    assert "beats_anchor" not in evaluation.summaries["rule"].metrics
    assert any("anchor" in note for note in trust_notes(metrics))
    assert not any("anchor" in note for note in trust_notes({"beats_anchor": True}))


def test_a_hindsight_row_within_its_target_gap_of_a_policy_passes() -> None:
    instance = make_instance(3, 8, seed=2)
    demand = np.random.default_rng(1).poisson(instance.forecast, (6, 8, 3)).astype(float)
    rule = simulate(instance, demand, OrderUpTo()).total_cost().mean()
    slower = simulate(instance, demand, OrderUpTo(review_period_weeks=2)).total_cost().mean()
    excess = slower / rule - 1
    assert excess > 0

    class NearlyOptimal(OrderUpTo):  # dearer than "rule" by `excess`, bound far below
        max_scenarios = None

        def observe_demand(self, demand: np.ndarray) -> None:
            self.n = len(demand)

        @property
        def scenario_bounds(self) -> np.ndarray:
            return np.zeros(self.n)

    policies = {"rule": OrderUpTo(), "hindsight": NearlyOptimal(review_period_weeks=2)}
    evaluate_policies(instance, policies, demand, reference="rule", hindsight_tolerance=excess)
    with pytest.raises(ValueError, match="by more than its target gap"):
        evaluate_policies(
            instance, policies, demand, reference="rule", hindsight_tolerance=excess / 2
        )
