"""A tiny profile of params.yaml for pipeline tests: few SKUs, short horizon, few scenarios,
a few hundred PPO steps. Keys that the shipped params.yaml does not have are skipped, so the
profile follows the params file as groups are added."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

TINY: dict[str, dict[str, Any]] = {
    "data": {"n_skus": 4, "horizon_weeks": 8},
    "simulation": {"n_eval_scenarios": 8, "n_train_scenarios": 8},
    "evaluation": {"tune_grid_points": 5, "n_plot_skus": 2},
    "stress": {"n_scenarios": 4},
    "milp": {
        "safety_time_limit_s": 20.0,
        "rolling_lookahead_weeks": 3,
        "rolling_scenarios": 2,
        "rolling_safety_time_limit_s": 5.0,
        "saa_scenarios": 2,
        "hindsight_scenarios": 2,
    },
    "ppo": {
        "progress_bar": False,
        "total_timesteps": 256,
        "n_envs": 4,
        "n_steps": 16,
        "batch_size": 32,
        "n_epochs": 1,
        "eval_freq": 128,
        "n_eval_scenarios": 4,
        "checkpoint_freq": 128,
        "net_arch": [16, 16],
        "shared_net_arch": [16, 16],
    },
    "pipeline": {"retries": 0, "dask_workers": 2},
}


def tiny_params(source: Path) -> dict[str, Any]:
    """``source`` (a params.yaml) with the tiny profile applied where its keys exist."""
    params = yaml.safe_load(source.read_text())
    for group, values in TINY.items():
        if group not in params:
            continue
        for key, value in values.items():
            if key in params[group]:
                params[group][key] = value
        profile = params[group].get("quick") if group == "ppo" else None
        if isinstance(profile, dict):
            profile.update({k: v for k, v in values.items() if k in profile})
    return params


def write_tiny_params(source: Path, target: Path, **overrides: dict[str, Any]) -> Path:
    """Write the tiny profile of ``source`` to ``target`` with extra group overrides."""
    params = tiny_params(source)
    for group, values in overrides.items():
        params.setdefault(group, {}).update(values)
    target.write_text(yaml.safe_dump(params, sort_keys=False))
    return target
