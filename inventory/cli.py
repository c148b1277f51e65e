"""The ``inventory`` command line (typer). The only module that imports typer.

Each pipeline command is a thin shell over a function of :mod:`inventory.stages` with the
same name. Bad input raises ``ValueError`` in the domain code; :func:`main` turns it into
one ``error: ...`` line and exit code 1, and any other failure into one line naming the
command and the input it was reading (the traceback only with ``--debug``). Usage errors
(a missing argument, an unknown command or choice, a path-like ``--location``) print the
usage and exit 2.
"""

from __future__ import annotations

import inspect
import sys
import warnings
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
import yaml

from inventory import io
from inventory.config import DEFAULT_PARAMS, Config, config_to_dict, load_config
from inventory.identifiers import check_id, terminal_text

__all__ = ["app", "main"]

app = typer.Typer(
    help="Inventory planning with deep reinforcement learning, MILP baselines and drift "
    "monitoring. Every command reads params.yaml (see --params).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
data_app = typer.Typer(help="Create or import the raw input data.", no_args_is_help=True)
app.add_typer(data_app, name="data")

_OPTIONS: dict[str, object] = {"params": DEFAULT_PARAMS, "debug": False, "input": None}


class Mode(StrEnum):
    """Demand mode of training and solving."""

    deterministic = "deterministic"
    stochastic = "stochastic"


class EvalMode(StrEnum):
    """Demand mode(s) of an evaluation."""

    deterministic = "deterministic"
    stochastic = "stochastic"
    both = "both"


class Profile(StrEnum):
    """PPO training budget profile."""

    quick = "quick"
    full = "full"


def _location_id(value: str | None) -> str | None:
    """Typer callback: a ``--location`` must be an identifier (it names output folders)."""
    if value is None:
        return None
    try:
        return check_id(value, "location")
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc


def _reading(*paths: object) -> None:
    """Remember the input a command reads, for the last-resort error line of :func:`main`."""
    _OPTIONS["input"] = ", ".join(str(p) for p in paths if p is not None) or None


@app.callback()
def _root(
    params: Annotated[
        Path,
        typer.Option(
            "--params",
            "-p",
            help="params file to read; a partial file is deep-merged over the project's "
            "params.yaml (its keys win, the rest keep params.yaml's values).",
        ),
    ] = DEFAULT_PARAMS,
    debug: Annotated[bool, typer.Option("--debug", help="Show full tracebacks on errors.")] = False,
) -> None:
    """Inventory planning with deep RL, MILP baselines and drift monitoring."""
    _OPTIONS["params"] = params
    _OPTIONS["debug"] = debug


def get_config() -> Config:
    """The validated config from the ``--params`` file."""
    _reading(_OPTIONS["params"])
    config = load_config(_OPTIONS["params"])  # type: ignore[arg-type]
    _reading(_OPTIONS["params"], f"{config.data.dir}/")
    return config


def echo(message: str) -> None:
    """Print a message for the user (control characters in data shown escaped)."""
    typer.echo(terminal_text(message))


@app.command("params")
def show_params() -> None:
    """Validate params.yaml and print the resolved configuration.

    A partial --params file is shown merged over the project's params.yaml.
    """
    echo(yaml.safe_dump(config_to_dict(get_config()), sort_keys=False).rstrip())


SEED_DATA = Path("../shared/seed-data")


def _out_folder(out: Path | None) -> Path | None:
    """``--out`` names a folder: refuse a file (or a path below one) before anything is
    computed."""
    existing = next((p for p in (out, *out.parents) if p.exists()), None) if out else None
    if existing is not None and not existing.is_dir():
        what = "a file" if existing == out else f"below a file ({existing})"
        raise typer.BadParameter(f"{out} is {what}; --out names a folder (made when missing)")
    return out


_OutOption = Annotated[
    Path | None,
    typer.Option(
        "--out", help="Folder to write (default: data.dir in params).", callback=_out_folder
    ),
]


def _written(files: dict[str, str]) -> None:
    for path in files.values():
        echo(f"wrote {path}")


@data_app.command("generate")
def data_generate(
    out: _OutOption = None,
    if_missing: Annotated[
        bool, typer.Option("--if-missing", help="Do nothing when every input file exists.")
    ] = False,
) -> None:
    """Write the deterministic synthetic default data (params.yaml group `data`)."""
    from inventory import stages

    files = stages.generate(get_config(), out, if_missing=if_missing)
    if not files:
        echo("data present; nothing to do (drop --if-missing to regenerate)")
    _written(files)


@data_app.command("import-seed")
def data_import_seed(
    items: Annotated[Path, typer.Option(help="Seed item master CSV.")] = SEED_DATA
    / "item_inventory.csv",
    forecast: Annotated[Path, typer.Option(help="Seed forecast CSV.")] = SEED_DATA
    / "demand_forecast.csv",
    open_pos: Annotated[Path, typer.Option(help="Seed open purchase orders CSV.")] = SEED_DATA
    / "open_purchase_orders.csv",
    out: _OutOption = None,
) -> None:
    """Import the research project's seed-format files.

    Lead-time days -> weeks (rounded up), ISO year/week -> Monday dates, open POs into
    their arrival week; items without forecast rows are reported and excluded.
    """
    from inventory.data import write_tables
    from inventory.data.importers import import_seed

    config = get_config()
    _reading(items, forecast, open_pos)
    result = import_seed(items, forecast, open_pos, config.data)
    for warning in result.warnings:
        typer.echo(terminal_text(f"warning: {warning}"), err=True)
    _written(write_tables(result.tables, out or config.data.dir))


@data_app.command("import-csv")
def data_import_csv(
    demand: Annotated[
        Path, typer.Argument(help="Long-format CSV: sku, week or date, demand[, location].")
    ],
    catalog: Annotated[
        Path | None, typer.Option(help="Optional catalog.csv rows for some SKUs.")
    ] = None,
    open_pos: Annotated[
        Path | None, typer.Option(help="Optional open_purchase_orders.csv.")
    ] = None,
    out: _OutOption = None,
) -> None:
    """Build the data folder from a long-format demand history.

    See README "Use your own data"; catalog values default to params.yaml for SKUs that
    are not in --catalog.
    """
    from inventory.data import write_tables
    from inventory.data.importers import import_demand_csv

    config = get_config()
    _reading(demand, catalog, open_pos)
    result = import_demand_csv(demand, config.data, catalog, open_pos)
    _written(write_tables(result.tables, out or config.data.dir))


@data_app.command("append-demand")
def data_append_demand(
    demand: Annotated[
        Path, typer.Argument(help="New weeks: sku, week or date, demand[, location].")
    ],
) -> None:
    """Append new weeks of demand to the history (validated like an import).

    The given forecast rolls forward past the new weeks. Record the new data version with
    `dvc add data` (README "Drift and retraining").
    """
    from inventory import stages

    _reading(demand)
    appended = stages.append_demand(get_config(), demand)
    echo(
        f"appended {appended['n_weeks']} week(s) ({appended['first_week']} to "
        f"{appended['last_week']}, {appended['n_rows']} rows) to {appended['history']}"
    )
    echo("record the new data version: dvc add data && git add data.dvc")


@app.command("validate")
def validate() -> None:
    """Validate the data folder and exit 1 when it is invalid.

    Lists every failing file, column, check and line at once (also written to
    reports/validation.json).
    """
    from inventory import stages

    files = stages.validate(get_config())
    echo(f"data valid; report written to {files['report']}")


@app.command("forecast")
def forecast() -> None:
    """Forecast each SKU (model chosen by rolling-origin backtest) and fit its demand
    distribution (`forecast` group).

    Writes artifacts/forecast.csv (forecast, q10/q50/q90, model), artifacts/demand_model.json,
    metrics/forecast.json and metrics/forecast_by_sku.csv. Without history (seed format)
    the given forecast is used as is.
    """
    from inventory import stages
    from inventory.io import read_json

    files = stages.forecast(get_config())
    summary = read_json(files.get("detail", files["metrics"]))
    if "overall" in summary:
        overall = summary["overall"]
        echo(
            f"backtest WAPE {overall['wape']} (seasonal naive {overall['seasonal_naive_wape']}), "
            f"bias {overall['bias']}, MASE {overall['mase']}; models {summary['models']}"
        )
    else:
        echo(summary.get("note", ""))
    echo(f"demand families {summary['families']} ({summary['fallback_fits']} fallback)")
    _written(files)


@app.command("drift")
def drift(
    new_demand: Annotated[
        Path | None,
        typer.Option(
            "--new-demand",
            help="CSV of recent weeks: sku, week, demand[, location] (default: the last "
            "drift.current_weeks weeks of history).",
        ),
    ] = None,
) -> None:
    """Check demand drift with Evidently against the data the models were fitted on and
    decide retrain/keep (`drift` group).

    Writes metrics/drift.json (drift shares, gate decision), artifacts/drift/detail.json
    (drifted features and SKUs, windows, the gate's reason) and reports/drift.html,
    reports/drift_skus.html.
    """
    from inventory import stages
    from inventory.io import read_json

    config = get_config()
    if new_demand is not None:
        _reading(new_demand)
    files = stages.drift(config, current=str(new_demand) if new_demand else None)
    summary = read_json(files.get("detail", files["metrics"]))
    if summary.get("status") != "skipped":
        echo(
            f"drifted features {summary['share_of_drifted_features']:.0%} "
            f"{summary['drifted_features']}; drifted SKUs "
            f"{len(summary['drifted_skus'])}/{summary['n_skus_tested']}"
        )
    echo(f"gate: {summary['gate']['decision']} ({summary['gate']['reason']})")
    _written(files)


@app.command("train")
def train(
    mode: Annotated[
        Mode, typer.Option("--mode", help="deterministic (demand = forecast) or stochastic.")
    ] = Mode.stochastic,
    profile: Annotated[
        Profile | None, typer.Option("--profile", help="Budget profile (default: ppo.profile).")
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue from the last checkpoint.")
    ] = False,
    location: Annotated[
        str | None,
        typer.Option(
            "--location",
            help="Location id of catalog.csv (default: simulation.location).",
            callback=_location_id,
        ),
    ] = None,
) -> None:
    """Train the PPO agent for one demand mode (params.yaml group `ppo`).

    Writes models/ppo_<mode>/ (best model by held-out cost, normalisation statistics,
    checkpoints), metrics/train_<mode>.json and metrics/learning_curve_<mode>.csv.
    """
    from inventory import stages

    files = stages.train(
        get_config(),
        mode.value,
        location=location,
        resume=resume,
        profile=profile.value if profile else None,
    )
    metrics = io.read_json(files["metrics"])
    echo(
        f"{mode.value}: {metrics['total_timesteps']:,} steps in {metrics['training_time_s']:.0f} s "
        f"({metrics['steps_per_s']:,.0f} steps/s); best held-out mean cost "
        f"{metrics['best_eval_cost']:,.0f} at step {metrics['best_timesteps']:,}"
    )
    _written(files)


@app.command("solve")
def solve(
    mode: Annotated[
        Mode,
        typer.Option(
            "--mode",
            help="deterministic (plan on the forecast) or stochastic "
            "(sample-average plan over milp.saa_scenarios training scenarios).",
        ),
    ] = Mode.deterministic,
) -> None:
    """Solve the MILP order plan with GLPK or HiGHS (params.yaml group `milp`).

    Writes artifacts/milp/plan_<mode>.csv and metrics/solve_<mode>.json (status, objective,
    bound, gap, solve time, solver).
    """
    from inventory import stages

    files = stages.solve(get_config(), mode.value)
    m = io.read_json(files["metrics"])
    gap = "n/a" if m["gap"] is None else f"{100 * m['gap']:.2f}%"
    bound = "n/a" if m["bound"] is None else f"{m['bound']:,.1f}"
    echo(
        f"{mode.value}: {m['status']} plan, cost {m['objective']:,.1f}, bound {bound}, gap {gap} "
        f"({m['solver']}, {m['method']}, {m['solve_time_s']:.1f} s)"
        + (", heuristic incumbent" if m.get("incumbent") == "heuristic" else "")
        + (", SAFETY TIME LIMIT HIT: not reproducible" if m.get("limit_hit") else "")
    )
    _written(files)


@app.command("recommend")
def recommend(
    state: Annotated[
        Path | None,
        typer.Option(
            "--state",
            help="Today's state CSV: sku, on_hand[, last_order, open_po_week_0, "
            "open_po_week_1, ...] (default: the data folder).",
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Folder of an ad hoc run's files (default with --state: reports/adhoc/).",
            callback=_out_folder,
        ),
    ] = None,
) -> None:
    """This week's order per SKU from the policy in params (`recommend` group).

    Writes reports/recommendation.csv and .md (order, containers, projected on hand
    against target over the lead time, reason) and metrics/recommendation.json. With
    --state or --out (an ad hoc run) every file goes to that folder instead (default
    reports/adhoc/), never over the pipeline's DVC-tracked outputs.
    """
    from inventory import stages

    config = get_config()
    if state is not None:
        _reading(state)
    files = stages.recommend(config, state=str(state) if state else None, out_dir=out)
    echo(io.current_path(files["markdown"]).read_text())
    _written(files)


@app.command("evaluate")
def evaluate(
    mode: Annotated[
        EvalMode,
        typer.Option(
            "--mode",
            help="deterministic (demand = forecast), stochastic (shared scenarios) or both.",
        ),
    ] = EvalMode.both,
) -> None:
    """Compare the policies in params (`evaluation` group) on the same demand scenarios.

    Writes metrics/evaluation_<mode>.json (headline), artifacts/evaluation/<mode>/
    (detail.json, CSVs) and reports/figures/evaluation_<mode>_*.png.
    """
    from tqdm import tqdm

    from inventory import stages

    def progress(items, description):
        return tqdm(items, desc=description, unit="policy", leave=False)

    files = stages.evaluate(get_config(), mode=mode.value, progress=progress)
    for key, path in files.items():
        if key.endswith("_detail"):  # every metric, intervals included
            echo(_evaluation_table(path))
    _written(files)


def _evaluation_table(path: str) -> str:
    payload = io.read_json(path)
    lines = [
        f"{payload['mode']}: {payload['n_scenarios']} scenario(s), {payload['scenarios']}",
        f"{'policy':<22}{'mean cost':>14}{'95% CI':>28}{'vs ' + payload['reference']:>18}"
        f"{'fill rate':>11}",
    ]
    for name, m in payload["policies"].items():
        ci = f"[{m['total_cost_ci_low']:,.0f}, {m['total_cost_ci_high']:,.0f}]"
        lines.append(
            f"{name:<22}{m['total_cost']:>14,.0f}{ci:>28}{m['diff_to_reference']:>+18,.0f}"
            f"{m['fill_rate']:>11.3f}"
        )
    return "\n".join(lines)


@app.command("report")
def report() -> None:
    """Write reports/summary.md and reports/index.html from the pipeline's outputs."""
    from inventory import stages

    _written(stages.report(get_config()))


@app.command("serve")
def serve(
    pause_on_stop: Annotated[
        bool,
        typer.Option(
            "--pause-on-stop/--no-pause-on-stop",
            help="Pause the deployments when serve stops (Prefect's default).",
        ),
    ] = True,
) -> None:
    """Serve the weekly retraining and daily drift-check Prefect deployments (Ctrl-C stops).

    Needs a Prefect API: `prefect server start` in another terminal (and
    PREFECT_API_URL=http://127.0.0.1:4200/api), or Prefect Cloud. Stopping it pauses the
    two deployments, also for a work pool that registered the same names (README).
    """
    project = str(Path.cwd())  # flows/ is a folder of the project, not an installed package
    if not (Path(project) / "flows").is_dir():
        raise ValueError("inventory serve runs in the project folder (the one holding flows/)")
    if project not in sys.path:
        sys.path.insert(0, project)
    from flows.serve import serve_all  # the orchestrator is imported only by this command

    serve_all(str(_OPTIONS["params"]), pause_on_stop=pause_on_stop)


def _unwrap(doc: str) -> str:
    """A docstring with each paragraph on one line, for the terminal (not the source) to
    wrap: typer's rich help keeps single line breaks and cut sentences in two."""
    paragraphs = inspect.cleandoc(doc).split("\n\n")
    return "\n\n".join(" ".join(p.split()) for p in paragraphs)


_LONG_RUNNING = {"serve"}  # a server writes nothing itself; its flows run their own commands

for _typer_app in (app, data_app):
    for _info in _typer_app.registered_commands:
        if _info.help is None and _info.callback is not None and _info.callback.__doc__:
            _info.help = _unwrap(_info.callback.__doc__)
        if _info.callback is not None and _info.name not in _LONG_RUNNING:
            _info.callback = io.all_or_nothing(_info.callback)


def _command(argv: list[str]) -> str:
    """``inventory <command>`` from the arguments (root options skipped)."""
    words: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg in ("--params", "-p"):
            skip = True
        elif arg.startswith("-"):
            if words:
                break
        else:
            words.append(arg)
            if words[0] != "data" or len(words) == 2:
                break
    return " ".join(["inventory", *words])


def _fail(message: object, code: int = 1) -> None:
    typer.echo(terminal_text(f"error: {message}"), err=True)
    sys.exit(code)


def main() -> None:
    """Console entry point: run the app; every failure is one ``error:`` line.

    Usage errors print the usage and exit 2 (typer's standalone mode); bad input
    (``ValueError``, ``OSError``, ``KeyError``) prints its message and exits 1; anything
    else prints the command, the input it was reading and a hint, and exits 1. ``--debug``
    shows the traceback instead.
    """
    debug = "--debug" in sys.argv
    show = warnings.formatwarning  # a warning may quote data: escape its control characters
    warnings.formatwarning = lambda *args, **kwargs: terminal_text(show(*args, **kwargs))
    try:
        app()
    except SystemExit:
        raise
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except (ValueError, OSError, KeyError) as exc:
        if debug:
            raise
        _fail(exc.args[0] if isinstance(exc, KeyError) and exc.args else exc)
    except Exception as exc:  # the last resort: one line, never a traceback
        if debug:
            raise
        reading = f" while reading {_OPTIONS['input']}" if _OPTIONS["input"] else ""
        detail = (str(exc).strip().splitlines() or [""])[0][:300]
        _fail(
            f"{_command(sys.argv[1:])} failed{reading}: {type(exc).__name__}: {detail} "
            "(unexpected; rerun with --debug for the traceback)"
        )
