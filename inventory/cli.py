"""The ``inventory`` command line (typer). The only module that imports typer.

Each pipeline command is a thin shell over a function of :mod:`inventory.stages` with the
same name. Bad input raises ``ValueError`` in the domain code; :func:`main` turns it into
one ``error: ...`` line and exit code 1 (the traceback only with ``--debug``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
import typer
import yaml

from inventory.config import DEFAULT_PARAMS, Config, config_to_dict, load_config

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

_OPTIONS: dict[str, object] = {"params": DEFAULT_PARAMS, "debug": False}


@app.callback()
def _root(
    params: Path = typer.Option(
        DEFAULT_PARAMS, "--params", "-p", help="params.yaml to read (every knob lives there)."
    ),
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
) -> None:
    _OPTIONS["params"] = params
    _OPTIONS["debug"] = debug


def get_config() -> Config:
    """The validated config from the ``--params`` file."""
    return load_config(_OPTIONS["params"])  # type: ignore[arg-type]


def echo(message: str) -> None:
    """Print a message for the user."""
    typer.echo(message)


@app.command("params")
def show_params() -> None:
    """Validate params.yaml and print the resolved configuration (defaults filled in)."""
    echo(yaml.safe_dump(config_to_dict(get_config()), sort_keys=False).rstrip())


def main() -> None:
    """Console entry point: run the app, one clear error line on bad input."""
    debug = "--debug" in sys.argv
    try:
        app(standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        typer.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except (ValueError, OSError, KeyError) as exc:
        if debug:
            raise
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        typer.echo(f"error: {message}", err=True)
        sys.exit(1)
