"""One function per pipeline stage: config -> files written.

A stage has the same name here, on the command line (``inventory <stage>``), in
``dvc.yaml`` and as a Prefect task. Each takes the validated :class:`~inventory.config.Config`
(plus plain options) and returns a mapping of what it wrote, so it can be called from the
CLI, from DVC and from Prefect alike. Stages write only under ``artifacts/``, ``models/``,
``metrics/`` and ``reports/`` (the generator and importers write the data folder, which no
pipeline stage writes).
"""

from __future__ import annotations

from pathlib import Path

from inventory.config import Config
from inventory.instance import Instance
from inventory.io import write_json

ARTIFACTS = Path("artifacts")
MODELS = Path("models")
METRICS = Path("metrics")
REPORTS = Path("reports")
VALIDATION_REPORT = REPORTS / "validation.json"
FORECAST = ARTIFACTS / "forecast.csv"


def planning_instance(config: Config, location: str | None = None) -> Instance:
    """The instance every planning stage uses: the data folder's catalog, warehouse and
    open POs with the forecast stage's forecast (``artifacts/forecast.csv``), so that the
    fitted demand distributions describe errors around the forecast we plan on. Before the
    forecast stage has run, the data folder's own forecast is used."""
    from inventory.data import load_instance
    from inventory.forecast import planning_forecast

    return load_instance(config, location, forecast=planning_forecast(FORECAST, config.forecast))


def generate(
    config: Config, out_dir: str | Path | None = None, if_missing: bool = False
) -> dict[str, str]:
    """Write the synthetic default data (``data`` group of params.yaml) to the data folder.

    Args:
        config: The validated config.
        out_dir: Folder to write; default ``config.data.dir``.
        if_missing: Do nothing when every input file already exists.
    """
    from inventory.data import FILES, generate_tables, write_tables

    out = Path(out_dir or config.data.dir)
    if if_missing and all((out / name).exists() for name in FILES.values()):
        return {}
    return write_tables(generate_tables(config.data), out)


def validate(config: Config) -> dict[str, str]:
    """Validate the data folder; write ``reports/validation.json`` (valid or not).

    Raises:
        DataValidationError: (a ValueError) listing every problem when the data is invalid.
    """
    from inventory.data.validation import raise_if_invalid, validation_report

    report = validation_report(config.data.dir, config.simulation.horizon_weeks)
    write_json(VALIDATION_REPORT, report)
    raise_if_invalid(report)
    return {"report": str(VALIDATION_REPORT)}


def forecast(config: Config) -> dict[str, str]:
    """Forecast every SKU from its history (model chosen per SKU by backtest), fit demand
    distributions (``forecast`` group).

    Writes ``artifacts/forecast.csv`` (forecast, prediction quantiles, model),
    ``artifacts/demand_model.json``, ``artifacts/forecast_backtest.csv``,
    ``metrics/forecast.json`` and ``metrics/forecast_by_sku.csv``. Without history the given
    forecast is kept and the metrics say so.
    """
    from inventory.data import load_tables
    from inventory.forecast import forecast_tables, write_forecast

    tables = load_tables(config.data.dir)
    result = forecast_tables(tables.history, tables.forecast, tables.catalog, config.forecast)
    return write_forecast(result, ARTIFACTS, METRICS)


def drift(config: Config, current: str | Path | None = None) -> dict[str, str]:
    """Check demand for drift with Evidently (``drift`` group) and decide retrain/keep.

    The reference is the forecast stage's backtest (the weeks the models were fitted on;
    without history: draws from the fitted demand model around the forecast of the new
    weeks); the current window is ``current`` (a CSV of recent weeks: sku, week, demand[, location])
    or else the last ``drift.current_weeks`` weeks of history. Writes ``metrics/drift.json``
    (with ``gate``), ``reports/drift.html`` and ``reports/drift_skus.html``.
    """
    import pandas as pd

    from inventory.forecast import demand_model_table, read_forecast
    from inventory.monitoring import (
        detect_drift,
        drift_gate,
        drift_windows,
        read_new_demand,
        write_drift,
    )

    backtest = ARTIFACTS / "forecast_backtest.csv"
    if not backtest.exists():
        raise ValueError(f"{backtest}: not found; run `inventory forecast` first")
    frame = pd.read_csv(backtest, dtype={"sku": str, "location": str}, parse_dates=["week"])
    given = read_forecast(ARTIFACTS / "forecast.csv", config.forecast)
    new = read_new_demand(current, config.simulation.location) if current else None
    outputs = (METRICS / "drift.json", REPORTS / "drift.html", REPORTS / "drift_skus.html")
    if frame.empty and new is None:
        reason = "no demand history: nothing the models were fitted on to compare with"
        return write_drift(None, ("keep", f"no drift check: {reason}"), *outputs, reason)
    model = demand_model_table(ARTIFACTS / "demand_model.json")
    windows = drift_windows(frame, given, new, config.drift, model, config.simulation.eval_seed)
    result = detect_drift(*windows, config.drift)
    return write_drift(result, drift_gate(result.summary, config.drift), *outputs)


