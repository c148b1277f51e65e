"""`inventory train` as a user runs it: both modes, --resume, and PPO in `inventory evaluate`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.integration.cli import run_inventory as run
from tests.integration.tiny_profile import write_tiny_params

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow  # fresh processes importing torch and SB3 (~30 s idle)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("project")
    write_tiny_params(ROOT / "params.yaml", folder / "params.yaml")
    assert run(folder, "data", "generate").returncode == 0
    return folder


@pytest.mark.parametrize("mode", ["deterministic", "stochastic"])
def test_train_writes_model_metrics_and_curve(project: Path, mode: str) -> None:
    result = run(project, "train", "--mode", mode, "--profile", "quick")
    assert result.returncode == 0, result.stderr
    assert "steps/s" in result.stdout
    metrics = json.loads((project / "metrics" / f"train_{mode}.json").read_text())
    assert metrics["total_timesteps"] >= 256 and metrics["steps_per_s"] > 0
    assert metrics["best_eval_cost"] > 0
    assert (project / "models" / f"ppo_{mode}" / "policy.pt").exists()
    assert (project / "metrics" / f"learning_curve_{mode}.csv").exists()


def test_resume_of_a_finished_run_trains_no_further(project: Path) -> None:
    before = json.loads((project / "metrics" / "train_deterministic.json").read_text())
    result = run(project, "train", "--mode", "deterministic", "--profile", "quick", "--resume")
    assert result.returncode == 0, result.stderr
    after = json.loads((project / "metrics" / "train_deterministic.json").read_text())
    assert after["resumed_from_timesteps"] == before["total_timesteps"]
    assert after["total_timesteps"] == before["total_timesteps"]


def test_evaluate_includes_ppo(project: Path) -> None:
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["evaluation"]["policies"] = ["order_up_to", "base_stock", "ppo"]
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    result = run(project, "evaluate", "--mode", "stochastic")
    assert result.returncode == 0, result.stderr
    payload = json.loads((project / "metrics" / "evaluation_stochastic.json").read_text())
    assert "ppo" in payload["policies"]


def test_bad_mode_is_one_clear_error(project: Path) -> None:
    result = run(project, "train", "--mode", "sideways")
    assert result.returncode == 2  # a usage error: the choices are a closed set (issue 16)
    assert all(word in result.stderr for word in ("Usage:", "sideways", "deterministic"))
    assert "Traceback" not in result.stderr
