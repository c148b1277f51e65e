"""params.yaml loads; it is the one source of default values; each kind of bad value is
rejected with its dotted key; a partial file merges over params.yaml."""

from __future__ import annotations

import typing
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel

from inventory import config as config_module
from inventory.config import (
    Config,
    ConfigError,
    MilpConfig,
    config_from_dict,
    config_to_dict,
    load_config,
)

ROOT = Path(__file__).resolve().parents[2]


def shipped() -> dict:
    return yaml.safe_load((ROOT / "params.yaml").read_text())


def test_shipped_params_load_and_are_frozen() -> None:
    config = load_config(ROOT / "params.yaml")
    assert isinstance(config, Config)
    with pytest.raises(ValueError, match="frozen"):
        config.data.seed = 1  # type: ignore[misc]


def _keys(model: type[BaseModel], prefix: str = "") -> set[str]:
    keys = set()
    for name, field in model.model_fields.items():
        kind = field.annotation
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            keys |= _keys(kind, f"{prefix}{name}.")
        else:
            keys.add(prefix + name)
    return keys


def _leaves(raw: dict, prefix: str = "") -> set[str]:
    keys = set()
    for name, value in raw.items():
        if isinstance(value, dict):
            keys |= _leaves(value, f"{prefix}{name}.")
        else:
            keys.add(prefix + name)
    return keys


def test_params_yaml_states_every_knob_and_code_states_no_default() -> None:
    """Every field is a key of params.yaml and vice versa; no field has a default value."""
    assert _keys(Config) == _leaves(shipped())
    stack = [Config]
    while stack:
        model = stack.pop()
        for name, field in model.model_fields.items():
            assert field.is_required(), f"{model.__name__}.{name} has a default in code"
            if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
                stack.append(field.annotation)
    assert config_to_dict(load_config(ROOT / "params.yaml")) == config_to_dict(
        config_from_dict(shipped())
    )


def test_params_yaml_lines_are_short() -> None:
    lines = (ROOT / "params.yaml").read_text().splitlines()
    assert max(len(line) for line in lines) <= 100


@pytest.mark.parametrize(
    ("group", "key", "value", "expected"),
    [
        ("data", "n_skus", "many", "n_skus: must be an integer >= 1 and <= 10000 (got 'many')"),
        ("data", "n_skus", 0, "data.n_skus: must be an integer >= 1 and <= 10000 (got 0)"),
        ("data", "n_skus", True, "data.n_skus: must be an integer >= 1 and <= 10000 (got True)"),
        ("data", "container_volume", -5, "data.container_volume: must be a finite number > 0"),
        ("data", "container_volume", float("inf"), "container_volume: must be a finite number"),
        ("milp", "safety_time_limit_s", -1, "safety_time_limit_s: must be a finite number > 0"),
        ("milp", "safety_time_limit_s", float("inf"), "> 0 and <= 86400 (got inf)"),
        ("milp", "rolling_safety_time_limit_s", float("nan"), "> 0 and <= 86400 (got nan)"),
        ("env", "reward_scale", float("inf"), "reward_scale: must be a finite number > 0 or null"),
        ("forecast", "quantiles", [0.9, 0.1], "forecast.quantiles: must be increasing without"),
        ("forecast", "quantiles", [0.5, 0.5], "forecast.quantiles: must be increasing without"),
        ("forecast", "quantiles", [0.5, 1.0], "quantiles: must lie strictly between 0 and 1"),
        ("forecast", "quantiles", [], "forecast.quantiles: must hold at least one quantile"),
        ("forecast", "quantiles", ["a"], "forecast.quantiles[0]: must be a number (got 'a')"),
        ("forecast", "quantiles", [0.101, 0.104], "two share one: ['q10', 'q10']"),
        ("simulation", "demand_model", "normal", "must be one of 'poisson'"),
        ("simulation", "terminal_cost", "yes", "simulation.terminal_cost: must be true or false"),
        ("data", "locations", "L1", "data.locations: must be a list (got 'L1')"),
        ("data", "locations", [1], "data.locations[0]: must be a string (got 1)"),
    ],
)
def test_bad_values_name_their_key(group: str, key: str, value: object, expected: str) -> None:
    raw = shipped()
    raw[group][key] = value
    with pytest.raises(ConfigError) as info:
        config_from_dict(raw)
    assert expected in str(info.value)


