"""params.yaml -> one validated, frozen, typed config object.

Every knob that changes results lives in ``params.yaml``. The file is grouped by pipeline
stage (DVC style); each group is a frozen dataclass below. :func:`load_config` reads the file
once and checks it against these dataclasses: unknown keys, wrong types and out-of-range
values raise :class:`ConfigError` naming the dotted key and what is allowed.

To add a knob: add a field (with a default and, where it makes sense, ``field(metadata=...)``
bounds via :func:`knob`) to the group's dataclass and the same key to ``params.yaml``.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

__all__ = [
    "ConfigError",
    "Config",
    "load_config",
    "config_from_dict",
    "config_to_dict",
    "knob",
    "DEFAULT_PARAMS",
]

DEFAULT_PARAMS = Path("params.yaml")


class ConfigError(ValueError):
    """Bad params.yaml: the message names the dotted key and what is allowed."""


def knob(
    default: Any,
    *,
    ge: float | None = None,
    le: float | None = None,
    gt: float | None = None,
    lt: float | None = None,
    help: str = "",
) -> Any:  # noqa: A002
    """A dataclass field with numeric bounds checked at load time."""
    meta = {"ge": ge, "le": le, "gt": gt, "lt": lt, "help": help}
    if isinstance(default, list | dict):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)


# --------------------------------------------------------------------------- groups


@dataclass(frozen=True)
class DataConfig:
    """Where the raw inputs live and how the synthetic default data is generated."""

    dir: str = "data"
    seed: int = knob(42, ge=0)
    n_skus: int = knob(25, ge=1, le=10_000)
    locations: tuple[str, ...] = ("L1",)
    history_weeks: int = knob(156, ge=8, le=2000)
    horizon_weeks: int = knob(52, ge=1, le=260)
    start_week: str = "2023-05-01"
    container_volume: float = knob(2350.0, gt=0)
    max_containers: int = knob(3, ge=1)
    container_cost: float = knob(0.0, ge=0)
    intermittent_share: float = knob(0.2, ge=0, le=1)
    lead_time_weeks_min: int = knob(2, ge=0, le=52)
    lead_time_weeks_max: int = knob(8, ge=0, le=52)
    capacity_share: float = knob(1.2, gt=0, le=10, help="capacity / mean weekly demand volume")
    ramp_share: float = knob(0.4, gt=0, le=10, help="ramp limit / mean weekly demand")
    default_volume: float = knob(1.0, gt=0)
    default_lead_time_weeks: int = knob(4, ge=0, le=52)
    default_safety_stock_weeks: float = knob(2.0, ge=0, le=52)


@dataclass(frozen=True)
class SimulationConfig:
    """Shared dynamics and demand scenarios (used by every policy)."""

    location: str = "L1"
    horizon_weeks: int = knob(52, ge=1, le=260)
    review_period_weeks: int = knob(1, ge=1, le=52)
    demand_model: Literal["poisson", "negative_binomial", "gamma", "fitted"] = "fitted"
    n_eval_scenarios: int = knob(200, ge=1, le=100_000)
    n_train_scenarios: int = knob(64, ge=1, le=100_000)
    eval_seed: int = knob(1234, ge=0)
    train_seed: int = knob(99, ge=0)
    terminal_cost: bool = True


@dataclass(frozen=True)
class EnvConfig:
    """The gymnasium environment and batched VecEnv (inventory.env)."""

    demand: Literal["deterministic", "stochastic"] = "stochastic"
    lookahead_weeks: int = knob(4, ge=1, le=52)
    action_scale: float = knob(0.5, gt=0, le=1)
    reward_scale: float | None = knob(None, gt=0)
    initial_on_hand_noise: float = knob(0.0, ge=0, le=1)
    obs_clip: float = knob(10.0, gt=1)


@dataclass(frozen=True)
class EvaluationConfig:
    """Policies compared on shared scenarios, and how classical levels are tuned."""

    policies: tuple[str, ...] = ("order_up_to", "base_stock", "s_S", "do_nothing")
    reference_policy: str = "order_up_to"
    confidence: float = knob(0.95, gt=0, lt=1)
    n_plot_skus: int = knob(4, ge=1, le=50)
    tune_max_passes: int = knob(12, ge=1, le=100)
    fallback_dispersion: float = knob(4.0, gt=0)
    workers: int = knob(2, ge=1, le=64, help="processes for the stress sets of slow policies")


@dataclass(frozen=True)
class RecommendConfig:
    """This week's orders (inventory.recommend)."""

    policy: str = "best"
    mode: Literal["deterministic", "stochastic"] = "stochastic"
    lookahead_weeks: int = knob(0, ge=0, le=52, help="0 = max lead time + 1")


