"""Demand drift monitoring with Evidently (the only module that imports it, lazily).

Two windows of weekly demand are compared, each a frame with columns sku, week, demand and
``expected`` (the out-of-sample forecast of that week: the forecast stage's backtest
forecasts for history weeks, its forecast for planning weeks):

- the **reference** window: the weeks the models were fitted and backtested on;
- the **current** window: recent weeks (the last ``current_weeks`` of history, or new
  weekly demand fed as a CSV).

Per SKU and block of ``block_weeks`` consecutive weeks, four features are computed, each
relative to the expected demand so that season and SKU size do not look like drift:

- ``level_ratio``: block demand / block expected demand (demand level);
- ``variability``: standard deviation of weekly demand / mean expected demand;
- ``zero_share``: share of weeks without demand (intermittency);
- ``forecast_error``: mean absolute error / mean expected demand (a block WAPE).

Evidently compares the feature columns between the windows, one ``ValueDrift`` per column
(stat test ``drift.method`` at ``drift.threshold``; its drift test's status is the verdict)
and ``DriftedColumnsCount`` (dataset drift when a share ``drift.drift_share`` of them
drifted); the results are read by metric through Evidently's public API. A second report
does the same per SKU on the weekly ratio demand / expected, naming the drifted SKUs.
:func:`drift_gate` turns the result into "retrain" or "keep".
"""

from __future__ import annotations

import html
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from inventory.config import DriftConfig
from inventory.data.schemas import MAX_NUMBER, read_raw
from inventory.identifiers import ID_RULE, is_valid_id
from inventory.io import atomic_path, write_json, write_text

__all__ = [
    "FEATURES",
    "DriftResult",
    "block_features",
    "sku_ratios",
    "detect_drift",
    "drift_gate",
    "drift_windows",
    "model_reference",
    "read_new_demand",
    "write_drift",
    "stable_ids",
    "HEADLINE_KEYS",
]

# What metrics/drift.json keeps (``dvc metrics show`` stays readable); the rest (feature
# scores, drifted SKUs, windows, the gate's reason) goes to the detail JSON.
HEADLINE_KEYS = (
    "dataset_drift",
    "share_of_drifted_features",
    "share_of_drifted_skus",
    "n_skus_tested",
    "status",
)

# Evidently gives every widget a fresh UUIDv7 and every metric a random ``metric_<hex>``
# name at each run; the library's own constants are other UUID versions.
_RANDOM_IDS = re.compile(
    r"\b[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}\b|(?<=metric_)[0-9a-f]{32}\b"
)

FEATURES = ("level_ratio", "variability", "zero_share", "forecast_error")


def _blocks(window: pd.DataFrame, block_weeks: int) -> pd.Series:
    """Block number of each row: consecutive weeks of the window, counted from its end."""
    last = window["week"].max()
    weeks_back = (last - window["week"]).dt.days // 7
    return weeks_back // block_weeks


def block_features(window: pd.DataFrame, block_weeks: int) -> pd.DataFrame:
    """Per SKU and block of ``block_weeks`` weeks: the :data:`FEATURES` (module docstring).

    Blocks are counted back from the window's last week; an incomplete oldest block and
    blocks with no expected demand are dropped.
    """
    frame = window.assign(block=_blocks(window, block_weeks).to_numpy())
    complete = frame.groupby("block")["week"].transform("nunique") == block_weeks
    frame = frame[complete]
    frame["abs_error"] = (frame["demand"] - frame["expected"]).abs()
    frame["zero"] = (frame["demand"] <= 0).astype(float)
    grouped = frame.groupby(["sku", "block"])
    expected = grouped["expected"].mean()
    features = pd.DataFrame(
        {
            "level_ratio": grouped["demand"].mean() / expected,
            "variability": grouped["demand"].std(ddof=0) / expected,
            "zero_share": grouped["zero"].mean(),
            "forecast_error": grouped["abs_error"].mean() / expected,
        }
    )
    return features[expected > 1e-9].reset_index()


