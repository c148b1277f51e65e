"""Multi-location scale-out: every location's pipeline as parallel tasks on Dask.

Each location gets its own folder ``artifacts/locations/<location>/`` with a params file
(the project's params with ``simulation.location`` set and the data folder made absolute)
and its own ``artifacts/``, ``models/``, ``metrics/`` and ``reports/`` inside: one model per
mode and one report per location. The stages of all locations are submitted at once to a
:class:`prefect_dask.DaskTaskRunner`; Dask runs independent ones in parallel.

Each task gets its location's folder as its root (the stages' :class:`~inventory.layout.Layout`);
no task changes the working directory. The cluster is a local one (``pipeline.dask_workers``
worker processes, one thread each) unless ``pipeline.dask_address`` names an existing
scheduler; its workers must then see this project's folder at the same path.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from prefect import flow, get_run_logger

from flows.training import MODES, dask_runner, pipeline_steps, run_steps
from inventory.config import DEFAULT_PARAMS, Config, config_to_dict, load_config
from inventory.data import load_tables
from inventory.io import write_text
from inventory.layout import Layout

__all__ = ["location_params", "scale_out_flow"]


def location_params(config: Config, location: str, root: Path) -> Path:
    """Write the params file of one location into its folder (the location's layout root,
    ``artifacts/locations/<location>/`` under ``root``); returns its path (absolute).

    Raises:
        ValueError: ``location`` is not an identifier (it names the folder).
    """
    project = Layout.from_config(config, Path(root).resolve())
    folder = project.location_root(location)
    folder.mkdir(parents=True, exist_ok=True)
    local = config.model_copy(
        update={
            "data": config.data.model_copy(update={"dir": str(project.data_dir)}),
            "simulation": config.simulation.model_copy(update={"location": location}),
        }
    )
    path = folder / "params.yaml"
    write_text(path, yaml.safe_dump(config_to_dict(local), sort_keys=False))
    return path


@flow(name="locations-fan-out")
def _fan_out(
    params_by_location: dict[str, str], modes: list[str], retries: int, retry_delay_s: float
) -> dict[str, dict]:
    futures = {
        location: run_steps(
            pipeline_steps(tuple(modes)),
            params,
            root=str(Path(params).parent),
            location=location,
            retries=retries,
            retry_delay_s=retry_delay_s,
        )
        for location, params in params_by_location.items()
    }
    return {
        location: {name: future.result() for name, future in steps.items()}
        for location, steps in futures.items()
    }


@flow(name="scale-out", log_prints=True)
def scale_out_flow(
    params: str = str(DEFAULT_PARAMS),
    locations: list[str] | None = None,
    modes: list[str] | None = None,
) -> dict[str, str]:
    """Run the pipeline for every location in parallel on Dask.

    Args:
        params: The project's params file.
        locations: Locations to run (default ``pipeline.locations``, else every location
            of the data folder).
        modes: Demand modes (default both).

    Returns:
        The report folder of each location.
    """
    config = load_config(params)
    known = load_tables(config.data.dir).locations()
    chosen = list(locations or config.pipeline.locations or known)
    root = Path.cwd()
    unknown = [loc for loc in chosen if loc not in known]
    if unknown:
        raise ValueError(
            f"location(s) {', '.join(map(repr, unknown))} not in the data folder "
            f"{config.data.dir}; locations: {', '.join(known)}"
        )
    params_by_location = {loc: str(location_params(config, loc, root)) for loc in chosen}
    runner = dask_runner(config)
    _fan_out.with_options(task_runner=runner)(
        params_by_location,
        list(modes or MODES),
        config.pipeline.retries,
        config.pipeline.retry_delay_s,
    )
    reports = {loc: str(Path(p).parent / "reports") for loc, p in params_by_location.items()}
    get_run_logger().info("reports: %s", reports)
    return reports


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Run every location's pipeline on Dask.")
    parser.add_argument("--params", default=str(DEFAULT_PARAMS))
    parser.add_argument("--location", action="append", help="repeat for several (default all)")
    parser.add_argument("--mode", action="append", choices=MODES, help="default both")
    args = parser.parse_args()
    print(scale_out_flow(params=args.params, locations=args.location, modes=args.mode))