@dataclass(frozen=True)
class PipelineConfig:
    """Prefect flows and the Dask scale-out (never read by a dvc stage)."""

    dask_address: str | None = None
    dask_workers: int = knob(2, ge=1, le=256)
    locations: tuple[str, ...] = ()
    retries: int = knob(2, ge=0, le=10)
    retry_delay_s: float = knob(5.0, ge=0)
    dvc_commit: bool = True


@dataclass(frozen=True)
class MilpConfig:
    """The MILP plans and MILP-based policies (inventory.milp, inventory.milp_policies)."""

    solver: Literal["glpk", "highs"] = "glpk"
    time_limit_s: float = knob(60.0, gt=0, help="per plan solve")
    mip_gap: float = knob(0.01, ge=0, le=1, help="relative gap at which a plan counts as optimal")
    method: Literal["auto", "monolithic", "lagrangian", "relaxed"] = "auto"
    monolithic_max_cells: int = knob(400, ge=1, help="auto: SKUs x weeks solved monolithically")
    lagrangian_iterations: int = knob(40, ge=1, le=10_000)
    lagrangian_workers: int = knob(1, ge=1, le=256, help="processes for the SKU subproblems")
    lagrangian_repair_share: float = knob(0.1, ge=0, lt=1, help="time share for the repair")
    lagrangian_subproblem_gap: float = knob(
        0.001, ge=0, le=1, help="gap of each SKU subproblem (capped at mip_gap / 2)"
    )
    lagrangian_initial_prices: Literal["lp", "zero"] = "lp"
    rolling_lookahead_weeks: int = knob(10, ge=1, le=104)
    rolling_scenarios: int = knob(1, ge=1, le=100_000)
    rolling_time_limit_s: float = knob(5.0, gt=0)
    rolling_mip_gap: float = knob(0.05, ge=0, le=1)
    saa_scenarios: int = knob(2, ge=1, le=1000)
    saa_time_limit_s: float = knob(30.0, gt=0)
    hindsight_scenarios: int = knob(3, ge=1, le=100_000)
    hindsight_time_limit_s: float = knob(30.0, gt=0)
    hindsight_method: Literal["auto", "monolithic", "lagrangian", "relaxed"] = "lagrangian"
    relaxed_fallback: bool = True
    relaxed_share: float = knob(0.5, gt=0, le=1, help="time share of the relaxed solve")
    relaxed_rounds: int = knob(3, ge=1, le=100, help="relaxed solves adding binaries per round")
    saa_method: Literal["auto", "monolithic", "lagrangian", "relaxed"] = "auto"


@dataclass(frozen=True)
class ForecastConfig:
    """Forecasting, rolling-origin backtests and demand-distribution fits (inventory.forecast)."""

    models: tuple[str, ...] = ("seasonal_naive", "holt_winters", "fourier", "croston")
    season_length_weeks: int = knob(52, ge=2, le=104)
    backtest_folds: int = knob(4, ge=1, le=52)
    backtest_horizon_weeks: int = knob(13, ge=1, le=104)
    fourier_order: int = knob(2, ge=1, le=26)
    croston_alpha: float = knob(0.1, gt=0, le=1)
    intermittent_adi: float = knob(
        1.32, ge=1, help="mean weeks between demands above which a SKU is intermittent"
    )
    min_points: int = knob(26, ge=2, help="backtest weeks needed to fit a demand distribution")
    min_nonzero_points: int = knob(8, ge=1, help="nonzero backtest weeks needed to fit")
    fallback_family: Literal["poisson", "negative_binomial", "gamma"] = "negative_binomial"
    fallback_dispersion: float = knob(4.0, gt=0)
    quantiles: tuple[float, ...] = (0.1, 0.5, 0.9)


