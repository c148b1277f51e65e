"""Gymnasium environment and batched SB3 VecEnv over :mod:`inventory.dynamics`.

Both are thin shells: the projection, the transition and the cost are the simulator's
compiled week (:mod:`inventory.dynamics`, the same kernels that score policies in the
evaluation, so PPO trains on the week it is scored on); the env only maps actions to
orders, builds observations and scales rewards. Both share one batched core
(:class:`_Core`), so a single env is the batch of one.

Description:
    One location's SKUs are replenished weekly over the instance's horizon (T weeks).
    Demand per episode is the forecast (``demand="deterministic"``) or drawn around it from
    a :class:`~inventory.scenarios.DemandModel` with the env's ``np_random``
    (``"stochastic"``). With ``initial_on_hand_noise > 0`` the initial on hand is
    multiplied by U[1 - noise, 1 + noise] and rounded (varied initial states).

Action Space:
    ``Box(-1, 1, (P,))``. Action ``a_p`` scales the planners' order-up-to level
    (forecast over lead time + review period + safety-stock weeks, see
    :func:`inventory.policies.planner_levels`): ``level = U_tp * (1 + action_scale * a_p)``,
    proposed order ``max(0, level - inventory_position)``, then projected onto the ramp
    band and the container capacity. ``a = 0`` is exactly the planners' rule; with
    ``action_scale = s`` (``ppo.modes.<mode>.action_scale``) the agent chooses levels
    between 1 - s and 1 + s times it.

Observation Space:
    ``Box(-1, obs_clip, (P * (4 + W + H) + 3,))`` float32, feature-major: per SKU, each
    divided by the SKU's demand scale ``max(1, mean forecast)``: on hand; pipeline for
    the next ``W = max(L) + 1`` weeks (placed orders plus open POs due that week);
    forecast for the next ``H = lookahead_weeks`` weeks; target (safety stock in units);
    last order; inventory position. Then sin and cos of the ISO week of year and the
    share of the horizon left. Values are clipped to the box.

    With ``sku_features`` (the shared policy, ``ppo.policy: shared``) each SKU also gets
    5 constants (lead time / 4, lost-sale / (lost-sale + overstock) cost, understock /
    lost-sale cost, log(1 + mean forecast) / 5, the container share of a week of its demand
    times P), so ``F = 9 + W + H`` per SKU, and the context adds the container share of a
    week of mean demand, the mean ramp limit in weeks of demand and the aggregate
    inventory position in weeks of demand: ``P * F + 6`` numbers. Every value is already
    a ratio, so no statistic of the catalog is needed (no observation VecNormalize).

Rewards:
    ``-cost / reward_scale`` per week, with cost from :mod:`inventory.dynamics` (lost
    sales, overstock, understock, containers) and, in the last week, the terminal cost if
    enabled. ``reward_scale`` defaults to ``sum_p F_p * mean forecast_p``: losing one
    average week of all demand costs about 1. ``info`` holds the unscaled components.

Episode End:
    Terminated after the T-th week (a finite-horizon problem; the observation carries
    the share of the horizon left, so the state stays Markov). Never truncated.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from stable_baselines3.common.vec_env import VecEnv

from inventory.config import Config, default_config
from inventory.dynamics import (
    WeekArrays,
    WeekKernel,
    forecast_tail_mean,
    initial_state,
    terminal_cost,
)
from inventory.instance import Instance
from inventory.policies import open_po_due, planner_levels
from inventory.scenarios import DemandModel, sample_demand

__all__ = [
    "InventoryEnv",
    "InventoryVecEnv",
    "EnvKnobs",
    "EnvSettings",
    "env_knobs",
    "env_settings",
]

_INFO_KEYS = (
    "cost",
    "cost_lost_sales",
    "cost_overstock",
    "cost_understock",
    "cost_containers",
    "cost_terminal",
    "lost_units",
    "sales_units",
    "demand_units",
    "adjusted_units",
)


@dataclass(frozen=True)
class EnvKnobs:
    """The knobs one env reads: the ``env`` group plus its demand mode's settings
    (``ppo.modes.<demand>``), built by :func:`env_knobs`."""

    demand: str
    lookahead_weeks: int
    action_scale: float
    reward_scale: float | None
    initial_on_hand_noise: float
    obs_clip: float
    sku_features: bool = False


def env_knobs(config: Config, demand: str) -> EnvKnobs:
    """:class:`EnvKnobs` of a demand mode: ``env`` plus ``ppo.modes.<demand>``."""
    mode = config.ppo.mode(demand)
    return EnvKnobs(
        demand=demand,
        lookahead_weeks=config.env.lookahead_weeks,
        action_scale=mode.action_scale,
        reward_scale=config.env.reward_scale,
        initial_on_hand_noise=mode.initial_on_hand_noise,
        obs_clip=config.env.obs_clip,
        sku_features=config.ppo.policy == "shared",
    )


@dataclass(frozen=True)
class EnvSettings:
    """Everything an env needs besides the instance (built from the config by
    :func:`env_settings`): the env knobs of a demand mode plus the shared simulation knobs.
    Omitted values are the project params.yaml's (stochastic mode)."""

    env: EnvKnobs = field(default_factory=lambda: env_knobs(default_config(), "stochastic"))
    review_period_weeks: int = field(
        default_factory=lambda: default_config().simulation.review_period_weeks
    )
    terminal_cost: bool = field(default_factory=lambda: default_config().simulation.terminal_cost)
    demand_model: DemandModel | None = None


