"""PPO training on the batched VecEnv: held-out evaluation by cost, checkpoints, resume.

One run trains one model per demand mode and location (cleanrl style: every knob is in
the ``ppo`` group of ``params.yaml``; ``ppo.profile`` picks the ``quick`` or ``full``
budget and hyperparameters, :class:`~inventory.config.PPOProfileConfig`).

- Environment: :class:`inventory.env.InventoryVecEnv` with ``n_envs`` copies stepped in one
  numpy call, wrapped in SB3's ``VecNormalize`` (observation and reward statistics,
  saved next to the model). Each mode has its own anchor, action scale and initial on-hand
  noise (``ppo.modes.<mode>``). Deterministic mode: demand = forecast, initial on hand
  varied so the policy generalises beyond one trajectory.
  Stochastic mode: demand drawn from the fitted demand model (the evaluator's
  :func:`~inventory.scenarios.demand_model_for`, passed in by the stage: the fitted model
  or the negative-binomial fallback).
- Held-out evaluation (:class:`CostEvalCallback`): every ``eval_freq`` steps the current
  model runs through :func:`inventory.dynamics.simulate` (the common cost, not the
  reward) on held-out scenarios (the forecast in deterministic mode; ``n_eval_scenarios``
  draws with ``ppo.eval_seed`` in stochastic mode, never the evaluator's scenarios). The
  best model by mean cost is kept as ``model.zip``; each evaluation is a row of the
  learning curve CSV.
- Checkpoints every ``checkpoint_freq`` steps at rollout boundaries (model, normaliser and
  the run's state: curve, best cost, elapsed time). ``resume=True`` continues from the
  last complete checkpoint with the step count carried on (``reset_num_timesteps=False``).
- Reproducible on CPU: ``set_random_seed(ppo.seed)``, a seeded VecEnv and
  ``torch.set_num_threads(ppo.torch_threads)`` (1 by default).

Layout of the model folder (``models/ppo_<mode>[_<location>]/``): ``model.zip``,
``vecnormalize.pkl`` and ``meta.json`` (the best model, what
:class:`~inventory.ppo_policy.PPOPolicy` loads), ``last/`` (the end of training) and
``checkpoints/step_<n>/``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.utils import set_random_seed
from stable_baselines3.common.vec_env import VecNormalize

from inventory.config import Config, PPOProfileConfig, config_to_dict
from inventory.dynamics import simulate
from inventory.env import EnvSettings, InventoryVecEnv, env_settings
from inventory.instance import Instance
from inventory.io import atomic_path, confined, read_json, remove_tree, write_csv, write_json
from inventory.policies import tune_base_stock
from inventory.ppo_policy import (
    META_FILE,
    MODEL_FILE,
    NORMALIZER_FILE,
    PPOPolicy,
    anchor_levels,
    catalog_meta,
)
from inventory.scenarios import (
    MODES,
    DemandModel,
    demand_model_for,
    demand_model_id,
    deterministic_demand,
    sample_demand,
)

__all__ = [
    "TrainingSetup",
    "TrainResult",
    "CostEvalCallback",
    "training_setup",
    "train_ppo",
    "latest_checkpoint",
    "save_model",
]

CHECKPOINTS = "checkpoints"
STATE_FILE = "state.json"
CURVE_COLUMNS = ("timesteps", "mean_cost", "cost_ci_low", "cost_ci_high", "best_cost", "elapsed_s")


@dataclass(frozen=True)
class TrainingSetup:
    """What one training run needs besides the hyperparameters.

    Attributes:
        mode: ``deterministic`` or ``stochastic``.
        settings: Env settings of the training VecEnv.
        eval_demand: Held-out evaluation scenarios (N, T, P).
        anchor_offset: Per-SKU offset added to the anchor levels (action 0), shape (P,).
        scenarios: Where the training and evaluation demand come from.
        anchor: The action anchor (``ppo.modes.<mode>.anchor``; see
            :func:`inventory.ppo_policy.anchor_levels`).
    """

    mode: str
    settings: EnvSettings
    eval_demand: np.ndarray
    anchor_offset: np.ndarray
    scenarios: str
    anchor: str = "base_stock"


@dataclass(frozen=True)
class TrainResult:
    """Summary of a finished run (also written as ``metrics/train_<mode>.json``)."""

    folder: Path
    metrics: dict[str, Any]
    curve: pd.DataFrame
    model: PPO


def training_setup(
    config: Config,
    instance: Instance,
    mode: str,
    demand_model: tuple[DemandModel, str] | None = None,
) -> TrainingSetup:
    """Env settings, held-out scenarios and the action anchor for ``mode``.

    ``demand_model`` (model, description) is what stochastic mode draws from; default
    :func:`~inventory.scenarios.demand_model_for` without a fitted model file.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    ppo, sim = config.ppo, config.simulation
    if mode == "deterministic":
        settings = env_settings(config, mode)
        eval_demand = deterministic_demand(instance)
        scenarios, tuning = "forecast", eval_demand
    else:
        model, scenarios = demand_model or demand_model_for(config, instance)
        settings = env_settings(config, mode, model)
        n_eval = ppo.run_for(mode).n_eval_scenarios
        eval_demand = sample_demand(instance, model, n_eval, ppo.eval_seed)
        tuning = sample_demand(instance, model, sim.n_train_scenarios, sim.train_seed)
    offset = np.zeros(instance.n_skus)
    anchor = ppo.anchor_for(mode)
    if anchor == "base_stock":
        offset = tune_base_stock(
            instance,
            tuning,
            review_period_weeks=sim.review_period_weeks,
            terminal=sim.terminal_cost,
            max_passes=config.evaluation.tune_max_passes,
        ).safety_units
    return TrainingSetup(mode, settings, eval_demand, offset, scenarios, anchor)