@dataclass(frozen=True)
class DriftConfig:
    """Drift monitoring with Evidently (inventory.monitoring)."""

    reference_weeks: int = knob(52, ge=4, le=1000)
    current_weeks: int = knob(13, ge=2, le=260)
    block_weeks: int = knob(4, ge=1, le=26)
    method: str = "ks"
    threshold: float = knob(0.05, gt=0, lt=1)
    drift_share: float = knob(0.5, gt=0, le=1)
    sku_share: float = knob(0.3, gt=0, le=1)


@dataclass(frozen=True)
class StressConfig:
    """Stress scenarios for drift-aware evaluation (inventory.stress)."""

    scenarios: tuple[str, ...] = ("level_up", "level_down", "season_shift", "intermittent")
    level_up_factor: float = knob(1.3, gt=1, le=10)
    level_down_factor: float = knob(0.7, gt=0, lt=1)
    season_shift_weeks: int = knob(13, ge=1, le=104)
    occurrence: float = knob(0.5, gt=0, lt=1)
    n_scenarios: int = knob(100, ge=1, le=100_000)


@dataclass(frozen=True)
class PPOProfileConfig:
    """Budget and hyperparameters of one PPO training profile (inventory.training)."""

    total_timesteps: int = knob(40_000, ge=1, help="environment steps (weeks x copies)")
    n_envs: int = knob(16, ge=1, le=1024, help="copies in the batched VecEnv")
    n_steps: int = knob(104, ge=1, help="steps per copy per rollout")
    batch_size: int = knob(416, ge=2)
    n_epochs: int = knob(10, ge=1, le=100)
    learning_rate: float = knob(3e-4, gt=0, le=1)
    learning_rate_final: float | None = knob(
        None, gt=0, le=1, help="linear decay to this at the end of training; None = constant"
    )
    gamma: float = knob(0.99, gt=0, le=1)
    gae_lambda: float = knob(0.95, ge=0, le=1)
    clip_range: float = knob(0.2, gt=0, le=1)
    ent_coef: float = knob(0.0, ge=0)
    vf_coef: float = knob(0.5, ge=0)
    max_grad_norm: float = knob(0.5, gt=0)
    log_std_init: float = knob(-1.0, ge=-10, le=2)
    net_arch: tuple[int, ...] = (64, 64)
    eval_freq: int = knob(10_000, ge=1, help="timesteps between held-out evaluations")
    n_eval_scenarios: int = knob(32, ge=1, le=100_000)
    checkpoint_freq: int = knob(10_000, ge=1, help="timesteps between checkpoints")


@dataclass(frozen=True)
class PPOQuickConfig(PPOProfileConfig):
    """The ``quick`` profile: seconds to a minute on one core (tests, CI, default run)."""

    total_timesteps: int = knob(150_000, ge=1, help="environment steps (weeks x copies)")
    n_envs: int = knob(64, ge=1, le=1024, help="copies in the batched VecEnv")
    n_steps: int = knob(52, ge=1, help="steps per copy per rollout")
    batch_size: int = knob(832, ge=2)
    learning_rate: float = knob(4e-4, gt=0, le=1)
    gamma: float = knob(0.995, gt=0, le=1)
    gae_lambda: float = knob(0.9, ge=0, le=1)
    log_std_init: float = knob(-1.5, ge=-10, le=2)
    eval_freq: int = knob(50_000, ge=1, help="timesteps between held-out evaluations")
    checkpoint_freq: int = knob(50_000, ge=1, help="timesteps between checkpoints")


