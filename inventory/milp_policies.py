"""MILP-based policies for the evaluator: open-loop plan, rolling horizon, SAA, hindsight.

Each class follows :class:`inventory.policies.Policy` (``reset`` then ``act`` each week);
the simulator projects their proposals like any other policy's, and an optimal plan is
already feasible and integer, so its replay is exact.

- :class:`OpenLoopPlan`: the deterministic plan on the forecast (the research project's
  "BIP"), replayed whatever the demand.
- :class:`SampleAveragePlan`: one plan shared by ``K`` training scenarios, minimising their
  mean cost (sample-average approximation).

The SAA solve uses ``milp.saa_method`` (default ``auto``: the Lagrangian decomposition at
the default size; ``relaxed`` runs without exact fallback, see
:func:`inventory.milp.solve_relaxed`): every plan is replayed by the simulator anyway, so
any method's plan is a feasible policy, only perhaps a costlier one. The
open-loop plan (the deterministic optimum, also the ``solve`` stage's plan) keeps
``milp.method``; the stochastic hindsight plans use ``milp.hindsight_method`` (default
``lagrangian``: on the default data its proven bound is within about 1% of its plan, where
the relaxed-sales method's was 9 to 18% in the same time); the rolling-horizon windows are small
enough to stay exact.
- :class:`RollingHorizon`: each week, from each scenario's current state, solve the plan
  over the next ``lookahead`` weeks of forecast and apply the first week's orders; a week
  without a plan falls back to the order-up-to rule (counted, ``fallback_weeks``).
  Distinct states are solved once (cache); when a week has more distinct states than
  ``max_solves``, the first ``max_solves`` are solved and every other scenario applies the
  orders of the solved state nearest to it in inventory position (documented
  approximation that keeps a 200-scenario evaluation affordable).
- :class:`Hindsight`: the plan of each scenario with its demand known in advance; the
  solver's proven bound (``scenario_bounds``) is a lower bound on every policy's cost on
  that scenario. It needs the scenarios: the evaluator hands them over through
  ``observe_demand`` before simulating, and in stochastic mode runs it on the first
  ``milp.hindsight_scenarios`` scenarios (``max_scenarios``); every policy's gap to the
  bound is taken on those.

Every plan solve keeps the better of the solver's plan and the heuristic incumbent (the
order-up-to rule simulated on the plan's demand, :mod:`inventory.milp.incumbent`), so no
policy here aborts for want of a plan; each reports ``solver_health``
(:class:`inventory.policies.ReportsSolverHealth`).

The evaluator builds them under ``milp_open_loop``, ``milp_rolling``, ``milp_saa`` and
``milp_hindsight`` (:data:`inventory.policy_factories.POLICY_FACTORIES`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from inventory.config import Config, MilpConfig
from inventory.data.schemas import ONLY_EMPTY_IS_MISSING
from inventory.dynamics import State
from inventory.instance import Instance
from inventory.milp import SolverError, SolveResult, heuristic_plan, solve_plan, window_instance
from inventory.milp.model import PlanProblem
from inventory.scenarios import deterministic_demand

__all__ = [
    "SolvedPlans",
    "PLAN_SETTINGS",
    "plan_key",
    "saa_settings",
    "planning_demand",
    "hindsight_settings",
    "solve_health",
    "write_solved_plan",
    "load_solved_plan",
    "OpenLoopPlan",
    "SampleAveragePlan",
    "RollingHorizon",
    "Hindsight",
]


def _require_plan(result: SolveResult, what: str) -> np.ndarray:
    """The plan of a solve; only infeasible data leaves none (every solve keeps the
    heuristic incumbent otherwise, see :func:`inventory.milp.solve_plan`)."""
    if result.orders is None:
        raise ValueError(
            f"{what}: the MILP gave no plan (status {result.status}): the data violates a "
            "hard constraint (see inventory.milp.check_feasible)"
        )
    return result.orders


def _used_heuristic(result: SolveResult) -> bool:
    return result.details.get("incumbent") == "heuristic"


def solve_health(results: list[SolveResult], *, solved: int) -> dict:
    """``solver_health`` of fixed plans: ``solved`` solver calls made for ``results``.

    ``own_gap`` is the gap of the summed plans to the summed bounds (None without a bound).
    """
    objectives = [r.objective for r in results if r.objective is not None]
    bounds = [r.bound for r in results if r.bound is not None]
    own_gap = None
    if results and len(bounds) == len(results) == len(objectives):
        total = sum(objectives)
        own_gap = max(0.0, total - sum(bounds)) / max(abs(total), 1e-9)
    return {
        "solves": solved,
        "limit_hits": sum(bool(r.limit_hit) for r in results),
        "fallback_weeks": 0,
        "heuristic_plans": sum(_used_heuristic(r) for r in results),
        "own_gap": own_gap,
    }


class _FixedPlan:
    """Replay one plan (T, P) in every scenario."""

    plan: np.ndarray
    result: SolveResult

    @property
    def solver_health(self) -> dict[str, int | float | bool | None]:
        """See :class:`inventory.policies.ReportsSolverHealth` (0 solves: stored plan)."""
        solved = 0 if "loaded_from" in self.result.details else 1
        return solve_health([self.result], solved=solved)

    def reset(self, instance: Instance, n_scenarios: int) -> None:
        if self.plan.shape != instance.forecast.shape:
            raise ValueError(f"plan shape {self.plan.shape} does not match the instance")
        self._n = n_scenarios

    def act(self, instance: Instance, state: State, t: int) -> np.ndarray:
        return np.broadcast_to(self.plan[t], (self._n, instance.n_skus))


# --------------------------------------------------------------------------- solved plans
# The solve stage writes the plans that the evaluator replays as milp_open_loop
# (plan_deterministic) and milp_saa (plan_stochastic), with a key of everything the plan
# depends on. The evaluator takes a stored plan whose key matches instead of solving again:
# a time-limited solve can end differently on a busy machine, so re-solving would cost
# minutes and could evaluate another plan than the one the solve stage reported.


@dataclass(frozen=True)
class SolvedPlans:
    """Where the solve stage wrote its plans: ``plan_<mode>.csv`` in ``plans_dir`` and
    ``solve_<mode>.json`` (with the plan's key) in ``metrics_dir``."""

    plans_dir: Path
    metrics_dir: Path


def saa_settings(config: Config) -> MilpConfig:
    """The solver settings of the sample-average plan (solve stage and evaluator)."""
    return config.milp.model_copy(
        update={
            "lagrangian_iterations": config.milp.saa_lagrangian_iterations,
            "method": config.milp.saa_method,
            "solver": config.milp.saa_solver,
            "relaxed_fallback": False,
        }
    )


def hindsight_settings(config: Config) -> MilpConfig:
    """The solver settings of the stochastic mode's hindsight plans."""
    return config.milp.model_copy(
        update={
            "lagrangian_iterations": config.milp.hindsight_lagrangian_iterations,
            "method": config.milp.hindsight_method,
            "relaxed_fallback": False,
        }
    )


def planning_demand(settings: MilpConfig, train: np.ndarray) -> np.ndarray | None:
    """What the rolling horizon's windows plan on (``milp.rolling_demand``), (T, P).

    None for ``forecast``; else that quantile of the training scenarios ``train``
    (N, T, P) per week and SKU. With lost sales and an overstock price above the
    understock price, a plan on the forecast (the mean: certainty equivalence) held more
    than paid under uncertainty; on the default data the median did best of forecast,
    q40, q50 and q70 (bench/RESULTS.md).
    """
    if settings.rolling_demand == "forecast":
        return None
    return np.quantile(np.asarray(train, dtype=float), float(settings.rolling_demand), axis=0)


# The MilpConfig fields that a plan solve (inventory.milp.solve_plan) reads; the rolling
# horizon's, the hindsight's and the saa_* fields are not among them (saa_settings copies
# the latter onto these). A test keeps this list equal to the fields inventory.milp reads,
# and dvc.yaml's solve stage reads exactly these (with saa_scenarios in stochastic mode).
PLAN_SETTINGS: tuple[str, ...] = (
    "solver",
    "mip_gap",
    "method",
    "monolithic_max_cells",
    "safety_time_limit_s",
    "max_nodes",
    "lagrangian_iterations",
    "lagrangian_workers",
    "lagrangian_subproblem_gap",
    "lagrangian_initial_prices",
    "relaxed_fallback",
    "relaxed_rounds",
)


def plan_key(instance: Instance, demand: np.ndarray, settings: MilpConfig, terminal: bool) -> str:
    """Hash of what a plan depends on: instance, demand scenarios, the settings a plan
    solve reads (:data:`PLAN_SETTINGS`, so a rolling-horizon knob never voids a stored
    plan) and terminal."""
    digest = hashlib.sha256(instance.fingerprint())
    digest.update(np.ascontiguousarray(demand, dtype=float).tobytes())
    read = {name: getattr(settings, name) for name in PLAN_SETTINGS}
    digest.update(repr((read, bool(terminal))).encode())
    return digest.hexdigest()[:20]


def _plan_paths(mode: str, plans_dir, metrics_dir) -> tuple[Path, Path]:
    return Path(plans_dir) / f"plan_{mode}.csv", Path(metrics_dir) / f"solve_{mode}.json"


def write_solved_plan(
    instance: Instance,
    mode: str,
    orders: np.ndarray,
    metrics: dict,
    *,
    plans_dir: str | Path,
    metrics_dir: str | Path,
) -> tuple[Path, Path]:
    """Write a plan (sku, week, order) and its metrics where :func:`load_solved_plan`
    reads them; ``metrics`` should hold the ``plan_key`` it is valid for."""
    import pandas as pd

    from inventory.io import write_csv, write_json

    plan_path, metrics_path = _plan_paths(mode, plans_dir, metrics_dir)
    weeks = pd.DatetimeIndex(instance.weeks).strftime("%Y-%m-%d")
    table = pd.DataFrame(
        {
            "sku": np.tile(instance.skus, instance.horizon_weeks),
            "week": np.repeat(weeks, instance.n_skus),
            "order": np.asarray(orders).ravel().astype(int),
        }
    )
    write_csv(plan_path, table)
    write_json(metrics_path, metrics)
    return plan_path, metrics_path


def load_solved_plan(
    instance: Instance,
    mode: str,
    key: str,
    *,
    plans_dir: str | Path,
    metrics_dir: str | Path,
) -> SolveResult | None:
    """The solve stage's plan of ``mode`` when its key is ``key`` (else None)."""
    import pandas as pd

    plan_path, metrics_path = _plan_paths(mode, plans_dir, metrics_dir)
    if not (metrics_path.is_file() and plan_path.is_file()):
        return None
    try:
        metrics = json.loads(metrics_path.read_text())
    except (OSError, ValueError):
        return None
    if metrics.get("plan_key") != key:
        return None
    table = pd.read_csv(plan_path, dtype={"sku": str, "week": str}, **ONLY_EMPTY_IS_MISSING)
    weeks = pd.DatetimeIndex(instance.weeks).strftime("%Y-%m-%d")
    wide = table.pivot(index="week", columns="sku", values="order")
    if sorted(wide.index) != sorted(weeks) or sorted(wide.columns) != sorted(instance.skus):
        return None
    orders = wide.reindex(index=weeks, columns=list(instance.skus)).to_numpy(dtype=float)
    kept = {k: metrics[k] for k in ("incumbent", "heuristic_objective") if k in metrics}
    return SolveResult(
        metrics["status"],
        metrics.get("objective"),
        metrics.get("bound"),
        metrics.get("gap"),
        float(metrics.get("solve_time_s", 0.0)),
        metrics.get("solver", "glpk"),
        metrics.get("method", "monolithic"),
        orders=orders,
        details={"loaded_from": str(plan_path), **kept},
        limit_hit=bool(metrics.get("limit_hit", False)),
    )


def _solve_or_load(
    instance: Instance,
    demand: np.ndarray | None,
    settings: MilpConfig,
    terminal: bool,
    stored: SolvedPlans | None,
    mode: str,
) -> SolveResult:
    if stored is not None:
        scenarios = deterministic_demand(instance) if demand is None else demand
        loaded = load_solved_plan(
            instance,
            mode,
            plan_key(instance, scenarios, settings, terminal),
            plans_dir=stored.plans_dir,
            metrics_dir=stored.metrics_dir,
        )
        if loaded is not None:
            return loaded
    return solve_plan(instance, demand, settings=settings, terminal=terminal)


class OpenLoopPlan(_FixedPlan):
    """The deterministic MILP plan on the forecast, replayed open loop.

    ``stored``: take the solve stage's deterministic plan from there when it was solved
    for exactly this instance and these settings (see :func:`load_solved_plan`).
    """

    def __init__(
        self,
        instance: Instance,
        settings: MilpConfig,
        *,
        terminal: bool,
        stored: SolvedPlans | None = None,
    ) -> None:
        self.result = _solve_or_load(instance, None, settings, terminal, stored, "deterministic")
        self.plan = _require_plan(self.result, "milp_open_loop")


class SampleAveragePlan(_FixedPlan):
    """One plan minimising the mean cost over ``demand`` (K, T, P) training scenarios.

    ``stored``: take the solve stage's stochastic plan from there when it matches (see
    :class:`OpenLoopPlan`).
    """

    def __init__(
        self,
        instance: Instance,
        demand: np.ndarray,
        settings: MilpConfig,
        *,
        terminal: bool,
        stored: SolvedPlans | None = None,
    ) -> None:
        self.result = _solve_or_load(instance, demand, settings, terminal, stored, "stochastic")
        self.plan = _require_plan(self.result, "milp_saa")


class RollingHorizon:
    """Re-solve the plan over a lookahead window from the current state every week.

    Every window solve stops at ``rolling_mip_gap`` (deterministic);
    ``rolling_safety_time_limit_s`` is only a safety net. A window whose solver gives no
    plan (the net stopped it first, or the solver failed) falls back to the documented
    rule: the planners' order-up-to order for that state (the heuristic incumbent of the
    window, :func:`inventory.milp.heuristic_plan`); the scenario-weeks that used it are
    counted in ``solver_health["fallback_weeks"]``, per scenario set (counters restart in
    :meth:`reset`).

    Args:
        settings: ``config.milp``; uses ``rolling_lookahead_weeks``,
            ``rolling_scenarios`` (distinct states solved per week; the other scenarios
            take the nearest solved state's orders corrected by their difference in
            inventory position), ``rolling_mip_gap`` and ``rolling_safety_time_limit_s``.
            ``rolling_demand`` is applied by the caller through ``planning_demand``.
            The windows stay exact (monolithic): a 25 x 10 window takes GLPK about 0.5 s
            to its gap, and the relaxed rounds are no faster.
        terminal: Price the window's end position like the terminal cost (windows that
            reach the end of the horizon use the true terminal cost).
        planning_demand: (T, P) demand the windows plan on, e.g. a quantile of the
            training scenarios (:func:`planning_demand`); None: the forecast. The
            safety-stock target stays the forecast's either way.
        max_scenarios: Run on the first ``max_scenarios`` evaluation scenarios only
            (``milp.rolling_eval_scenarios`` in stochastic mode; None: all): with every
            state solved each week, 52 solves per scenario.
    """

    # 52 solves per scenario set: the evaluator may run its stress sets in other processes
    parallel_evaluation = True

    def __init__(
        self,
        settings: MilpConfig,
        *,
        terminal: bool = True,
        planning_demand: np.ndarray | None = None,
        max_scenarios: int | None = None,
    ) -> None:
        self.planning_demand = planning_demand
        # the evaluator runs this policy on the first max_scenarios scenarios (None: all)
        self.max_scenarios = max_scenarios
        self.settings = settings.model_copy(
            update={
                "safety_time_limit_s": settings.rolling_safety_time_limit_s,
                "mip_gap": settings.rolling_mip_gap,
                "method": "monolithic",
            }
        )
        self.lookahead = settings.rolling_lookahead_weeks
        self.max_solves = settings.rolling_scenarios
        self.terminal = terminal
        self._reset_counters()

    def _reset_counters(self) -> None:
        self.solves = self.limit_hits = self.fallback_weeks = self.heuristic_plans = 0
        self._cache: dict[bytes, tuple[np.ndarray, bool]] = {}

    def reset(self, instance: Instance, n_scenarios: int) -> None:
        self._reset_counters()

    @property
    def solver_health(self) -> dict[str, int | float | bool | None]:
        """See :class:`inventory.policies.ReportsSolverHealth`; since the last reset."""
        return {
            "solves": self.solves,
            "limit_hits": self.limit_hits,
            "fallback_weeks": self.fallback_weeks,
            "heuristic_plans": self.heuristic_plans,
            "own_gap": None,
        }

    def _window_orders(self, window, beyond, required, t: int) -> tuple[np.ndarray, bool]:
        """First-week orders of one window and whether they are the fallback rule's."""
        self.solves += 1
        demand = None
        if self.planning_demand is not None:
            demand = self.planning_demand[t : t + window.horizon_weeks]
        try:
            result = solve_plan(
                window,
                demand,
                settings=self.settings,
                terminal=self.terminal,
                transit_beyond=beyond,
                required=required,
            )
        except SolverError:
            problem = PlanProblem.create(
                window, demand, terminal=self.terminal, transit_beyond=beyond, required=required
            )
            self.heuristic_plans += 1
            return heuristic_plan(problem)[0][0], True
        self.limit_hits += int(result.limit_hit)
        self.heuristic_plans += int(_used_heuristic(result))
        fallback = result.details.get("solver_status") == "no_solution"
        return _require_plan(result, "milp_rolling")[0], fallback

    def _solve_state(
        self, instance: Instance, state: State, row: int, t: int
    ) -> tuple[np.ndarray, bool]:
        pipeline = state.pipeline()[row]
        key = np.concatenate(
            [[t], state.on_hand[row], pipeline.ravel(), state.last_order[row]]
        ).tobytes()
        if key not in self._cache:
            window, beyond, required = window_instance(
                instance, state.on_hand[row], pipeline, state.last_order[row], t, self.lookahead
            )
            self._cache[key] = self._window_orders(window, beyond, required, t)
        return self._cache[key]

    def act(self, instance: Instance, state: State, t: int) -> np.ndarray:
        position = state.on_hand + state.in_transit()
        _, first, inverse = np.unique(
            np.hstack(
                [state.on_hand, state.pipeline().reshape(len(position), -1), state.last_order]
            ),
            axis=0,
            return_index=True,
            return_inverse=True,
        )
        solved_rows = np.sort(first)[: self.max_solves]
        solved = {int(r): self._solve_state(instance, state, int(r), t) for r in solved_rows}
        out = np.zeros_like(position)
        representative = first[inverse.ravel()]
        for n in range(len(position)):
            row = int(representative[n])
            if row in solved:
                out[n] = solved[row][0]
                self.fallback_weeks += int(solved[row][1])
                continue
            # Unsolved state: the nearest solved state's orders (L1 in inventory position),
            # corrected by the difference in inventory position, order-up-to style, so a
            # scenario that is short orders more and one that is long orders less.
            dist = np.abs(position[solved_rows] - position[n]).sum(axis=1)
            row = int(solved_rows[int(np.argmin(dist))])
            out[n] = np.maximum(solved[row][0] + position[row] - position[n], 0.0)
            self.fallback_weeks += int(solved[row][1])
        return out


class Hindsight:
    """Per-scenario plans with the demand known in advance (a lower bound on any policy).

    The evaluator calls :meth:`observe_demand` with the scenarios before simulating;
    ``bounds`` then holds each scenario's proven lower bound and ``results`` the solves.
    """

    def __init__(
        self,
        settings: MilpConfig,
        *,
        terminal: bool = True,
        forecast_plan: Callable[[], SolveResult] | None = None,
        max_scenarios: int | None = None,
    ) -> None:
        self.settings = settings
        self.terminal = terminal
        self.forecast_plan = forecast_plan  # reused when a scenario is the forecast itself
        # The evaluator runs this policy on the first max_scenarios scenarios only (None: all)
        self.max_scenarios = max_scenarios
        self.plans: np.ndarray | None = None
        self.bounds: np.ndarray | None = None
        self.results: list[SolveResult] = []
        self._solved = 0
        self._instance: Instance | None = None

    def prepare(self, instance: Instance) -> None:
        self._instance = instance

    def observe_demand(self, demand: np.ndarray) -> None:
        """Solve the hindsight plan of every scenario of ``demand`` (N, T, P)."""
        if self._instance is None:
            raise ValueError("Hindsight.prepare(instance) must be called first")
        self._solved = 0
        self.results = [self._solve(scenario) for scenario in demand]
        self.plans = np.stack([_require_plan(r, "milp_hindsight") for r in self.results])
        self.bounds = np.array([r.bound if r.bound is not None else np.nan for r in self.results])

    def _solve(self, scenario: np.ndarray) -> SolveResult:
        if self._instance is None:
            raise ValueError("Hindsight.prepare(instance) must be called first")
        if self.forecast_plan is not None and np.array_equal(scenario, self._instance.forecast):
            return self.forecast_plan()
        self._solved += 1
        return solve_plan(self._instance, scenario, settings=self.settings, terminal=self.terminal)

    @property
    def solver_health(self) -> dict[str, int | float | bool | None]:
        """See :class:`inventory.policies.ReportsSolverHealth`; for the last observed
        scenarios (``own_gap``: the summed plans' gap to the summed bounds)."""
        return solve_health(self.results, solved=self._solved)

    @property
    def scenario_bounds(self) -> np.ndarray | None:
        """Proven lower bound on any policy's cost, per observed scenario (NaN: none)."""
        return self.bounds

    def reset(self, instance: Instance, n_scenarios: int) -> None:
        if self.plans is None or self.plans.shape[0] != n_scenarios:
            raise ValueError(
                "milp_hindsight needs the scenarios first: call observe_demand(demand) "
                f"with all {n_scenarios} scenarios before simulating"
            )

    def act(self, instance: Instance, state: State, t: int) -> np.ndarray:
        assert self.plans is not None  # reset() refused to start without them
        return self.plans[:, t]