def train(
    config: Config,
    mode: str,
    location: str | None = None,
    resume: bool = False,
    profile: str | None = None,
) -> dict[str, str]:
    """Train the PPO agent of one demand mode and location (``ppo`` group of params.yaml).

    Writes ``models/ppo_<mode>[_<location>]/`` (best model by held-out cost, its
    normalisation statistics, checkpoints), ``metrics/train_<mode>[_<location>].json``
    (training time, steps per second, best evaluation cost) and the learning curve
    ``metrics/learning_curve_<mode>[_<location>].csv``. The suffix is left out for the
    default location (``simulation.location``).

    Args:
        config: The validated config.
        mode: ``deterministic`` or ``stochastic``.
        location: Location to train for; default ``simulation.location``.
        resume: Continue from the last checkpoint of an interrupted run.
        profile: ``quick`` or ``full``; default ``ppo.profile``.
    """
    from dataclasses import replace

    from inventory.evaluation import MODES
    from inventory.identifiers import check_id
    from inventory.training import train_ppo

    if mode not in MODES:  # before any folder is built from it
        raise ValueError(f"mode must be deterministic or stochastic, got {mode!r}")
    if location is not None:
        check_id(location, "location")
    if profile is not None:
        if profile not in ("quick", "full"):
            raise ValueError(f"profile must be quick or full, got {profile!r}")
        config = replace(config, ppo=replace(config.ppo, profile=profile))
    instance = planning_instance(config, location)
    suffix = None if instance.location == config.simulation.location else instance.location
    result = train_ppo(
        config,
        instance,
        mode,
        models_root=MODELS,
        metrics_root=METRICS,
        location=suffix,
        resume=resume,
    )
    name = f"{mode}_{suffix}" if suffix else mode
    return {
        "model": str(result.folder / "model.zip"),
        "metrics": str(METRICS / f"train_{name}.json"),
        "learning_curve": str(METRICS / f"learning_curve_{name}.csv"),
    }


def recommend(config: Config, state: str | Path | None = None) -> dict[str, str]:
    """This week's orders from the policy in params (``recommend`` group).

    Writes ``reports/recommendation.csv`` and ``.md``, ``artifacts/recommendation/`` (the
    projection over the lead time and the plan over the horizon) and
    ``metrics/recommendation.json``. ``state`` is an optional CSV of today's on hand, last
    order and open POs (see :func:`inventory.recommend.read_state`).
    """
    from inventory.recommend import write_recommendation

    return write_recommendation(
        config,
        planning_instance(config),
        state,
        metrics_dir=METRICS,
        reports_dir=REPORTS,
        artifacts_dir=ARTIFACTS / "recommendation",
    )


