"""One function per pipeline stage: config -> files written.

A stage has the same name here, on the command line (``inventory <stage>``), in
``dvc.yaml`` and as a Prefect task. Each takes the validated :class:`~inventory.config.Config`
(plus plain options) and returns a mapping of what it wrote, so it can be called from the
CLI, from DVC and from Prefect alike. Stages write only under ``artifacts/``, ``models/``,
``metrics/`` and ``reports/`` (the generator and importers write the data folder, which no
pipeline stage writes).

Every path comes from one :class:`~inventory.layout.Layout` (``layout``: default the
working directory's, :meth:`Layout.from_config`); the stages read the inputs there (the
demand model, the model folder, the solved plans) and pass them to the domain modules,
which know no paths of their own. The scale-out passes each location's layout.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from inventory.config import Config
from inventory.instance import Instance
from inventory.io import confined, write_json, write_through
from inventory.layout import Layout

if TYPE_CHECKING:
    from inventory.policy_factories import PolicySources
    from inventory.scenarios import DemandModel


def _layout(config: Config, layout: Layout | None) -> Layout:
    return layout if layout is not None else Layout.from_config(config)


def planning_instance(
    config: Config, location: str | None = None, layout: Layout | None = None
) -> Instance:
    """The instance every planning stage uses: the data folder's catalog, warehouse and
    open POs with the forecast stage's forecast (``artifacts/forecast.csv``), so that the
    fitted demand distributions describe errors around the forecast we plan on. Before the
    forecast stage has run, the data folder's own forecast is used."""
    from inventory.data import build_instance, load_tables
    from inventory.forecast import planning_forecast

    layout = _layout(config, layout)
    forecast = planning_forecast(layout.forecast, config.forecast)
    return build_instance(
        load_tables(layout.data_dir),
        location or config.simulation.location,
        config.data.horizon_weeks,
        forecast,
    )


def _demand_model(config: Config, instance: Instance, layout: Layout) -> tuple[DemandModel, str]:
    """Stochastic mode's demand model: the forecast stage's fit, or the fallback."""
    from inventory.scenarios import demand_model_for

    return demand_model_for(config, instance, layout.demand_model)


def _policy_sources(
    config: Config,
    layout: Layout,
    instance: Instance,
    mode: str,
    demand_model: DemandModel | None,
) -> PolicySources:
    """What the policies of ``mode`` read, found in ``layout``."""
    from inventory.milp_policies import SolvedPlans
    from inventory.policy_factories import PolicySources

    return PolicySources(
        demand_model=demand_model,
        ppo_model=layout.trained_model(mode, instance.location, config.simulation.location),
        solved_plans=SolvedPlans(layout.solved_plans, layout.metrics),
        tuning_cache=layout.tuning_cache,
    )


def generate(
    config: Config,
    out_dir: str | Path | None = None,
    if_missing: bool = False,
    layout: Layout | None = None,
) -> dict[str, str]:
    """Write the synthetic default data (``data`` group of params.yaml) to the data folder.

    Args:
        config: The validated config.
        out_dir: Folder to write; default the layout's data folder (``config.data.dir``).
        if_missing: Do nothing when every input file already exists.
        layout: Where the project's files are (default: the working directory).
    """
    from inventory.data import FILES, generate_tables, write_tables

    out = Path(out_dir) if out_dir else _layout(config, layout).data_dir
    if if_missing and all((out / name).exists() for name in FILES.values()):
        return {}
    return write_tables(generate_tables(config.data), out)


def append_demand(
    config: Config, demand: str | Path, layout: Layout | None = None
) -> dict[str, str | int]:
    """Append new weeks of demand to the data folder's history (a data import, like
    :func:`generate`; no pipeline stage writes the data folder).

    Validated like the long-format import; the given forecast rolls forward past the new
    weeks (:mod:`inventory.data.append`).

    Returns:
        The history file, the first and last appended week, weeks and rows appended.
    """
    from inventory.data import FILES
    from inventory.data.append import append_demand as append

    data_dir = _layout(config, layout).data_dir
    result = append(demand, data_dir, config.data)
    return {
        "history": str(data_dir / FILES["history"]),
        "first_week": result.first_week,
        "last_week": result.last_week,
        "n_weeks": result.n_weeks,
        "n_rows": result.n_rows,
    }