def sku_ratios(window: pd.DataFrame) -> pd.DataFrame:
    """Weekly demand / expected demand, one column per SKU (rows: weeks)."""
    frame = window[window["expected"] > 1e-9]
    ratio = frame.assign(ratio=frame["demand"] / frame["expected"])
    return ratio.pivot_table(index="week", columns="sku", values="ratio").reset_index(drop=True)


@dataclass(frozen=True)
class DriftResult:
    """What the drift check found.

    Attributes:
        summary: The small JSON (dataset drift share, drifted features and SKUs, method,
            threshold, window sizes) without the gate.
        feature_snapshot: Evidently snapshot of the feature report (``save_html``).
        sku_snapshot: Evidently snapshot of the per-SKU report, or None.
    """

    summary: dict[str, Any]
    feature_snapshot: Any
    sku_snapshot: Any


def stable_ids(page: str) -> str:
    """``page`` with Evidently's random ids renumbered in order of first appearance, so the
    same report gives the same bytes at every run (DVC then sees an unchanged output).
    Each id maps to one new id, so the page's references between elements still hold."""
    seen: dict[str, str] = {}

    def renumber(match: re.Match) -> str:
        old = match.group(0)
        if old not in seen:
            n = len(seen)
            seen[old] = f"{n:032x}" if len(old) == 32 else f"00000000-0000-7000-8000-{n:012x}"
        return seen[old]

    return _RANDOM_IDS.sub(renumber, page)


def _save(snapshot: Any, path: str | Path) -> Path:
    with atomic_path(path) as tmp:
        snapshot.save_html(str(tmp))
        tmp.write_text(stable_ids(tmp.read_text(encoding="utf-8")), encoding="utf-8")
    return Path(path)


def _label(column: object) -> str:
    """A column name as Evidently may show it: Evidently writes names raw into JSON inside a
    ``<script>`` block of its HTML, so ``<``, ``>`` and ``&`` must not reach it (a SKU named
    ``</script>...`` would end the block); they become their HTML entities' text."""
    return html.escape(str(column), quote=False)


@dataclass(frozen=True)
class _Checked:
    """One Evidently drift report and what it found, read by metric (public API)."""

    snapshot: Any
    scores: dict[str, float]  # column -> drift score (p-value for ks, else a distance)
    drifted: list[str]  # columns whose stat test found drift (Evidently's verdict)
    share: float  # share of drifted columns (Evidently's DriftedColumnsCount)


