"""params.yaml -> one validated, frozen, typed config object.

Every knob that changes results lives in ``params.yaml``, and its value lives only there:
each group below is a frozen pydantic model that declares the knobs' types, bounds and
meaning but no default values. :func:`load_config` reads a params file and validates it:
unknown keys, wrong types and out-of-range values raise :class:`ConfigError` naming the
dotted key and what is allowed.

A partial file (``inventory --params mine.yaml``) is deep-merged over the project's
``params.yaml`` (:data:`PROJECT_PARAMS`, beside the package), so an omitted key takes the
value written there, never a value hidden in code. The same holds for a group built in code
(``MilpConfig(solver="highs")``): omitted keys come from the project's params.yaml. Without
that file, every key is required and a missing one is an error naming it.

To add a knob: add a typed field (``Field(ge=..., description=...)``) to the group's model
and the key, with its value and a one-line comment, to ``params.yaml``.
"""

from __future__ import annotations

import datetime
import functools
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from inventory.identifiers import check_id

__all__ = [
    "ConfigError",
    "Config",
    "DataConfig",
    "SimulationConfig",
    "EnvConfig",
    "EvaluationConfig",
    "RecommendConfig",
    "PipelineConfig",
    "MilpConfig",
    "ForecastConfig",
    "DriftConfig",
    "StressConfig",
    "PPOProfileConfig",
    "PPOModeConfig",
    "PPOModesConfig",
    "PPOConfig",
    "load_config",
    "read_params_yaml",
    "config_from_dict",
    "config_to_dict",
    "default_config",
    "deep_merge",
    "DEFAULT_PARAMS",
    "PROJECT_PARAMS",
]

DEFAULT_PARAMS = Path("params.yaml")
PROJECT_PARAMS = Path(__file__).resolve().parents[1] / "params.yaml"

Mode = Literal["deterministic", "stochastic"]
Anchor = Literal["planner", "base_stock", "target"]
Method = Literal["auto", "monolithic", "lagrangian", "relaxed"]
# YAML lists arrive as lists; these fields hold tuples (lax only for the list -> tuple step)
_LIST: dict[str, Any] = {"strict": False}
# a params file is a few hundred nodes, four levels deep; refuse what could exhaust the
# stack (deep nesting) or memory (a huge file, or aliases that expand exponentially)
MAX_PARAMS_BYTES = 1_000_000
MAX_PARAMS_DEPTH = 32
MAX_PARAMS_NODES = 100_000
# a location id becomes part of folder names (models/ppo_<mode>_<location>/): the id rule
Location = Annotated[str, AfterValidator(lambda value: check_id(value, "location"))]
DAY_S = 86_400.0  # upper bound of the wall-clock safety nets: GLPK takes whole seconds as int
# closed sets named in params.yaml; each is the key set of a table in the code (a test checks
# they agree): inventory.policy_factories.POLICY_FACTORIES, inventory.stress.STRESS_SETS,
# inventory.forecast.MODELS and Evidently's stat tests for numerical columns. They are
# spelled here because those modules import this one (and Evidently takes seconds to import).
PolicyName = Literal[
    "order_up_to",
    "base_stock",
    "s_S",
    "do_nothing",
    "milp_open_loop",
    "milp_saa",
    "milp_rolling",
    "milp_hindsight",
    "ppo",
]
StressSet = Literal["level_up", "level_down", "season_shift", "intermittent"]
ForecastModel = Literal["seasonal_naive", "holt_winters", "fourier", "croston"]
DriftMethod = Literal[
    "anderson",
    "cramer_von_mises",
    "ed",
    "empirical_mmd",
    "es",
    "hellinger",
    "jensenshannon",
    "kl_div",
    "ks",
    "mannw",
    "psi",
    "t_test",
    "wasserstein",
]


class ConfigError(ValueError):
    """Bad params.yaml: the message names the dotted key and what is allowed."""


# --------------------------------------------------------------------------- merging


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """``override`` over ``base``: nested mappings merge key by key, other values replace."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


@functools.cache
def _project_raw() -> dict[str, Any]:
    """The project's params.yaml as plain data ({} when absent or unreadable)."""
    try:
        raw = yaml.safe_load(PROJECT_PARAMS.read_text())
    except (OSError, yaml.YAMLError):
        return {}
    return raw if isinstance(raw, dict) else {}