def validate(config: Config, layout: Layout | None = None) -> dict[str, str]:
    """Validate the data folder; write ``reports/validation.json`` (valid or not).

    Raises:
        DataValidationError: (a ValueError) listing every problem when the data is invalid.
    """
    from inventory.data.validation import raise_if_invalid, validation_report

    layout = _layout(config, layout)
    report = validation_report(layout.data_dir, config.data.horizon_weeks)
    with write_through():  # the report of invalid data outlives the error
        write_json(layout.validation_report, report)
    raise_if_invalid(report)
    return {"report": str(layout.validation_report)}


def forecast(config: Config, layout: Layout | None = None) -> dict[str, str]:
    """Forecast every SKU from its history (model chosen per SKU by backtest), fit demand
    distributions (``forecast`` group).

    Writes ``artifacts/forecast.csv`` (forecast, prediction quantiles, model),
    ``artifacts/demand_model.json``, ``artifacts/forecast_backtest.csv``,
    ``metrics/forecast.json`` (headline: overall WAPE, bias, MASE),
    ``artifacts/forecast_detail.json`` (every summary figure) and
    ``metrics/forecast_by_sku.csv``. Without history the given
    forecast is kept and the metrics say so.
    """
    from inventory.data import load_tables
    from inventory.forecast import forecast_tables, write_forecast

    layout = _layout(config, layout)
    tables = load_tables(layout.data_dir)
    result = forecast_tables(tables.history, tables.forecast, tables.catalog, config.forecast)
    return write_forecast(
        result,
        forecast=layout.forecast,
        demand_model=layout.demand_model,
        backtest=layout.forecast_backtest,
        metrics=layout.metrics / "forecast.json",
        by_sku=layout.metrics / "forecast_by_sku.csv",
        detail=layout.artifacts / "forecast_detail.json",
    )


def drift_detail_path(layout: Layout) -> Path:
    """Where the drift stage keeps every figure it computed (``artifacts/drift/detail.json``)."""
    return layout.artifacts / "drift" / "detail.json"


def drift(
    config: Config, current: str | Path | None = None, layout: Layout | None = None
) -> dict[str, str]:
    """Check demand for drift with Evidently (``drift`` group) and decide retrain/keep.

    The reference is the forecast stage's backtest (the weeks the models were fitted on;
    without history: draws from the fitted demand model around the forecast of the new
    weeks); the current window is ``current`` (a CSV of recent weeks: sku, week, demand[, location])
    or else the last ``drift.current_weeks`` weeks of history. Writes ``metrics/drift.json``
    (headline and the gate's decision), ``artifacts/drift/detail.json`` (everything, the
    gate's reason included), ``reports/drift.html`` and ``reports/drift_skus.html`` (the
    same bytes for the same inputs: Evidently's random ids are renumbered).
    """
    import pandas as pd

    from inventory.data.schemas import ONLY_EMPTY_IS_MISSING
    from inventory.forecast import demand_model_table, read_forecast
    from inventory.monitoring import (
        detect_drift,
        drift_gate,
        drift_windows,
        read_new_demand,
        write_drift,
    )

    layout = _layout(config, layout)
    backtest = layout.forecast_backtest
    if not backtest.exists():
        raise ValueError(f"{backtest}: not found; run `inventory forecast` first")
    frame = pd.read_csv(
        backtest,
        dtype={"sku": str, "location": str},
        parse_dates=["week"],
        **ONLY_EMPTY_IS_MISSING,
    )
    given = read_forecast(layout.forecast, config.forecast)
    new = read_new_demand(current, config.simulation.location) if current else None
    outputs = (
        layout.metrics / "drift.json",
        layout.reports / "drift.html",
        layout.reports / "drift_skus.html",
    )
    detail = drift_detail_path(layout)
    if frame.empty and new is None:
        reason = "no demand history: nothing the models were fitted on to compare with"
        gate = ("keep", f"no drift check: {reason}")
        return write_drift(None, gate, *outputs, reason, detail_path=detail)
    model = demand_model_table(layout.demand_model)
    windows = drift_windows(frame, given, new, config.drift, model, config.simulation.eval_seed)
    result = detect_drift(*windows, config.drift)
    gate = drift_gate(result.summary, config.drift)
    return write_drift(result, gate, *outputs, detail_path=detail)


