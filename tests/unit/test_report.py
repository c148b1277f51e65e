"""The report reads the other stages' outputs; tasks retry only transient failures."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from inventory.report import best_policy, build_report, comparison_table, markdown_table


def evaluation(path: Path, costs: dict[str, float]) -> Path:
    policies = {
        name: {
            "total_cost": cost,
            "total_cost_ci_low": cost * 0.98,
            "total_cost_ci_high": cost * 1.02,
            "fill_rate": 0.95,
            "cycle_service_level": 0.9,
        }
        for name, cost in costs.items()
    }
    path.write_text(json.dumps({"mode": "stochastic", "policies": policies}))
    return path


def test_comparison_table_sorts_by_cost_and_computes_the_gap_to_hindsight(tmp_path) -> None:
    payload = json.loads(
        evaluation(
            tmp_path / "e.json", {"a": 120.0, "milp_hindsight": 100.0, "b": 110.0}
        ).read_text()
    )
    table = comparison_table(payload)
    assert table["policy"].tolist() == ["milp_hindsight", "b", "a"]
    assert table.set_index("policy").loc["a", "gap to hindsight"] == pytest.approx(0.2)
    assert best_policy(payload) == "b"  # the bound is not a policy one can run


def test_best_policy_needs_an_evaluation() -> None:
    with pytest.raises(ValueError, match="no policy"):
        best_policy({"policies": {}})


def test_markdown_table_escapes_pipes() -> None:
    text = markdown_table(pd.DataFrame({"x": ["a|b"], "y": [1.5]}))
    assert text.splitlines() == ["| x | y |", "|---|---|", "| a\\|b | 1.50 |"]


def test_build_report_writes_summary_html_and_plots(tmp_path) -> None:
    metrics = tmp_path / "metrics"
    metrics.mkdir()
    evaluations = {
        "stochastic": evaluation(metrics / "evaluation_stochastic.json", {"a": 2.0, "b": 1.0}),
        "deterministic": metrics / "evaluation_deterministic.json",  # missing: listed
    }
    curve = metrics / "learning_curve_stochastic.csv"
    pd.DataFrame({"timesteps": [1, 2], "mean_cost": [3.0, 2.0]}).to_csv(curve, index=False)
    drift = metrics / "drift.json"
    drift.write_text(json.dumps({"dataset_drift": False, "gate": {"decision": "keep"}}))
    plan = tmp_path / "plan.csv"
    pd.DataFrame(
        {
            "sku": ["A", "A"],
            "week": ["2024-01-01", "2024-01-08"],
            "order_units": [1, 2],
            "end_inventory": [5.0, 4.0],
            "target": [3.0, 3.0],
        }
    ).to_csv(plan, index=False)
    reports = tmp_path / "reports"
    written = build_report(
        evaluations,
        {"stochastic": curve},
        drift,
        None,
        plan,
        None,
        reports,
        figures_dir=reports / "figures",
    )
    summary = (reports / "summary.md").read_text()
    assert "## Policies compared (stochastic demand)" in summary
    assert "gate: **keep**" in summary
    assert "evaluation_deterministic.json" in summary.split("## Missing inputs")[1]
    assert "<table" in (reports / "index.html").read_text()
    for key in ("cost_plot", "inventory_plot", "learning_plot"):
        assert Path(written[key]).read_bytes()[:4] == b"\x89PNG"


def test_tasks_retry_only_transient_failures() -> None:
    from prefect.states import Failed

    from tasks import retry_on_transient

    assert retry_on_transient(None, None, Failed(data=ConnectionError("reset")))
    assert retry_on_transient(None, None, Failed(data=TimeoutError()))
    assert not retry_on_transient(None, None, Failed(data=ValueError("bad data")))
