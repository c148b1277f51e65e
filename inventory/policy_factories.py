"""The policies the evaluator and the recommender can build, by name: one explicit table.

:data:`POLICY_FACTORIES` maps each name of ``evaluation.policies`` (and
``recommend.policy``) to a factory ``(config, instance, mode, train_demand, sources) ->
Policy``. ``train_demand`` holds the training scenarios (for tuning and the sample-average
plan); :class:`PolicySources` holds what the stage read from disk or found there (the
demand model, the PPO model folder, the solve stage's plans, the tuning cache). Nothing
here knows a path convention; a factory whose input is missing raises a ValueError that
names it and how to make it.

- ``order_up_to``, ``do_nothing``: rules of :mod:`inventory.policies`.
- ``base_stock``, ``s_S``: tuned on the training scenarios; the levels are kept in the
  tuning cache under a key of everything they depend on, so a re-run or the recommend
  stage reuses the search.
- ``milp_open_loop``, ``milp_saa``, ``milp_rolling``, ``milp_hindsight``: the MILP
  policies of :mod:`inventory.milp_policies`; the open-loop and SAA plans are replayed
  from the solve stage's output when its key matches, else solved here.
- ``ppo``: the trained model of the mode (:class:`inventory.ppo_policy.PPOPolicy`).
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from inventory.config import Config
from inventory.instance import Instance
from inventory.io import write_json
from inventory.milp_policies import (
    Hindsight,
    OpenLoopPlan,
    RollingHorizon,
    SampleAveragePlan,
    SolvedPlans,
    hindsight_settings,
    planning_demand,
    saa_settings,
)
from inventory.policies import (
    BaseStock,
    DoNothing,
    OrderUpTo,
    Policy,
    SSPolicy,
    TuningResult,
    planner_levels,
    tune_base_stock,
    tune_s_s,
)
from inventory.scenarios import DemandModel, demand_model_id

__all__ = ["PolicySources", "PolicyFactory", "POLICY_FACTORIES", "build_policies"]


@dataclass(frozen=True)
class PolicySources:
    """What the policies of one mode read, as the stage found it.

    Attributes:
        demand_model: The stochastic demand model in use (PPO warns when its model was
            trained on another one); None: not checked.
        ppo_model: The PPO model folder of the mode (``policy.pt`` inside); None: none.
        solved_plans: The solve stage's plans to replay when their key matches; None:
            always solve.
        tuning_cache: Folder of tuned levels; None: tune every time, store nothing.
    """

    demand_model: DemandModel | None = None
    ppo_model: Path | None = None
    solved_plans: SolvedPlans | None = None
    tuning_cache: Path | None = None


PolicyFactory = Callable[[Config, Instance, str, np.ndarray, PolicySources], Policy]


# --------------------------------------------------------------------------- rules


def _order_up_to(
    config: Config, instance: Instance, mode: str, train: np.ndarray, sources: PolicySources
) -> Policy:
    return OrderUpTo(config.simulation.review_period_weeks)


def _do_nothing(
    config: Config, instance: Instance, mode: str, train: np.ndarray, sources: PolicySources
) -> Policy:
    return DoNothing()


def _tuning_key(kind: str, config: Config, instance: Instance, train: np.ndarray) -> str:
    digest = hashlib.sha256(instance.fingerprint())
    digest.update(np.ascontiguousarray(train, dtype=float).tobytes())
    # The search's name too: levels tuned by the quadratic search of before issue 17 are
    # not reused as if the linear one had found them.
    knobs = (
        kind,
        "linear search",
        config.simulation.review_period_weeks,
        config.simulation.terminal_cost,
        config.evaluation.tune_max_passes,
    )
    digest.update(repr(knobs).encode())
    return f"{kind}-{digest.hexdigest()[:20]}"


def _read_tuning(path: Path, kind: str, levels: np.ndarray) -> TuningResult | None:
    """The stored result at ``path``, or None when absent or unreadable."""
    if not path.is_file():
        return None
    try:
        stored = json.loads(path.read_text())
        offset = np.asarray(stored["safety_units"], dtype=float)
        quantity = np.asarray(stored["order_quantity"], dtype=float)
        policy: BaseStock | SSPolicy
        if kind == "base_stock":
            policy = BaseStock(levels, offset)
        else:
            policy = SSPolicy(levels, quantity, offset)
        cost_per_sku = np.asarray(stored["cost_per_sku"], dtype=float)
        return TuningResult(policy, offset, quantity, cost_per_sku, float(stored["cost"]))
    except (OSError, ValueError, KeyError):
        return None  # unreadable: tune again and overwrite it


def _cached_tuning(
    kind: str,
    config: Config,
    instance: Instance,
    train: np.ndarray,
    cache: Path | None,
    tune: Callable[[], TuningResult],
) -> TuningResult:
    """``tune()`` once per key; later calls rebuild the policy from the stored levels."""
    if cache is None:
        return tune()
    path = cache / f"{_tuning_key(kind, config, instance, train)}.json"
    levels = planner_levels(instance, config.simulation.review_period_weeks)
    stored = _read_tuning(path, kind, levels)
    if stored is not None:
        return stored
    result = tune()
    write_json(
        path,
        {
            "safety_units": result.safety_units,
            "order_quantity": result.order_quantity,
            "cost_per_sku": result.cost_per_sku,
            "cost": result.cost,
        },
    )
    return result


def _tuned_base_stock(
    config: Config, instance: Instance, train: np.ndarray, cache: Path | None
) -> TuningResult:
    return _cached_tuning(
        "base_stock",
        config,
        instance,
        train,
        cache,
        lambda: tune_base_stock(
            instance,
            train,
            review_period_weeks=config.simulation.review_period_weeks,
            terminal=config.simulation.terminal_cost,
            max_passes=config.evaluation.tune_max_passes,
        ),
    )


def _base_stock(
    config: Config, instance: Instance, mode: str, train: np.ndarray, sources: PolicySources
) -> Policy:
    return _tuned_base_stock(config, instance, train, sources.tuning_cache).policy


def _s_s(
    config: Config, instance: Instance, mode: str, train: np.ndarray, sources: PolicySources
) -> Policy:
    return _cached_tuning(
        "s_S",
        config,
        instance,
        train,
        sources.tuning_cache,
        lambda: tune_s_s(
            instance,
            train,
            review_period_weeks=config.simulation.review_period_weeks,
            terminal=config.simulation.terminal_cost,
            max_passes=config.evaluation.tune_max_passes,
            base=_tuned_base_stock(config, instance, train, sources.tuning_cache),
        ),
    ).policy


# --------------------------------------------------------------------------- MILP

# The open-loop plan serves milp_open_loop in both modes, milp_saa in deterministic mode
# and the hindsight plan of the forecast scenario: solved (or loaded) once.
_OPEN_LOOP_CACHE: dict[tuple, OpenLoopPlan] = {}


def _open_loop(
    config: Config, instance: Instance, mode: str, train: np.ndarray, sources: PolicySources
) -> OpenLoopPlan:
    """The plan on the forecast; solved once per instance and settings (both modes)."""
    terminal = config.simulation.terminal_cost
    key = (instance.fingerprint(), config.milp, terminal, sources.solved_plans)
    if key not in _OPEN_LOOP_CACHE:
        _OPEN_LOOP_CACHE.clear()
        _OPEN_LOOP_CACHE[key] = OpenLoopPlan(
            instance, config.milp, terminal=terminal, stored=sources.solved_plans
        )
    return _OPEN_LOOP_CACHE[key]


def _saa(
    config: Config, instance: Instance, mode: str, train: np.ndarray, sources: PolicySources
) -> Policy:
    if mode == "deterministic":
        return _open_loop(config, instance, mode, train, sources)
    return SampleAveragePlan(
        instance,
        train[: config.milp.saa_scenarios],
        saa_settings(config),
        terminal=config.simulation.terminal_cost,
        stored=sources.solved_plans,
    )


def _rolling(
    config: Config, instance: Instance, mode: str, train: np.ndarray, sources: PolicySources
) -> Policy:
    return RollingHorizon(
        config.milp,
        terminal=config.simulation.terminal_cost,
        planning_demand=planning_demand(config.milp, train),
        max_scenarios=config.milp.rolling_eval_scenarios if mode == "stochastic" else None,
    )


def _hindsight(
    config: Config, instance: Instance, mode: str, train: np.ndarray, sources: PolicySources
) -> Policy:
    """Per-scenario plans; in stochastic mode on the first ``milp.hindsight_scenarios``
    scenarios only (and on no stress set), with their own iteration count and method."""
    if mode == "deterministic":  # one scenario, the forecast: the open-loop plan is it
        settings, limit = config.milp, None
    else:
        settings = hindsight_settings(config)
        limit = config.milp.hindsight_scenarios
    policy = Hindsight(
        settings,
        terminal=config.simulation.terminal_cost,
        forecast_plan=lambda: _open_loop(config, instance, mode, train, sources).result,
        max_scenarios=limit,
    )
    policy.prepare(instance)
    return policy


# --------------------------------------------------------------------------- PPO


def _train_command(config: Config, instance: Instance, mode: str) -> str:
    location = instance.location
    where = "" if location == config.simulation.location else f" --location {location}"
    return f"inventory train --mode {mode}{where}"


def _ppo(
    config: Config, instance: Instance, mode: str, train: np.ndarray, sources: PolicySources
) -> Policy:
    from inventory.ppo_policy import MODEL_FILE, PPOPolicy

    folder = sources.ppo_model
    if folder is None or not (folder / MODEL_FILE).exists():
        missing = folder / MODEL_FILE if folder is not None else f"a trained {mode} model"
        raise ValueError(
            f"policy ppo needs {missing}: run `{_train_command(config, instance, mode)}` or "
            "remove ppo from evaluation.policies (recommend.policy)"
        )
    policy = PPOPolicy.load(folder, instance)
    if policy.meta.get("beats_anchor") is False:
        warnings.warn(
            f"PPO model {folder} did not beat its anchor in training (the kept model is the "
            f"step-0 one: ppo here is the {policy.meta.get('anchor')} anchor rule, see "
            "beats_anchor in metrics/train_<mode>.json); train longer (ppo.profile: full)",
            stacklevel=2,
        )
    trained_on = policy.meta.get("demand_model_id")
    if mode == "stochastic" and trained_on is not None and sources.demand_model is not None:
        current = demand_model_id(sources.demand_model)
        if current != trained_on:
            warnings.warn(
                f"PPO model {folder} was trained on another demand model ({trained_on}, now "
                f"{current}); retrain it: {_train_command(config, instance, mode)}",
                stacklevel=2,
            )
    return policy


# --------------------------------------------------------------------------- the table

POLICY_FACTORIES: dict[str, PolicyFactory] = {
    "order_up_to": _order_up_to,
    "base_stock": _base_stock,
    "s_S": _s_s,
    "do_nothing": _do_nothing,
    "milp_open_loop": _open_loop,
    "milp_saa": _saa,
    "milp_rolling": _rolling,
    "milp_hindsight": _hindsight,
    "ppo": _ppo,
}


def build_policies(
    config: Config,
    instance: Instance,
    mode: str,
    train_demand: np.ndarray,
    sources: PolicySources | None = None,
    names: Iterable[str] | None = None,
    progress: Callable[[Iterable[str], str], Iterable[str]] | None = None,
) -> dict[str, Policy]:
    """Build the policies named in ``evaluation.policies`` (or ``names``), in that order.

    Raises:
        ValueError: a name is not in :data:`POLICY_FACTORIES`, or a policy's input is
            missing (e.g. no trained PPO model: the message says how to make it).
    """
    names = list(config.evaluation.policies if names is None else names)
    unknown = [name for name in names if name not in POLICY_FACTORIES]
    if unknown:
        raise ValueError(
            f"evaluation.policies: unknown {unknown}; known: {sorted(POLICY_FACTORIES)}"
        )
    sources = sources or PolicySources()
    iterate = progress or (lambda items, _: items)
    return {
        name: POLICY_FACTORIES[name](config, instance, mode, train_demand, sources)
        for name in iterate(names, f"build policies ({mode})")
    }