def _run_report(reference: pd.DataFrame, current: pd.DataFrame, config: DriftConfig) -> _Checked:
    """Evidently's ``DriftedColumnsCount`` and a ``ValueDrift`` per numerical column of
    ``current`` against ``reference`` (stat test ``drift.method`` at ``drift.threshold``).

    Each metric's result is looked up by the metric object itself
    (``snapshot.metric_results[metric.metric_id]``); a column's verdict is the status of
    the drift test Evidently attaches to its ``ValueDrift`` (``include_tests``), so
    whether a low or a high score means drift is left to the test.
    """
    from evidently import DataDefinition, Dataset, Report
    from evidently.metrics import DriftedColumnsCount, ValueDrift

    labels = {str(c): _label(c) for c in reference.columns}
    definition = DataDefinition(numerical_columns=list(labels.values()))
    test = {"method": config.method, "threshold": config.threshold}
    count = DriftedColumnsCount(
        columns=list(labels.values()), drift_share=config.drift_share, **test
    )
    per_column = {name: ValueDrift(column=label, **test) for name, label in labels.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        snapshot = Report([count, *per_column.values()], include_tests=True).run(
            Dataset.from_pandas(current.rename(columns=_label), data_definition=definition),
            Dataset.from_pandas(reference.rename(columns=_label), data_definition=definition),
        )
    results = snapshot.metric_results
    columns = {name: results[metric.metric_id] for name, metric in per_column.items()}
    return _Checked(
        snapshot,
        scores={name: float(result.value) for name, result in columns.items()},
        drifted=[
            name
            for name, result in columns.items()
            if any(t.status.value == "FAIL" for t in result.tests)
        ],
        share=float(results[count.metric_id].share.value),
    )


def _usable(reference: pd.DataFrame, current: pd.DataFrame) -> list[str]:
    """Columns with at least two values in both windows."""
    return [
        column
        for column in reference.columns
        if column in current.columns
        and reference[column].notna().sum() >= 2
        and current[column].notna().sum() >= 2
    ]


def detect_drift(
    reference: pd.DataFrame, current: pd.DataFrame, config: DriftConfig
) -> DriftResult:
    """Compare two windows of weekly demand (columns sku, week, demand, expected).

    Raises:
        ValueError: a window is empty or lacks a column.
    """
    for name, window in (("reference", reference), ("current", current)):
        missing = {"sku", "week", "demand", "expected"} - set(window.columns)
        if missing or window.empty:
            raise ValueError(
                f"drift {name} window: needs rows with sku, week, demand and expected "
                f"(missing {sorted(missing) or 'rows'})"
            )
    ref_features = block_features(reference, config.block_weeks)[list(FEATURES)]
    cur_features = block_features(current, config.block_weeks)[list(FEATURES)]
    features = _usable(ref_features, cur_features)
    if not features:  # Evidently would divide by zero columns
        raise ValueError(_too_short(reference, current, ref_features, cur_features, config))
    by_feature = _run_report(ref_features[features], cur_features[features], config)
    ref_ratio, cur_ratio = sku_ratios(reference), sku_ratios(current)
    skus = _usable(ref_ratio, cur_ratio)
    by_sku = _run_report(ref_ratio[skus], cur_ratio[skus], config) if skus else None
    drifted_skus = sorted(by_sku.drifted) if by_sku is not None else []
    summary = {
        "dataset_drift": bool(by_feature.share >= config.drift_share),
        "share_of_drifted_features": round(by_feature.share, 4),
        "drifted_features": by_feature.drifted,
        "feature_scores": {k: round(v, 6) for k, v in by_feature.scores.items()},
        "drifted_skus": drifted_skus,
        "share_of_drifted_skus": round(len(drifted_skus) / max(len(skus), 1), 4),
        "n_skus_tested": len(skus),
        "method": config.method,
        "threshold": config.threshold,
        "drift_share": config.drift_share,
        "sku_share": config.sku_share,
        "reference": _window_info(reference, len(ref_features)),
        "current": _window_info(current, len(cur_features)),
    }
    sku_snapshot = by_sku.snapshot if by_sku is not None else None
    return DriftResult(summary, by_feature.snapshot, sku_snapshot)


def _too_short(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    ref_features: pd.DataFrame,
    cur_features: pd.DataFrame,
    config: DriftConfig,
) -> str:
    """What a drift check too short to run needs, and what each window holds."""
    weeks = config.block_weeks

    def holds(window: pd.DataFrame, features: pd.DataFrame) -> str:
        return (
            f"{len(features)} ({window['week'].nunique()} week(s) of "
            f"{window['sku'].nunique()} SKU(s))"
        )

    return (
        "drift: too little demand to compare: each window needs at least 2 SKU blocks, a "
        f"block being {weeks} consecutive weeks of one SKU with forecast demand "
        f"(drift.block_weeks), e.g. {weeks} weeks of 2 SKUs or {2 * weeks} weeks of one; "
        f"the reference window has {holds(reference, ref_features)}, the current window "
        f"(the --new-demand rows on forecast weeks, when given) has "
        f"{holds(current, cur_features)}"
    )


def _window_info(window: pd.DataFrame, n_blocks: int) -> dict[str, Any]:
    return {
        "first_week": f"{window['week'].min():%Y-%m-%d}",
        "last_week": f"{window['week'].max():%Y-%m-%d}",
        "weeks": int(window["week"].nunique()),
        "sku_blocks": int(n_blocks),
        "mean_level_ratio": round(float(window["demand"].sum() / window["expected"].sum()), 4)
        if window["expected"].sum() > 0
        else None,
    }


def drift_gate(summary: dict[str, Any], config: DriftConfig) -> tuple[str, str]:
    """Decide "retrain" or "keep" from a drift summary, with the reason.

    Retrain when Evidently flags dataset drift (a share ``drift_share`` of the features
    drifted) or when a share ``sku_share`` of the tested SKUs drifted.
    """
    if summary.get("status") == "skipped":
        return "keep", f"no drift check: {summary.get('reason', 'nothing to compare')}"
    features = summary["drifted_features"]
    share = summary["share_of_drifted_features"]
    if summary["dataset_drift"]:
        return "retrain", (
            f"dataset drift: {share:.0%} of features drifted (>= {config.drift_share:.0%}): "
            f"{', '.join(features)}"
        )
    sku_share = summary["share_of_drifted_skus"]
    if sku_share >= config.sku_share:
        return "retrain", (
            f"{len(summary['drifted_skus'])} of {summary['n_skus_tested']} SKUs drifted "
            f"({sku_share:.0%} >= {config.sku_share:.0%})"
        )
    return "keep", (
        f"no dataset drift ({share:.0%} of features drifted, {sku_share:.0%} of SKUs; "
        f"thresholds {config.drift_share:.0%} and {config.sku_share:.0%})"
    )


# --------------------------------------------------------------------------- windows, files


def _key(frame: pd.DataFrame, multi: bool) -> pd.DataFrame:
    """SKU key of a frame: the SKU id, prefixed by the location when there are several."""
    if multi:
        return frame.assign(sku=frame["location"] + ":" + frame["sku"])
    return frame


def read_new_demand(path: str | Path, default_location: str) -> pd.DataFrame:
    """Read a CSV of recent weekly demand: sku, week, demand[, location].

    Weeks are ISO dates ``YYYY-MM-DD`` (``03/04/2024`` is refused: day and month are
    ambiguous), any day of the week (moved to its ISO Monday). The file is read as the
    data files are (:func:`inventory.data.schemas.read_raw`: UTF-8, only an empty cell is
    missing).

    Raises:
        ValueError: missing file, missing or unknown columns; bad dates, ids
            (:data:`inventory.identifiers.ID_RULE`) or demand (negative, non-numeric), or a
            (sku, location, week) given twice, naming the lines.
    """
    path = Path(path)
    if not path.exists():
        raise ValueError(f"{path}: new-demand CSV not found")
    frame = read_raw(path)
    missing = {"sku", "week", "demand"} - set(frame.columns)
    if missing:
        raise ValueError(f"{path}: missing column(s) {sorted(missing)}; need sku, week, demand")
    if "date" in frame.columns:  # which one holds the week would be a guess
        raise ValueError(f"{path}: has both a week and a date column; keep week (YYYY-MM-DD)")
    unknown = [str(c) for c in frame.columns if c not in ("sku", "location", "week", "demand")]
    if unknown:  # a typo (locaton) would put every row at the default location
        raise ValueError(
            f"{path}: unknown column(s) {', '.join(unknown)}; the columns are sku, week, "
            "demand and optionally location"
        )
    if "location" not in frame:
        frame["location"] = default_location
    text = frame["week"].astype("string").str.strip()
    week = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
    demand = pd.to_numeric(frame["demand"], errors="coerce")
    problems = {
        "week (a date YYYY-MM-DD; day/month order is ambiguous otherwise)": week.isna(),
        "week (from 1990-01-01 to 2100-12-31)": week.notna()
        & ~week.between(pd.Timestamp("1990-01-01"), pd.Timestamp("2100-12-31")),
        f"demand (a number from 0 to {MAX_NUMBER:g})": ~demand.between(0, MAX_NUMBER),
        f"sku or location ({ID_RULE})": ~(
            frame["sku"].map(is_valid_id) & frame["location"].map(is_valid_id)
        ).astype(bool),
    }
    found = [
        f"bad {what} on line(s) {', '.join(str(i + 2) for i in frame.index[bad][:10])}"
        for what, bad in problems.items()
        if bad.any()
    ]
    if found:
        raise ValueError(f"{path}: " + "; ".join(found))
    week = (week - pd.to_timedelta(week.dt.dayofweek, "D")).dt.normalize()
    frame = frame.assign(week=week, demand=demand.astype(float))
    _refuse_repeats(path, frame)
    return frame[["sku", "location", "week", "demand"]]


def _refuse_repeats(path: Path, frame: pd.DataFrame) -> None:
    """Raise ValueError naming the lines of (sku, location, week) keys given twice (two
    days of one week count as that week twice)."""
    key = ["sku", "location", "week"]
    repeated = frame[frame.duplicated(key, keep=False)]
    if repeated.empty:
        return
    groups = [
        f"{sku} {location} {week:%Y-%m-%d} on lines {', '.join(str(i + 2) for i in rows)}"
        for (sku, location, week), rows in repeated.groupby(key).groups.items()
    ]
    raise ValueError(
        f"{path}: sku, location, week duplicate key (one row per SKU and week): "
        + "; ".join(groups[:5])
        + (f" (and {len(groups) - 5} more)" if len(groups) > 5 else "")
    )


def drift_windows(
    backtest: pd.DataFrame,
    forecast: pd.DataFrame,
    new_demand: pd.DataFrame | None,
    config: DriftConfig,
    demand_model: pd.DataFrame | None = None,
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(reference, current) windows with columns sku, week, demand, expected.

    Without history (seed format) the reference is what the demand model expects: draws
    from the fitted (fallback) distributions around the forecast of the new weeks
    (:func:`model_reference`), so the check asks "is the demand model still right?".

    Args:
        backtest: The forecast stage's backtest (sku, location, week, demand, forecast).
        forecast: The forecast stage's forecast (sku, location, week, forecast).
        new_demand: Recent weeks (sku, location, week, demand), or None: the current
            window is then the last ``current_weeks`` backtest weeks.
        config: The ``drift`` group.
        demand_model: location, sku, family, dispersion per SKU (used without history).
        seed: Seed of the model draws.

    Raises:
        ValueError: no history and no new demand, or new demand matching no forecast week.
    """
    if backtest.empty:
        if new_demand is None or demand_model is None:
            raise ValueError(
                "no demand history: nothing the models were fitted on to compare with "
                "(pass new weekly demand to compare it with the demand model)"
            )
        multi = forecast["location"].nunique() > 1
        current = _current_from_csv(new_demand, forecast, multi)
        reference = model_reference(current, _key(demand_model, multi), config, seed)
        columns = ["sku", "week", "demand", "expected"]
        return reference[columns], current[columns].reset_index(drop=True)
    multi = backtest["location"].nunique() > 1
    history = _key(backtest.rename(columns={"forecast": "expected"}), multi)
    weeks = np.sort(history["week"].unique())
    if new_demand is None:
        cut = weeks[-config.current_weeks] if len(weeks) > config.current_weeks else weeks[0]
        current = history[history["week"] >= cut]
        history = history[history["week"] < cut]
        weeks = weeks[weeks < cut]
    else:
        current = _current_from_csv(new_demand, forecast, multi)
    start = weeks[-config.reference_weeks] if len(weeks) > config.reference_weeks else weeks[0]
    reference = history[history["week"] >= start]
    columns = ["sku", "week", "demand", "expected"]
    return reference[columns].reset_index(drop=True), current[columns].reset_index(drop=True)


def model_reference(
    current: pd.DataFrame,
    demand_model: pd.DataFrame,
    config: DriftConfig,
    seed: int,
    copies: int = 4,
) -> pd.DataFrame:
    """``copies`` draws of the current window from the demand model around ``expected``.

    Copy ``c`` is placed ``c`` whole blocks-of-the-window earlier, so each SKU gets a
    reference ``copies`` times as long as the current window.
    """
    model = demand_model.set_index("sku")
    frame = current[current["sku"].isin(model.index)]
    family = model.loc[frame["sku"], "family"].to_numpy()
    size = model.loc[frame["sku"], "dispersion"].to_numpy(dtype=float)
    mean = frame["expected"].to_numpy(dtype=float)
    weeks = frame["week"].nunique()
    span = -(-weeks // config.block_weeks) * config.block_weeks
    rng = np.random.default_rng(seed)
    draws = []
    for copy in range(1, copies + 1):
        nb = rng.negative_binomial(size, size / (size + np.maximum(mean, 1e-12)))
        gamma = np.rint(rng.gamma(size, np.maximum(mean, 0) / size))
        demand = np.select(
            [family == "poisson", family == "negative_binomial"],
            [rng.poisson(mean), nb],
            gamma,
        )
        week = frame["week"] - pd.Timedelta(weeks=span * copy)
        draws.append(frame.assign(week=week, demand=demand.astype(float)))
    return pd.concat(draws, ignore_index=True)


def _current_from_csv(
    new_demand: pd.DataFrame, forecast: pd.DataFrame, multi: bool
) -> pd.DataFrame:
    expected = forecast[["sku", "location", "week", "forecast"]].rename(
        columns={"forecast": "expected"}
    )
    current = new_demand.merge(expected, on=["sku", "location", "week"], how="left")
    if current["expected"].isna().all():
        raise ValueError(
            "new demand: no row matches a forecast week of artifacts/forecast.csv (same sku, "
            f"location and week); its weeks run {forecast['week'].min():%Y-%m-%d} to "
            f"{forecast['week'].max():%Y-%m-%d}, its locations are "
            f"{', '.join(sorted(forecast['location'].unique())[:10])} (a CSV without a "
            "location column is read as simulation.location)"
        )
    return _key(current.dropna(subset=["expected"]), multi)


def _skipped_page(reason: str) -> str:
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Drift check skipped</title>"
        f"</head><body><h1>Drift check skipped</h1><p>{html.escape(reason)}</p></body></html>\n"
    )


def write_drift(
    result: DriftResult | None,
    gate: tuple[str, str],
    metrics_path: str | Path,
    html_path: str | Path,
    sku_html_path: str | Path,
    skipped_reason: str = "",
    detail_path: str | Path | None = None,
) -> dict[str, str]:
    """Write ``metrics/drift.json`` (headline + gate) and the HTML reports atomically.

    With ``detail_path``, the metrics keep :data:`HEADLINE_KEYS` and the gate's decision,
    and ``detail_path`` gets everything (feature scores, drifted SKUs, the windows
    compared, the gate's reason); without it the metrics hold everything. A report that could
    not be made (no check, or no SKU to test) is a short page saying why, so the declared
    outputs always exist.
    """
    summary = result.summary if result else {"status": "skipped", "reason": skipped_reason}
    payload = {**summary, "gate": {"decision": gate[0], "reason": gate[1]}}
    headline = {key: payload[key] for key in HEADLINE_KEYS if key in payload}
    gate_headline = {"decision": gate[0]}  # the reason (a sentence) is in the detail
    write_json(metrics_path, {**headline, "gate": gate_headline} if detail_path else payload)
    if detail_path is not None:
        write_json(detail_path, payload)
    if result is None:
        write_text(html_path, _skipped_page(skipped_reason))
    else:
        _save(result.feature_snapshot, html_path)
    if result is None or result.sku_snapshot is None:
        write_text(sku_html_path, _skipped_page(skipped_reason or "no SKU in both windows"))
    else:
        _save(result.sku_snapshot, sku_html_path)
    return {
        "metrics": str(metrics_path),
        "report": str(html_path),
        "sku_report": str(sku_html_path),
        **({"detail": str(detail_path)} if detail_path is not None else {}),
    }