def new_demand_costs(
    config: Config, current: str | Path, label: str, layout: Layout | None = None
) -> dict[str, str]:
    """Score the PPO models of both modes on new weekly demand (:mod:`inventory.retraining`).

    Writes ``metrics/retrain/<label>.json`` (the weeks, the forecast each model planned
    with, and per mode the cost on the new demand). The retraining flow calls it before
    the new weeks are appended (``<run>-before``) and after the retrained pipeline
    (``<run>-after``).

    Raises:
        ValueError: a bad CSV, a label that is not an identifier, or no forecast yet.
    """
    from inventory.data import load_tables
    from inventory.forecast import planning_forecast
    from inventory.identifiers import check_id
    from inventory.monitoring import read_new_demand
    from inventory.retraining import costs_on_new_demand, new_demand_instance
    from inventory.scenarios import MODES

    layout = _layout(config, layout)
    path = confined(layout.metrics / "retrain", f"{check_id(label, 'label')}.json")
    forecast = planning_forecast(layout.forecast, config.forecast)
    if forecast is None:
        raise ValueError(f"{layout.forecast}: not found; run `inventory forecast` first")
    location = config.simulation.location
    new = read_new_demand(current, location)
    instance, demand, source = new_demand_instance(
        load_tables(layout.data_dir), location, new, forecast
    )
    models = {mode: layout.trained_model(mode, location, location) for mode in MODES}
    scores = costs_on_new_demand(instance, demand, models, config.simulation.terminal_cost)
    weeks = f"{instance.weeks[0]} to {instance.weeks[-1]}"
    payload = {"label": label, "location": location, "weeks": weeks, "forecast": source}
    write_json(path, {**payload, "scores": scores})
    return {"metrics": str(path)}


def compare_retraining(
    config: Config, before: str | Path, after: str | Path, layout: Layout | None = None
) -> dict[str, str]:
    """Compare two :func:`new_demand_costs` files: did retraining lower the cost?

    Writes ``metrics/retrain.json`` (per mode the cost before and after, the change and
    whether it fell) and ``reports/retrain.md``.
    """
    from inventory.io import read_json, write_text
    from inventory.retraining import compare_costs, comparison_markdown

    layout = _layout(config, layout)
    comparison = compare_costs(read_json(before), read_json(after))
    comparison["before"], comparison["after"] = str(before), str(after)
    metrics, report = layout.metrics / "retrain.json", layout.reports / "retrain.md"
    write_json(metrics, comparison)
    write_text(report, comparison_markdown(comparison, "Retraining on the new demand"))
    return {"metrics": str(metrics), "report": str(report)}


