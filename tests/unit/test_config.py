"""params.yaml loads; each kind of bad value is rejected with its dotted key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from inventory.config import Config, ConfigError, config_from_dict, config_to_dict, load_config

ROOT = Path(__file__).resolve().parents[2]


def shipped() -> dict:
    return yaml.safe_load((ROOT / "params.yaml").read_text())


def test_shipped_params_load_and_are_frozen() -> None:
    config = load_config(ROOT / "params.yaml")
    assert isinstance(config, Config)
    with pytest.raises(AttributeError):
        config.data.seed = 1  # type: ignore[misc]


def test_shipped_params_name_every_knob() -> None:
    """Every config field appears in params.yaml, so every knob is visible there."""
    assert config_to_dict(load_config(ROOT / "params.yaml")) == config_to_dict(
        config_from_dict(shipped())
    )
    defaults = config_to_dict(Config())
    raw = shipped()
    for group, values in defaults.items():
        assert group in raw, f"params.yaml lacks group {group}"
        missing = set(values) - set(raw[group])
        assert not missing, f"params.yaml lacks {group}.{sorted(missing)}"


@pytest.mark.parametrize(
    ("group", "key", "value", "expected"),
    [
        ("data", "n_skus", "many", "data.n_skus: got 'many', expected an integer"),
        ("data", "n_skus", 0, "data.n_skus: got 0, allowed: >= 1"),
        ("data", "container_volume", -5, "data.container_volume"),
        ("simulation", "demand_model", "normal", "allowed: one of 'poisson'"),
        ("simulation", "terminal_cost", "yes", "simulation.terminal_cost"),
        ("data", "locations", "L1", "data.locations: got 'L1', expected a list"),
    ],
)
def test_bad_values_name_their_key(group: str, key: str, value: object, expected: str) -> None:
    raw = shipped()
    raw[group][key] = value
    with pytest.raises(ConfigError, match=None) as info:
        config_from_dict(raw)
    assert expected in str(info.value)


def test_unknown_keys_are_rejected(tmp_path: Path) -> None:
    raw = shipped()
    raw["simulation"]["horizon_wekks"] = 10
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert "simulation.horizon_wekks" in message and "horizon_weeks" in message
    assert str(path) in message


def test_unknown_group_is_rejected() -> None:
    raw = shipped()
    raw["ppo_typo"] = {"x": 1}
    with pytest.raises(ConfigError, match="unknown key.*ppo_typo"):
        config_from_dict(raw)


def test_group_must_be_a_mapping() -> None:
    raw = shipped()
    raw["data"] = [1, 2]
    with pytest.raises(ConfigError, match="data: expected a mapping"):
        config_from_dict(raw)


def test_missing_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "absent.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("data: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(broken)


def test_ints_are_accepted_for_floats() -> None:
    raw = shipped()
    raw["data"]["container_volume"] = 2000
    assert config_from_dict(raw).data.container_volume == 2000.0


def test_ppo_total_timesteps_overrides_the_selected_profile() -> None:
    """`dvc exp run -S ppo.total_timesteps=N` changes the budget of whichever profile runs."""
    raw = shipped()
    assert config_from_dict(raw).ppo.run.total_timesteps == raw["ppo"]["quick"]["total_timesteps"]
    raw["ppo"]["total_timesteps"] = 12_345
    for profile in ("quick", "full"):
        raw["ppo"]["profile"] = profile
        run = config_from_dict(raw).ppo.run
        assert run.total_timesteps == 12_345
        assert run.n_envs == raw["ppo"][profile]["n_envs"]
    raw["ppo"]["total_timesteps"] = 0
    with pytest.raises(ConfigError, match="ppo.total_timesteps"):
        config_from_dict(raw)


def test_full_profile_of_deterministic_mode_is_its_own_group() -> None:
    """Deterministic mode trains `full` with `ppo.full_deterministic`; stochastic keeps `full`;
    `quick` is shared; `ppo.total_timesteps` overrides whichever group runs."""
    raw = shipped()
    raw["ppo"]["profile"] = "full"
    raw["ppo"]["full_deterministic"]["n_envs"] = 7
    ppo = config_from_dict(raw).ppo
    assert ppo.profile_for("deterministic") == "full_deterministic"
    assert ppo.run_for("deterministic").n_envs == 7
    assert ppo.run_for("stochastic").n_envs == raw["ppo"]["full"]["n_envs"] == ppo.run.n_envs
    raw["ppo"]["total_timesteps"] = 999
    assert config_from_dict(raw).ppo.run_for("deterministic").total_timesteps == 999
    raw["ppo"]["profile"] = "quick"
    ppo = config_from_dict(raw).ppo
    assert ppo.profile_for("deterministic") == "quick"
    assert ppo.run_for("deterministic") == ppo.run_for("stochastic")