def evaluate(config: Config, mode: str = "both", progress=None) -> dict[str, str]:
    """Compare the policies in ``evaluation.policies`` on shared demand scenarios.

    Writes ``metrics/evaluation_<mode>.json``, ``artifacts/evaluation/<mode>/*.csv`` and
    ``reports/figures/evaluation_<mode>_*.png`` for ``mode`` deterministic, stochastic or
    both. Stress scenarios come from ``inventory.stress.stress_scenarios(config,
    instance)`` when that module exists (stochastic mode only).

    Args:
        config: The validated config.
        mode: ``deterministic``, ``stochastic`` or ``both``.
        progress: Optional ``(items, description) -> items`` wrapper (a progress bar).
    """
    import importlib

    from inventory.evaluation import MODES, run_evaluation

    if mode not in (*MODES, "both"):
        raise ValueError(f"mode must be deterministic, stochastic or both, got {mode!r}")
    instance = planning_instance(config)
    written: dict[str, str] = {}
    for current in MODES if mode == "both" else (mode,):
        stress = None
        if current == "stochastic":
            try:
                stress_module = importlib.import_module("inventory.stress")
            except ModuleNotFoundError:
                stress_module = None
            make_stress = getattr(stress_module, "stress_scenarios", None)
            stress = make_stress(config, instance) if make_stress else None
        _, paths = run_evaluation(
            config,
            instance,
            current,
            stress_scenarios=stress,
            progress=progress,
            metrics_dir=METRICS,
            artifacts_dir=ARTIFACTS / "evaluation",
            figures_dir=REPORTS / "figures",
        )
        written.update({f"{current}_{key}": path for key, path in paths.items()})
    return written


def solve(config: Config, mode: str = "deterministic") -> dict[str, str]:
    """Solve the MILP plan (``milp`` group) and write it with its solve metrics.

    ``deterministic``: the plan on the forecast. ``stochastic``: the sample-average plan
    over the first ``milp.saa_scenarios`` training scenarios. Writes
    ``artifacts/milp/plan_<mode>.csv`` (sku, week, order) and ``metrics/solve_<mode>.json``
    (status, objective, bound, gap, solve time, solver, method, the plan's simulated cost).

    Raises:
        ValueError: bad mode, infeasible data (naming the constraint family), a missing
            solver (saying how to install it) or no plan within the time limit.
    """

    from inventory.dynamics import simulate_plan
    from inventory.evaluation import scenarios_for
    from inventory.milp import solve_plan
    from inventory.milp_policies import plan_key, saa_settings, write_solved_plan

    if mode not in ("deterministic", "stochastic"):
        raise ValueError(f"mode must be deterministic or stochastic, got {mode!r}")
    instance = planning_instance(config)
    demand = scenarios_for(config, instance, mode).training
    settings = config.milp
    if mode == "stochastic":  # exactly the evaluator's milp_saa plan
        demand, settings = demand[: config.milp.saa_scenarios], saa_settings(config)
    terminal = config.simulation.terminal_cost
    result = solve_plan(instance, demand, settings=settings, terminal=terminal)
    if result.orders is None:
        raise ValueError(
            f"solve ({mode}): no plan ({result.status}) within milp.time_limit_s = "
            f"{config.milp.time_limit_s:g} s; raise it or set milp.solver: highs"
        )
    simulated = simulate_plan(instance, result.orders, demand, terminal=terminal)
    plan_path, metrics_path = write_solved_plan(
        instance,
        mode,
        result.orders,
        {
            "mode": mode,
            **result.metrics(),
            "simulated_cost": float(simulated.total_cost().mean()),
            # the evaluator replays this plan when its key matches (milp_policies)
            "plan_key": plan_key(instance, demand, settings, terminal),
            "n_scenarios": int(demand.shape[0]),
            "n_skus": instance.n_skus,
            "horizon_weeks": instance.horizon_weeks,
        },
        plans_dir=ARTIFACTS / "milp",
        metrics_dir=METRICS,
    )
    return {"plan": str(plan_path), "metrics": str(metrics_path)}


def report(config: Config) -> dict[str, str]:
    """``reports/summary.md`` and ``reports/index.html`` from the other stages' outputs."""
    from inventory.report import MODES, build_report

    return build_report(
        evaluations={mode: METRICS / f"evaluation_{mode}.json" for mode in MODES},
        learning_curves={mode: METRICS / f"learning_curve_{mode}.csv" for mode in MODES},
        drift_json=METRICS / "drift.json",
        drift_html=REPORTS / "drift.html",
        solves={mode: METRICS / f"solve_{mode}.json" for mode in MODES},
        plan_csv=ARTIFACTS / "recommendation" / "plan.csv",
        recommendation_md=REPORTS / "recommendation.md",
        out_dir=REPORTS,
        figures_dir=REPORTS / "summary_figures",
        n_plot_skus=config.evaluation.n_plot_skus,
    )
