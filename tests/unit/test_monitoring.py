"""Drift monitoring (inventory.monitoring): Evidently reports, gate, windows, files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from inventory.config import DriftConfig
from inventory.monitoring import (
    block_features,
    detect_drift,
    drift_gate,
    drift_windows,
    read_new_demand,
    stable_ids,
    write_drift,
)

CONFIG = DriftConfig()


def _window(start: str, n_weeks: int, seed: int, factor: float = 1.0) -> pd.DataFrame:
    """25 seasonal SKUs of Poisson demand around their expected value (times ``factor``)."""
    rng = np.random.default_rng(seed)
    weeks = pd.date_range(start, periods=n_weeks, freq="7D")
    frames = []
    for i in range(25):
        expected = (4 + 2 * i) * (1 + 0.3 * np.sin(2 * np.pi * np.arange(n_weeks) / 52 + i))
        demand = rng.poisson(expected * factor).astype(float)
        frames.append(
            pd.DataFrame(
                {"sku": f"S{i:02d}", "week": weeks, "demand": demand, "expected": expected}
            )
        )
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return _window("2024-01-01", 52, seed=1)


@pytest.fixture(scope="module")
def identical(reference):
    return detect_drift(reference, reference, CONFIG)


@pytest.fixture(scope="module")
def shifted(reference):
    return detect_drift(reference, _window("2025-01-06", 13, seed=2, factor=1.5), CONFIG)


def test_identical_windows_report_no_drift(identical) -> None:
    summary = identical.summary
    assert not summary["dataset_drift"]
    assert summary["drifted_features"] == [] and summary["drifted_skus"] == []
    assert drift_gate(summary, CONFIG)[0] == "keep"


def test_demand_up_50_percent_is_flagged_and_gate_says_retrain(shifted) -> None:
    summary = shifted.summary
    assert summary["dataset_drift"]
    assert "level_ratio" in summary["drifted_features"]
    assert summary["share_of_drifted_features"] >= CONFIG.drift_share
    decision, reason = drift_gate(summary, CONFIG)
    assert decision == "retrain" and "level_ratio" in reason


def test_a_same_distribution_window_keeps(reference) -> None:
    summary = detect_drift(reference, _window("2025-01-06", 13, seed=3), CONFIG).summary
    assert not summary["dataset_drift"]
    assert drift_gate(summary, CONFIG)[0] == "keep"


def test_json_is_valid_and_html_exists(shifted, tmp_path) -> None:
    gate = drift_gate(shifted.summary, CONFIG)
    paths = (tmp_path / "drift.json", tmp_path / "drift.html", tmp_path / "drift_skus.html")
    written = write_drift(shifted, gate, *paths)
    payload = json.loads(paths[0].read_text())
    assert payload["gate"] == {"decision": "retrain", "reason": gate[1]}
    for key in ("share_of_drifted_features", "drifted_features", "drifted_skus", "method"):
        assert key in payload
    assert payload["method"] == "ks" and payload["threshold"] == CONFIG.threshold
    for path in paths[1:]:
        assert path.stat().st_size > 10_000 and "<html" in path.read_text()[:2000].lower()
    assert set(written) == {"metrics", "report", "sku_report"}


def test_metrics_keep_the_headline_and_the_detail_the_rest(shifted, tmp_path) -> None:
    gate = drift_gate(shifted.summary, CONFIG)
    paths = (tmp_path / "drift.json", tmp_path / "drift.html", tmp_path / "drift_skus.html")
    written = write_drift(shifted, gate, *paths, detail_path=tmp_path / "detail.json")
    headline = json.loads(paths[0].read_text())
    assert headline["gate"] == {"decision": "retrain"} and "drifted_skus" not in headline
    assert len(headline) <= 6
    detail = json.loads(Path(written["detail"]).read_text())
    assert detail["gate"]["reason"] == gate[1] and "feature_scores" in detail


def test_the_same_check_writes_the_same_html_bytes(reference, tmp_path) -> None:
    current = _window("2025-01-06", 13, seed=2, factor=1.5)
    pages = []
    for run in ("first", "second"):  # two Evidently runs: fresh random ids each time
        again = detect_drift(reference, current, CONFIG)
        gate = drift_gate(again.summary, CONFIG)
        folder = tmp_path / run
        folder.mkdir()
        write_drift(again, gate, folder / "d.json", folder / "d.html", folder / "s.html")
        pages.append(((folder / "d.html").read_bytes(), (folder / "s.html").read_bytes()))
    assert pages[0] == pages[1]


def test_stable_ids_renumber_consistently_and_leave_other_uuids() -> None:
    v7, v7b = "01a22d3a-eff5-7ed2-b296-7cc2db7abe4e", "01a22d3b-47ad-70df-8ba6-d05f484532c3"
    v1 = "6ba7b810-9dad-11d1-80b4-00c04fd430c8"  # a library constant (UUID v1)
    page = f'var metric_{"ab" * 16} = {{"id": "{v7}", "x": "{v7b}", "y": "{v7}", "c": "{v1}"}}'
    out = stable_ids(page)
    assert v7 not in out and v7b not in out and v1 in out and "ab" * 16 not in out
    assert out.count("00000000-0000-7000-8000-000000000001") == 2  # same id, same new id
    assert stable_ids(page) == out


def test_skipped_check_keeps_and_says_why(tmp_path) -> None:
    reason = "no demand history"
    gate = drift_gate({"status": "skipped", "reason": reason}, CONFIG)
    write_drift(None, gate, tmp_path / "d.json", tmp_path / "d.html", tmp_path / "s.html", reason)
    payload = json.loads((tmp_path / "d.json").read_text())
    assert payload["status"] == "skipped" and payload["gate"]["decision"] == "keep"
    assert "skipped" in (tmp_path / "d.html").read_text()


def test_block_features_relative_to_expected() -> None:
    weeks = pd.date_range("2024-01-01", periods=9, freq="7D")
    window = pd.DataFrame(
        {"sku": "A", "week": weeks, "demand": [9, 0, 4, 0, 2, 6, 2, 6, 4.0], "expected": 4.0}
    )
    features = block_features(window, 4)  # oldest week is an incomplete block: dropped
    assert len(features) == 2
    newest = features.set_index("block").loc[0]
    assert newest["level_ratio"] == pytest.approx(1.125)  # (6 + 2 + 6 + 4) / 4 / 4
    assert newest["zero_share"] == 0
    assert newest["forecast_error"] == pytest.approx((2 + 2 + 2 + 0) / 4 / 4)
    older = features.set_index("block").loc[1]
    assert older["zero_share"] == 0.5


def _backtest(n_weeks: int = 30) -> pd.DataFrame:
    window = _window("2024-01-01", n_weeks, seed=4)
    return window.rename(columns={"expected": "forecast"}).assign(location="L1")


def test_windows_without_new_demand_split_the_backtest() -> None:
    backtest = _backtest()
    config = DriftConfig(reference_weeks=12, current_weeks=8)
    reference, current = drift_windows(backtest, backtest.iloc[:0], None, config)
    assert current["week"].nunique() == 8 and reference["week"].nunique() == 12
    assert reference["week"].max() < current["week"].min()
    assert current["week"].max() == backtest["week"].max()


def test_windows_with_new_demand_use_the_forecast_of_those_weeks(tmp_path) -> None:
    backtest = _backtest()
    future = pd.date_range("2024-08-05", periods=4, freq="7D")
    forecast = pd.DataFrame({"sku": "S00", "location": "L1", "week": future, "forecast": 3.0})
    csv = tmp_path / "new.csv"
    # dates inside the week are moved to its Monday; an unknown SKU is dropped
    pd.DataFrame(
        {
            "sku": ["S00", "S00", "ZZ"],
            "week": ["2024-08-07", "2024-08-12", "2024-08-12"],
            "demand": [5, 1, 2],
        }
    ).to_csv(csv, index=False)
    new = read_new_demand(csv, "L1")
    _, current = drift_windows(backtest, forecast, new, CONFIG)
    assert current["expected"].tolist() == [3.0, 3.0]
    assert current["week"].tolist() == list(future[:2])


def test_new_demand_outside_the_forecast_is_a_value_error(tmp_path) -> None:
    csv = tmp_path / "new.csv"
    pd.DataFrame({"sku": ["S00"], "week": ["2030-01-07"], "demand": [5]}).to_csv(csv, index=False)
    forecast = pd.DataFrame(
        {
            "sku": "S00",
            "location": "L1",
            "week": pd.date_range("2024-08-05", periods=2, freq="7D"),
            "forecast": 3.0,
        }
    )
    with pytest.raises(ValueError, match="no row matches a forecast week"):
        drift_windows(_backtest(), forecast, read_new_demand(csv, "L1"), CONFIG)


def test_bad_new_demand_rows_are_reported(tmp_path) -> None:
    csv = tmp_path / "new.csv"
    pd.DataFrame(
        {"sku": ["A", "B"], "week": ["2024-01-01", "not a date"], "demand": [1, -2]}
    ).to_csv(csv, index=False)
    with pytest.raises(ValueError, match="line"):
        read_new_demand(csv, "L1")


def test_without_history_the_reference_is_drawn_from_the_demand_model(tmp_path) -> None:
    weeks = pd.date_range("2024-08-05", periods=8, freq="7D")
    forecast = pd.DataFrame(
        {
            "sku": np.repeat(["A", "B"], 8),
            "location": "L1",
            "week": np.tile(weeks, 2),
            "forecast": 10.0,
        }
    )
    new = forecast.rename(columns={"forecast": "demand"})
    model = pd.DataFrame(
        {
            "location": "L1",
            "sku": ["A", "B"],
            "family": ["poisson", "negative_binomial"],
            "dispersion": [4.0, 2.0],
        }
    )
    empty = _backtest().iloc[:0]
    reference, current = drift_windows(empty, forecast, new, CONFIG, model, seed=1)
    assert len(current) == 16 and len(reference) == 4 * 16
    assert reference["week"].max() < current["week"].min()
    assert reference["demand"].mean() == pytest.approx(10.0, rel=0.2)
    assert (
        reference.query("sku == 'B'")["demand"].var()
        > reference.query("sku == 'A'")["demand"].var()
    )
    with pytest.raises(ValueError, match="no demand history"):
        drift_windows(empty, forecast, None, CONFIG, model)


@pytest.mark.parametrize(("method", "threshold"), [("ks", 0.05), ("wasserstein", 0.1)])
def test_verdicts_follow_the_stat_test_whether_low_or_high_means_drift(
    reference, method: str, threshold: float
) -> None:
    """A p-value drifts below its threshold, a distance above: each column's verdict is
    Evidently's test status, so both flag the 50% demand rise and neither the same window."""
    config = CONFIG.model_copy(update={"method": method, "threshold": threshold})
    shifted = detect_drift(reference, _window("2025-01-06", 13, seed=2, factor=1.5), config)
    same = detect_drift(reference, reference, config)
    score = shifted.summary["feature_scores"]["level_ratio"]
    assert "level_ratio" in shifted.summary["drifted_features"]
    assert (score < threshold) if method == "ks" else (score > threshold)
    assert same.summary["drifted_features"] == [] and same.summary["drifted_skus"] == []
    assert shifted.summary["method"] == method


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "sku,week,demand\nA,2024-01-01,1\nB,2024-01-01,2\nA,2024-01-03,3\n",
            "sku, location, week duplicate key (one row per SKU and week): A L1 2024-01-01 "
            "on lines 2, 4",
        ),
        ("sku,week,demand,colour\nA,2024-01-01,1,red\n", "unknown column(s) colour; the columns"),
        ("sku,locaton,week,demand\nA,L2,2024-01-01,1\n", "unknown column(s) locaton"),
        ("sku,week,demand\nA,2024-01-01,1\nB,2024-01-01,\xe9\n", "not UTF-8 text (byte 0xe9"),
        ("sku,week,demand\nA,2024-01-01,\n", "bad demand (a number from 0 to 1e+12) on line(s) 2"),
    ],
)
def test_new_demand_is_read_as_strictly_as_the_data(tmp_path, text: str, message: str) -> None:
    csv = tmp_path / "new.csv"
    csv.write_bytes(text.encode("latin-1"))
    with pytest.raises(ValueError) as info:
        read_new_demand(csv, "L1")
    assert str(info.value).startswith(f"{csv}: ")
    assert message in str(info.value)


