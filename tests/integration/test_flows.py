"""Prefect flows under a temporary Prefect server (prefect_test_harness), tiny profile.

- the monitoring flow keeps the models on unchanged demand and starts the training flow on
  shifted demand; the training flow runs every stage and publishes the evaluation table
  as a markdown artifact;
- the scale-out flow runs two locations in parallel on a local Dask cluster, one model and
  one report per location.
"""

from __future__ import annotations

import os
import tempfile

# Prefect reads these when it is imported: a private home, no analytics, quiet logs.
os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="prefect-home-")
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ["PREFECT_LOGGING_LEVEL"] = "WARNING"
os.environ.pop("PREFECT_API_URL", None)

from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from prefect.testing.utilities import prefect_test_harness  # noqa: E402

from inventory import stages  # noqa: E402
from inventory.config import load_config  # noqa: E402
from tests.integration.tiny_profile import write_tiny_params  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.slow, pytest.mark.solver, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def harness():
    with prefect_test_harness(server_startup_timeout=60):
        yield


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A tiny project folder with two locations; the forecast stage has run (drift needs it)."""
    folder = tmp_path_factory.mktemp("flows")
    before = Path.cwd()
    os.chdir(folder)
    try:
        write_tiny_params(
            ROOT / "params.yaml", folder / "params.yaml", data={"locations": ["L1", "L2"]}
        )
        config = load_config("params.yaml")
        stages.generate(config)
        stages.validate(config)
        stages.forecast(config)
        yield folder
    finally:
        os.chdir(before)


@pytest.fixture
def in_project(project):
    before = Path.cwd()
    os.chdir(project)
    yield project
    os.chdir(before)


def shifted_demand(project: Path, factor: float) -> Path:
    """New weekly demand for the first planning weeks: the forecast x ``factor``, noisy."""
    forecast = pd.read_csv(project / "artifacts" / "forecast.csv")
    forecast = forecast[forecast["location"] == "L1"]
    weeks = sorted(forecast["week"].unique())[:12]
    rows = forecast[forecast["week"].isin(weeks)]
    rng = np.random.default_rng(0)
    demand = rng.poisson(np.maximum(rows["forecast"].to_numpy() * factor, 0))
    path = project / "new_demand.csv"
    rows[["sku", "location", "week"]].assign(demand=demand).to_csv(path, index=False)
    return path


def test_monitoring_keeps_models_on_unchanged_demand(harness, in_project) -> None:
    from flows.monitoring import monitoring_flow

    result = monitoring_flow(params="params.yaml")
    assert result["gate"]["decision"] == "keep", result["gate"]
    assert result["training"] is None
    assert not (in_project / "metrics" / "evaluation_stochastic.json").exists()


def test_monitoring_retrains_on_shifted_demand(harness, in_project) -> None:
    from prefect.client.orchestration import get_client

    from flows.monitoring import monitoring_flow
    from flows.training import STEPS

    result = monitoring_flow(params="params.yaml", current=str(shifted_demand(in_project, 1.8)))
    assert result["gate"]["decision"] == "retrain", result["gate"]
    assert set(result["training"]["stages"]) == {step.name for step in STEPS}
    for mode in ("deterministic", "stochastic"):
        assert (in_project / "metrics" / f"evaluation_{mode}.json").exists()
        assert (in_project / "models" / f"ppo_{mode}").is_dir()
    assert (in_project / "reports" / "summary.md").read_text().startswith("# ")
    assert result["training"]["dvc"] == "not recorded"  # no dvc.yaml in this folder

    async def artifact():
        async with get_client() as client:
            return await client.read_latest_artifacts()

    import asyncio

    keys = {a.key: a for a in asyncio.run(artifact())}
    assert {"evaluation-stochastic", "orders-this-week", "drift-verdict"} <= set(keys)
    assert "| policy |" in keys["evaluation-stochastic"].data


def test_scale_out_runs_each_location_on_dask(harness, in_project) -> None:
    from flows.scale_out import scale_out_flow

    reports = scale_out_flow(params="params.yaml", modes=["stochastic"])
    assert set(reports) == {"L1", "L2"}
    for location, folder in reports.items():
        summary = Path(folder) / "summary.md"
        assert summary.exists(), summary
        assert (Path(folder).parent / "models" / "ppo_stochastic").is_dir()
        orders = pd.read_csv(Path(folder) / "recommendation.csv")
        assert set(orders["location"]) == {location}

    async def task_run_names():
        from prefect.client.orchestration import get_client

        async with get_client() as client:
            return {run.name for run in await client.read_task_runs()}

    import asyncio

    names = asyncio.run(task_run_names())
    assert {"train-stochastic-L1", "train-stochastic-L2"} <= names, sorted(names)
