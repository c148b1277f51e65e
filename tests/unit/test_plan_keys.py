"""A stored MILP plan, and the dvc solve stage, depend on exactly the settings a plan
solve reads: a rolling-horizon or hindsight knob never voids the plan nor re-runs the
solve stage."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from inventory.config import MilpConfig, default_config
from inventory.milp_policies import (
    PLAN_SETTINGS,
    OpenLoopPlan,
    plan_key,
    saa_settings,
)
from inventory.testing import make_instance, store_floor_plan

ROOT = Path(__file__).resolve().parents[2]
EXACT = {"mip_gap": 0.0, "safety_time_limit_s": 30.0, "method": "monolithic"}
# values of every non-plan field unlike the project's params.yaml
NOT_READ_BY_A_PLAN = {
    "rolling_lookahead_weeks": 3,
    "rolling_scenarios": 2,
    "rolling_eval_scenarios": 5,
    "rolling_mip_gap": 0.2,
    "rolling_demand": "forecast",
    "rolling_safety_time_limit_s": 7.0,
    "hindsight_scenarios": 9,
    "hindsight_method": "monolithic",
    "hindsight_lagrangian_iterations": 4,
    "saa_scenarios": 7,
    "saa_method": "relaxed",
    "saa_solver": "glpk",
    "saa_lagrangian_iterations": 5,
}
# another valid value of every plan field
OTHER_PLAN_VALUE = {
    "solver": "glpk",
    "mip_gap": 0.02,
    "method": "lagrangian",
    "monolithic_max_cells": 7,
    "safety_time_limit_s": 12.0,
    "max_nodes": 11,
    "lagrangian_iterations": 3,
    "lagrangian_workers": 1,
    "lagrangian_subproblem_gap": 0.001,
    "lagrangian_initial_prices": "zero",
    "relaxed_fallback": False,
    "relaxed_rounds": 2,
}


def test_every_config_field_is_either_a_plan_setting_or_not_read_by_a_plan() -> None:
    assert set(PLAN_SETTINGS) == set(OTHER_PLAN_VALUE)
    assert set(MilpConfig.model_fields) == set(PLAN_SETTINGS) | set(NOT_READ_BY_A_PLAN)


def test_plan_settings_are_the_fields_the_solver_package_reads() -> None:
    """Every ``settings.<field>`` read under inventory/milp is a plan setting and back."""
    read = set()
    for source in (ROOT / "inventory" / "milp").glob("*.py"):
        read |= set(re.findall(r"\bsettings\.([a-z_]+)\b", source.read_text()))
    read &= set(MilpConfig.model_fields)
    assert read == set(PLAN_SETTINGS)


def test_plan_key_ignores_settings_no_plan_solve_reads() -> None:
    instance = make_instance(2, 4, seed=3)
    settings = MilpConfig(solver="highs", **EXACT)
    key = plan_key(instance, instance.forecast[None], settings, True)
    for name, value in NOT_READ_BY_A_PLAN.items():
        other = settings.model_copy(update={name: value})
        assert plan_key(instance, instance.forecast[None], other, True) == key, name


@pytest.mark.parametrize("name", sorted(OTHER_PLAN_VALUE))
def test_plan_key_changes_with_every_plan_setting(name: str) -> None:
    instance = make_instance(2, 4, seed=3)
    settings = MilpConfig(solver="highs", **EXACT)
    other = settings.model_copy(update={name: OTHER_PLAN_VALUE[name]})
    assert getattr(other, name) != getattr(settings, name)
    key = plan_key(instance, instance.forecast[None], settings, True)
    assert plan_key(instance, instance.forecast[None], other, True) != key


def test_sample_average_key_follows_the_saa_settings() -> None:
    instance = make_instance(2, 4, seed=3)
    settings = MilpConfig(solver="highs", **EXACT)

    config = default_config()

    def key(milp: MilpConfig) -> str:
        saa = saa_settings(config.model_copy(update={"milp": milp}))
        return plan_key(instance, instance.forecast[None], saa, True)

    base = key(settings)
    assert key(settings.model_copy(update={"saa_method": "relaxed"})) != base
    assert key(settings.model_copy(update={"method": "lagrangian"})) == base
    assert key(settings.model_copy(update={"rolling_mip_gap": 0.3})) == base


def test_a_rolling_horizon_setting_keeps_the_stored_plan(tmp_path) -> None:
    """The evaluator replays the solve stage's plan after a rolling-horizon change."""
    instance = make_instance(2, 4, seed=3)
    settings = MilpConfig(solver="highs", **EXACT)
    solved, stored = store_floor_plan(tmp_path, instance, settings)
    changed = settings.model_copy(update={"rolling_safety_time_limit_s": 5.0})

    replayed = OpenLoopPlan(instance, changed, terminal=True, stored=solved)

    assert replayed.result.details["loaded_from"].endswith("plan_deterministic.csv")
    np.testing.assert_array_equal(replayed.plan, stored)


def _stage_params() -> dict[str, set[str]]:
    from dvc.repo import Repo

    with Repo(str(ROOT)) as repo:
        return {
            stage.addressing: {
                name for dep in stage.deps if hasattr(dep, "params") for name in dep.params
            }
            for stage in repo.index.stages
            if Path(stage.path) == ROOT / "dvc.yaml"
        }


def test_dvc_solve_stages_read_exactly_the_plan_settings() -> None:
    params = _stage_params()
    deterministic = {p for p in params["solve@deterministic"] if p.startswith("milp")}
    stochastic = {p for p in params["solve@stochastic"] if p.startswith("milp")}

    assert deterministic == {f"milp.{name}" for name in PLAN_SETTINGS}
    saa = {"solver", "method", "lagrangian_iterations"}
    expected = {f"milp.{n}" for n in PLAN_SETTINGS if n not in saa | {"relaxed_fallback"}}
    assert stochastic == expected | {f"milp.saa_{n}" for n in saa} | {"milp.saa_scenarios"}
