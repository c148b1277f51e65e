"""`dvc repro` end to end on a tiny profile in a temporary git repository.

The project's code, dvc.yaml and a tiny params.yaml are copied into a fresh git + DVC repo;
the default data is generated and tracked by ``data.dvc`` as in the real project. Then:
the whole chain runs and writes its metrics; a second ``dvc repro`` runs nothing; changing
one ``ppo`` param re-runs training and what depends on it, and nothing upstream.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.integration.tiny_profile import write_tiny_params

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

pytestmark = [pytest.mark.slow, pytest.mark.solver, pytest.mark.timeout(600)]


def run(repo: Path, *args: str) -> str:
    return run_with_env(repo, {}, *args)


def run_with_env(repo: Path, extra: dict[str, str], *args: str) -> str:
    env = os.environ | {"PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "DVC_NO_ANALYTICS": "1"}
    env = {k: v for k, v in (env | extra).items() if k != "PREFECT_API_URL"}
    done = subprocess.run(args, cwd=repo, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


def ran_stages(output: str) -> set[str]:
    return set(re.findall(r"Running stage '([^']+)'", output))


def dvc_stages(repo: Path) -> set[str]:
    listed = run(repo, "dvc", "stage", "list", "--name-only").split()
    return {name for name in listed if not name.endswith(".dvc")}


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    repo = tmp_path_factory.mktemp("project")
    for folder in ("inventory", "tasks", "flows"):
        shutil.copytree(ROOT / folder, repo / folder, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("dvc.yaml", ".gitignore", ".dvcignore"):
        shutil.copy(ROOT / name, repo / name)
    write_tiny_params(ROOT / "params.yaml", repo / "params.yaml")
    run(repo, "git", "init", "-q")
    run(repo, "git", "config", "user.name", "Pipeline Test")
    run(repo, "git", "config", "user.email", "pipeline-test@example.com")
    run(repo, "dvc", "init", "-q")
    shutil.copytree(ROOT / ".dvc" / "plots", repo / ".dvc" / "plots")  # plot templates
    run(repo, "dvc", "config", "core.analytics", "false")
    run(repo, sys.executable, "-m", "inventory", "data", "generate")
    run(repo, "dvc", "add", "-q", "data")
    run(repo, "git", "add", "-A")
    run(repo, "git", "commit", "-q", "-m", "tiny project")
    return repo


@pytest.fixture(scope="module")
def first_run(repo: Path) -> str:
    return run(repo, "dvc", "repro")


def test_repro_runs_every_stage_and_writes_metrics(repo: Path, first_run: str) -> None:
    assert ran_stages(first_run) == dvc_stages(repo)
    for mode in ("deterministic", "stochastic"):
        payload = json.loads((repo / "metrics" / f"evaluation_{mode}.json").read_text())
        assert payload["policies"], payload
    # the evaluator replayed the solve stage's plan: same cost on the forecast
    solved = json.loads((repo / "metrics" / "solve_deterministic.json").read_text())
    evaluated = json.loads((repo / "metrics" / "evaluation_deterministic.json").read_text())
    assert evaluated["policies"]["milp_open_loop"]["total_cost"] == pytest.approx(
        solved["simulated_cost"], rel=1e-6
    )
    assert (repo / "reports" / "summary.md").read_text().startswith("# ")
    assert (repo / "reports" / "recommendation.csv").exists()
    shown = run(repo, "dvc", "metrics", "show", "--json")
    assert "evaluation_stochastic.json" in shown
    # headline metrics only: the intervals and stress sets live in the detail output
    assert "ci_low" not in shown and "stress" not in shown and "ppo_gain_over_classical" in shown
    detail = repo / "artifacts" / "evaluation" / "stochastic" / "detail.json"
    assert "stress" in json.loads(detail.read_text())
    plots = json.loads(run(repo, "dvc", "plots", "show", "--json", "--split"))["data"]
    weekly = next(k for k in plots if k.endswith("stochastic/weekly.csv"))
    assert plots[weekly][0]["content"]["encoding"]["color"]["field"] == "policy"  # a line each
    assert "up to date" in run(repo, "dvc", "status", "data.dvc")  # data/ is only read
    run(repo, "git", "add", "dvc.lock")
    run(repo, "git", "commit", "-q", "-m", "first run")


def test_second_repro_does_nothing(repo: Path, first_run: str) -> None:
    again = run(repo, "dvc", "repro")
    assert ran_stages(again) == set(), again
    assert "up to date" in run(repo, "dvc", "status")


def test_rerunning_drift_leaves_every_output_unchanged(repo: Path, first_run: str) -> None:
    # Evidently's HTML used to hold fresh random ids at each run: "modified" after a keep
    run(repo, "dvc", "repro", "--force", "--single-item", "drift")
    assert "up to date" in run(repo, "dvc", "status")


def test_a_rolling_horizon_param_leaves_the_solved_plans_current(
    repo: Path, first_run: str
) -> None:
    """The solve stages read the plan settings only: a rolling-horizon or hindsight knob
    changes what evaluate (and recommend) read, never the plans."""
    original = (repo / "params.yaml").read_text()
    params = yaml.safe_load(original)
    params["milp"]["rolling_safety_time_limit_s"] += 1.0
    params["milp"]["hindsight_scenarios"] += 1
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    try:
        changed = set(json.loads(run(repo, "dvc", "status", "--json")))
    finally:
        (repo / "params.yaml").write_text(original)
    assert {"evaluate@deterministic", "evaluate@stochastic"} <= changed
    assert not changed & {"solve@deterministic", "solve@stochastic"}, changed
    assert "up to date" in run(repo, "dvc", "status")


def test_changing_a_ppo_param_reruns_only_training_and_dependents(
    repo: Path, first_run: str
) -> None:
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["ppo"]["seed"] = int(params["ppo"].get("seed", 0)) + 1
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    output = run(repo, "dvc", "repro")
    ran = ran_stages(output)
    assert {"train@deterministic", "train@stochastic"} <= ran
    upstream = {"validate", "forecast", "solve@deterministic", "solve@stochastic", "drift"}
    assert not ran & upstream, ran
    assert ran <= {
        "train@deterministic",
        "train@stochastic",
        "evaluate@deterministic",
        "evaluate@stochastic",
        "recommend",
        "report",
    }
    diff = run(repo, "dvc", "metrics", "diff", "--json")
    assert json.loads(diff), "the retrained models should change some metric"


def test_a_prefect_training_run_leaves_dvc_lock_and_metrics_current(
    repo: Path, first_run: str, tmp_path: Path
) -> None:
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["ppo"]["seed"] = int(params["ppo"]["seed"]) + 1
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    assert "train@stochastic" in run(repo, "dvc", "status")
    code = (
        "from prefect.testing.utilities import prefect_test_harness\n"
        "from flows.training import training_flow\n"
        "with prefect_test_harness(server_startup_timeout=60):\n"
        "    print('dvc:', training_flow(params='params.yaml')['dvc'])\n"
    )
    env = {
        "PREFECT_HOME": str(tmp_path / "prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_LOGGING_LEVEL": "WARNING",
    }
    output = run_with_env(repo, env, sys.executable, "-c", code)
    assert "dvc: up to date" in output
    assert "up to date" in run(repo, "dvc", "status")
    diff = json.loads(run(repo, "dvc", "metrics", "diff", "--json"))
    assert any("train_" in path for path in diff), diff
