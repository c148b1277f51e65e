"""A trained PPO model behind the common :class:`~inventory.policies.Policy` Protocol.

:class:`PPOPolicy` turns the simulator's state into the environment's observation (the
env's own observation code, :class:`inventory.env.InventoryVecEnv`), normalises it with
the statistics saved with the model, takes the model's deterministic action and maps it
to proposed orders with the env's action mapping. The simulator then projects the
proposals onto the ramp band and the container capacity like every other policy's.

Action parameterisation (see :mod:`inventory.env`): action ``a_p`` in [-1, 1] scales an
order-up-to level, ``level = anchor_tp * (1 + action_scale * a_p)``, and the proposal is
``max(0, level - inventory_position)``. The anchor is the planners' order-up-to level
(``ppo.modes.<mode>.anchor: planner``) or that level plus the tuned base-stock offset per
SKU (``base_stock``, offsets tuned on the training scenarios and stored with the model), or
the level that ends each order's cover exactly on the safety-stock target when demand is the
forecast (``target``, :func:`target_levels`; deterministic mode's anchor in params.yaml).
``a = 0`` is exactly the anchor rule, so PPO starts from a sensible policy and learns
state-dependent corrections.

A model folder (written by :mod:`inventory.training`) holds ``policy.pt`` (the weights of
the best model by held-out mean cost), ``vecnormalize.npz`` (observation statistics) and
``meta.json`` (catalog, observation shape, env settings, anchor offsets, the policy's
constructor arguments and the sha256 of both files); see :mod:`inventory.model_files`.
Nothing in it is unpickled. A catalog-network model (``ppo.policy: catalog``) records its
SKUs and loading it for an instance with other SKUs or another observation shape raises
:class:`ValueError`; a shared-policy model records the feature layout it needs
(``features``: per-SKU and context names) and loads on any catalog that gives those
features, refusing one that does not (e.g. a longer longest lead time). A hash that does
not match ``meta.json`` or a folder in SB3's pickle format (``model.zip``) is refused too.

The evaluator's ``"ppo"`` factory (:mod:`inventory.policy_factories`) loads the model
folder the stage passes it, and raises ValueError when it holds no model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np

from inventory.dynamics import State
from inventory.env import EnvKnobs, EnvSettings, InventoryVecEnv
from inventory.instance import Instance
from inventory.io import read_json, settle
from inventory.model_files import (
    NORMALIZER_FILE,
    WEIGHTS_FILE,
    load_normalizer,
    load_policy,
    refuse_legacy,
    verify_files,
)
from inventory.policies import cover_levels, planner_levels

__all__ = [
    "PPOPolicy",
    "MODEL_FILE",
    "NORMALIZER_FILE",
    "META_FILE",
    "catalog_meta",
    "check_catalog",
    "check_features",
    "is_shared",
    "settings_from_meta",
    "anchor_levels",
    "target_levels",
]

MODEL_FILE = WEIGHTS_FILE
META_FILE = "meta.json"

Normalizer = Callable[[np.ndarray], np.ndarray]


FEATURES_VERSION = 1


def catalog_meta(
    instance: Instance,
    settings: EnvSettings,
    obs_dim: int,
    features: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """What a model must match to be used on an instance (stored in ``meta.json``).

    A catalog-network model records its SKUs and observation size; a shared-policy model
    (``features``: the env's :meth:`~inventory.env._Core.feature_names`) records the
    feature layout it needs instead, and where it was trained only for information.
    """
    if features is not None:
        return {
            "location": instance.location,
            "trained_on": {"n_skus": instance.n_skus, "skus": list(instance.skus)},
            "features": {"version": FEATURES_VERSION, **features},
            "max_lead_time_weeks": int(instance.lead_time_weeks.max()),
            "env": {f.name: getattr(settings.env, f.name) for f in fields(EnvKnobs)},
            "review_period_weeks": settings.review_period_weeks,
            "terminal_cost": settings.terminal_cost,
        }
    return {
        "location": instance.location,
        "skus": list(instance.skus),
        "n_skus": instance.n_skus,
        "obs_dim": int(obs_dim),
        "max_lead_time_weeks": int(instance.lead_time_weeks.max()),
        "env": {f.name: getattr(settings.env, f.name) for f in fields(EnvKnobs)},
        "review_period_weeks": settings.review_period_weeks,
        "terminal_cost": settings.terminal_cost,
    }


def settings_from_meta(meta: dict[str, Any]) -> EnvSettings:
    """The env settings a model was trained with (observation and action mapping)."""
    env = EnvKnobs(**{**meta["env"], "demand": "deterministic", "initial_on_hand_noise": 0.0})
    return EnvSettings(
        env=env,
        review_period_weeks=int(meta["review_period_weeks"]),
        terminal_cost=bool(meta["terminal_cost"]),
    )


def target_levels(instance: Instance, review_period_weeks: int = 1) -> np.ndarray:
    """Order-up-to levels (T, P) that meet the safety-stock target on the forecast.

    An order placed in week t covers the weeks until the next order arrives, t .. t + L + R
    - 1; ordering up to the forecast over those weeks plus the target of the last one,
    ``S * forecast[t + L + R - 1]``, ends that week exactly on target when demand equals the
    forecast (without ramp or capacity limits). The planners' level (forecast over L + R + S
    weeks) ends it on S weeks of *later* demand instead: above target while demand rises,
    below it while demand falls.
    """
    cover = instance.lead_time_weeks + review_period_weeks
    through = cover_levels(instance, cover)
    last_week = through - cover_levels(instance, cover - 1)
    return through + instance.safety_stock_weeks * last_week


def anchor_levels(
    instance: Instance, review_period_weeks: int, offset: Any, anchor: str = "base_stock"
) -> np.ndarray:
    """Order-up-to levels (T, P) that action 0 reproduces: the ``target`` levels
    (:func:`target_levels`), else the planner levels; plus the per-SKU offset."""
    if anchor == "target":
        base = target_levels(instance, review_period_weeks)
    else:
        base = planner_levels(instance, review_period_weeks)
    return base + np.asarray(offset, dtype=float)


def check_features(meta: dict[str, Any], env: InventoryVecEnv, where: str) -> None:
    """Raise ValueError when a shared-policy model needs other features than ``env`` gives."""
    wanted = {k: v for k, v in meta["features"].items() if k != "version"}
    given = env.core.feature_names()
    if meta["features"].get("version") != FEATURES_VERSION or wanted != given:
        differ = [k for k in ("sku_features", "context") if wanted.get(k) != given[k]]
        raise ValueError(
            f"PPO model {where} needs other observation features ({', '.join(differ) or 'version'}"
            f": the model has {wanted.get('sku_features')} per SKU, this instance gives "
            f"{given['sku_features']}; other lead times or lookahead). Retrain it: "
            "inventory train --mode <mode>"
        )


def check_catalog(meta: dict[str, Any], instance: Instance, obs_dim: int, where: str) -> None:
    """Raise ValueError when the catalog-network model in ``where`` was trained for another
    catalog."""
    skus = tuple(meta.get("skus", ()))
    if skus != tuple(instance.skus):
        missing = sorted(set(instance.skus) - set(skus))[:5]
        extra = sorted(set(skus) - set(instance.skus))[:5]
        raise ValueError(
            f"PPO model {where} was trained for another catalog ({len(skus)} SKUs at location "
            f"{meta.get('location')!r}; this instance has {instance.n_skus} SKUs at "
            f"{instance.location!r}; not in the model: {missing}, not in the data: {extra}, "
            "or another SKU order). Retrain it: inventory train --mode <mode>"
        )
    if int(meta.get("obs_dim", -1)) != obs_dim:
        raise ValueError(
            f"PPO model {where} expects observations of size {meta.get('obs_dim')}, this "
            f"instance gives {obs_dim} (other lead times or lookahead). Retrain it: "
            "inventory train --mode <mode>"
        )


def is_shared(meta: dict[str, Any]) -> bool:
    """Whether ``meta.json`` describes a shared-policy model (feature spec, any catalog)."""
    return "features" in meta


def _check(meta: dict[str, Any], instance: Instance, env: InventoryVecEnv, where: str) -> None:
    if is_shared(meta):
        check_features(meta, env, where)
    else:
        check_catalog(meta, instance, env.core.obs_dim, where)


class PPOPolicy:
    """A PPO model as a :class:`~inventory.policies.Policy` (deterministic actions).

    Args:
        model: A stable-baselines3 PPO model or its policy (anything with SB3's
            ``predict``).
        normalize: Observation normaliser (the saved VecNormalize statistics), or None.
        meta: The model's ``meta.json`` content (env settings, catalog, anchor offset).
        where: Where the model came from (for error messages).
        anchor_offset: Per-SKU anchor offsets of the instance it acts on; None: the
            model's own (a shared model on another catalog needs the new catalog's).
    """

    def __init__(
        self,
        model: Any,
        normalize: Normalizer | None,
        meta: dict[str, Any],
        where: str = "",
        anchor_offset: Any = None,
    ) -> None:
        self.model, self.normalize, self.meta, self.where = model, normalize, meta, where
        self.settings = settings_from_meta(meta)
        own = meta.get("anchor_offset", 0.0)
        self.anchor_offset = own if anchor_offset is None else anchor_offset
        self._env: InventoryVecEnv | None = None

    @classmethod
    def load(cls, folder: str | Path, instance: Instance, anchor_offset: Any = None) -> PPOPolicy:
        """Load ``policy.pt``, ``vecnormalize.npz`` and ``meta.json`` from ``folder``.

        Both files are checked against the sha256 in ``meta.json`` before either is read.
        A shared-policy model loads on any instance whose observation features match; on
        a catalog other than its own, a ``base_stock``-anchored model needs that
        catalog's ``anchor_offset`` (tuned base-stock safety units per SKU).

        Raises:
            ValueError: no model there, a model in the old pickle format, a file changed
                after training, a model trained for another catalog (catalog network) or
                other features (shared policy), or no anchor offsets for a new catalog.
        """
        folder = Path(folder)
        settle(folder.parent)  # a model swap cut short is finished before reading
        refuse_legacy(folder)
        if not (folder / MODEL_FILE).exists() or not (folder / META_FILE).exists():
            raise ValueError(f"no PPO model in {folder}; train one: inventory train --mode <mode>")
        retrain = "retrain the model (inventory train --mode <mode>) or restore it with `dvc pull`"
        meta = read_json(folder / META_FILE, retrain)
        if not isinstance(meta, dict):
            got = repr(meta)[:40]
            raise ValueError(f"{folder / META_FILE}: not a JSON object (got {got}); {retrain}")
        verify_files(folder, meta.get("files"), (MODEL_FILE, NORMALIZER_FILE))
        env = InventoryVecEnv(instance, 1, settings_from_meta(meta))
        _check(meta, instance, env, str(folder))
        if is_shared(meta):
            model = load_policy(
                folder / MODEL_FILE,
                meta.get("policy", {}),
                (env.observation_space, env.action_space),
            )
            offset = _shared_offset(meta, instance, anchor_offset, str(folder))
            return cls(model, None, meta, str(folder), offset)
        model = load_policy(folder / MODEL_FILE, meta.get("policy", {}))
        if model.observation_space.shape != env.observation_space.shape:
            raise ValueError(
                f"PPO model {folder}: observation shape {model.observation_space.shape} does "
                f"not match this instance's {env.observation_space.shape}; retrain it"
            )
        normalize = load_normalizer(folder / NORMALIZER_FILE, env).normalize_obs
        return cls(model, normalize, meta, str(folder), anchor_offset)

    def reset(self, instance: Instance, n_scenarios: int) -> None:
        env = InventoryVecEnv(instance, n_scenarios, self.settings)
        _check(self.meta, instance, env, self.where or "in memory")
        env.core.levels = anchor_levels(
            instance,
            self.settings.review_period_weeks,
            self.anchor_offset,
            self.meta.get("anchor", "base_stock"),
        )
        self._env = env

    def act(self, instance: Instance, state: State, t: int) -> np.ndarray:
        if self._env is None:
            raise RuntimeError("PPOPolicy.act before reset()")
        core = self._env.core
        core.state = state
        obs = core.observe()
        if self.normalize is not None:
            obs = self.normalize(obs)
        action, _ = self.model.predict(obs, deterministic=True)
        return core.orders_from_action(action)


def _shared_offset(meta: dict[str, Any], instance: Instance, offset: Any, where: str) -> Any:
    """The anchor offsets a shared model uses on ``instance``."""
    if offset is not None:
        return offset
    own = tuple(meta.get("trained_on", {}).get("skus", ()))
    if own == tuple(instance.skus) or meta.get("anchor") != "base_stock":
        return meta.get("anchor_offset", 0.0) if own == tuple(instance.skus) else 0.0
    raise ValueError(
        f"PPO model {where} was trained on another catalog with a base_stock anchor: pass "
        "this catalog's tuned base-stock offsets (anchor_offset) to use it here"
    )