def train(
    config: Config,
    mode: str,
    location: str | None = None,
    resume: bool = False,
    profile: str | None = None,
    layout: Layout | None = None,
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
        layout: Where the project's files are (default: the working directory).
    """
    from inventory.identifiers import check_id
    from inventory.scenarios import MODES
    from inventory.training import train_ppo

    if mode not in MODES:  # before any folder is built from it
        raise ValueError(f"mode must be deterministic or stochastic, got {mode!r}")
    if location is not None:
        check_id(location, "location")
    if profile is not None:
        if profile not in ("quick", "full"):
            raise ValueError(f"profile must be quick or full, got {profile!r}")
        config = config.model_copy(
            update={"ppo": config.ppo.model_copy(update={"profile": profile})}
        )
    layout = _layout(config, layout)
    instance = planning_instance(config, location, layout)
    suffix = None if instance.location == config.simulation.location else instance.location
    demand = _demand_model(config, instance, layout) if mode == "stochastic" else None
    result = train_ppo(
        config,
        instance,
        mode,
        model_folder=layout.model_dir(mode, suffix),
        metrics_root=layout.metrics,
        location=suffix,
        demand_model=demand,
        resume=resume,
    )
    name = f"{mode}_{suffix}" if suffix else mode
    return {
        "model": str(result.folder / "policy.pt"),
        "metrics": str(layout.metrics / f"train_{name}.json"),
        "learning_curve": str(layout.metrics / f"learning_curve_{name}.csv"),
    }


ADHOC_FOLDER = "adhoc"


def recommend(
    config: Config,
    state: str | Path | None = None,
    layout: Layout | None = None,
    out_dir: str | Path | None = None,
) -> dict[str, str]:
    """This week's orders from the policy in params (``recommend`` group).

    Writes ``reports/recommendation.csv`` and ``.md``, ``artifacts/recommendation/`` (the
    projection over the lead time and the plan over the horizon) and
    ``metrics/recommendation.json``. ``state`` is an optional CSV of today's on hand, last
    order and open POs (see :func:`inventory.recommend.read_state`).

    An ad hoc run (``state`` given, or ``out_dir``) writes every one of those files into
    ``out_dir`` (default ``reports/adhoc/``) instead, never over the pipeline's
    DVC-tracked outputs (``dvc checkout`` would then refuse without ``--force``).

    Raises:
        ValueError: the chosen policy's input is missing (e.g. ``recommend.policy: ppo``
            without a trained model), naming it and how to make it.
    """
    from inventory.recommend import write_recommendation

    layout = _layout(config, layout)
    instance = planning_instance(config, layout=layout)
    mode = config.recommend.mode
    demand = _demand_model(config, instance, layout) if mode == "stochastic" else None
    model = demand[0] if demand is not None else None
    adhoc = out_dir is not None or state is not None
    # the default folder stays inside reports/ (a symbolic link pointing out is refused);
    # --out is the user's own choice of folder
    folder = Path(out_dir) if out_dir is not None else confined(layout.reports, ADHOC_FOLDER)
    return write_recommendation(
        config,
        instance,
        state,
        metrics_dir=layout.metrics,
        reports_dir=folder if adhoc else layout.reports,
        artifacts_dir=folder if adhoc else layout.recommendation,
        summary_dir=folder if adhoc else layout.metrics,
        demand_model=demand,
        sources=_policy_sources(config, layout, instance, mode, model),
    )


def evaluate(
    config: Config, mode: str = "both", progress=None, layout: Layout | None = None
) -> dict[str, str]:
    """Compare the policies in ``evaluation.policies`` on shared demand scenarios.

    Writes ``metrics/evaluation_<mode>.json``, ``artifacts/evaluation/<mode>/*.csv`` and
    ``reports/figures/evaluation_<mode>_*.png`` for ``mode`` deterministic, stochastic or
    both. Stochastic mode adds the stress sets of :func:`inventory.stress.stress_scenarios`.

    Args:
        config: The validated config.
        mode: ``deterministic``, ``stochastic`` or ``both``.
        progress: Optional ``(items, description) -> items`` wrapper (a progress bar).
        layout: Where the project's files are (default: the working directory).

    Raises:
        ValueError: bad mode, or a listed policy's input is missing (e.g. ``ppo`` before
            ``inventory train``), naming it and how to make it.
    """
    from inventory.evaluation import run_evaluation
    from inventory.scenarios import MODES, scenarios_for
    from inventory.stress import stress_scenarios

    if mode not in (*MODES, "both"):
        raise ValueError(f"mode must be deterministic, stochastic or both, got {mode!r}")
    layout = _layout(config, layout)
    instance = planning_instance(config, layout=layout)
    written: dict[str, str] = {}
    for current in MODES if mode == "both" else (mode,):
        stochastic = current == "stochastic"
        demand = _demand_model(config, instance, layout) if stochastic else None
        model = demand[0] if demand is not None else None
        stress = stress_scenarios(config, instance, model) if model is not None else None
        _, paths = run_evaluation(
            config,
            instance,
            current,
            scenarios=scenarios_for(config, instance, current, demand),
            sources=_policy_sources(config, layout, instance, current, model),
            stress_scenarios=stress,
            progress=progress,
            metrics_dir=layout.metrics,
            artifacts_dir=layout.evaluation,
            figures_dir=layout.figures,
        )
        written.update({f"{current}_{key}": path for key, path in paths.items()})
    return written


def solve(
    config: Config, mode: str = "deterministic", layout: Layout | None = None
) -> dict[str, str]:
    """Solve the MILP plan (``milp`` group) and write it with its solve metrics.

    ``deterministic``: the plan on the forecast. ``stochastic``: the sample-average plan
    over the first ``milp.saa_scenarios`` training scenarios. Writes
    ``artifacts/milp/plan_<mode>.csv`` (sku, week, order) and ``metrics/solve_<mode>.json``
    (status, objective, bound, gap, solve time, solver, method, the plan's simulated cost).

    Raises:
        ValueError: bad mode, infeasible data (naming the constraint family), a missing
            solver (saying how to install it).
    """
    from inventory.dynamics import simulate_plan
    from inventory.milp import solve_plan
    from inventory.milp_policies import plan_key, saa_settings, write_solved_plan
    from inventory.scenarios import scenarios_for

    if mode not in ("deterministic", "stochastic"):
        raise ValueError(f"mode must be deterministic or stochastic, got {mode!r}")
    layout = _layout(config, layout)
    instance = planning_instance(config, layout=layout)
    model = _demand_model(config, instance, layout) if mode == "stochastic" else None
    demand = scenarios_for(config, instance, mode, model).training
    settings = config.milp
    if mode == "stochastic":  # exactly the evaluator's milp_saa plan
        demand, settings = demand[: config.milp.saa_scenarios], saa_settings(config)
    terminal = config.simulation.terminal_cost
    result = solve_plan(instance, demand, settings=settings, terminal=terminal)
    if result.orders is None:  # every other solve keeps at least the heuristic incumbent
        raise ValueError(f"solve ({mode}): no plan ({result.status}): the data is infeasible")
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
        plans_dir=layout.solved_plans,
        metrics_dir=layout.metrics,
    )
    return {"plan": str(plan_path), "metrics": str(metrics_path)}


def report(config: Config, layout: Layout | None = None) -> dict[str, str]:
    """``reports/summary.md`` and ``reports/index.html`` from the other stages' outputs."""
    from inventory.evaluation import detail_path
    from inventory.report import MODES, build_report

    layout = _layout(config, layout)
    metrics, reports = layout.metrics, layout.reports
    return build_report(
        evaluations={mode: detail_path(layout.evaluation, mode) for mode in MODES},
        learning_curves={mode: metrics / f"learning_curve_{mode}.csv" for mode in MODES},
        drift_json=drift_detail_path(layout),
        drift_html=reports / "drift.html",
        solves={mode: metrics / f"solve_{mode}.json" for mode in MODES},
        plan_csv=layout.recommendation / "plan.csv",
        recommendation_md=reports / "recommendation.md",
        orders_csv=reports / "recommendation.csv",
        orders_json=metrics / "recommendation.json",
        out_dir=reports,
        figures_dir=reports / "summary_figures",
        n_plot_skus=config.evaluation.n_plot_skus,
    )