def test_a_sku_named_na_is_an_id_in_new_demand(tmp_path) -> None:
    csv = tmp_path / "new.csv"
    csv.write_text("sku,week,demand\nNA,2024-01-01,1\nnan,2024-01-01,2\n")
    assert read_new_demand(csv, "L1")["sku"].tolist() == ["NA", "nan"]


@pytest.mark.parametrize(("n_skus", "n_weeks"), [(1, 5), (4, 1), (1, 7)])
def test_a_window_too_short_to_compare_says_what_it_needs(
    reference, n_skus: int, n_weeks: int
) -> None:
    current = _window("2025-01-06", n_weeks, seed=2)
    current = current[current["sku"].isin([f"S{i:02d}" for i in range(n_skus)])]
    with pytest.raises(ValueError) as info:
        detect_drift(reference, current, CONFIG)
    message = str(info.value)
    assert "needs at least 2 SKU blocks" in message and "(drift.block_weeks)" in message
    assert "current window (the --new-demand rows on forecast weeks, when given) has" in message
    assert f"{n_weeks} week(s) of {n_skus} SKU(s)" in message


def test_two_sku_blocks_are_enough(reference) -> None:
    current = _window("2025-01-06", CONFIG.block_weeks, seed=2)
    current = current[current["sku"].isin(["S00", "S01"])]
    assert detect_drift(reference, current, CONFIG).summary["current"]["sku_blocks"] == 2