def test_unknown_keys_are_rejected(tmp_path: Path) -> None:
    raw = shipped()
    raw["ppo"]["quick"]["foo"] = 10
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert "ppo.quick.foo: unknown key; allowed: total_timesteps, n_envs" in message
    assert str(path) in message


def test_unknown_group_is_rejected() -> None:
    raw = shipped()
    raw["ppo_typo"] = {"x": 1}
    with pytest.raises(ConfigError, match="ppo_typo: unknown key; allowed: data, simulation"):
        config_from_dict(raw)


def test_group_must_be_a_mapping() -> None:
    raw = shipped()
    raw["data"] = [1, 2]
    with pytest.raises(ConfigError, match="data: must be a mapping of keys"):
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


def test_a_partial_file_is_merged_over_params_yaml(tmp_path: Path) -> None:
    partial = tmp_path / "mine.yaml"
    partial.write_text("milp:\n  solver: highs\nppo:\n  quick:\n    n_envs: 16\n")
    config = load_config(partial)
    full = load_config(ROOT / "params.yaml")
    assert config.milp.solver == "highs" and config.ppo.quick.n_envs == 16
    assert config.milp.safety_time_limit_s == full.milp.safety_time_limit_s
    assert config.ppo.quick.batch_size == full.ppo.quick.batch_size
    assert config.ppo.modes == full.ppo.modes
    assert MilpConfig(solver="highs").mip_gap == full.milp.mip_gap


def test_without_params_yaml_a_partial_file_names_the_missing_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(config_module, "PROJECT_PARAMS", tmp_path / "absent.yaml")
    config_module._project_raw.cache_clear()
    try:
        with pytest.raises(ConfigError, match=r"missing keys .*: data, simulation, env") as info:
            config_from_dict({"milp": {"solver": "highs"}})
        assert "milp.mip_gap" in str(info.value) and "milp.solver" not in str(info.value)
        raw = shipped()
        del raw["ppo"]["quick"]["gamma"]
        with pytest.raises(ConfigError, match=r"^ppo.quick.gamma: missing key"):
            config_from_dict(raw)
        assert isinstance(config_from_dict(shipped()), Config)
    finally:
        config_module._project_raw.cache_clear()


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


def test_full_profile_of_each_mode_is_named_in_its_mode_group() -> None:
    """Deterministic mode trains `full` with `ppo.full_deterministic`; stochastic keeps `full`;
    `quick` is shared; `ppo.total_timesteps` overrides whichever group runs."""
    raw = shipped()
    raw["ppo"]["profile"] = "full"
    raw["ppo"]["full_deterministic"]["n_envs"] = 128
    ppo = config_from_dict(raw).ppo
    assert ppo.profile_for("deterministic") == "full_deterministic"
    assert ppo.run_for("deterministic").n_envs == 128
    assert ppo.run_for("stochastic").n_envs == raw["ppo"]["full"]["n_envs"] == ppo.run.n_envs
    raw["ppo"]["total_timesteps"] = 999
    assert config_from_dict(raw).ppo.run_for("deterministic").total_timesteps == 999
    raw["ppo"]["profile"] = "quick"
    ppo = config_from_dict(raw).ppo
    assert ppo.profile_for("deterministic") == "quick"
    assert ppo.run_for("deterministic") == ppo.run_for("stochastic")
    with pytest.raises(ValueError, match="mode must be one of deterministic, stochastic"):
        ppo.mode("both")


