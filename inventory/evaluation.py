"""Run every policy on the same demand scenarios and compare them (common random numbers).

:func:`evaluate_policies` simulates each policy with :func:`inventory.dynamics.simulate`
on one shared demand array and summarises it per policy: mean total cost with a
confidence interval, the paired difference to a reference policy with its interval, the
cost breakdown, fill rate, cycle service level, average inventory (units and weeks of
cover), lost units, container utilisation and how much the projection changed the
proposed orders. :func:`write_evaluation` writes the small JSON for ``dvc metrics``, CSV
for ``dvc plots`` and PNG figures.

Policies come from the explicit table :data:`inventory.policy_factories.POLICY_FACTORIES`;
:func:`run_evaluation` builds them from what the stage passes (scenarios, model folder,
solved plans, tuning cache). Optional capabilities (seeing the scenarios first, running on
a subset, proving bounds, parallel stress sets) are the Protocols of
:mod:`inventory.policies`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from inventory.config import Config
from inventory.dynamics import SimulationResult, simulate
from inventory.instance import Instance
from inventory.io import write_csv, write_json
from inventory.policies import (
    BoundsScenarios,
    EvaluatesInParallel,
    LimitsScenarios,
    ObservesDemand,
    Policy,
    ReportsSolverHealth,
)
from inventory.policy_factories import PolicySources, build_policies
from inventory.scenarios import Scenarios, scenarios_for

__all__ = [
    "PolicySummary",
    "Evaluation",
    "evaluate_policies",
    "write_evaluation",
    "run_evaluation",
    "summarise",
    "health_metrics",
    "check_hindsight",
    "HEADLINE_METRICS",
    "CLASSICAL_POLICIES",
    "headline_metrics",
    "detail_path",
]

# What metrics/evaluation_<mode>.json keeps per policy (``dvc metrics show|diff`` stay
# readable); everything else goes to artifacts/evaluation/<mode>/detail.json.
HEADLINE_METRICS = (
    "total_cost",
    "gap_to_hindsight",
    "fill_rate",
    "diff_to_reference",
    "limit_hit",
    "fallback_weeks",
    "own_gap",
    "beats_anchor",  # PPO: False when training kept its step-0 model (the anchor rule)
    "n_scenarios",  # only on a policy run on the first k scenarios (the hindsight bound)
)
# The classical policies PPO's gain is measured against (the best of those evaluated).
CLASSICAL_POLICIES = ("order_up_to", "base_stock", "s_S")


# --------------------------------------------------------------------------- metrics


def _interval(values: np.ndarray, confidence: float) -> tuple[float, float, float]:
    """(mean, low, high): Student-t interval of the mean; a point when N = 1."""
    mean = float(values.mean())
    if len(values) < 2:
        return mean, mean, mean
    half = stats.t.ppf(0.5 + confidence / 2, len(values) - 1) * values.std(ddof=1)
    half /= np.sqrt(len(values))
    return mean, mean - float(half), mean + float(half)


@dataclass
class PolicySummary:
    """Aggregate metrics of one policy over the shared scenarios (all means per scenario)."""

    name: str
    metrics: dict[str, float]
    weekly: pd.DataFrame
    total_cost: np.ndarray


def summarise(
    name: str, instance: Instance, result: SimulationResult, confidence: float
) -> PolicySummary:
    """Metrics of one simulated policy (see the module docstring)."""
    total = result.total_cost()
    mean, low, high = _interval(total, confidence)
    demand_units = result.demand.sum(axis=(1, 2))
    inventory = result.end_inventory.sum(axis=2).mean()
    weekly_demand = result.demand.sum(axis=2).mean()
    loaded = result.orders @ instance.volume
    changed = (result.ramp_limited > 0) | (result.capacity_limited > 0)
    metrics = {
        "total_cost": mean,
        "total_cost_ci_low": low,
        "total_cost_ci_high": high,
        **{f"cost_{k}": float(v.mean()) for k, v in result.cost_by_component().items()},
        "fill_rate": float(result.sales.sum() / max(demand_units.sum(), 1e-12)),
        "cycle_service_level": float((result.lost <= 1e-9).mean()),
        "average_inventory_units": float(inventory),
        "average_inventory_weeks": float(inventory / max(weekly_demand, 1e-12)),
        "lost_units": float(result.lost.sum(axis=(1, 2)).mean()),
        "ordered_units": float(result.orders.sum(axis=(1, 2)).mean()),
        "container_utilisation": float((loaded / instance.capacity_volume).mean()),
        "containers_used": float(result.containers.sum(axis=1).mean()),
        "projection_adjusted_units": float(result.adjusted_units.sum(axis=(1, 2)).mean()),
        "projection_changed_share": float(changed.mean()),
    }
    weekly = pd.DataFrame(
        {
            "policy": name,
            "week": np.arange(instance.horizon_weeks),
            "date": pd.DatetimeIndex(instance.weeks).strftime("%Y-%m-%d"),
            "inventory": result.end_inventory.sum(axis=2).mean(axis=0),
            "target": result.target.sum(axis=2).mean(axis=0),
            "orders": result.orders.sum(axis=2).mean(axis=0),
            "lost_units": result.lost.sum(axis=2).mean(axis=0),
            "cost": (result.cost_lost_sales + result.cost_overstock + result.cost_understock)
            .sum(axis=2)
            .mean(axis=0)
            + result.cost_containers.mean(axis=0),
        }
    )
    return PolicySummary(name, metrics, weekly, total)


@dataclass
class Evaluation:
    """Everything :func:`write_evaluation` needs."""

    mode: str
    reference: str
    confidence: float
    scenario_description: str
    summaries: dict[str, PolicySummary]
    per_sku_inventory: dict[str, np.ndarray]
    per_sku_target: np.ndarray
    stress: dict[str, dict[str, float]] = field(default_factory=dict)

    def table(self) -> pd.DataFrame:
        """One row per policy with every metric."""
        return pd.DataFrame([{"policy": n, **s.metrics} for n, s in self.summaries.items()])


def _show_demand(policy: Policy, demand: np.ndarray) -> None:
    """Hand the scenarios to a perfect-information benchmark (the MILP hindsight plan)."""
    if isinstance(policy, ObservesDemand):
        policy.observe_demand(demand)


def health_metrics(policy: Policy) -> dict[str, int | float | bool]:
    """How far to trust a solver-backed policy's run (empty for other policies).

    ``limit_hit`` is True when any of its solves stopped on the wall-clock safety net
    (the result then depends on the machine's speed); ``fallback_weeks`` counts the
    scenario-weeks ordered by its fallback rule because a solve gave no plan.
    """
    if not isinstance(policy, ReportsSolverHealth):
        return {}
    health = policy.solver_health
    out: dict[str, int | float | bool] = {
        "solver_solves": int(health.get("solves") or 0),
        "limit_hits": int(health.get("limit_hits") or 0),
        "fallback_weeks": int(health.get("fallback_weeks") or 0),
        "heuristic_plans": int(health.get("heuristic_plans") or 0),
    }
    out["limit_hit"] = out["limit_hits"] > 0
    own_gap = health.get("own_gap")
    if own_gap is not None:
        out["own_gap"] = float(own_gap)
    return out


def _stress_outcome(
    instance: Instance, policy: Policy, demand: np.ndarray, terminal: bool
) -> tuple[np.ndarray, float, dict[str, int | float | bool]]:
    """Cost per scenario, fill rate and solver health of ``policy`` on one stress set."""
    _show_demand(policy, demand)
    stressed = simulate(instance, demand, policy, terminal=terminal)
    fill_rate = float(stressed.sales.sum() / max(stressed.demand.sum(), 1e-12))
    return stressed.total_cost(), fill_rate, health_metrics(policy)


_POOLS: dict[int, object] = {}


def _pool(workers: int):
    """A process pool (spawned once per process and size), or None where none may run."""
    if workers not in _POOLS:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        if multiprocessing.current_process().daemon:  # e.g. inside a Dask worker
            return None
        _POOLS[workers] = ProcessPoolExecutor(
            workers, mp_context=multiprocessing.get_context("spawn")
        )
    return _POOLS[workers]


def _submit_stress(
    instance: Instance,
    policy: Policy,
    stress_scenarios: dict[str, np.ndarray] | None,
    terminal: bool,
    workers: int,
) -> dict:
    """Start the stress sets of one policy in worker processes (label -> future)."""
    if not stress_scenarios or workers <= 1:
        return {}
    pool = _pool(workers)
    if pool is None:
        return {}
    return {
        label: pool.submit(_stress_outcome, instance, policy, extra, terminal)
        for label, extra in stress_scenarios.items()
    }


def _scenario_limit(policy: Policy, n_scenarios: int) -> int:
    """How many of the shared scenarios a policy runs on: all of them, or the first
    ``policy.max_scenarios`` (the hindsight MILP solves one model per scenario)."""
    limit = policy.max_scenarios if isinstance(policy, LimitsScenarios) else None
    return n_scenarios if limit is None else max(1, min(int(limit), n_scenarios))


def _add_bound_gaps(
    summaries: dict[str, PolicySummary], policies: dict[str, Policy], confidence: float
) -> None:
    """Gap of every policy to the hindsight lower bound, on the scenarios it was solved for.

    A policy with ``scenario_bounds`` (the hindsight MILP: per-scenario proven lower bounds
    on the cost of any policy, NaN where the solver proved none) sets, for every policy,
    ``gap_to_hindsight`` = mean cost / mean bound - 1 over the same first k scenarios
    (paired), and ``diff_to_hindsight`` with its interval. The hindsight row's own gap is
    the optimality gap of its plans.
    """
    for name, policy in policies.items():
        bounds = policy.scenario_bounds if isinstance(policy, BoundsScenarios) else None
        if bounds is None or name not in summaries:
            continue
        bounds = np.asarray(bounds, dtype=float)
        if not np.isfinite(bounds).all():
            return
        k = len(bounds)
        for summary in summaries.values():
            cost = summary.total_cost[:k]
            mean, low, high = _interval(cost - bounds[: len(cost)], confidence)
            summary.metrics.update(
                gap_to_hindsight=float(cost.mean() / max(bounds[: len(cost)].mean(), 1e-12) - 1),
                diff_to_hindsight=mean,
                diff_to_hindsight_ci_low=low,
                diff_to_hindsight_ci_high=high,
            )
        summaries[name].metrics["hindsight_bound"] = float(bounds.mean())
        return


def check_hindsight(
    summaries: dict[str, PolicySummary], policies: dict[str, Policy], tolerance: float = 0.0
) -> None:
    """Stop when a perfect-information row is not the cheapest on its own scenarios.

    The hindsight plan of a scenario knows its demand, so no implementable policy can cost
    less on the same scenarios than its optimum, and its proven bound is below every
    policy's cost on every scenario. A bound above a policy's cost is always an error. A
    plan solved to a relative gap may cost up to that gap more than the optimum, so the
    plan may exceed an implementable policy by ``tolerance`` (``milp.mip_gap``) at most;
    beyond that its solves missed their own target and every comparison built on them
    would be meaningless.

    Raises:
        ValueError: naming the policy that beats the hindsight row or its bound.
    """
    for name, policy in policies.items():
        if not isinstance(policy, BoundsScenarios) or name not in summaries:
            continue
        own = summaries[name].total_cost
        k = len(own)
        bounds = policy.scenario_bounds
        for other, summary in summaries.items():
            if other == name or isinstance(policies[other], BoundsScenarios):
                continue
            cost = summary.total_cost[:k]
            slack = 1e-9 * max(1.0, float(np.abs(cost).max()))
            if own.mean() > cost.mean() * (1 + tolerance) + slack:
                raise ValueError(
                    f"{name} costs {own.mean():,.1f} on the first {k} scenarios, more than "
                    f"the implementable policy {other} ({cost.mean():,.1f}) by more than its "
                    f"target gap {tolerance:.2%}: its perfect-information plans are not "
                    "optimal enough to compare against. "
                    f"Look at its limit_hit and own_gap in the metrics; raise "
                    "milp.hindsight_* effort or remove it from evaluation.policies"
                )
            if bounds is not None:
                below = np.asarray(bounds, dtype=float)[:k] > cost + slack
                if below.any():
                    scenario = int(np.argmax(below))
                    raise ValueError(
                        f"{name}: its proven lower bound on scenario {scenario} "
                        f"({bounds[scenario]:,.1f}) is above what {other} costs there "
                        f"({cost[scenario]:,.1f}): the MILP and the simulator disagree"
                    )


def evaluate_policies(
    instance: Instance,
    policies: dict[str, Policy],
    demand: np.ndarray,
    *,
    reference: str,
    mode: str = "stochastic",
    confidence: float = 0.95,
    terminal: bool = True,
    scenario_description: str = "",
    stress_scenarios: dict[str, np.ndarray] | None = None,
    progress: Callable[[Iterable[str], str], Iterable[str]] | None = None,
    workers: int = 1,
    hindsight_tolerance: float = 0.0,
) -> Evaluation:
    """Simulate every policy on the same ``demand`` (N, T, P) and summarise.

    Args:
        instance: The planning instance.
        policies: Name -> policy.
        demand: Shared demand scenarios.
        reference: Policy the paired differences are taken against.
        mode: Label of the run (deterministic or stochastic).
        confidence: Level of the confidence intervals.
        terminal: Include the terminal cost.
        scenario_description: Where the scenarios came from (goes into the metrics).
        stress_scenarios: Extra scenario sets (name -> (N', T, P)); each policy's mean cost
            on them and its degradation against ``demand`` are reported, and its fill rate
            and the change of the fill rate.
        progress: Optional wrapper ``(items, description) -> items`` (a progress bar).
        workers: Processes that run the stress sets of slow policies (those with
            ``parallel_evaluation = True``, the rolling-horizon MILP) while this process
            runs the main set; 1 = everything here, in order. The numbers are the same.
        hindsight_tolerance: Relative amount by which a hindsight row may cost more than
            an implementable policy before the evaluation stops (``milp.mip_gap``: the
            gap its solves target); see :func:`check_hindsight`.
    """
    if reference not in policies:
        raise ValueError(
            f"evaluation.reference_policy {reference!r} is not among the evaluated policies "
            f"{sorted(policies)}"
        )
    iterate = progress or (lambda items, _: items)
    summaries, inventories = {}, {}
    target = None
    stress: dict[str, dict[str, float]] = {}
    for name in iterate(list(policies), f"evaluate ({mode})"):
        policy = policies[name]
        subset = _scenario_limit(policy, len(demand))
        limited = isinstance(policy, LimitsScenarios) and policy.max_scenarios is not None
        pending = {}
        if not limited and isinstance(policy, EvaluatesInParallel) and policy.parallel_evaluation:
            pending = _submit_stress(instance, policy, stress_scenarios, terminal, workers)
        _show_demand(policy, demand[:subset])
        result = simulate(instance, demand[:subset], policy, terminal=terminal)
        summaries[name] = summarise(name, instance, result, confidence)
        summaries[name].metrics.update(health_metrics(policy))
        meta = getattr(policy, "meta", None)  # a trained model says whether it learned
        if isinstance(meta, dict) and isinstance(meta.get("beats_anchor"), bool):
            summaries[name].metrics["beats_anchor"] = meta["beats_anchor"]
        if limited:
            summaries[name].metrics["n_scenarios"] = float(subset)
            continue  # a per-scenario bound: not drawn, and no stress sets
        inventories[name] = result.end_inventory.mean(axis=0)
        target = result.target.mean(axis=0)
        for label, extra in (stress_scenarios or {}).items():
            if label in pending:
                cost, fill_rate, health = pending[label].result()
            else:
                cost, fill_rate, health = _stress_outcome(instance, policy, extra, terminal)
            base = summaries[name].metrics["total_cost"]
            stress.setdefault(label, {})[name] = float(cost.mean())
            stress[label][f"{name}_degradation"] = float(cost.mean() / max(base, 1e-12) - 1)
            stress[label][f"{name}_fill_rate"] = fill_rate
            stress[label][f"{name}_fill_rate_change"] = (
                fill_rate - summaries[name].metrics["fill_rate"]
            )
            for key in ("fallback_weeks", "limit_hits"):
                if key in health:
                    stress[label][f"{name}_{key}"] = health[key]
    ref_cost = summaries[reference].total_cost
    for summary in summaries.values():
        paired = summary.total_cost - ref_cost[: len(summary.total_cost)]
        mean, low, high = _interval(paired, confidence)
        summary.metrics.update(
            diff_to_reference=mean, diff_to_reference_ci_low=low, diff_to_reference_ci_high=high
        )
    _add_bound_gaps(summaries, policies, confidence)
    check_hindsight(summaries, policies, hindsight_tolerance)
    if target is None:
        raise ValueError(
            "every evaluated policy is limited to a subset of scenarios (a bound): "
            "evaluate at least one policy on all of them"
        )
    return Evaluation(
        mode,
        reference,
        confidence,
        scenario_description,
        summaries,
        inventories,
        target,
        stress,
    )


# --------------------------------------------------------------------------- outputs


def _detail_payload(evaluation: Evaluation) -> dict:
    """Every metric of every policy, and the stress sets (the detail output)."""
    payload = {
        "mode": evaluation.mode,
        "n_scenarios": max(len(s.total_cost) for s in evaluation.summaries.values()),
        "scenarios": evaluation.scenario_description,
        "reference": evaluation.reference,
        "confidence": evaluation.confidence,
        "policies": {
            name: {k: v if isinstance(v, bool | int) else round(v, 6) for k, v in s.metrics.items()}
            for name, s in evaluation.summaries.items()
        },
    }
    if evaluation.stress:
        payload["stress"] = evaluation.stress
    return payload


def detail_path(artifacts_dir: str | Path, mode: str) -> Path:
    """Where the evaluation of ``mode`` keeps every metric: ``<artifacts>/<mode>/detail.json``."""
    return Path(artifacts_dir) / mode / "detail.json"


def headline_metrics(detail: dict) -> dict:
    """The few numbers ``dvc metrics show`` lists for one evaluation.

    Per policy the :data:`HEADLINE_METRICS` it has, plus ``ppo_gain_over_classical``: the
    best classical policy's mean cost minus PPO's, as a share of the former (positive = PPO
    is cheaper), when PPO and a classical policy were evaluated.
    """
    policies = detail["policies"]
    out = {
        "n_scenarios": detail["n_scenarios"],
        "policies": {
            name: {k: entry[k] for k in HEADLINE_METRICS if k in entry}
            for name, entry in policies.items()
        },
    }
    classical = [policies[n]["total_cost"] for n in CLASSICAL_POLICIES if n in policies]
    if "ppo" in policies and classical:
        best = min(classical)
        gain = (best - policies["ppo"]["total_cost"]) / max(abs(best), 1e-12)
        out["ppo_gain_over_classical"] = round(float(gain), 6)
    return out


def write_evaluation(
    evaluation: Evaluation,
    instance: Instance,
    *,
    metrics_dir: str | Path,
    artifacts_dir: str | Path,
    figures_dir: str | Path,
    n_plot_skus: int = 4,
) -> dict[str, str]:
    """Write the metrics JSON, the CSV tables and the PNG figures; return their paths.

    ``metrics_dir/evaluation_<mode>.json`` holds the headline (:func:`headline_metrics`);
    ``artifacts_dir/<mode>/detail.json`` every metric (intervals, cost components, stress
    sets); ``weekly.csv`` is long (one row per policy and week) for ``dvc plots``.
    """
    mode = evaluation.mode
    folder = Path(artifacts_dir) / mode
    payload = _detail_payload(evaluation)
    paths = {
        "metrics": write_json(
            Path(metrics_dir) / f"evaluation_{mode}.json", headline_metrics(payload)
        ),
        "detail": write_json(detail_path(artifacts_dir, mode), payload),
        "costs": write_csv(folder / "costs.csv", evaluation.table()),
        "weekly": write_csv(
            folder / "weekly.csv",
            pd.concat([s.weekly for s in evaluation.summaries.values()], ignore_index=True),
        ),
        "scenario_costs": write_csv(  # a policy run on the first k scenarios: NaN after
            folder / "scenario_costs.csv",
            pd.DataFrame({n: pd.Series(s.total_cost) for n, s in evaluation.summaries.items()}),
        ),
    }
    paths.update(_plot(evaluation, instance, Path(figures_dir), n_plot_skus))
    return {key: str(value) for key, value in paths.items()}


def _plot(evaluation: Evaluation, instance: Instance, folder: Path, n_skus: int) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from inventory.io import atomic_path

    mode = evaluation.mode
    demand_volume = instance.forecast.sum(axis=0) * instance.volume
    skus = np.argsort(-demand_volume)[: min(n_skus, instance.n_skus)]
    fig, axes = plt.subplots(len(skus), 1, figsize=(9, 2.4 * len(skus)), sharex=True, squeeze=False)
    for ax, sku in zip(axes[:, 0], skus, strict=True):
        for i, (name, inventory) in enumerate(evaluation.per_sku_inventory.items()):
            style = ("-", "--", "-.", ":")[i % 4]  # tuned policies often overlap
            ax.plot(inventory[:, sku], style, label=name, linewidth=1.4)
        ax.plot(evaluation.per_sku_target[:, sku], "k", label="target", linewidth=0.8)
        ax.set_ylabel(f"{instance.skus[sku]}\nunits")
    axes[0, 0].legend(fontsize=7, ncol=3)
    axes[0, 0].set_title(f"Mean end inventory vs safety-stock target ({mode})")
    axes[-1, 0].set_xlabel("week")
    paths = {"inventory_figure": folder / f"evaluation_{mode}_inventory.png"}
    _save(fig, paths["inventory_figure"], atomic_path, plt)

    table = evaluation.table().set_index("policy")
    parts = [c for c in table.columns if c.startswith("cost_")]
    fig, ax = plt.subplots(figsize=(8, 4))
    table[parts].rename(columns=lambda c: c[5:]).plot.bar(stacked=True, ax=ax, rot=0)
    ax.set_ylabel("mean total cost per scenario")
    ax.set_title(f"Cost breakdown per policy ({mode})")
    fig.tight_layout()
    paths["cost_figure"] = folder / f"evaluation_{mode}_costs.png"
    _save(fig, paths["cost_figure"], atomic_path, plt)
    return paths


def _save(fig, path: Path, atomic_path, plt) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)


def run_evaluation(
    config: Config,
    instance: Instance,
    mode: str,
    *,
    metrics_dir: str | Path,
    artifacts_dir: str | Path,
    figures_dir: str | Path,
    scenarios: Scenarios | None = None,
    sources: PolicySources | None = None,
    stress_scenarios: dict[str, np.ndarray] | None = None,
    progress: Callable[[Iterable[str], str], Iterable[str]] | None = None,
) -> tuple[Evaluation, dict[str, str]]:
    """Scenarios, policies, simulation and outputs of one mode, as the stage runs them.

    Args:
        config: The validated config.
        instance: The planning instance.
        mode: ``deterministic`` or ``stochastic``.
        metrics_dir: Folder of ``evaluation_<mode>.json``.
        artifacts_dir: Folder of the ``<mode>/*.csv`` tables.
        figures_dir: Folder of the PNG figures.
        scenarios: The shared scenarios; default :func:`inventory.scenarios.scenarios_for`
            without a fitted demand model.
        sources: What the policies read (see :class:`inventory.policy_factories.PolicySources`).
        stress_scenarios: Extra scenario sets (see :func:`evaluate_policies`).
        progress: Optional ``(items, description) -> items`` wrapper (a progress bar).
    """
    scenarios = scenarios or scenarios_for(config, instance, mode)
    policies = build_policies(
        config, instance, mode, scenarios.training, sources, progress=progress
    )
    evaluation = evaluate_policies(
        instance,
        policies,
        scenarios.evaluation,
        reference=config.evaluation.reference_policy,
        mode=mode,
        confidence=config.evaluation.confidence,
        terminal=config.simulation.terminal_cost,
        scenario_description=scenarios.description,
        stress_scenarios=stress_scenarios,
        progress=progress,
        workers=config.evaluation.workers,
        hindsight_tolerance=config.milp.mip_gap,
    )
    paths = write_evaluation(
        evaluation,
        instance,
        metrics_dir=metrics_dir,
        artifacts_dir=artifacts_dir,
        figures_dir=figures_dir,
        n_plot_skus=config.evaluation.n_plot_skus,
    )
    return evaluation, paths