class _Core:
    """``N`` synchronised copies of one instance: demand draws, actions, observations."""

    def __init__(self, instance: Instance, settings: EnvSettings, n_copies: int) -> None:
        instance.validate()
        self.instance, self.settings, self.n = instance, settings, n_copies
        cfg = settings.env
        if cfg.demand == "stochastic" and settings.demand_model is None:
            settings = replace(
                settings, demand_model=DemandModel.uniform("negative_binomial", instance.n_skus)
            )
            self.settings = settings
        horizon, p = instance.forecast.shape
        self.width = int(instance.lead_time_weeks.max()) + 1
        self.levels = planner_levels(instance, settings.review_period_weeks)
        self.due = open_po_due(instance)
        self.scale = np.maximum(instance.forecast.mean(axis=0), 1.0)
        self.reward_scale = cfg.reward_scale or max(
            float(instance.lost_sale_cost @ instance.forecast.mean(axis=0)), 1e-6
        )
        pad = max(cfg.lookahead_weeks, self.width)
        tail = forecast_tail_mean(instance)
        self.forecast_ext = np.vstack([instance.forecast, np.tile(tail, (pad + 1, 1))])
        self.arrivals_ext = np.vstack([instance.arrivals, np.zeros((pad + 1, p))])
        self.target_ext = instance.safety_stock_weeks * self.forecast_ext
        weeks = np.append(instance.weeks, instance.weeks[-1] + np.timedelta64(7, "D"))
        iso_week = _iso_week(weeks)
        angle = 2 * np.pi * (iso_week - 1) / 52.0
        self.season = np.stack([np.sin(angle), np.cos(angle)], axis=1)
        self.static, self.context = _sku_constants(instance, self.scale, cfg.sku_features)
        self.n_sku_features = 4 + self.width + cfg.lookahead_weeks + len(self.static)
        self.n_context = 3 + len(self.context) + (1 if cfg.sku_features else 0)
        self.obs_dim = p * self.n_sku_features + self.n_context
        self.kernel = WeekKernel(instance, n_copies)
        self.state = initial_state(instance, n_copies)
        self.demand = np.zeros((n_copies, horizon, p))

    def reset(self, rng: np.random.Generator) -> np.ndarray:
        cfg, instance = self.settings.env, self.instance
        if cfg.demand == "stochastic":
            model = self.settings.demand_model
            if model is None:  # __init__ sets a default model for stochastic demand
                raise ValueError("stochastic demand needs a demand model in the env settings")
            drawn = sample_demand(instance, model, self.n, rng)
            self.demand = np.ascontiguousarray(drawn, dtype=float)
        else:
            self.demand = np.broadcast_to(instance.forecast, self.demand.shape).copy()
        self.state = initial_state(instance, self.n)
        self.kernel.track_transit(self.state)
        if cfg.initial_on_hand_noise > 0:
            noise = cfg.initial_on_hand_noise
            factor = rng.uniform(1 - noise, 1 + noise, self.state.on_hand.shape)
            self.state.on_hand = np.rint(self.state.on_hand * factor)
        return self.observe()

    def orders_from_action(self, action: np.ndarray) -> np.ndarray:
        """Proposed orders (N, P) for actions in [-1, 1] (see the module docstring)."""
        action = np.clip(np.asarray(action, dtype=float).reshape(self.n, -1), -1.0, 1.0)
        level = self.levels[self.state.t] * (1.0 + self.settings.env.action_scale * action)
        position = self.state.on_hand + self.state.in_transit() + self.due[self.state.t]
        return np.maximum(level - position, 0.0)

    def observe(self) -> np.ndarray:
        state, t, cfg = self.state, self.state.t, self.settings.env
        pipeline = state.pipeline() + self.arrivals_ext[t : t + self.width]
        position = state.on_hand + state.in_transit() + self.due[t]
        per_sku = (
            np.concatenate(
                [
                    state.on_hand[:, None],
                    pipeline,
                    np.broadcast_to(
                        self.forecast_ext[t : t + cfg.lookahead_weeks],
                        (self.n, cfg.lookahead_weeks, self.instance.n_skus),
                    ),
                    np.broadcast_to(self.target_ext[t], state.on_hand.shape)[:, None],
                    state.last_order[:, None],
                    position[:, None],
                ],
                axis=1,
            )
            / self.scale
        )
        horizon = self.instance.horizon_weeks
        extra = np.broadcast_to(np.append(self.season[t], (horizon - t) / horizon), (self.n, 3))
        blocks = [per_sku.reshape(self.n, -1)]
        if cfg.sku_features:
            static = np.broadcast_to(self.static, (self.n, *self.static.shape))
            aggregate = position.sum(axis=1, keepdims=True) / self.scale.sum()
            constants = np.broadcast_to(self.context, (self.n, len(self.context)))
            blocks += [static.reshape(self.n, -1), extra, constants, aggregate]
        else:
            blocks.append(extra)
        obs = np.concatenate(blocks, axis=1)
        return np.clip(obs, -1.0, cfg.obs_clip).astype(np.float32)

    def feature_names(self) -> dict[str, Any]:
        """The observation's layout: per-SKU feature names and context names (``meta.json``
        of a shared-policy model; a model acts on any instance with the same layout)."""
        names = ["on_hand", *(f"pipeline_{k}" for k in range(self.width))]
        names += [f"forecast_{k}" for k in range(self.settings.env.lookahead_weeks)]
        names += ["target", "last_order", "inventory_position"]
        context = ["week_sin", "week_cos", "horizon_left"]
        if self.settings.env.sku_features:
            names += list(_STATIC_NAMES)
            context += [*_CONTEXT_NAMES, "aggregate_position"]
        return {"sku_features": names, "context": context}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray], bool]:
        """Advance one week; returns (reward (N,), info arrays (N,), episode over)."""
        instance, state = self.instance, self.state
        if state.t >= instance.horizon_weeks:
            raise RuntimeError("episode is over; call reset() first")
        proposed = np.ascontiguousarray(self.orders_from_action(action), dtype=float)
        demand = self.demand[:, state.t]
        # Fresh arrays: the orders and the end inventory become the state.
        week = WeekArrays.empty(self.n, instance.n_skus)
        self.kernel.full_week(state, proposed, self.demand, week)
        state.on_hand, state.last_order, state.t = week.end_inventory, week.orders, state.t + 1
        done = state.t >= instance.horizon_weeks
        final = (
            terminal_cost(instance, state)
            if done and self.settings.terminal_cost
            else np.zeros(self.n)
        )
        info = {
            "cost_lost_sales": week.cost_lost_sales.sum(axis=1),
            "cost_overstock": week.cost_overstock.sum(axis=1),
            "cost_understock": week.cost_understock.sum(axis=1),
            "cost_containers": week.cost_containers,
            "cost_terminal": final,
            "lost_units": week.lost.sum(axis=1),
            "sales_units": week.sales.sum(axis=1),
            "demand_units": demand.sum(axis=1),
            "adjusted_units": week.adjusted_units.sum(axis=1),
        }
        info["cost"] = week.total_cost() + final
        return -info["cost"] / self.reward_scale, info, done


