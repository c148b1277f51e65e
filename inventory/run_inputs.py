"""What decides a training run's result, recorded in each checkpoint and checked on resume.

A resumed run equals one that was not stopped only when it continues with the settings and
data the checkpoint was made with. :func:`run_inputs` lists them: the params the ``train``
stage reads (``dvc.yaml``: ``simulation``, ``env``, ``ppo``, ``data.horizon_weeks``,
``evaluation.tune_max_passes``, ``forecast.fallback_dispersion``) as flat dotted keys with
their values, and fingerprints of the data (the location's planning instance and the
demand model of stochastic mode). Of ``ppo``, only the mode's own settings and profile
count; ``progress_bar`` and ``checkpoint_freq`` change no result and are left out.
:func:`check_same_inputs` compares a checkpoint's record with the current one and names
what differs.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection
from pathlib import Path
from typing import Any

from inventory.config import Config, config_to_dict
from inventory.instance import Instance

__all__ = ["run_inputs", "check_same_inputs"]

_PPO_SHARED_IGNORED = ("progress_bar", "modes", "quick", "full", "full_deterministic")
_PROFILE_IGNORED = ("checkpoint_freq",)
_SHOWN = 6  # differing keys named in the message


def _flat(prefix: str, values: dict[str, Any], skip: Collection[str] = ()) -> dict[str, Any]:
    return {f"{prefix}.{key}": value for key, value in values.items() if key not in skip}


def _settings(config: Config, mode: str) -> dict[str, Any]:
    ppo = config_to_dict(config.ppo)
    profile = config.ppo.profile_for(mode)
    settings = {
        **_flat("simulation", config_to_dict(config.simulation)),
        **_flat("env", config_to_dict(config.env)),
        **_flat("ppo", ppo, _PPO_SHARED_IGNORED),
        **_flat(f"ppo.modes.{mode}", ppo["modes"][mode]),
        **_flat(f"ppo.{profile}", ppo[profile], _PROFILE_IGNORED),
        "data.horizon_weeks": config.data.horizon_weeks,
        "evaluation.tune_max_passes": config.evaluation.tune_max_passes,
        "forecast.fallback_dispersion": config.forecast.fallback_dispersion,
    }
    return json.loads(json.dumps(settings))  # as a checkpoint's state.json gives it back


def _instance_id(instance: Instance) -> str:
    digest = hashlib.sha256(instance.fingerprint())
    digest.update(json.dumps([instance.location, list(instance.skus)]).encode())
    return digest.hexdigest()[:16]


def run_inputs(config: Config, instance: Instance, mode: str, demand_model: str) -> dict[str, Any]:
    """The settings and data fingerprints that decide a run (module docstring).

    Args:
        config: The validated config.
        instance: The location's planning instance.
        mode: ``deterministic`` or ``stochastic``.
        demand_model: The demand model's fingerprint
            (:func:`~inventory.scenarios.demand_model_id`).

    Returns:
        ``{"settings": {dotted key: value}, "data": {"instance": id, "demand_model": id}}``,
        plain JSON.
    """
    return {
        "settings": _settings(config, mode),
        "data": {"instance": _instance_id(instance), "demand_model": demand_model},
    }


_DATA_NAMES = {
    "instance": "the data of location {location} (catalog, forecast, purchase orders or warehouse)",
    "demand_model": "the demand model (artifacts/demand_model.json or simulation.demand_model)",
}


def _differences(recorded: dict[str, Any], current: dict[str, Any], location: str) -> list[str]:
    then, now = recorded.get("settings", {}), current["settings"]
    found = [
        f"{key} was {then.get(key, 'unset')!r}, now {now.get(key, 'unset')!r}"
        for key in sorted(set(then) | set(now))
        if then.get(key) != now.get(key)
    ]
    then_data = recorded.get("data", {})
    for key, value in current["data"].items():
        if then_data.get(key) != value:
            found.append(_DATA_NAMES.get(key, key).format(location=location))
    return found


def check_same_inputs(
    checkpoint: Path, recorded: Any, current: dict[str, Any], location: str
) -> None:
    """Refuse to resume from ``checkpoint`` when it was made with other settings or data.

    Args:
        checkpoint: The checkpoint folder (named in the message).
        recorded: Its ``inputs`` record (None for a checkpoint of an older version).
        current: :func:`run_inputs` of the run about to resume.
        location: The location, for the message.

    Raises:
        ValueError: one line naming the checkpoint and what differs, and what to do.
    """
    todo = "train without --resume to start over, or restore the params and data it was made with"
    if not isinstance(recorded, dict) or not isinstance(recorded.get("settings"), dict):
        raise ValueError(
            f"checkpoint {checkpoint} records no settings (written by an older version); "
            "train without --resume"
        )
    found = _differences(recorded, current, location)
    if found:
        more = f" and {len(found) - _SHOWN} more" if len(found) > _SHOWN else ""
        raise ValueError(
            f"checkpoint {checkpoint} was made with other settings or data: "
            f"{'; '.join(found[:_SHOWN])}{more}. A resume continues the same run: {todo}"
        )
