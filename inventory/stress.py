"""Stress scenarios: demand unlike the forecast the policies plan on.

Policies keep planning on ``instance.forecast``; only the demand they face changes. Each
set is drawn from the same fitted :class:`~inventory.scenarios.DemandModel` and seed as the
normal scenarios (common random numbers), around a stressed mean:

- ``level_up`` / ``level_down``: the mean times ``level_up_factor`` / ``level_down_factor``.
- ``season_shift``: the seasonal pattern shifted ``season_shift_weeks`` later. The forecast
  is split into a level (its mean per SKU) and a multiplicative profile; the profile is
  rolled over the horizon, so the total demand is unchanged and only its timing moves
  (for a 52-week horizon this is exactly the yearly season arriving later).
- ``intermittent``: demand occurs only in a share ``occurrence`` of weeks (independently
  per week and SKU); when it does, it is drawn around ``mean / occurrence``, so the mean is
  unchanged but zeros and lumps are more frequent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from inventory.config import Config, StressConfig
from inventory.instance import Instance
from inventory.scenarios import DemandModel, sample_demand

__all__ = ["STRESS_SETS", "stressed_mean", "stress_demand", "stress_scenarios"]


def _level(forecast: np.ndarray, factor: float) -> np.ndarray:
    return forecast * factor


def _season_shift(forecast: np.ndarray, weeks: int) -> np.ndarray:
    level = forecast.mean(axis=0, keepdims=True)
    profile = np.divide(forecast, level, out=np.ones_like(forecast), where=level > 0)
    return level * np.roll(profile, weeks, axis=0)


STRESS_SETS: dict[str, Callable[[np.ndarray, StressConfig], np.ndarray]] = {
    "level_up": lambda forecast, cfg: _level(forecast, cfg.level_up_factor),
    "level_down": lambda forecast, cfg: _level(forecast, cfg.level_down_factor),
    "season_shift": lambda forecast, cfg: _season_shift(forecast, cfg.season_shift_weeks),
    "intermittent": lambda forecast, cfg: forecast / cfg.occurrence,
}


def stressed_mean(forecast: np.ndarray, name: str, config: StressConfig) -> np.ndarray:
    """The mean demand (T, P) of stress set ``name`` (for ``intermittent``: given a demand week)."""
    if name not in STRESS_SETS:
        raise ValueError(f"stress.scenarios: unknown {name!r}; allowed: {', '.join(STRESS_SETS)}")
    return STRESS_SETS[name](forecast, config)


def stress_demand(
    instance: Instance,
    model: DemandModel,
    name: str,
    config: StressConfig,
    n_scenarios: int,
    seed: int,
) -> np.ndarray:
    """Demand scenarios (N, T, P) of stress set ``name`` (see the module docstring)."""
    mean = stressed_mean(instance.forecast, name, config)
    demand = sample_demand(replace(instance, forecast=mean), model, n_scenarios, seed)
    if name == "intermittent":
        occurs = np.random.default_rng([seed, 1]).random(demand.shape) < config.occurrence
        demand = np.where(occurs, demand, 0.0)
    return demand


def stress_scenarios(
    config: Config, instance: Instance, model: DemandModel
) -> dict[str, np.ndarray]:
    """Every stress set of ``config.stress.scenarios``: name -> demand (N, T, P).

    Args:
        config: The validated config (``stress`` group; seed ``simulation.eval_seed``).
        instance: The planning instance (its forecast is the base mean).
        model: The demand model the evaluator uses
            (:func:`inventory.scenarios.demand_model_for`: fitted, or its fallback).
    """
    stress = config.stress
    return {
        name: stress_demand(
            instance, model, name, stress, stress.n_scenarios, config.simulation.eval_seed
        )
        for name in stress.scenarios
    }
