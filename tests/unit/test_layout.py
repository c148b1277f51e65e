"""The Layout names every path; stages run under any root without changing directory."""

from __future__ import annotations

from pathlib import Path

from inventory import stages
from inventory.config import config_from_dict
from inventory.layout import Layout


def test_default_layout_keeps_the_pipeline_paths() -> None:
    layout = Layout.from_config(config_from_dict({}))
    assert str(layout.forecast) == "artifacts/forecast.csv"
    assert str(layout.demand_model) == "artifacts/demand_model.json"
    assert str(layout.tuning_cache) == "artifacts/cache/tuned"
    assert str(layout.solved_plans) == "artifacts/milp"
    assert str(layout.validation_report) == "reports/validation.json"
    assert str(layout.model_dir("stochastic")) == "models/ppo_stochastic"
    assert str(layout.model_dir("deterministic", "L2")) == "models/ppo_deterministic_L2"


def test_root_and_data_folder(tmp_path: Path) -> None:
    relative = Layout.from_config(config_from_dict({"data": {"dir": "data"}}), tmp_path)
    assert relative.data_dir == tmp_path / "data" and relative.metrics == tmp_path / "metrics"
    absolute = Layout.from_config(config_from_dict({"data": {"dir": str(tmp_path / "d")}}), "x")
    assert absolute.data_dir == tmp_path / "d"
    local = relative.for_location("L1")
    assert local.root == tmp_path / "artifacts" / "locations" / "L1"
    assert local.data_dir == relative.data_dir


def test_trained_model_prefers_the_default_folder_for_the_default_location(tmp_path) -> None:
    layout = Layout(tmp_path, tmp_path / "data")
    assert layout.trained_model("stochastic", "L1", "L1") == layout.model_dir("stochastic")
    assert layout.trained_model("stochastic", "L2", "L1") == layout.model_dir("stochastic", "L2")
    suffixed = layout.model_dir("stochastic", "L1")
    suffixed.mkdir(parents=True)
    (suffixed / "policy.pt").write_bytes(b"")
    assert layout.trained_model("stochastic", "L1", "L1") == suffixed


def test_stages_write_under_the_layout_root_only(tmp_path: Path, monkeypatch) -> None:
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    config = config_from_dict(
        {
            "data": {"dir": "data", "n_skus": 3, "history_weeks": 60, "horizon_weeks": 8},
        }
    )
    layout = Layout.from_config(config, tmp_path / "project")
    stages.generate(config, layout=layout)
    stages.validate(config, layout=layout)
    written = stages.forecast(config, layout=layout)
    assert Path(written["demand_model"]) == layout.demand_model
    assert layout.forecast.exists() and layout.validation_report.exists()
    assert (layout.data_dir / "catalog.csv").exists()
    assert not any(elsewhere.iterdir())
