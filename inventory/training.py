"""PPO training on the batched VecEnv: held-out evaluation by cost, checkpoints, resume.

One run trains one model per demand mode and location (cleanrl style: every knob is in
the ``ppo`` group of ``params.yaml``; ``ppo.profile`` picks the ``quick`` or ``full``
budget and hyperparameters, :class:`~inventory.config.PPOProfileConfig`).

- Policy (``ppo.policy``): ``shared`` is :class:`~inventory.shared_policy.SharedSkuPolicy`,
  one small network applied to every SKU's features plus a critic pooled over SKUs
  (hidden sizes ``shared_net_arch``; no weight depends on the number of SKUs, so the model
  acts on any catalog with the same feature layout); ``catalog`` is SB3's ``MlpPolicy``
  over the whole catalog vector (``net_arch``), tied to its SKUs.
- Environment: :class:`inventory.env.InventoryVecEnv` with ``n_envs`` copies stepped in one
  numpy call, wrapped in SB3's ``VecNormalize`` (reward scaling; observation statistics
  only for the catalog policy, whose statistics per dimension tie it to the catalog;
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
  best model by mean cost is kept (``policy.pt``); each evaluation is a row of the
  learning curve CSV. When the kept model is the step-0 one (the anchor rule), the train
  metrics and the model's ``meta.json`` say ``beats_anchor: false`` and the evaluator
  warns, so the anchor is never presented as a learned policy.
- Checkpoints every ``checkpoint_freq`` steps at rollout boundaries: the model and
  normaliser, the optimizer state, the random states (numpy, torch, Python, the VecEnv's
  generator), the VecEnv's current episode and last observation, SB3's step count and
  schedule position, and the run's state (curve, best cost, elapsed time). ``resume=True``
  restores all of it from the last complete checkpoint and carries the step count on
  (``reset_num_timesteps=False``), so a resumed run trains exactly as one that was not
  stopped: same weights, curve and best cost (only the timings differ). Each checkpoint
  records what decides the run (:func:`~inventory.run_inputs.run_inputs`: the settings
  the stage reads, fingerprints of the data and demand model); a resume with other ones
  is refused before anything is deleted, naming what differs.
- Reproducible on CPU: ``set_random_seed(ppo.seed)``, a seeded VecEnv and
  ``torch.set_num_threads(ppo.torch_threads)`` (1 by default).

Layout of the model folder (``models/ppo_<mode>[_<location>]/``): ``policy.pt``,
``vecnormalize.npz`` and ``meta.json`` (the best model, what
:class:`~inventory.ppo_policy.PPOPolicy` loads; no file holds pickled code, see
:mod:`inventory.model_files`), ``progress.csv`` (SB3's log of every PPO update: losses,
entropy, explained variance, and ``eval/mean_cost``; :class:`ProgressCsv`), ``last/``
(the end of training) and
next to it ``ppo_<mode>[_<location>].checkpoints/step_<n>/`` (the same files plus
``optimizer.pt``, ``resume.npz``, ``best/`` (the best model so far) and ``state.json``,
whose ``files`` records the sha256 of the others): outside the model folder, so that a
killed command, whose model folder never lands, can still be resumed.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
from stable_baselines3 import PPO
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback, CallbackList, ProgressBarCallback
from stable_baselines3.common.logger import KVWriter, Logger, filter_excluded_keys
from stable_baselines3.common.utils import set_random_seed
from stable_baselines3.common.vec_env import VecNormalize

from inventory.config import Config, PPOProfileConfig, config_to_dict
from inventory.dynamics import State, simulate
from inventory.env import EnvSettings, InventoryVecEnv, env_settings
from inventory.instance import Instance
from inventory.io import (
    confined,
    read_json,
    remove_tree,
    set_aside,
    staging_folder,
    write_csv,
    write_json,
    write_through,
)
from inventory.model_files import (
    file_hashes,
    load_arrays,
    load_weights,
    policy_spec,
    restore_normalizer,
    save_arrays,
    save_normalizer,
    save_policy,
    save_tensors,
    verify_files,
)
from inventory.policies import tune_base_stock
from inventory.ppo_policy import (
    META_FILE,
    MODEL_FILE,
    NORMALIZER_FILE,
    PPOPolicy,
    anchor_levels,
    catalog_meta,
)
from inventory.run_inputs import check_same_inputs, run_inputs
from inventory.scenarios import (
    MODES,
    DemandModel,
    demand_model_for,
    demand_model_id,
    deterministic_demand,
    sample_demand,
)
from inventory.shared_policy import SharedSkuPolicy

__all__ = [
    "TrainingSetup",
    "TrainResult",
    "CostEvalCallback",
    "ProgressCsv",
    "RolloutProgressBar",
    "training_end",
    "training_setup",
    "train_ppo",
    "latest_checkpoint",
    "save_model",
    "run_state",
    "run_arrays",
    "restore_run",
]

CHECKPOINTS = "checkpoints"
BEST_DIR = "best"  # in a checkpoint: the best model kept so far
STATE_FILE = "state.json"
OPTIMIZER_FILE = "optimizer.pt"
RESUME_FILE = "resume.npz"
MODEL_FILES = (MODEL_FILE, NORMALIZER_FILE)
CHECKPOINT_FILES = (*MODEL_FILES, OPTIMIZER_FILE, RESUME_FILE)
PROGRESS_FILE = "progress.csv"  # SB3's log: losses, entropy, explained variance per update
# SB3 keys left out of progress.csv: wall-clock speed, and the iteration count of one
# learn() call (it restarts at a resume; train/n_updates carries on), so a run writes the
# same bytes whether or not it was resumed
UNREPRODUCIBLE_KEYS = ("time/fps", "time/time_elapsed", "time/iterations")
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


def save_model(model: BaseAlgorithm, normalizer: VecNormalize, folder: Path) -> dict[str, str]:
    """Write ``policy.pt`` (weights) and ``vecnormalize.npz`` into ``folder``, each
    atomically; return their sha256 (``meta.json``'s ``files``)."""
    folder.mkdir(parents=True, exist_ok=True)
    save_policy(model.policy, folder / MODEL_FILE)
    save_normalizer(normalizer, folder / NORMALIZER_FILE)
    return file_hashes(folder, MODEL_FILES)


class ProgressCsv(KVWriter):
    """SB3's log as ``progress.csv``: a row per dump (each PPO update: ``train/`` losses,
    entropy, explained variance, ...; ``eval/mean_cost`` at held-out evaluations).

    SB3's own CSV writer orders new columns as a set does (a new order in every process)
    and records wall-clock speed; here columns are sorted and :data:`UNREPRODUCIBLE_KEYS` left
    out, so the same run writes the same bytes. ``rows`` continues a resumed run's log.
    """

    def __init__(self, path: Path, rows: list[dict[str, float]] | None = None) -> None:
        self.path, self.rows = path, list(rows or [])

    def write(
        self, key_values: dict[str, Any], key_excluded: dict[str, tuple[str, ...]], step: int = 0
    ) -> None:
        values = filter_excluded_keys(key_values, key_excluded, "csv")
        self.rows.append(
            {
                key: float(value)
                for key, value in values.items()
                if key not in UNREPRODUCIBLE_KEYS and isinstance(value, int | float | np.number)
            }
        )
        self.save(self.path)

    def save(self, path: Path) -> None:
        """Write every row so far to ``path``."""
        write_csv(path, pd.DataFrame(self.rows).sort_index(axis=1))

    def close(self) -> None:
        """Every row is on disk already."""

    @staticmethod
    def read(path: Path) -> list[dict[str, float]]:
        """The rows of a ``progress.csv`` (none when it does not exist)."""
        if not path.is_file():
            return []
        frame = pd.read_csv(path)
        return [{k: v for k, v in row.items() if v == v} for row in frame.to_dict("records")]


def _progress_logger(folder: Path, rows: list[dict[str, float]] | None = None) -> Logger:
    """An SB3 logger writing ``progress.csv`` into the model folder only (no temporary
    ``SB3-*`` folder, as SB3's default logger makes)."""
    return Logger(str(folder), [ProgressCsv(folder / PROGRESS_FILE, rows)])


def training_end(total_timesteps: int, n_steps: int, n_envs: int) -> int:
    """The step count at which ``learn(total_timesteps)`` stops: SB3 runs whole rollouts
    of ``n_steps x n_envs`` steps, so 150,000 steps of 52 x 64 end at 153,088."""
    rollout = n_steps * n_envs
    return -(-total_timesteps // rollout) * rollout


class RolloutProgressBar(ProgressBarCallback):
    """SB3's progress bar, counting to where training really ends (:func:`training_end`;
    SB3's own counts to ``total_timesteps`` and then overshoots by the last rollout)."""

    def _on_training_start(self) -> None:
        from stable_baselines3.common.callbacks import tqdm  # SB3's bar: tqdm.rich

        model = cast(PPO, self.model)
        end = training_end(self.locals["total_timesteps"], model.n_steps, model.n_envs)
        self.pbar = tqdm(total=end - model.num_timesteps)


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
        checkpoints: Folder of the checkpoints (default ``<folder>/checkpoints``).
        inputs: What decides the run (:func:`~inventory.run_inputs.run_inputs`), recorded
            in every checkpoint so that a resume can check it continues the same run.
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
        checkpoints: Path | None = None,
        inputs: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.instance, self.setup, self.meta, self.run = instance, setup, meta, run
        self.folder, self.curve_path, self.terminal = folder, curve_path, terminal
        self.checkpoints = checkpoints if checkpoints is not None else folder / CHECKPOINTS
        self.inputs = inputs
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
        self.save_best_or_last(self.folder / "last")

    def _normalizer(self) -> VecNormalize:
        return cast(VecNormalize, self.model.get_env())  # training always wraps it

    def live_meta(self) -> dict[str, Any]:
        """``meta.json`` content for the current model."""
        return {**self.meta, "timesteps": self.num_timesteps}

    def save_best_or_last(self, folder: Path, **extra: Any) -> None:
        """Write the model files, then ``meta.json`` with their sha256 (written last)."""
        hashes = save_model(self.model, self._normalizer(), folder)
        write_json(folder / META_FILE, {**self.live_meta(), **extra, "files": hashes})

    def policy(self) -> PPOPolicy:
        """The live model as a Protocol policy (normalising with the current stats)."""
        normalize = cast(Callable[[np.ndarray], np.ndarray], self._normalizer().normalize_obs)
        return PPOPolicy(self.model, normalize, self.meta, "training")

    def evaluate(self) -> float:
        """Mean held-out cost of the current model; keep it when it is the best."""
        cost = simulate(
            self.instance, self.setup.eval_demand, self.policy(), terminal=self.terminal
        ).total_cost()
        mean, low, high = _mean_ci(cost)
        steps = self.num_timesteps
        if mean < self.best_cost:
            self.best_cost, self.best_timesteps = mean, steps
            self.save_best_or_last(self.folder, best_eval_cost=mean)
        # dumped with the next update's row: eval/timesteps says which model it scored
        self.logger.record("eval/mean_cost", mean)
        self.logger.record("eval/timesteps", steps)
        values = (steps, mean, low, high, self.best_cost, self.elapsed())
        row = dict(zip(CURVE_COLUMNS, values, strict=True))
        self.rows.append(row)
        self.last_eval = steps
        write_csv(self.curve_path, pd.DataFrame(self.rows, columns=list(CURVE_COLUMNS)))
        return mean

    def state(self) -> dict[str, Any]:
        """The run's state besides the model files: the callback's and SB3's counters and
        the random states (see :func:`run_state`)."""
        return {
            "timesteps": self.num_timesteps,
            "curve": self.rows,
            "best_cost": self.best_cost,
            "best_timesteps": self.best_timesteps,
            "elapsed_s": self.elapsed(),
            "run": run_state(self.model),
            "inputs": self.inputs,
            # recorded but not yet dumped (the last update's losses): the resumed run's
            # first progress.csv row then holds them as an uninterrupted run's does
            "log_pending": {
                key: float(value)
                for key, value in self.logger.name_to_value.items()
                if isinstance(value, int | float | np.number)
            },
        }

    def checkpoint(self) -> Path:
        """Save everything a resume needs under ``<checkpoints>/step_<n>/`` (state last):
        the live model, optimizer, random states and a copy of the best model so far
        (``best/``), so a resume after ``kill -9`` restores the best-model tracker too."""
        folder = self.checkpoints / f"step_{self.num_timesteps:010d}"
        with write_through():  # a checkpoint lands at once, even in a command's transaction
            _copy_best(self.folder, folder / BEST_DIR)
            hashes = save_model(self.model, self._normalizer(), folder)
            save_tensors(self.model.policy.optimizer.state_dict(), folder / OPTIMIZER_FILE)
            save_arrays(run_arrays(self.model), folder / RESUME_FILE)
            for writer in self.logger.output_formats:
                if isinstance(writer, ProgressCsv):
                    writer.save(folder / PROGRESS_FILE)
            hashes.update(file_hashes(folder, (OPTIMIZER_FILE, RESUME_FILE)))
            write_json(folder / STATE_FILE, {**self.state(), "files": hashes})
        self.last_checkpoint = self.num_timesteps
        return folder


def _obs_size(env: VecNormalize) -> int:
    """Length of the flat observation (the env's Box always has a shape)."""
    return int(np.prod(cast(tuple[int, ...], env.observation_space.shape)))


def _raw_env(model: BaseAlgorithm) -> InventoryVecEnv:
    """The batched env under the model's VecNormalize wrapper."""
    return cast(InventoryVecEnv, cast(VecNormalize, model.get_env()).venv)


def run_state(model: BaseAlgorithm) -> dict[str, Any]:
    """JSON part of what decides the rest of a run: SB3's counters and schedule position,
    the Python, numpy (scalars) and VecEnv random states and the env's week."""
    import torch

    _, _, pos, has_gauss, cached_gaussian = np.random.get_state()
    version, internal, gauss = random.getstate()
    raw = _raw_env(model)
    return {
        "num_timesteps": int(model.num_timesteps),
        "progress_remaining": float(model._current_progress_remaining),
        "n_updates": int(model._n_updates),
        "episode_num": int(model._episode_num),
        "numpy_random": [int(pos), int(has_gauss), float(cached_gaussian)],
        "python_random": [version, list(internal), gauss],
        "torch_seed": int(torch.initial_seed()),
        "env_rng": raw.rng.bit_generator.state,
        "env_week": int(raw.core.state.t),
    }


def run_arrays(model: BaseAlgorithm) -> dict[str, np.ndarray]:
    """Array part of what decides the rest of a run: the numpy and torch generator states,
    the VecEnv's current episode (demand draw and state) and SB3's last observation."""
    import torch

    raw = _raw_env(model)
    state = raw.core.state
    numpy_state = cast(tuple[Any, ...], np.random.get_state())  # legacy tuple form
    arrays: dict[str, Any] = {
        "numpy_keys": numpy_state[1],
        "torch_rng": torch.get_rng_state().numpy(),
        "env_demand": raw.core.demand,
        "env_on_hand": state.on_hand,
        "env_ring": state.ring,
        "env_last_order": state.last_order,
        "last_obs": model._last_obs,
        "last_episode_starts": model._last_episode_starts,
    }
    if state.transit_total is not None:
        arrays["env_transit_total"] = state.transit_total
    return arrays


def restore_run(model: PPO, checkpoint: Path, state: dict[str, Any]) -> None:
    """Put a fresh model (built as the run built it) into the state saved in ``checkpoint``.

    Raises:
        ValueError: the checkpoint is in the old pickle format, a file's sha256 differs or
            the weights do not fit the model.
    """
    import torch

    if "files" not in state or "run" not in state:
        raise ValueError(
            f"checkpoint {checkpoint} was written by an older version (pickled model); "
            "train without --resume"
        )
    verify_files(checkpoint, state["files"], CHECKPOINT_FILES)
    hint = "it was made with other params or data; train without --resume"
    load_weights(model.policy, checkpoint / MODEL_FILE, hint)
    load_weights(model.policy.optimizer, checkpoint / OPTIMIZER_FILE, hint)
    restore_normalizer(model.get_env(), load_arrays(checkpoint / NORMALIZER_FILE))
    arrays, run = load_arrays(checkpoint / RESUME_FILE), state["run"]
    _restore_env(_raw_env(model), arrays, run)
    np.random.set_state(("MT19937", arrays["numpy_keys"], *run["numpy_random"]))
    torch.set_rng_state(torch.from_numpy(arrays["torch_rng"]))
    version, internal, gauss = run["python_random"]
    random.setstate((version, tuple(internal), gauss))
    model.num_timesteps = run["num_timesteps"]
    model._current_progress_remaining = run["progress_remaining"]
    model._n_updates, model._episode_num = run["n_updates"], run["episode_num"]
    model._last_obs = arrays["last_obs"]
    model._last_episode_starts = arrays["last_episode_starts"]


def _restore_env(raw: InventoryVecEnv, arrays: dict[str, np.ndarray], run: dict[str, Any]) -> None:
    raw.core.demand = arrays["env_demand"].copy()
    raw.core.state = State(
        t=run["env_week"],
        on_hand=arrays["env_on_hand"].copy(),
        ring=arrays["env_ring"].copy(),
        last_order=arrays["env_last_order"].copy(),
        transit_total=arrays["env_transit_total"].copy() if "env_transit_total" in arrays else None,
    )
    raw.rng.bit_generator.state = run["env_rng"]
    raw._reset_seeds()  # the model's constructor seeded the env: that reseed is long done


def checkpoint_root(model_folder: str | Path) -> Path:
    """Where a model folder's checkpoints live: ``<folder>.checkpoints`` next to it.

    Outside the model folder on purpose: a command's outputs land together when it ends
    (:func:`inventory.io.transaction` stages the model folder), while checkpoints must
    survive a killed run so that ``--resume`` can continue it.
    """
    folder = Path(model_folder)
    return confined(folder.parent, f"{folder.name}.{CHECKPOINTS}")


def latest_checkpoint(model_folder: str | Path) -> Path | None:
    """The last complete checkpoint of a model folder (one with its state file), or None."""
    root = checkpoint_root(model_folder)
    done = sorted(p for p in root.glob("step_*") if (p / STATE_FILE).exists())
    return done[-1] if done else None


def _copy_best(model_folder: Path, target: Path) -> None:
    """Copy the best model's files (weights, statistics, meta.json) into ``target``."""
    import shutil

    target.mkdir(parents=True, exist_ok=True)
    for name in (*MODEL_FILES, META_FILE):
        if (model_folder / name).is_file():
            shutil.copy2(model_folder / name, target / name)


def learning_rate_schedule(run: PPOProfileConfig) -> float | Callable[[float], float]:
    """Constant ``learning_rate``, or linear from it to ``learning_rate_final`` (SB3 passes
    the share of training left, 1 -> 0)."""
    start, end = run.learning_rate, run.learning_rate_final
    if end is None:
        return start
    return lambda remaining: end + (start - end) * remaining


def _policy_choice(
    config: Config, run: PPOProfileConfig, env: VecNormalize
) -> tuple[Any, dict[str, Any]]:
    """The SB3 policy class and its kwargs for ``ppo.policy`` (shared or catalog)."""
    arch = list(run.net_arch)
    if config.ppo.policy == "catalog":
        return "MlpPolicy", {"net_arch": {"pi": arch, "vf": arch}, "log_std_init": run.log_std_init}
    core = cast(InventoryVecEnv, env.venv).core
    kwargs = {
        "net_arch": list(run.shared_net_arch),
        "log_std_init": run.log_std_init,
        "n_sku_features": core.n_sku_features,
        "n_context": core.n_context,
    }
    return SharedSkuPolicy, kwargs


def _new_model(config: Config, run: PPOProfileConfig, env: VecNormalize) -> PPO:
    policy, policy_kwargs = _policy_choice(config, run, env)
    return PPO(
        policy,
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
        policy_kwargs=policy_kwargs,
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
        # the shared policy's features are ratios already; statistics per dimension
        # would tie the model to the catalog's size
        norm_obs=ppo.normalize_observations and ppo.policy == "catalog",
        norm_reward=ppo.normalize_rewards,
        clip_obs=setup.settings.env.obs_clip,
        gamma=run.gamma,
    )


def _mark_anchor(folder: Path, callback: CostEvalCallback) -> bool:
    """Whether the kept model beats its anchor (the step-0 model, whose mean action is 0
    for the shared policy); recorded in the best model's ``meta.json`` (not a hashed
    file) so the evaluator never presents the anchor rule as a learned policy."""
    rows = callback.rows
    beats = bool(
        rows
        and rows[0]["timesteps"] == 0
        and callback.best_timesteps > 0
        and callback.best_cost < rows[0]["mean_cost"]
    )
    if (folder / META_FILE).exists():
        meta = read_json(folder / META_FILE)
        write_json(folder / META_FILE, {**meta, "beats_anchor": beats})
    return beats


def _resume_state(checkpoint: Path, inputs: dict[str, Any], location: str) -> dict[str, Any]:
    """A checkpoint's state, after checking it was made with the same settings and data."""
    state = read_json(
        checkpoint / STATE_FILE,
        "train without --resume to start over (the checkpoints are then replaced)",
    )
    if not isinstance(state, dict):
        raise ValueError(
            f"{checkpoint / STATE_FILE}: not a checkpoint state; train without --resume"
        )
    check_same_inputs(checkpoint, state.get("inputs"), inputs, location)
    return state


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

    Raises:
        ValueError: bad batch size, or (``resume``) a checkpoint that is not valid, was
            made with other settings or data, or whose files changed.
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
    checkpoints = checkpoint_root(folder)
    checkpoint = latest_checkpoint(folder) if resume else None
    setup = training_setup(config, instance, mode, demand_model)
    model_id = demand_model_id(setup.settings.demand_model)
    inputs = run_inputs(config, instance, mode, model_id)
    state = _resume_state(checkpoint, inputs, instance.location) if checkpoint else {}
    # a fresh run must not resume from, or keep, an older run's checkpoints; they are set
    # aside, deleted when this run succeeds and put back when it fails before writing its own
    older = set_aside(folder.parent, checkpoints.name) if checkpoint is None else nullcontext()
    with older:
        # in a transaction the model is built in a staging folder that replaces the model
        # folder with the metrics, so a killed run leaves the previous model and its metrics
        work = staging_folder(folder)
        if work == folder and folder.exists():
            remove_tree(folder.parent, folder.name)  # no older best model left behind
        if checkpoint is not None:
            _copy_best(checkpoint / BEST_DIR, work)  # the best model the run had kept
        done = int(state.get("timesteps", 0))
        set_random_seed(ppo.seed)
        env = _env(config, run, instance, setup, seed=ppo.seed)
        model = _new_model(config, run, env)
        model.set_logger(
            _progress_logger(
                work, ProgressCsv.read(checkpoint / PROGRESS_FILE) if checkpoint else []
            )
        )
        if checkpoint is not None:
            restore_run(model, checkpoint, state)
            for key, value in state.get("log_pending", {}).items():
                model.logger.record(key, value)
        features = (
            cast(InventoryVecEnv, env.venv).core.feature_names() if ppo.policy == "shared" else None
        )
        meta = {
            **catalog_meta(instance, setup.settings, _obs_size(env), features),
            "mode": mode,
            "anchor": setup.anchor,
            "anchor_offset": setup.anchor_offset.tolist(),
            "demand_model_id": model_id,
            "scenarios": setup.scenarios,
            "profile": ppo.profile_for(mode),
            "ppo": config_to_dict(ppo),
            "policy": policy_spec(model.policy),
        }
        callback = CostEvalCallback(
            instance,
            setup,
            meta,
            run,
            work,
            curve_path,
            config.simulation.terminal_cost,
            state,
            checkpoints=checkpoints,
            inputs=inputs,
        )
        started = time.perf_counter()
        show_bar = ppo.progress_bar if progress_bar is None else progress_bar
        model.learn(
            total_timesteps=max(run.total_timesteps - done, 0),
            callback=CallbackList([callback, RolloutProgressBar()]) if show_bar else callback,
            reset_num_timesteps=checkpoint is None,
        )
        seconds = time.perf_counter() - started
        model.logger.dump(model.num_timesteps)  # the last update's losses (SB3 dumps before one)
        initial = callback.rows[0]["mean_cost"] if callback.rows else None
        beats_anchor = _mark_anchor(work, callback)
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
            "initial_eval_cost": initial,
            "beats_anchor": beats_anchor,
            "policy": ppo.policy,
            "n_eval_scenarios": int(setup.eval_demand.shape[0]),
            "torch_threads": ppo.torch_threads,
            "n_envs": run.n_envs,
        }
        write_json(confined(metrics_root, f"train_{suffix}.json"), metrics)
        curve = pd.DataFrame(callback.rows, columns=list(CURVE_COLUMNS))
    return TrainResult(folder, metrics, curve, model)
