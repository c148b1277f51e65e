"""The drift-to-retrain loop, end to end: real Prefect (test harness), real DVC and git.

A tiny project in a fresh git + DVC repo (as in test_dvc_pipeline) has trained models. New
weeks of demand, 80% up, are fed to the monitoring flow: the gate says retrain, the weeks
are appended to the history as a new data version, the pipeline re-runs on it (dvc.lock
current) and the previous and the retrained models are scored on the new demand.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.integration.tiny_profile import write_tiny_params

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

pytestmark = [pytest.mark.slow, pytest.mark.solver, pytest.mark.timeout(600)]

SETUP = """
from inventory import stages
from inventory.config import load_config
config = load_config("params.yaml")
stages.validate(config)
stages.forecast(config)
for mode in ("deterministic", "stochastic"):
    stages.train(config, mode=mode)
"""

LOOP = """
import asyncio, json
from prefect.client.orchestration import get_client
from prefect.testing.utilities import prefect_test_harness
from flows.monitoring import monitoring_flow

async def artifact_keys():
    async with get_client() as client:
        return sorted({a.key for a in await client.read_latest_artifacts()})

with prefect_test_harness(server_startup_timeout=60):
    result = monitoring_flow(params="params.yaml", current="recent.csv")
    training = result["training"]
    result["training"] = {"dvc": training["dvc"], "stages": sorted(training["stages"])}
    result["artifacts"] = asyncio.run(artifact_keys())
print("RESULT " + json.dumps(result, default=str))
"""


def run(repo: Path, *args: str, env: dict[str, str] | None = None) -> str:
    base = os.environ | {"PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "DVC_NO_ANALYTICS": "1"}
    full = {k: v for k, v in (base | (env or {})).items() if k != "PREFECT_API_URL"}
    done = subprocess.run(args, cwd=repo, env=full, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def data_hash(repo: Path) -> str:
    return yaml.safe_load((repo / "data.dvc").read_text())["outs"][0]["md5"]


def write_new_weeks(repo: Path, factor: float) -> Path:
    """The first planning weeks' demand: the forecast x ``factor`` (rounded)."""
    forecast = pd.read_csv(repo / "artifacts" / "forecast.csv")
    rows = forecast[forecast["week"].isin(sorted(forecast["week"].unique())[:8])]
    demand = (rows["forecast"] * factor).round()
    path = repo / "recent.csv"
    rows[["sku", "location", "week"]].assign(demand=demand).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def loop(tmp_path_factory) -> tuple[Path, dict, str]:
    repo = tmp_path_factory.mktemp("loop")
    for folder in ("inventory", "tasks", "flows"):
        shutil.copytree(ROOT / folder, repo / folder, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("dvc.yaml", ".gitignore", ".dvcignore"):
        shutil.copy(ROOT / name, repo / name)
    write_tiny_params(ROOT / "params.yaml", repo / "params.yaml")
    run(repo, "git", "init", "-q")
    run(repo, "git", "config", "user.name", "Loop Test")
    run(repo, "git", "config", "user.email", "loop-test@example.com")
    run(repo, "dvc", "init", "-q")
    run(repo, "dvc", "config", "core.analytics", "false")
    run(repo, sys.executable, "-m", "inventory", "data", "generate")
    run(repo, "dvc", "add", "-q", "data")
    run(repo, "git", "add", "-A")
    run(repo, "git", "commit", "-q", "-m", "tiny project")
    previous = data_hash(repo)
    run(repo, sys.executable, "-c", SETUP)
    write_new_weeks(repo, 1.8)
    env = {
        "PREFECT_HOME": str(tmp_path_factory.mktemp("prefect")),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_LOGGING_LEVEL": "WARNING",
    }
    output = run(repo, sys.executable, "-c", LOOP, env=env)
    line = next(x for x in output.splitlines() if x.startswith("RESULT "))
    return repo, json.loads(line.removeprefix("RESULT ")), previous


def test_drift_is_detected_and_its_report_kept(loop) -> None:
    repo, result, _ = loop
    assert result["gate"]["decision"] == "retrain", result["gate"]
    kept = json.loads(Path(repo / result["drift_report"]["metrics"]).read_text())
    assert kept["gate"]["decision"] == "retrain"  # not the training flow's later check
    assert Path(repo / result["drift_report"]["report"]).stat().st_size > 0
    assert {"drift-verdict", "orders-this-week", "retrain-comparison"} <= set(result["artifacts"])


def test_new_weeks_are_a_new_data_version(loop) -> None:
    repo, result, previous = loop
    history = pd.read_csv(repo / "data" / "demand_history.csv")
    new = pd.read_csv(repo / "recent.csv")
    assert set(new["week"]) <= set(history["week"])
    assert result["data_version"] == {"previous": previous, "current": data_hash(repo)}
    assert previous != data_hash(repo)
    cache = repo / ".dvc" / "cache" / "files" / "md5"
    assert (cache / previous[:2] / previous[2:]).exists()  # the previous version is reachable
    forecast = pd.read_csv(repo / "artifacts" / "forecast.csv")
    assert forecast["week"].min() > new["week"].max()  # re-forecast after the new weeks


def test_models_are_retrained_and_recorded_in_dvc(loop) -> None:
    repo, result, _ = loop
    assert result["training"]["dvc"] == "up to date"
    assert "train@stochastic" in result["training"]["stages"]
    assert "up to date" in run(repo, "dvc", "status", "dvc.yaml")


def test_previous_and_retrained_models_are_scored_on_the_new_demand(loop) -> None:
    repo, _, _ = loop
    comparison = json.loads((repo / "metrics" / "retrain.json").read_text())
    for mode in ("deterministic", "stochastic"):
        row = comparison["modes"][mode]
        assert row["cost_before"] > 0 and row["cost_after"] > 0, row
        assert row["helped"] == (row["cost_after"] < row["cost_before"])
    print("retrain loop:", json.dumps(comparison["modes"]))
    assert (repo / "reports" / "retrain.md").read_text().startswith("# ")