def _mean_ci(values: np.ndarray) -> tuple[float, float, float]:
    mean = float(values.mean())
    if len(values) < 2:
        return mean, mean, mean
    half = 1.96 * float(values.std(ddof=1)) / np.sqrt(len(values))
    return mean, mean - half, mean + half


def save_model(model: PPO, normalizer: VecNormalize, folder: Path) -> None:
    """Write ``model.zip`` and ``vecnormalize.pkl`` into ``folder``, each atomically."""
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_path(folder / MODEL_FILE) as tmp:
        model.save(tmp)
    with atomic_path(folder / NORMALIZER_FILE) as tmp:
        normalizer.save(str(tmp))


class CostEvalCallback(BaseCallback):
    """Held-out evaluation by cost, best-model keeping, learning curve and checkpoints.

    Acts at rollout boundaries (the model is consistent there and, with ``n_steps`` a
    multiple of the horizon, every episode has ended) and at the end of training.

    Args:
        instance: The planning instance.
        setup: Held-out scenarios, anchor and env settings.
        meta: Catalog metadata written next to the best model.
        run: The profile's eval and checkpoint frequencies.
        folder: The model folder.
        curve_path: Learning-curve CSV.
        terminal: Include the terminal cost.
        state: Curve rows, best cost and elapsed time restored from a checkpoint.
    """

    def __init__(
        self,
        instance: Instance,
        setup: TrainingSetup,
        meta: dict[str, Any],
        run: PPOProfileConfig,
        folder: Path,
        curve_path: Path,
        terminal: bool,
        state: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.instance, self.setup, self.meta, self.run = instance, setup, meta, run
        self.folder, self.curve_path, self.terminal = folder, curve_path, terminal
        state = state or {}
        self.rows: list[dict[str, float]] = list(state.get("curve", []))
        self.best_cost = float(state.get("best_cost", np.inf))
        self.best_timesteps = int(state.get("best_timesteps", -1))
        self.elapsed_before = float(state.get("elapsed_s", 0.0))
        self.last_eval = int(self.rows[-1]["timesteps"]) if self.rows else -1
        self.last_checkpoint = int(state.get("timesteps", -1))
        self.started = time.perf_counter()

    def elapsed(self) -> float:
        """Training seconds so far, across resumed runs."""
        return self.elapsed_before + time.perf_counter() - self.started

    def _on_step(self) -> bool:
        return True

    def _on_rollout_start(self) -> None:
        steps = self.num_timesteps
        if self.last_eval < 0 or steps - self.last_eval >= self.run.eval_freq:
            self.evaluate()
        if steps > 0 and steps - self.last_checkpoint >= self.run.checkpoint_freq:
            self.checkpoint()

    def _on_training_end(self) -> None:
        if self.num_timesteps != self.last_eval:
            self.evaluate()
        if self.num_timesteps != self.last_checkpoint:
            self.checkpoint()  # resuming a finished run then trains no further
        save_model(self.model, self._normalizer(), self.folder / "last")
        write_json(self.folder / "last" / META_FILE, self.live_meta())

    def _normalizer(self) -> VecNormalize:
        return self.model.get_env()

    def live_meta(self) -> dict[str, Any]:
        """``meta.json`` content for the current model."""
        return {**self.meta, "timesteps": self.num_timesteps}

    def policy(self) -> PPOPolicy:
        """The live model as a Protocol policy (normalising with the current stats)."""
        return PPOPolicy(self.model, self._normalizer().normalize_obs, self.meta, "training")

    def evaluate(self) -> float:
        """Mean held-out cost of the current model; keep it when it is the best."""
        cost = simulate(
            self.instance, self.setup.eval_demand, self.policy(), terminal=self.terminal
        ).total_cost()
        mean, low, high = _mean_ci(cost)
        steps = self.num_timesteps
        if mean < self.best_cost:
            self.best_cost, self.best_timesteps = mean, steps
            save_model(self.model, self._normalizer(), self.folder)
            write_json(self.folder / META_FILE, {**self.live_meta(), "best_eval_cost": mean})
        values = (steps, mean, low, high, self.best_cost, self.elapsed())
        row = dict(zip(CURVE_COLUMNS, values, strict=True))
        self.rows.append(row)
        self.last_eval = steps
        write_csv(self.curve_path, pd.DataFrame(self.rows, columns=list(CURVE_COLUMNS)))
        return mean

    def state(self) -> dict[str, Any]:
        """What a resumed run needs besides the model and normaliser."""
        return {
            "timesteps": self.num_timesteps,
            "curve": self.rows,
            "best_cost": self.best_cost,
            "best_timesteps": self.best_timesteps,
            "elapsed_s": self.elapsed(),
        }

    def checkpoint(self) -> Path:
        """Save model, normaliser and state under ``checkpoints/step_<n>/`` (state last)."""
        folder = self.folder / CHECKPOINTS / f"step_{self.num_timesteps:010d}"
        save_model(self.model, self._normalizer(), folder)
        write_json(folder / STATE_FILE, self.state())
        self.last_checkpoint = self.num_timesteps
        return folder


def latest_checkpoint(folder: str | Path) -> Path | None:
    """The last complete checkpoint of a model folder (one with its state file), or None."""
    root = Path(folder) / CHECKPOINTS
    done = sorted(p for p in root.glob("step_*") if (p / STATE_FILE).exists())
    return done[-1] if done else None


def learning_rate_schedule(run: PPOProfileConfig) -> float | Callable[[float], float]:
    """Constant ``learning_rate``, or linear from it to ``learning_rate_final`` (SB3 passes
    the share of training left, 1 -> 0)."""
    start, end = run.learning_rate, run.learning_rate_final
    if end is None:
        return start
    return lambda remaining: end + (start - end) * remaining


def _new_model(config: Config, run: PPOProfileConfig, env: VecNormalize) -> PPO:
    arch = list(run.net_arch)
    return PPO(
        "MlpPolicy",
        env,
        learning_rate=learning_rate_schedule(run),
        n_steps=run.n_steps,
        batch_size=run.batch_size,
        n_epochs=run.n_epochs,
        gamma=run.gamma,
        gae_lambda=run.gae_lambda,
        clip_range=run.clip_range,
        ent_coef=run.ent_coef,
        vf_coef=run.vf_coef,
        max_grad_norm=run.max_grad_norm,
        policy_kwargs={"net_arch": {"pi": arch, "vf": arch}, "log_std_init": run.log_std_init},
        seed=config.ppo.seed,
        device="cpu",
        verbose=0,
    )


def _env(
    config: Config, run: PPOProfileConfig, instance: Instance, setup: TrainingSetup, seed: int
) -> VecNormalize:
    raw = InventoryVecEnv(instance, run.n_envs, setup.settings, seed=seed)
    raw.core.levels = anchor_levels(
        instance, setup.settings.review_period_weeks, setup.anchor_offset, setup.anchor
    )
    ppo = config.ppo
    return VecNormalize(
        raw,
        norm_obs=ppo.normalize_observations,
        norm_reward=ppo.normalize_rewards,
        clip_obs=setup.settings.env.obs_clip,
        gamma=run.gamma,
    )


def train_ppo(
    config: Config,
    instance: Instance,
    mode: str,
    *,
    model_folder: str | Path,
    metrics_root: str | Path,
    location: str | None = None,
    demand_model: tuple[DemandModel, str] | None = None,
    resume: bool = False,
    progress_bar: bool | None = None,
) -> TrainResult:
    """Train (or resume) PPO for one mode and location; write model, curve and metrics.

    Args:
        config: The validated config (``ppo`` group selects the profile).
        instance: The planning instance of the location.
        mode: ``deterministic`` or ``stochastic``.
        model_folder: The model folder to write (``models/ppo_<mode>[_<location>]``).
        metrics_root: Folder for ``train_<mode>[_<location>].json`` and the learning curve
            ``learning_curve_<mode>[_<location>].csv``.
        location: Suffix of the metrics names (None for the default location).
        demand_model: (model, description) of stochastic mode (see :func:`training_setup`).
        resume: Continue from the last complete checkpoint (a fresh run when none exists).
        progress_bar: Show SB3's progress bar (default ``ppo.progress_bar``).
    """
    import torch

    ppo, run = config.ppo, config.ppo.run_for(mode)
    if run.batch_size > run.n_steps * run.n_envs:
        raise ValueError(
            f"ppo.{ppo.profile_for(mode)}.batch_size ({run.batch_size}) must be at most "
            f"n_steps x n_envs ({run.n_steps * run.n_envs})"
        )
    torch.set_num_threads(ppo.torch_threads)
    folder = Path(model_folder)
    suffix = f"{mode}_{location}" if location else mode
    curve_path = confined(metrics_root, f"learning_curve_{suffix}.csv")
    checkpoint = latest_checkpoint(folder) if resume else None
    if checkpoint is None and folder.exists():
        # a fresh run must not leave an older best model behind
        remove_tree(folder.parent, folder.name)
    setup = training_setup(config, instance, mode, demand_model)
    state = read_json(checkpoint / STATE_FILE) if checkpoint else {}
    done = int(state.get("timesteps", 0))
    set_random_seed(ppo.seed + done)
    env = _env(config, run, instance, setup, seed=ppo.seed + done)
    if checkpoint is None:
        model = _new_model(config, run, env)
    else:
        env = VecNormalize.load(str(checkpoint / NORMALIZER_FILE), env.venv)
        model = PPO.load(checkpoint / MODEL_FILE, env=env, device="cpu")
        model.set_random_seed(ppo.seed + done)
    meta = {
        **catalog_meta(instance, setup.settings, env.observation_space.shape[0]),
        "mode": mode,
        "anchor": setup.anchor,
        "anchor_offset": setup.anchor_offset.tolist(),
        "demand_model_id": demand_model_id(setup.settings.demand_model),
        "scenarios": setup.scenarios,
        "profile": ppo.profile_for(mode),
        "ppo": config_to_dict(ppo),
    }
    callback = CostEvalCallback(
        instance, setup, meta, run, folder, curve_path, config.simulation.terminal_cost, state
    )
    started = time.perf_counter()
    model.learn(
        total_timesteps=max(run.total_timesteps - done, 0),
        callback=callback,
        reset_num_timesteps=checkpoint is None,
        progress_bar=ppo.progress_bar if progress_bar is None else progress_bar,
    )
    seconds = time.perf_counter() - started
    metrics = {
        "mode": mode,
        "location": instance.location,
        "profile": ppo.profile_for(mode),
        "scenarios": setup.scenarios,
        "anchor": setup.anchor,
        "total_timesteps": int(model.num_timesteps),
        "resumed_from_timesteps": done,
        "training_time_s": round(callback.elapsed(), 3),
        "steps_per_s": round((model.num_timesteps - done) / max(seconds, 1e-9), 1),
        "best_eval_cost": callback.best_cost,
        "best_timesteps": callback.best_timesteps,
        "initial_eval_cost": callback.rows[0]["mean_cost"] if callback.rows else None,
        "n_eval_scenarios": int(setup.eval_demand.shape[0]),
        "torch_threads": ppo.torch_threads,
        "n_envs": run.n_envs,
    }
    write_json(confined(metrics_root, f"train_{suffix}.json"), metrics)
    curve = pd.DataFrame(callback.rows, columns=list(CURVE_COLUMNS))
    return TrainResult(folder, metrics, curve, model)
