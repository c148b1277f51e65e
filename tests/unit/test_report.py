"""The report reads the other stages' outputs; tasks retry only transient failures."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import pandas as pd
import pytest

from inventory.report import (
    best_policy,
    build_report,
    comparison_table,
    evaluation_markdown,
    format_number,
    format_percent,
    markdown_table,
    trust_notes,
)


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


def _full_report(tmp_path: Path) -> Path:
    """A report from every kind of input: orders, a policy whose solver hit its limit."""
    metrics = tmp_path / "metrics"
    metrics.mkdir()
    detail = evaluation(
        metrics / "detail.json", {"ppo": 450770.4, "milp_rolling": 552678.1, "do_nothing": 2.5e6}
    )
    payload = json.loads(detail.read_text())
    payload["policies"]["milp_rolling"].update(
        limit_hit=True, limit_hits=1, own_gap=0.0312, fallback_weeks=12
    )
    detail.write_text(json.dumps(payload))
    solve = metrics / "solve_stochastic.json"
    solve.write_text(
        json.dumps(
            {
                "status": "feasible",
                "objective": 1.342361e5,
                "gap": 0.02,
                "limit_hit": False,
                "node_limit_hits": 4,
            }
        )
    )
    orders = tmp_path / "recommendation.csv"
    pd.DataFrame(
        {
            "sku": ["SKU001", "<b>x</b>"],
            "order_units": [1200, 0],
            "containers_filled": [0.5123, 0.0],
            "on_hand": [120.0, 11.0],
            "arrival_week": ["2023-06-19", "2023-06-12"],
            "projected_on_hand": [119.22, 9.0],
            "target": [105.28, 9.0],
            "reason": ["below target", "no order needed"],
        }
    ).to_csv(orders, index=False)
    summary = metrics / "recommendation.json"
    summary.write_text(
        json.dumps(
            {
                "policy": "ppo",
                "location": "L1",
                "week": "2023-05-01",
                "order_units": 1200,
                "order_volume": 4672.12,
                "containers": 2,
                "max_containers": 3,
                "container_fill_rate": 0.9941,
                "skus_ordered": 1,
            }
        )
    )
    drift = metrics / "drift.json"
    drift.write_text(json.dumps({"gate": {"decision": "keep", "reason": "no drift"}}))
    reports = tmp_path / "reports"
    build_report(
        {"stochastic": detail},
        {},
        drift,
        None,
        None,
        None,
        reports,
        solves={"stochastic": solve},
        orders_csv=orders,
        orders_json=summary,
    )
    return reports


def test_report_leads_with_the_orders_and_formats_numbers_for_people(tmp_path) -> None:
    reports = _full_report(tmp_path)
    page = (reports / "index.html").read_text()
    assert page.index("class='orders'") < page.index("Policies compared")
    assert "**" not in page and "<strong>ppo</strong>" in page
    assert "Drift gate: <span class='gate'>keep</span>" in page
    assert "1,200" in page and "0.51" in page and "99.4%" in page and "134,236" in page
    assert "e+05" not in page and "4672.12" not in page
    assert "&lt;b&gt;x&lt;/b&gt;" in page and "<b>x" not in page  # ids are escaped
    summary = (reports / "summary.md").read_text()
    assert summary.index("## This week's orders") < summary.index("## Policies compared")


def test_rows_that_hit_a_safety_limit_carry_a_badge_and_the_page_a_legend(tmp_path) -> None:
    page = (_full_report(tmp_path) / "index.html").read_text()
    assert "safety time limit hit, own gap 3.1%" in page
    assert "12 fallback weeks" in page
    assert "How far to trust this" in page
    assert page.count("class='badge'") == 2  # the untrusted row only


def test_trust_notes_and_number_formats() -> None:
    assert trust_notes({"limit_hit": False, "fallback_weeks": 0}) == []
    assert trust_notes({"limit_hits": 3, "gap": 0.1}) == [
        "safety time limit hit (3 solves), own gap 10.0%"
    ]
    assert trust_notes({}, {"limit_hits": 2.0}) == ["stress sets: 2 limit hits"]
    assert format_number(134236.1) == "134,236" and format_number(float("nan")) == "-"
    assert format_number(0.01234) == "0.0123" and format_percent(0.0312) == "3.1%"


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _chromium(page: Path, *flags: str) -> str:
    with tempfile.TemporaryDirectory() as profile:
        done = subprocess.run(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={profile}",
                "--window-size=1280,900",
                *flags,
                page.as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
    return done.stdout


@pytest.mark.skipif(
    CHROMIUM is None, reason="needs chromium (Debian: apt-get install chromium), see README"
)
def test_report_renders_in_a_headless_browser_with_the_orders_table(tmp_path) -> None:
    reports = _full_report(tmp_path)
    page = reports / "index.html"
    dom = _chromium(page, "--dump-dom")
    assert '<table class="orders">' in dom and "SKU001" in dom and "1,200" in dom
    assert "&lt;b&gt;x&lt;/b&gt;" in dom  # rendered as text, not as markup
    shot = tmp_path / "report.png"
    _chromium(page, f"--screenshot={shot}")
    assert shot.read_bytes()[:4] == b"\x89PNG"


def test_tasks_retry_only_transient_failures() -> None:
    from prefect.states import Failed

    from tasks import retry_on_transient

    assert retry_on_transient(None, None, Failed(data=ConnectionError("reset")))
    assert retry_on_transient(None, None, Failed(data=TimeoutError()))
    assert not retry_on_transient(None, None, Failed(data=ValueError("bad data")))


def test_best_policy_compares_a_subset_row_on_its_own_scenarios() -> None:
    """A row run on the first 20 of 200 scenarios is ranked by its paired difference on
    those 20, and is returned by its policy name (recommend builds the policy from it),
    not by its display label."""
    payload = {
        "n_scenarios": 200,
        "reference": "order_up_to",
        "policies": {
            "order_up_to": {"total_cost": 500.0, "diff_to_reference": 0.0},
            "base_stock": {"total_cost": 450.0, "diff_to_reference": -50.0},
            # cheap only because its 20 scenarios were easy: paired, it is worse
            "milp_rolling": {"total_cost": 400.0, "n_scenarios": 20, "diff_to_reference": -40.0},
            "milp_hindsight": {"total_cost": 100.0, "n_scenarios": 3, "diff_to_reference": -300},
        },
    }
    assert best_policy(payload) == "base_stock"
    payload["policies"]["milp_rolling"]["diff_to_reference"] = -60.0
    assert best_policy(payload) == "milp_rolling"


def test_rows_on_fewer_scenarios_are_paired_with_base_stock_on_those(tmp_path) -> None:
    """The rolling row's mean is over its first 2 scenarios; its vs column pairs it with
    base-stock on the same 2 (hand-computed), the others on all 4."""
    folder = tmp_path / "stochastic"
    folder.mkdir()
    payload = json.loads(
        evaluation(
            folder / "detail.json", {"base_stock": 110.0, "a": 120.0, "milp_rolling": 90.0}
        ).read_text()
    )
    payload.update(n_scenarios=4, confidence=0.95)
    payload["policies"]["milp_rolling"]["n_scenarios"] = 2
    costs = pd.DataFrame(
        {
            "base_stock": [100.0, 80.0, 130.0, 130.0],
            "a": [110.0, 90.0, 140.0, 140.0],  # base-stock + 10 every time: a point
            "milp_rolling": [95.0, 85.0, None, None],  # -5 and +5 on the first two
        }
    )
    costs.to_csv(folder / "scenario_costs.csv", index=False)
    (folder / "detail.json").write_text(json.dumps(payload))

    table = comparison_table(payload, costs).set_index("policy")

    assert table.attrs["paired_with"] == "base_stock"
    rolling = table.loc["milp_rolling (first 2 scenarios)"]
    half = 12.706204736 * 50**0.5 / 2**0.5  # t(0.975, 1) x sd(-5, 5) / sqrt(2)
    assert rolling["vs mean"] == pytest.approx(0.0)
    assert rolling["vs low"] == pytest.approx(-half) and rolling["vs high"] == pytest.approx(half)
    assert table.loc["a", ["vs mean", "vs low", "vs high"]].tolist() == [10.0, 10.0, 10.0]
    page = evaluation_markdown(folder / "detail.json")
    assert "vs base_stock (same scenarios)" in page
    assert "+0 (-64 to +64)" in page and "| +10 |" in page and "(reference)" in page


def test_without_scenario_costs_the_vs_column_is_the_stored_reference_difference() -> None:
    entry = {"total_cost": 5.0, "diff_to_reference": -2.0}
    entry |= {"diff_to_reference_ci_low": -3.0, "diff_to_reference_ci_high": -1.0}
    payload = {"reference": "order_up_to", "policies": {"x": entry}}
    table = comparison_table(payload)
    assert table.attrs["paired_with"] == "order_up_to"
    assert table.loc[0, ["vs mean", "vs low", "vs high"]].tolist() == [-2.0, -3.0, -1.0]


def test_milp_plans_table_shows_the_limits_hit(tmp_path) -> None:
    page = (_full_report(tmp_path) / "index.html").read_text()
    milp = page[page.index("<h2>MILP plans</h2>") :]
    assert "<th class=num>node limit hits</th>" in milp and "<th>limit hit</th>" in milp
    assert "<td class='num'>4</td>" in milp and "<td>no</td>" in milp


def test_best_policy_is_named_as_evaluated_and_ranks_a_subset_row_by_its_pairing() -> None:
    """The rolling row's 20-scenario mean (90) is the lowest, but paired with the
    reference on its own scenarios it saves less than b does: b is best; with the rolling
    row best by pairing too, its evaluation name comes back (not the display name)."""

    def payload(rolling_diff: float) -> dict:
        policies = {
            "order_up_to": {"total_cost": 130.0, "diff_to_reference": 0.0},
            "b": {"total_cost": 110.0, "diff_to_reference": -20.0},
            "milp_rolling": {"total_cost": 90.0, "diff_to_reference": rolling_diff},
            "milp_hindsight": {"total_cost": 50.0, "diff_to_reference": -70.0},
        }
        policies["milp_rolling"]["n_scenarios"] = 20
        policies["milp_hindsight"]["n_scenarios"] = 3
        return {"n_scenarios": 200, "reference": "order_up_to", "policies": policies}

    assert best_policy(payload(rolling_diff=-5.0)) == "b"
    assert best_policy(payload(rolling_diff=-25.0)) == "milp_rolling"


def test_the_orders_table_keeps_a_sku_named_na(tmp_path) -> None:
    """NA and nan are ids (the schema's rule): the report reads this week's orders with
    only an empty cell as missing, so the row keeps its SKU instead of a blank."""
    from inventory.report import _read_orders

    orders = tmp_path / "recommendation.csv"
    orders.write_text("sku,location,order_units\nNA,L1,3\nnan,L1,0\n")
    assert _read_orders(orders)["sku"].tolist() == ["NA", "nan"]