@dataclass(frozen=True)
class PPOFullConfig(PPOProfileConfig):
    """The ``full`` profile: the quality run (at most 30 minutes on 2 cores)."""

    total_timesteps: int = knob(5_000_000, ge=1, help="environment steps (weeks x copies)")
    n_envs: int = knob(256, ge=1, le=1024, help="copies in the batched VecEnv")
    n_steps: int = knob(52, ge=1, help="steps per copy per rollout")
    batch_size: int = knob(3328, ge=2)
    learning_rate: float = knob(4e-4, gt=0, le=1)
    gamma: float = knob(0.995, gt=0, le=1)
    gae_lambda: float = knob(0.9, ge=0, le=1)
    log_std_init: float = knob(-1.5, ge=-10, le=2)
    eval_freq: int = knob(250_000, ge=1, help="timesteps between held-out evaluations")
    n_eval_scenarios: int = knob(64, ge=1, le=100_000)
    checkpoint_freq: int = knob(1_000_000, ge=1, help="timesteps between checkpoints")


@dataclass(frozen=True)
class PPOFullDeterministicConfig(PPOFullConfig):
    """The ``full`` profile of deterministic mode (demand = forecast): tuned for the gap
    to the MILP optimum, so the stochastic ``full`` profile keeps its own values."""

    total_timesteps: int = knob(12_000_000, ge=1, help="environment steps (weeks x copies)")
    n_envs: int = knob(512, ge=1, le=1024, help="copies in the batched VecEnv")
    batch_size: int = knob(6656, ge=2)
    learning_rate: float = knob(1e-3, gt=0, le=1)
    learning_rate_final: float | None = knob(
        1e-4, gt=0, le=1, help="linear decay to this at the end of training; None = constant"
    )
    gamma: float = knob(1.0, gt=0, le=1)
    gae_lambda: float = knob(0.99, ge=0, le=1)
    clip_range: float = knob(0.4, gt=0, le=1)
    eval_freq: int = knob(500_000, ge=1, help="timesteps between held-out evaluations")
    checkpoint_freq: int = knob(2_000_000, ge=1, help="timesteps between checkpoints")


@dataclass(frozen=True)
class PPOConfig:
    """PPO training (inventory.training): shared knobs and the two budget profiles."""

    profile: Literal["quick", "full"] = "quick"
    seed: int = knob(7, ge=0)
    torch_threads: int = knob(1, ge=1, le=256)
    anchor: Literal["planner", "base_stock", "target"] = "base_stock"
    deterministic_anchor: Literal["planner", "base_stock", "target"] | None = "target"
    normalize_observations: bool = True
    normalize_rewards: bool = True
    clip_observations: float = knob(10.0, gt=0)
    initial_on_hand_noise: float = knob(0.2, ge=0, le=1, help="deterministic mode only")
    deterministic_action_scale: float | None = knob(
        0.05, gt=0, le=1, help="env.action_scale of deterministic mode; None = env.action_scale"
    )
    eval_seed: int = knob(4321, ge=0)
    progress_bar: bool = True
    total_timesteps: int | None = knob(
        None, ge=1, help="overrides the selected profile's total_timesteps when set"
    )
    quick: PPOQuickConfig = field(default_factory=PPOQuickConfig)
    full: PPOFullConfig = field(default_factory=PPOFullConfig)
    full_deterministic: PPOFullDeterministicConfig = field(
        default_factory=PPOFullDeterministicConfig
    )

    @property
    def run(self) -> PPOProfileConfig:
        """The selected profile's budget and hyperparameters (with the step override)."""
        return self.run_for("stochastic")

    def anchor_for(self, mode: str) -> str:
        """The action anchor of a demand mode (``deterministic_anchor`` unless null)."""
        if mode == "deterministic" and self.deterministic_anchor is not None:
            return self.deterministic_anchor
        return self.anchor

    def profile_for(self, mode: str) -> str:
        """Name of the profile group a demand mode trains with: ``full`` in deterministic
        mode is ``full_deterministic``."""
        if self.profile == "full" and mode == "deterministic":
            return "full_deterministic"
        return self.profile

    def run_for(self, mode: str) -> PPOProfileConfig:
        """The profile :meth:`profile_for` names (``total_timesteps`` overrides its budget)."""
        profile = getattr(self, self.profile_for(mode))
        if self.total_timesteps is None:
            return profile
        return dataclasses.replace(profile, total_timesteps=self.total_timesteps)