_STATIC_NAMES = ("lead_time", "critical_ratio", "understock_ratio", "log_demand", "volume_share")
_CONTEXT_NAMES = ("capacity_use", "ramp_share")


def _sku_constants(
    instance: Instance, scale: np.ndarray, enabled: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Per-SKU constants (F_static, P) and catalog constants (C,) of the shared policy's
    observation: lead time, cost ratios, demand size and volume per SKU; the share of the
    container capacity a week of mean demand fills and the mean ramp limit in weeks of
    demand. Empty when ``enabled`` is False (the catalog network's observation)."""
    if not enabled:
        return np.zeros((0, instance.n_skus)), np.zeros(0)
    lost, over = instance.lost_sale_cost, instance.overstock_cost
    weekly_volume = scale * instance.volume
    capacity = max(instance.capacity_volume, 1e-9)
    static = np.stack(
        [
            instance.lead_time_weeks / 4.0,
            lost / np.maximum(lost + over, 1e-9),
            instance.understock_cost / np.maximum(lost, 1e-9),
            np.log1p(scale) / 5.0,
            np.minimum(weekly_volume * instance.n_skus / capacity, 10.0),
        ]
    )
    ramp = float(np.mean(np.minimum(instance.ramp_limit / scale, 10.0)))
    context = np.array([min(weekly_volume.sum() / capacity, 10.0), ramp])
    return static, context


def _iso_week(weeks: np.ndarray) -> np.ndarray:
    import pandas as pd

    return pd.DatetimeIndex(weeks).isocalendar().week.to_numpy(dtype=float)


def _spaces(core: _Core) -> tuple[spaces.Box, spaces.Box]:
    obs_space = spaces.Box(-1.0, core.settings.env.obs_clip, (core.obs_dim,), np.float32)
    action_space = spaces.Box(-1.0, 1.0, (core.instance.n_skus,), np.float32)
    return obs_space, action_space


class InventoryEnv(gym.Env):
    """Single-copy gymnasium env; see the module docstring for the spaces and reward.

    Args:
        instance: The planning instance (one location).
        settings: Env knobs, review period, terminal cost and demand model.
    """

    metadata = {"render_modes": []}

    def __init__(self, instance: Instance, settings: EnvSettings | None = None) -> None:
        self.core = _Core(instance, settings or EnvSettings(), 1)
        self.observation_space, self.action_space = _spaces(self.core)
        self.render_mode = None

    @property
    def instance(self) -> Instance:
        return self.core.instance

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        return self.core.reset(self.np_random)[0], {}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        reward, info, done = self.core.step(action)
        out = {key: float(value[0]) for key, value in info.items()}
        return self.core.observe()[0], float(reward[0]), done, False, out


class InventoryVecEnv(VecEnv):
    """``n_envs`` copies stepped in one numpy call (SB3 ``VecEnv``).

    All copies start together and end together (every episode lasts T weeks), so the
    batch shares one week index. At the end of an episode every copy is reset at once;
    ``infos[i]["terminal_observation"]`` holds the last observation, as SB3 expects.
    Attributes are shared by all copies: ``get_attr`` returns the batch's value per copy.

    Args:
        instance: The planning instance.
        n_envs: Number of copies.
        settings: Env knobs, review period, terminal cost and demand model.
        seed: Seed of the batch's random generator (``seed()`` reseeds at the next reset).
    """

    def __init__(
        self,
        instance: Instance,
        n_envs: int,
        settings: EnvSettings | None = None,
        seed: int | None = None,
    ) -> None:
        self.core = _Core(instance, settings or EnvSettings(), n_envs)
        self.render_mode = None
        self.rng = np.random.default_rng(seed)
        self._actions: np.ndarray | None = None
        super().__init__(n_envs, *_spaces(self.core))

    def reset(self) -> np.ndarray:
        if any(s is not None for s in self._seeds):
            self.rng = np.random.default_rng([s or 0 for s in self._seeds])
        self._reset_seeds()
        self._reset_options()
        self.reset_infos = [{} for _ in range(self.num_envs)]
        return self.core.reset(self.rng)

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions)

    def step_wait(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict]]:
        if self._actions is None:
            raise ValueError("step_wait called before step_async: pass the actions first")
        reward, info, done = self.core.step(self._actions)
        obs = self.core.observe()
        columns = [info[key] for key in _INFO_KEYS]
        infos = [
            dict(zip(_INFO_KEYS, map(float, row), strict=True))
            for row in zip(*columns, strict=True)
        ]
        if done:
            for i, item in enumerate(infos):
                item["terminal_observation"] = obs[i]
                item["TimeLimit.truncated"] = False
            obs = self.reset()
        dones = np.full(self.num_envs, done)
        return obs, reward.astype(np.float32), dones, infos

    def close(self) -> None:
        return None

    def get_attr(self, attr_name: str, indices: Any = None) -> list[Any]:
        return [getattr(self, attr_name) for _ in self._get_indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
        setattr(self, attr_name, value)

    def env_method(
        self, method_name: str, *method_args: Any, indices: Any = None, **method_kwargs: Any
    ) -> list[Any]:
        method = getattr(self, method_name)
        return [method(*method_args, **method_kwargs) for _ in self._get_indices(indices)]

    def env_is_wrapped(self, wrapper_class: type, indices: Any = None) -> list[bool]:
        return [False for _ in self._get_indices(indices)]


def env_settings(
    config: Config, demand: str, demand_model: DemandModel | None = None
) -> EnvSettings:
    """:class:`EnvSettings` of a demand mode (``deterministic`` or ``stochastic``)."""
    return EnvSettings(
        env=env_knobs(config, demand),
        review_period_weeks=config.simulation.review_period_weeks,
        terminal_cost=config.simulation.terminal_cost,
        demand_model=demand_model,
    )