def _project_values(path: tuple[str, ...]) -> dict[str, Any]:
    values: Any = _project_raw()
    for key in path:
        values = values.get(key) if isinstance(values, dict) else None
    return values if isinstance(values, dict) else {}


class _Group(BaseModel):
    """A params group: frozen, unknown keys rejected, omitted keys taken from the
    project's params.yaml at ``_path`` (no default values in code)."""

    # every number is finite: .inf passes a lower bound, then overflows a solver's limit
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, allow_inf_nan=False)
    _path: ClassVar[tuple[str, ...] | None] = None

    @model_validator(mode="before")
    @classmethod
    def _fill_from_params(cls, data: Any) -> Any:
        if cls._path is None or not isinstance(data, dict):
            return data
        return deep_merge(_project_values(cls._path), data)


# --------------------------------------------------------------------------- groups


class DataConfig(_Group):
    """Where the raw inputs live and how the synthetic default data is generated."""

    _path = ("data",)
    dir: str = Field(description="raw inputs folder (read-only to the pipeline)")
    seed: int = Field(ge=0, description="synthetic generator seed")
    n_skus: int = Field(ge=1, le=10_000)
    locations: tuple[Location, ...] = Field(**_LIST)
    history_weeks: int = Field(ge=8, le=2000)
    horizon_weeks: int = Field(
        ge=1, le=260, description="planning weeks: forecast written, simulated, optimised"
    )
    start_week: str = Field(description="Monday of the first planning week, YYYY-MM-DD")
    container_volume: float = Field(gt=0)
    max_containers: int = Field(ge=1)
    container_skus: int | None = Field(
        ge=1, description="generator: catalog size max_containers is for; null = any size"
    )
    container_cost: float = Field(ge=0)
    intermittent_share: float = Field(ge=0, le=1)
    lead_time_weeks_min: int = Field(ge=0, le=52)
    lead_time_weeks_max: int = Field(ge=0, le=52)
    capacity_share: float = Field(gt=0, le=10, description="capacity / mean weekly demand volume")
    ramp_share: float = Field(gt=0, le=10, description="ramp limit / mean weekly demand")
    default_volume: float = Field(gt=0)
    default_lead_time_weeks: int = Field(ge=0, le=52)
    default_safety_stock_weeks: float = Field(ge=0, le=52)

    @field_validator("start_week", mode="before")
    @classmethod
    def _start_week_is_a_monday(cls, value: Any) -> Any:
        """An ISO date (quoted, or a YAML date) that falls on a Monday, kept as YYYY-MM-DD."""
        if isinstance(value, datetime.datetime):
            raise ValueError(f"must be a date YYYY-MM-DD without a time, a Monday (got {value})")
        if not isinstance(value, str | datetime.date):
            return value  # the type check says "must be a string"
        if isinstance(value, str):
            try:
                value = datetime.date.fromisoformat(value.strip())
            except ValueError:
                raise ValueError(f"must be a date YYYY-MM-DD, a Monday (got {value!r})") from None
        if value.weekday() != 0:
            raise ValueError(f"{value.isoformat()} is a {value:%A}; it must be a Monday")
        return value.isoformat()

    @field_validator("locations")
    @classmethod
    def _at_least_one_location(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("empty; list at least one location id, e.g. [L1]")
        return value


class SimulationConfig(_Group):
    """Shared dynamics and demand scenarios (used by every policy)."""

    _path = ("simulation",)
    location: Location = Field(description="location planned by single-location stages")
    review_period_weeks: int = Field(ge=1, le=52)
    demand_model: Literal["poisson", "negative_binomial", "gamma", "fitted"]
    n_eval_scenarios: int = Field(ge=1, le=100_000)
    n_train_scenarios: int = Field(ge=1, le=100_000)
    eval_seed: int = Field(ge=0)
    train_seed: int = Field(ge=0)
    terminal_cost: bool = Field(description="price the end-of-horizon inventory position")


class EnvConfig(_Group):
    """The gymnasium environment and batched VecEnv (inventory.env), in both modes."""

    _path = ("env",)
    lookahead_weeks: int = Field(ge=1, le=52, description="forecast weeks in the observation")
    reward_scale: float | None = Field(gt=0, description="null = sum_p F_p * mean forecast_p")
    obs_clip: float = Field(gt=1, description="clip of the observations, raw and normalised")


class EvaluationConfig(_Group):
    """Policies compared on shared scenarios, and how classical levels are tuned."""

    _path = ("evaluation",)
    policies: tuple[PolicyName, ...] = Field(**_LIST)
    reference_policy: PolicyName
    confidence: float = Field(gt=0, lt=1)
    n_plot_skus: int = Field(ge=1, le=50)
    tune_max_passes: int = Field(ge=1, le=100)
    workers: int = Field(ge=1, le=64, description="processes for the stress sets of slow policies")

    @model_validator(mode="after")
    def _reference_is_evaluated(self) -> EvaluationConfig:
        if self.reference_policy not in self.policies:
            raise ValueError(
                f"reference_policy {self.reference_policy!r} is not in evaluation.policies "
                f"{list(self.policies)}; add it there or name one of those"
            )
        return self


class RecommendConfig(_Group):
    """This week's orders (inventory.recommend)."""

    _path = ("recommend",)
    policy: Literal["best", PolicyName] = Field(description="best or a policy name")
    mode: Mode
    lookahead_weeks: int = Field(ge=0, le=52, description="0 = max lead time + 1")


class PipelineConfig(_Group):
    """Prefect flows and the Dask scale-out (never read by a dvc stage)."""

    _path = ("pipeline",)
    dask_address: str | None
    dask_workers: int = Field(ge=1, le=256)
    locations: tuple[Location, ...] = Field(**_LIST)
    retries: int = Field(ge=0, le=10)
    retry_delay_s: float = Field(ge=0)
    dvc_commit: bool


class MilpConfig(_Group):
    """The MILP plans and MILP-based policies (inventory.milp, inventory.milp_policies)."""

    _path = ("milp",)
    solver: Literal["glpk", "highs"]
    mip_gap: float = Field(ge=0, le=1, description="relative gap at which a plan is optimal")
    method: Method
    monolithic_max_cells: int = Field(ge=1, description="auto: SKUs x weeks solved whole")
    safety_time_limit_s: float = Field(
        gt=0, le=DAY_S, description="wall-clock net per plan solve (at most a day)"
    )
    max_nodes: int = Field(ge=1, le=10_000_000, description="HiGHS node limit per solve")
    lagrangian_iterations: int = Field(ge=1, le=10_000)
    lagrangian_workers: int = Field(ge=0, le=256, description="SKU subproblem processes; 0 = cores")
    lagrangian_subproblem_gap: float = Field(ge=0, le=1, description="capped at mip_gap / 2")
    lagrangian_initial_prices: Literal["lp", "zero"]
    rolling_lookahead_weeks: int = Field(ge=1, le=104)
    rolling_scenarios: int = Field(ge=1, le=100_000)
    rolling_eval_scenarios: int | None = Field(
        ge=1, le=100_000, description="stochastic: scenarios the rolling row runs on; null = all"
    )
    rolling_mip_gap: float = Field(ge=0, le=1)
    rolling_demand: Literal["forecast"] | Annotated[float, Field(gt=0, lt=1)] = Field(
        description="weekly windows plan on the forecast or this quantile of the scenarios"
    )
    rolling_safety_time_limit_s: float = Field(
        gt=0, le=DAY_S, description="wall-clock net per weekly solve (at most a day)"
    )
    saa_scenarios: int = Field(ge=1, le=1000)
    saa_method: Method
    saa_solver: Literal["glpk", "highs"]
    saa_lagrangian_iterations: int = Field(ge=1, le=10_000)
    hindsight_scenarios: int = Field(ge=1, le=100_000)
    hindsight_method: Method
    hindsight_lagrangian_iterations: int = Field(ge=1, le=10_000)
    relaxed_fallback: bool
    relaxed_rounds: int = Field(ge=1, le=100, description="relaxed solves adding binaries")


class ForecastConfig(_Group):
    """Forecasting, rolling-origin backtests and demand-distribution fits (inventory.forecast)."""

    _path = ("forecast",)
    models: tuple[ForecastModel, ...] = Field(**_LIST)
    season_length_weeks: int = Field(ge=2, le=104)
    backtest_folds: int = Field(ge=1, le=52)
    backtest_horizon_weeks: int = Field(ge=1, le=104)
    fourier_order: int = Field(ge=1, le=26)
    croston_alpha: float = Field(gt=0, le=1)
    intermittent_adi: float = Field(ge=1, description="mean weeks between demands: intermittent")
    min_points: int = Field(ge=2, description="backtest weeks needed to fit a distribution")
    min_nonzero_points: int = Field(ge=1, description="nonzero backtest weeks needed to fit")
    fallback_family: Literal["poisson", "negative_binomial", "gamma"]
    fallback_dispersion: float = Field(gt=0, description="size (NB) or shape (gamma) of it")
    quantiles: tuple[float, ...] = Field(
        description="strictly increasing in (0, 1); column q<percent> each", **_LIST
    )

    @field_validator("models")
    @classmethod
    def _at_least_one_model(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            allowed = ", ".join(typing.get_args(ForecastModel))
            raise ValueError(f"empty; list at least one of {allowed}")
        return value

    @field_validator("quantiles")
    @classmethod
    def _quantiles_name_distinct_columns(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        example = "e.g. [0.1, 0.5, 0.9]"
        if not value:
            raise ValueError(f"must hold at least one quantile, {example}")
        outside = [q for q in value if not 0 < q < 1]
        if outside:
            raise ValueError(f"must lie strictly between 0 and 1, {example} (got {outside})")
        if any(b <= a for a, b in zip(value, value[1:], strict=False)):
            raise ValueError(f"must be increasing without repeats, {example} (got {list(value)})")
        columns = [f"q{round(q * 100):02d}" for q in value]  # as inventory.forecast names them
        if len(set(columns)) < len(columns):
            raise ValueError(f"each names a column by whole percent; two share one: {columns}")
        return value


class DriftConfig(_Group):
    """Drift monitoring with Evidently (inventory.monitoring)."""

    _path = ("drift",)
    reference_weeks: int = Field(ge=4, le=1000)
    current_weeks: int = Field(ge=2, le=260)
    block_weeks: int = Field(ge=1, le=26)
    method: DriftMethod = Field(description="Evidently stat test for numerical columns")
    threshold: float = Field(gt=0, lt=1)
    drift_share: float = Field(gt=0, le=1)
    sku_share: float = Field(gt=0, le=1)


class StressConfig(_Group):
    """Stress scenarios for drift-aware evaluation (inventory.stress)."""

    _path = ("stress",)
    scenarios: tuple[StressSet, ...] = Field(**_LIST)
    level_up_factor: float = Field(gt=1, le=10)
    level_down_factor: float = Field(gt=0, lt=1)
    season_shift_weeks: int = Field(ge=1, le=104)
    occurrence: float = Field(gt=0, lt=1)
    n_scenarios: int = Field(ge=1, le=100_000)


class PPOProfileConfig(_Group):
    """Budget and hyperparameters of one PPO training profile (inventory.training)."""

    total_timesteps: int = Field(ge=1, description="environment steps (weeks x copies)")
    n_envs: int = Field(ge=1, le=1024, description="copies in the batched VecEnv")
    n_steps: int = Field(ge=1, description="steps per copy per rollout")
    batch_size: int = Field(ge=2)
    n_epochs: int = Field(ge=1, le=100)
    learning_rate: float = Field(gt=0, le=1)
    learning_rate_final: float | None = Field(
        gt=0, le=1, description="linear decay; null = constant"
    )
    gamma: float = Field(gt=0, le=1)
    gae_lambda: float = Field(ge=0, le=1)
    clip_range: float = Field(gt=0, le=1)
    ent_coef: float = Field(ge=0)
    vf_coef: float = Field(ge=0)
    max_grad_norm: float = Field(gt=0)
    log_std_init: float = Field(ge=-10, le=2)
    net_arch: tuple[int, ...] = Field(**_LIST)
    shared_net_arch: tuple[int, ...] = Field(**_LIST)
    eval_freq: int = Field(ge=1, description="timesteps between held-out evaluations")
    n_eval_scenarios: int = Field(ge=1, le=100_000)
    checkpoint_freq: int = Field(ge=1, description="timesteps between checkpoints")

    @model_validator(mode="after")
    def _batch_divides_rollout(self) -> PPOProfileConfig:
        rollout = self.n_steps * self.n_envs
        if rollout % self.batch_size:
            fits = [size for size in range(2, rollout + 1) if rollout % size == 0]
            fits = sorted(sorted(fits, key=lambda size: abs(size - self.batch_size))[:3])
            raise ValueError(
                f"batch_size ({self.batch_size}) must divide n_steps x n_envs "
                f"({self.n_steps} x {self.n_envs} = {rollout}), or the last minibatch of each "
                f"epoch is truncated; e.g. {', '.join(map(str, fits[-4:]))}"
            )
        return self


class PPOModeConfig(_Group):
    """What differs between the demand modes: the action mapping and the reset state."""

    anchor: Anchor = Field(description="order-up-to level that action 0 means")
    action_scale: float = Field(gt=0, le=1, description="level x (1 + action_scale * a)")
    initial_on_hand_noise: float = Field(ge=0, le=1, description="on hand x U[1-n, 1+n]")
    full_profile: Literal["full", "full_deterministic"] = Field(
        description="profile group trained when ppo.profile is full"
    )


class PPOModesConfig(_Group):
    """The per-mode settings, one group per demand mode."""

    deterministic: PPOModeConfig
    stochastic: PPOModeConfig


class PPOConfig(_Group):
    """PPO training (inventory.training): shared knobs, per-mode settings, budget profiles."""

    _path = ("ppo",)
    profile: Literal["quick", "full"]
    policy: Literal["shared", "catalog"] = Field(
        description="shared: one network for every SKU; catalog: one over the catalog vector"
    )
    seed: int = Field(ge=0)
    torch_threads: int = Field(ge=1, le=256)
    normalize_observations: bool
    normalize_rewards: bool
    eval_seed: int = Field(ge=0)
    progress_bar: bool
    total_timesteps: int | None = Field(ge=1, description="overrides the profile's budget")
    modes: PPOModesConfig
    quick: PPOProfileConfig
    full: PPOProfileConfig
    full_deterministic: PPOProfileConfig

    @property
    def run(self) -> PPOProfileConfig:
        """The selected profile's budget and hyperparameters (with the step override)."""
        return self.run_for("stochastic")

    def mode(self, mode: str) -> PPOModeConfig:
        """The settings of a demand mode (``ppo.modes.<mode>``)."""
        if mode not in PPOModesConfig.model_fields:
            allowed = ", ".join(PPOModesConfig.model_fields)
            raise ValueError(f"mode must be one of {allowed}, got {mode!r}")
        return getattr(self.modes, mode)

    def anchor_for(self, mode: str) -> str:
        """The action anchor of a demand mode."""
        return self.mode(mode).anchor

    def profile_for(self, mode: str) -> str:
        """Name of the profile group a demand mode trains with (``full`` is the mode's
        ``full_profile``)."""
        if self.profile == "full":
            return self.mode(mode).full_profile
        return self.profile

    def run_for(self, mode: str) -> PPOProfileConfig:
        """The profile :meth:`profile_for` names (``total_timesteps`` overrides its budget)."""
        profile = getattr(self, self.profile_for(mode))
        if self.total_timesteps is None:
            return profile
        return profile.model_copy(update={"total_timesteps": self.total_timesteps})


class Config(_Group):
    """The whole params.yaml."""

    _path = ()
    data: DataConfig
    simulation: SimulationConfig
    env: EnvConfig
    evaluation: EvaluationConfig
    recommend: RecommendConfig
    pipeline: PipelineConfig
    milp: MilpConfig
    forecast: ForecastConfig
    drift: DriftConfig
    stress: StressConfig
    ppo: PPOConfig


# --------------------------------------------------------------------------- errors

_KIND = {
    "int_type": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "finite_number": "a finite number",
    "bool_type": "true or false",
    "string_type": "a string",
    "tuple_type": "a list",
    "list_type": "a list",
    "model_type": "a mapping of keys",
    "dict_type": "a mapping of keys",
    "none_required": "null",
}
_BOUND = {
    "greater_than": ">",
    "greater_than_equal": ">=",
    "less_than": "<",
    "less_than_equal": "<=",
}
_SYMBOL = {"gt": ">", "ge": ">=", "lt": "<", "le": "<="}
_NUMBER_ERRORS = {*_BOUND, "int_type", "int_from_float", "float_type", "finite_number"}


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model class that holds the key at ``loc`` (None below a non-model field)."""
    model: Any = Config
    for key in loc:
        field = model.model_fields.get(key) if isinstance(key, str) else None
        if field is None:
            return None
        model = field.annotation
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return None
    return model


def _requirement(loc: tuple[Any, ...]) -> str | None:
    """What a bounded number at ``loc`` allows, e.g. ``a finite number > 0 and <= 86400``."""
    parent = _model_at(loc[:-1])
    field = parent.model_fields.get(loc[-1]) if parent and isinstance(loc[-1], str) else None
    if field is None:
        return None
    bounds = [
        f"{symbol} {_number(getattr(rule, name))}"
        for rule in field.metadata
        for name, symbol in _SYMBOL.items()
        if hasattr(rule, name)
    ]
    if not bounds:
        return None
    types = typing.get_args(field.annotation) or (field.annotation,)
    kind = "an integer" if int in types else "a finite number"
    return f"{kind} {' and '.join(bounds)}" + (" or null" if type(None) in types else "")


def _number(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _dotted(loc: tuple[Any, ...]) -> str:
    key = ""
    for part in loc:
        key += f"[{part}]" if isinstance(part, int) else (f".{part}" if key else str(part))
    return key or "params.yaml"


def _explain(error: Mapping[str, Any]) -> str:
    """One pydantic error as ``dotted.key: what is wrong (got value)``."""
    loc, kind, ctx = tuple(error["loc"]), error["type"], error.get("ctx", {})
    key, got = _dotted(loc), f"(got {error.get('input')!r})"
    if kind == "missing":
        return f"{key}: missing key (set it in params.yaml)"
    if kind == "extra_forbidden":
        parent = _model_at(loc[:-1])
        allowed = ", ".join(parent.model_fields) if parent else "none"
        return f"{key}: unknown key; allowed: {allowed}"
    requirement = _requirement(loc) if kind in _NUMBER_ERRORS else None
    if requirement:
        return f"{key}: must be {requirement} {got}"
    if kind in _BOUND:
        bound = next(iter(ctx.values()))
        bound = int(bound) if isinstance(bound, float) and bound.is_integer() else bound
        return f"{key}: must be {_BOUND[kind]} {bound} {got}"
    if kind == "value_error":  # a validator's own message says what is allowed
        return f"{key}: {ctx.get('error', error['msg'])}"
    if kind == "literal_error":
        return f"{key}: must be one of {ctx.get('expected')} {got}"
    if kind in _KIND:
        return f"{key}: must be {_KIND[kind]} {got}"
    return f"{key}: {error['msg']} {got}"


def config_from_dict(raw: Any) -> Config:
    """Validate a params mapping (as read from YAML) into a :class:`Config`.

    Keys it omits take the project's params.yaml values (see the module docstring).

    Raises:
        ConfigError: a key is unknown, missing or has a bad value (the first one is named).
    """
    if not isinstance(raw, dict):
        raise ConfigError(f"params.yaml: must be a mapping of keys (got {raw!r})")
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        errors = exc.errors()
        missing = [_dotted(tuple(e["loc"])) for e in errors if e["type"] == "missing"]
        if len(missing) > 1:
            raise ConfigError(
                f"missing keys (set them in params.yaml): {', '.join(missing)}"
            ) from None
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ConfigError(_explain(errors[0]) + more) from None


def config_to_dict(config: BaseModel) -> dict[str, Any]:
    """Plain-data form of a config (tuples as lists), suitable for YAML or JSON."""
    return config.model_dump(mode="json")


@functools.cache
def default_config() -> Config:
    """The project's params.yaml (:data:`PROJECT_PARAMS`), validated (read once)."""
    return load_config(PROJECT_PARAMS)


def read_params_yaml(path: Path) -> Any:
    """Parse a params file as plain data, refusing inputs that would exhaust stack or memory.

    Raises:
        ConfigError: the file is too large, not UTF-8 YAML, nested deeper than
            :data:`MAX_PARAMS_DEPTH`, expands (aliases counted in full) to more than
            :data:`MAX_PARAMS_NODES` values, or gives a key twice in one mapping; the
            message names the file.
    """
    if path.stat().st_size > MAX_PARAMS_BYTES:
        raise ConfigError(f"{path}: larger than {MAX_PARAMS_BYTES:,} bytes; not a params file")
    try:
        text = path.read_text(encoding="utf-8")
        _check_yaml_shape(text)
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader)
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


class _UniqueKeyLoader(yaml.SafeLoader):
    """A SafeLoader that refuses a key given twice in one mapping (YAML keeps the last one
    without a word), naming the dotted key and both lines."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._keys: dict[int, str] = {}  # id of a mapping node -> its dotted key

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        parent = self._keys.get(id(node), "")
        lines: dict[Any, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge" or not isinstance(
                key_node, yaml.ScalarNode
            ):
                continue  # "<<: *defaults" may be overridden; the key's own check follows
            key = self.construct_object(key_node)
            dotted = f"{parent}.{key}" if parent else str(key)
            line = key_node.start_mark.line + 1
            if key in lines:
                raise ConfigError(
                    f"{dotted}: given twice (lines {lines[key]} and {line}); keep one"
                )
            lines[key] = line
            self._keys[id(value_node)] = dotted
        return super().construct_mapping(node, deep=deep)


def _check_yaml_shape(text: str) -> None:
    """Walk the YAML events (no recursion) counting depth and nodes, aliases in full."""
    open_nodes: list[list[Any]] = [[None, 0]]  # [anchor, nodes so far] per open collection
    done: dict[str, int] = {}  # anchor -> nodes of its finished value
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        line = f"line {event.start_mark.line + 1}" if event.start_mark else "the end"
        if isinstance(event, yaml.CollectionStartEvent):
            open_nodes.append([event.anchor, 1])
            if len(open_nodes) - 1 > MAX_PARAMS_DEPTH:
                raise ConfigError(f"nested deeper than {MAX_PARAMS_DEPTH} levels at {line}")
            continue
        if isinstance(event, yaml.AliasEvent):
            if event.anchor not in done:
                inside = any(node[0] == event.anchor for node in open_nodes)
                what = "the value it is part of" if inside else "no anchor defined before it"
                raise ConfigError(f"alias *{event.anchor} at {line} refers to {what}")
            anchor, nodes = None, done[event.anchor]
        elif isinstance(event, yaml.CollectionEndEvent):
            anchor, nodes = open_nodes.pop()
        elif isinstance(event, yaml.ScalarEvent):
            anchor, nodes = event.anchor, 1
        else:
            continue
        if anchor is not None:
            done[anchor] = nodes
        open_nodes[-1][1] += nodes
        if open_nodes[-1][1] > MAX_PARAMS_NODES:
            raise ConfigError(
                f"holds more than {MAX_PARAMS_NODES:,} values at {line} (aliases counted in full)"
            )


def load_config(path: str | Path = DEFAULT_PARAMS) -> Config:
    """Read and validate a params file.

    A partial file is deep-merged over the project's params.yaml (:data:`PROJECT_PARAMS`):
    the keys it sets replace those of params.yaml, every other key keeps params.yaml's value.
    A file that sets no key at all (empty, only comments, ``{}``) is refused: it is more
    likely truncated than meant.

    Raises:
        ConfigError: the file is missing, a folder, not YAML (see :func:`read_params_yaml`),
            holds no keys, or has a bad, unknown or missing key.
    """
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: params file not found (pass --params PATH)")
    if not path.is_file():
        raise ConfigError(f"{path}: is a folder, not a params file (pass --params PATH.yaml)")
    raw = read_params_yaml(path)
    if (
        raw is None or raw == {}
    ):  # a truncated file would otherwise run on every value of the project's file
        raise ConfigError(
            f"{path}: holds no keys (empty, or only comments); set at least one key (keys it "
            f"omits take the values of {PROJECT_PARAMS})"
        )
    try:
        return config_from_dict(raw)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