@dataclass(frozen=True)
class Config:
    """The whole params.yaml."""

    data: DataConfig = field(default_factory=DataConfig)
    simulation: SimulationConfig = field(default_factory=SimulationConfig)
    env: EnvConfig = field(default_factory=EnvConfig)
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)
    recommend: RecommendConfig = field(default_factory=RecommendConfig)
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)
    milp: MilpConfig = field(default_factory=MilpConfig)
    forecast: ForecastConfig = field(default_factory=ForecastConfig)
    drift: DriftConfig = field(default_factory=DriftConfig)
    stress: StressConfig = field(default_factory=StressConfig)
    ppo: PPOConfig = field(default_factory=PPOConfig)


# --------------------------------------------------------------------------- loading


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if origin in (tuple, list):
        return f"a list of {_type_name(typing.get_args(tp)[0])}"
    if origin in (types.UnionType, typing.Union):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    if tp is type(None):
        return "null"
    return {int: "an integer", float: "a number", str: "a string", bool: "true/false"}.get(
        tp, getattr(tp, "__name__", str(tp))
    )


def _coerce(value: Any, tp: Any, key: str) -> Any:
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, key)
    if origin is Literal:
        if value not in typing.get_args(tp):
            raise ConfigError(f"{key}: got {value!r}, allowed: {_type_name(tp)}")
        return value
    if origin in (types.UnionType, typing.Union):
        for option in typing.get_args(tp):
            try:
                return _coerce(value, option, key)
            except ConfigError:
                continue
        raise ConfigError(f"{key}: got {value!r}, expected {_type_name(tp)}")
    if origin in (tuple, list):
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{key}: got {value!r}, expected {_type_name(tp)}")
        item_tp = typing.get_args(tp)[0]
        items = [_coerce(v, item_tp, f"{key}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if tp is type(None):
        if value is not None:
            raise ConfigError(f"{key}: got {value!r}, expected null")
        return None
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: got {value!r}, expected true or false")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: got {value!r}, expected an integer")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{key}: got {value!r}, expected a number")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key}: got {value!r}, expected a string")
        return value
    if tp is Any:
        return value
    raise ConfigError(f"{key}: unsupported type {tp!r}")


def _check_bounds(value: Any, meta: typing.Mapping[str, Any], key: str) -> None:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return
    checks = [
        ("ge", lambda b: value >= b, ">="),
        ("gt", lambda b: value > b, ">"),
        ("le", lambda b: value <= b, "<="),
        ("lt", lambda b: value < b, "<"),
    ]
    for name, ok, _symbol in checks:
        bound = meta.get(name)
        if bound is not None and not ok(bound):
            allowed = ", ".join(
                f"{sym} {meta[n]}" for n, _, sym in checks if meta.get(n) is not None
            )
            raise ConfigError(f"{key}: got {value!r}, allowed: {allowed}")


def _build(cls: type, raw: Any, prefix: str) -> Any:
    where = prefix or "params.yaml"
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping of keys, got {raw!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        dotted = ", ".join(f"{prefix}.{k}" if prefix else str(k) for k in unknown)
        raise ConfigError(
            f"unknown key(s) {dotted}; allowed under {where}: {', '.join(sorted(fields))}"
        )
    kwargs = {}
    for name, f in fields.items():
        if name not in raw:
            continue
        key = f"{prefix}.{name}" if prefix else name
        value = _coerce(raw[name], hints[name], key)
        _check_bounds(value, f.metadata, key)
        kwargs[name] = value
    return cls(**kwargs)


def config_from_dict(raw: dict[str, Any]) -> Config:
    """Validate a params mapping (as read from YAML) into a :class:`Config`."""
    return _build(Config, raw, "")


def config_to_dict(config: Any) -> dict[str, Any]:
    """Plain-data form of a config (tuples as lists), suitable for YAML or JSON."""

    def plain(value: Any) -> Any:
        if dataclasses.is_dataclass(value):
            return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
        if isinstance(value, tuple | list):
            return [plain(v) for v in value]
        return value

    return plain(config)


def load_config(path: str | Path = DEFAULT_PARAMS) -> Config:
    """Read and validate ``params.yaml``.

    Raises:
        ConfigError: the file is missing, not YAML, or has a bad key or value.
    """
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: params file not found (pass --params PATH)")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    try:
        return config_from_dict(raw or {})
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
