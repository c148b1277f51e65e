"""Stress scenarios (inventory.stress)."""

from __future__ import annotations

import numpy as np
import pytest

from inventory.config import Config, StressConfig
from inventory.scenarios import DemandModel, sample_demand
from inventory.stress import stress_demand, stress_scenarios, stressed_mean
from inventory.testing import make_instance

STRESS = StressConfig()


@pytest.fixture
def instance():
    return make_instance(n_skus=4, horizon_weeks=52, seed=3)


def test_level_sets_scale_the_mean(instance) -> None:
    model = DemandModel.uniform("poisson", instance.n_skus)
    base = sample_demand(instance, model, 400, seed=5).mean()
    up = stress_demand(instance, model, "level_up", STRESS, 400, seed=5).mean()
    down = stress_demand(instance, model, "level_down", STRESS, 400, seed=5).mean()
    assert up / base == pytest.approx(STRESS.level_up_factor, rel=0.02)
    assert down / base == pytest.approx(STRESS.level_down_factor, rel=0.02)


def test_season_shift_moves_timing_not_volume(instance) -> None:
    mean = stressed_mean(instance.forecast, "season_shift", STRESS)
    np.testing.assert_allclose(mean.sum(axis=0), instance.forecast.sum(axis=0))
    np.testing.assert_allclose(mean[STRESS.season_shift_weeks], instance.forecast[0], rtol=1e-12)


def test_intermittent_keeps_the_mean_and_adds_zeros(instance) -> None:
    model = DemandModel.uniform("negative_binomial", instance.n_skus, 4.0)
    base = sample_demand(instance, model, 400, seed=8)
    sparse = stress_demand(instance, model, "intermittent", STRESS, 400, seed=8)
    assert sparse.mean() == pytest.approx(base.mean(), rel=0.03)
    assert (sparse == 0).mean() > (base == 0).mean() + 0.3


def test_stress_scenarios_are_seeded_and_named_from_params(instance) -> None:
    stress = STRESS.model_copy(update={"n_scenarios": 7, "scenarios": ("level_up", "intermittent")})
    config = Config().model_copy(update={"stress": stress})
    model = DemandModel.uniform("poisson", instance.n_skus)
    first = stress_scenarios(config, instance, model)
    again = stress_scenarios(config, instance, model)
    assert list(first) == ["level_up", "intermittent"]
    assert first["level_up"].shape == (7, instance.horizon_weeks, instance.n_skus)
    for name in first:
        np.testing.assert_array_equal(first[name], again[name])


def test_unknown_stress_set_is_a_value_error(instance) -> None:
    with pytest.raises(ValueError, match="stress.scenarios"):
        stressed_mean(instance.forecast, "tsunami", STRESS)