def test_aliases_within_the_limits_load_and_bombs_do_not(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text("forecast: {quantiles: &q [0.2, 0.8]}\nppo: {quick: {net_arch: [16, 16]}}\n")
    assert load_config(path).forecast.quantiles == (0.2, 0.8)
    levels = "".join(f", &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 6))
    path.write_text(f"forecast: {{models: [&a0 [x]{levels}]}}\n")
    with pytest.raises(ConfigError, match=r"mine.yaml: holds more than 100,000 values"):
        load_config(path)
    path.write_text("[" * 40 + "]" * 40)
    with pytest.raises(ConfigError, match=r"mine.yaml: nested deeper than 32 levels at line 1"):
        load_config(path)


def test_a_key_given_twice_is_refused_with_both_lines(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text("data:\n  seed: 1\n  n_skus: 4\n  n_skus: 6\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == f"{path}: data.n_skus: given twice (lines 3 and 4); keep one"
    path.write_text("ppo: {quick: {n_envs: 8}}\nppo: {seed: 2}\n")
    with pytest.raises(ConfigError, match=r"mine.yaml: ppo: given twice \(lines 1 and 2\)"):
        load_config(path)
    path.write_text("data:\n  <<: {n_skus: 4, seed: 3}\n  n_skus: 5\n")  # a merge: not a repeat
    assert load_config(path).data.n_skus == 5


@pytest.mark.parametrize("text", ["", "\n", "# only a comment\n", "{}\n"])
def test_a_params_file_without_keys_is_refused(tmp_path: Path, text: str) -> None:
    """An empty file would otherwise run silently on every value of the project's file."""
    path = tmp_path / "mine.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=r"mine.yaml: holds no keys \(empty, or only comments\)"):
        load_config(path)


def test_a_folder_is_not_a_params_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"is a folder, not a params file"):
        load_config(tmp_path)


@pytest.mark.parametrize(
    ("group", "key", "value", "expected"),
    [
        ("evaluation", "policies", ["order_up_to", "../x"], "evaluation.policies[1]: must be one"),
        ("stress", "scenarios", ["../x"], "stress.scenarios[0]: must be one of 'level_up'"),
        ("data", "start_week", "soon", "data.start_week: must be a date YYYY-MM-DD, a Monday"),
        ("data", "start_week", "2023-05-03", "data.start_week: 2023-05-03 is a Wednesday"),
        ("data", "locations", [], "data.locations: empty; list at least one location id"),
        ("evaluation", "reference_policy", "nosuch", "reference_policy: must be one of 'order_"),
        ("drift", "method", "nosuch", "drift.method: must be one of 'anderson'"),
        ("forecast", "models", [], "forecast.models: empty; list at least one of seasonal_naive"),
        ("forecast", "models", ["nosuch"], "forecast.models[0]: must be one of 'seasonal_naive'"),
        ("recommend", "policy", "nosuch", "recommend.policy: must be one of 'best', 'order_up_to'"),
        ("recommend", "policy", "../../x", "recommend.policy: must be one of 'best'"),
    ],
)
def test_names_are_checked_at_load(group: str, key: str, value: object, expected: str) -> None:
    raw = shipped()
    raw[group][key] = value
    with pytest.raises(ConfigError) as info:
        config_from_dict(raw)
    assert expected in str(info.value)


def test_the_reference_policy_must_be_evaluated() -> None:
    raw = shipped()
    raw["evaluation"]["policies"] = ["base_stock", "do_nothing"]
    raw["evaluation"]["reference_policy"] = "order_up_to"
    with pytest.raises(ConfigError, match="reference_policy 'order_up_to' is not in evaluation"):
        config_from_dict(raw)


def test_start_week_accepts_a_yaml_date_on_a_monday(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text("data: {start_week: 2023-05-01}\n")  # unquoted: YAML reads a date
    assert load_config(path).data.start_week == "2023-05-01"
    path.write_text("data: {start_week: 2023-05-02}\n")
    with pytest.raises(ConfigError, match="data.start_week: 2023-05-02 is a Tuesday"):
        load_config(path)
    path.write_text("data: {start_week: 2023-05-01 08:00:00}\n")
    with pytest.raises(ConfigError, match="start_week: must be a date YYYY-MM-DD without a time"):
        load_config(path)


def test_batch_size_must_divide_the_rollout() -> None:
    raw = shipped()
    raw["ppo"]["quick"].update(n_steps=16, n_envs=4, batch_size=7)
    with pytest.raises(ConfigError) as info:
        config_from_dict(raw)
    assert str(info.value).startswith(
        "ppo.quick: batch_size (7) must divide n_steps x n_envs (16 x 4 = 64)"
    )
    assert "e.g. 2, 4, 8" in str(info.value)
    raw["ppo"]["quick"]["batch_size"] = 16
    assert config_from_dict(raw).ppo.quick.batch_size == 16


def test_closed_sets_match_the_tables_in_the_code() -> None:
    from evidently.legacy.calculations.stattests.registry import _registered_stat_tests
    from evidently.legacy.core import ColumnType

    from inventory.forecast import MODELS
    from inventory.policy_factories import POLICY_FACTORIES
    from inventory.stress import STRESS_SETS

    assert set(typing.get_args(config_module.PolicyName)) == set(POLICY_FACTORIES)
    assert set(typing.get_args(config_module.StressSet)) == set(STRESS_SETS)
    assert set(typing.get_args(config_module.ForecastModel)) == set(MODELS)
    numerical = {
        name for name, tests in _registered_stat_tests.items() if ColumnType.Numerical in tests
    }
    assert set(typing.get_args(config_module.DriftMethod)) == numerical
