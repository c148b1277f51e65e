"""The pipeline's report: ``reports/summary.md`` and ``reports/index.html``.

Everything here is read from what the other stages wrote (evaluation details, solve
metrics, curves CSV, the drift report, this week's orders); nothing is recomputed. The
page leads with what the planner acts on:

- this week's orders (SKU, units, containers, arrival, reason), the policy used and the
  drift gate's verdict;
- how far to trust each number: rows whose solver hit its wall-clock safety limit, fell
  back to a rule or returned a heuristic plan carry a badge with the reason (issue 12);
- the comparison table per demand mode: mean cost with its confidence interval, fill rate,
  cycle service level and gap to the hindsight bound;
- the MILP plans (status, objective, bound, gap);
- PNG plots sized for a laptop screen: cost by policy on a log axis (the do-nothing row
  does not squash the others), the recommended policy's inventory against target for a
  few SKUs, PPO learning curves;
- the drift summary with a link to the Evidently HTML report.

The HTML escapes every value by default (:func:`_cell_html`); only markup built here
from escaped parts (:class:`_Html`) passes unescaped. Numbers are formatted for people:
thousands separators, sensible decimals, percentages.

Missing inputs (e.g. a mode that was not run) are listed on the page rather than failing,
so a partial pipeline still gets a report; the dvc stage declares every input it reads.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Any

import pandas as pd

from inventory.data.schemas import ONLY_EMPTY_IS_MISSING
from inventory.identifiers import html_text, markdown_text
from inventory.io import atomic_path, read_json, write_text

__all__ = [
    "MODES",
    "markdown_table",
    "PAIRED_POLICY",
    "paired_differences",
    "scenario_costs_beside",
    "comparison_table",
    "best_policy",
    "evaluation_markdown",
    "build_report",
    "trust_notes",
    "format_number",
    "format_percent",
]

MODES = ("deterministic", "stochastic")

# Column of the comparison table -> keys that may hold it in an evaluation JSON entry.
_COLUMNS = {
    "mean cost": ("total_cost", "mean_cost", "cost"),
    "ci low": ("total_cost_ci_low", "cost_ci_low", "ci_low"),
    "ci high": ("total_cost_ci_high", "cost_ci_high", "ci_high"),
    "fill rate": ("fill_rate",),
    "service level": ("cycle_service_level", "service_level"),
    "gap to hindsight": ("gap_to_hindsight", "gap_to_bound", "hindsight_gap"),
}


def format_number(value: object, decimals: int | None = None) -> str:
    """A number for people: thousands separators; ``decimals`` digits (default: none from
    1,000 up, two below, three significant below 1); ``-`` for missing or NaN."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "-" if value is None else str(value)
    if value != value:  # NaN
        return "-"
    if decimals is None:
        if isinstance(value, int) or abs(value) >= 1000:
            decimals = 0
        elif abs(value) >= 1 or value == 0:
            decimals = 2
        else:
            return f"{value:.3g}"
    return f"{value:,.{decimals}f}"


def format_percent(value: object, signed: bool = False) -> str:
    """A share as a percentage with one decimal (``0.0312`` -> ``3.1%``); ``-`` if missing."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        return "-"
    return f"{100 * value:{'+' if signed else ''}.1f}%"


def _cell(value: object) -> str:
    if isinstance(value, float):
        return format_number(value)
    return markdown_text(value)


def markdown_table(frame: pd.DataFrame) -> str:
    """A GitHub-flavoured markdown table (no extra dependency); text cells are escaped
    (:func:`inventory.identifiers.markdown_text`), so a cell shows exactly its text."""
    header = "| " + " | ".join(markdown_text(c) for c in frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    rows = [
        "| " + " | ".join(_cell(v) for v in row) + " |" for row in frame.itertuples(index=False)
    ]
    return "\n".join([header, rule, *rows])


def _lookup(entry: Mapping[str, Any], keys: tuple[str, ...]) -> float:
    for key in keys:
        value = entry.get(key)
        if isinstance(value, Mapping):
            value = value.get("mean")
        if isinstance(value, int | float):
            return float(value)
    return float("nan")


def _entries(payload: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    policies = payload.get("policies", payload)
    if isinstance(policies, list):
        return {str(p.get("policy", p.get("name"))): p for p in policies}
    return {name: value for name, value in policies.items() if isinstance(value, Mapping)}


def trust_notes(entry: Mapping[str, Any], stress: Mapping[str, float] | None = None) -> list[str]:
    """Why a row's numbers deserve less trust (empty: nothing to flag).

    Args:
        entry: A policy's evaluation metrics or a solve stage's metrics: ``limit_hit`` /
            ``limit_hits``, ``own_gap`` (else ``gap``), ``fallback_weeks``,
            ``heuristic_plans``; for PPO ``beats_anchor``.
        stress: The same counts summed over the stress sets (``limit_hits``,
            ``fallback_weeks``).
    """
    notes = []
    if entry.get("beats_anchor") is False:
        notes.append("did not beat its anchor rule in training: this row is the anchor")
    hits = entry.get("limit_hits")
    if entry.get("limit_hit") or (isinstance(hits, int | float) and hits > 0):
        gap = entry.get("own_gap", entry.get("gap"))
        text = "safety time limit hit"
        if isinstance(hits, int | float) and hits > 1:
            text += f" ({int(hits)} solves)"
        if isinstance(gap, int | float):
            text += f", own gap {format_percent(gap)}"
        notes.append(text)
    for key, label in (
        ("fallback_weeks", "fallback weeks"),
        ("heuristic_plans", "heuristic plans"),
    ):
        count = entry.get(key)
        if isinstance(count, int | float) and count > 0:
            notes.append(f"{format_number(int(count))} {label}")
    for key, label in (("limit_hits", "limit hits"), ("fallback_weeks", "fallback weeks")):
        count = (stress or {}).get(key, 0)
        if count > 0:
            notes.append(f"stress sets: {format_number(int(count))} {label}")
    return notes


def _stress_health(payload: Mapping[str, Any], name: str) -> dict[str, float]:
    """A policy's limit hits and fallback weeks summed over the stress sets."""
    totals = {"limit_hits": 0.0, "fallback_weeks": 0.0}
    stress = payload.get("stress")
    for figures in stress.values() if isinstance(stress, Mapping) else ():
        for key in totals:
            value = figures.get(f"{name}_{key}") if isinstance(figures, Mapping) else None
            totals[key] += float(value) if isinstance(value, int | float) else 0.0
    return totals


# The policy every row is paired with in the report's "vs" column: tuned base-stock, the
# classical policy a planner would otherwise run.
PAIRED_POLICY = "base_stock"


def paired_differences(
    scenario_costs: pd.DataFrame, reference: str, confidence: float
) -> dict[str, tuple[float, float, float]]:
    """Each policy's mean cost minus ``reference``'s on the scenarios both ran (paired),
    with its Student-t interval: (mean, low, high).

    Args:
        scenario_costs: One column of total cost per policy, one row per scenario (the
            evaluation's ``scenario_costs.csv``; NaN where a policy ran on fewer).
        reference: The column every other is paired with.
        confidence: Level of the interval (``evaluation.confidence``).
    """
    from scipy import stats

    out = {}
    for name in scenario_costs.columns:
        both = scenario_costs[[name, reference]].dropna()
        diff = (both[name] - both[reference]).to_numpy(dtype=float)
        if len(diff) == 0:
            continue
        mean = float(diff.mean())
        half = 0.0
        if len(diff) > 1:
            half = stats.t.ppf(0.5 + confidence / 2, len(diff) - 1) * diff.std(ddof=1)
            half /= len(diff) ** 0.5
        out[str(name)] = (mean, mean - float(half), mean + float(half))
    return out


def _paired(
    payload: Mapping[str, Any], scenario_costs: pd.DataFrame | None
) -> tuple[str, dict[str, tuple[float, float, float]]]:
    """(reference, paired differences): against :data:`PAIRED_POLICY` from the scenario
    costs, else the evaluation's own ``diff_to_reference`` (its ``reference`` policy)."""
    confidence = float(payload.get("confidence", 0.95))
    if scenario_costs is not None and PAIRED_POLICY in scenario_costs:
        return PAIRED_POLICY, paired_differences(scenario_costs, PAIRED_POLICY, confidence)
    stored = {
        name: tuple(_lookup(entry, (k,)) for k in _DIFF_KEYS)  # intervals: detail only
        for name, entry in _entries(payload).items()
        if isinstance(entry.get(_DIFF_KEYS[0]), int | float)
    }
    return str(payload.get("reference", "reference")), stored  # type: ignore[return-value]


_DIFF_KEYS = ("diff_to_reference", "diff_to_reference_ci_low", "diff_to_reference_ci_high")


def comparison_table(
    payload: Mapping[str, Any], scenario_costs: pd.DataFrame | None = None
) -> pd.DataFrame:
    """One row per policy, sorted by mean cost: its display name (``policy``) and its name
    in the evaluation (``key``), cost with CI, fill rate, service, gap, the
    paired difference to :data:`PAIRED_POLICY` on the same scenarios (``vs mean``, ``vs
    low``, ``vs high``; ``frame.attrs["paired_with"]`` names the policy) and the trust
    notes (:func:`trust_notes`, joined by ``; ``).

    A row run on the first k scenarios only (rolling horizon, hindsight bound) has a mean
    cost over those k; its paired difference is taken on the same k, so that column
    compares every row on an equal footing.

    Args:
        payload: An evaluation's detail (or headline metrics) JSON.
        scenario_costs: Its ``scenario_costs.csv``; without it the difference is the
            evaluation's own ``diff_to_reference`` (against ``evaluation.reference_policy``).
    """
    reference, paired = _paired(payload, scenario_costs)
    rows = []
    total = payload.get("n_scenarios")
    for key, entry in _entries(payload).items():
        name, diff = key, paired.get(key, (float("nan"),) * 3)
        subset = entry.get("n_scenarios")
        if isinstance(subset, int | float) and total and subset < total:
            name = f"{name} (first {int(subset)} scenarios)"  # e.g. the hindsight bound
        row: dict[str, Any] = {"policy": name, "key": key}
        row |= {col: _lookup(entry, keys) for col, keys in _COLUMNS.items()}
        row |= dict(zip(_PAIRED_COLUMNS, diff, strict=True))
        row["trust"] = "; ".join(trust_notes(entry, _stress_health(payload, str(name))))
        cost_entry = entry.get("cost")
        cost = cost_entry if isinstance(cost_entry, Mapping) else {}
        ci = cost.get("ci") or entry.get("cost_ci")
        if isinstance(ci, list | tuple) and len(ci) == 2:
            row["ci low"], row["ci high"] = float(ci[0]), float(ci[1])
        rows.append(row)
    frame = pd.DataFrame(rows, columns=["policy", "key", *_COLUMNS, *_PAIRED_COLUMNS, "trust"])
    bound = frame.loc[frame["policy"].str.contains("hindsight"), "mean cost"]
    if frame["gap to hindsight"].isna().all() and len(bound) == 1:
        frame["gap to hindsight"] = frame["mean cost"] / max(float(bound.iloc[0]), 1e-12) - 1
    frame = frame.sort_values("mean cost", kind="stable").reset_index(drop=True)
    frame.attrs["paired_with"] = reference
    return frame


_PAIRED_COLUMNS = ("vs mean", "vs low", "vs high")


def best_policy(payload: Mapping[str, Any]) -> str:
    """The implementable policy (the hindsight bound excluded) with the lowest cost on the
    same scenarios, named as ``evaluation.policies`` lists it.

    Rows are ranked by their paired difference to the evaluation's reference policy
    (``diff_to_reference``) when every row has one: a row run on the first k scenarios only
    (the rolling horizon) is then compared on those k, not by its k-scenario mean beside
    the others' means over every scenario. Without it, by mean cost.

    Raises:
        ValueError: the evaluation lists no policy.
    """
    entries = {name: e for name, e in _entries(payload).items() if "hindsight" not in name}
    paired = {name: _lookup(e, ("diff_to_reference",)) for name, e in entries.items()}
    if not paired or any(value != value for value in paired.values()):
        paired = {name: _lookup(e, _COLUMNS["mean cost"]) for name, e in entries.items()}
    ranked = sorted(
        (value, order, name)
        for order, (name, value) in enumerate(paired.items())
        if value == value  # NaN: no cost
    )
    if not ranked:
        raise ValueError("the evaluation metrics list no policy; run `inventory evaluate` first")
    return ranked[0][2]


def _display(frame: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame({"policy": frame["policy"]})
    out["mean cost"] = [format_number(c, 0) for c in frame["mean cost"]]
    out["confidence interval"] = [
        f"{lo:,.0f} to {hi:,.0f}" if lo == lo and hi == hi and lo != hi else "-"
        for lo, hi in zip(frame["ci low"], frame["ci high"], strict=True)
    ]
    for col in ("fill rate", "service level"):
        out[col] = [format_percent(v) for v in frame[col]]
    out["gap to hindsight"] = [format_percent(v, signed=True) for v in frame["gap to hindsight"]]
    reference = frame.attrs.get("paired_with", PAIRED_POLICY)
    out[f"vs {reference} (same scenarios)"] = [
        _signed_interval(*values) if key != reference else "(reference)"
        for key, *values in zip(frame["key"], *(frame[c] for c in _PAIRED_COLUMNS), strict=True)
    ]
    out["trust"] = frame["trust"].fillna("")
    return out


def _signed_interval(mean: float, low: float, high: float) -> str:
    """``+1,234 (-56 to +2,345)``; ``-`` when missing."""
    if mean != mean:
        return "-"
    if low == high or low != low or high != high:
        return f"{mean:+,.0f}"
    return f"{mean:+,.0f} ({low:+,.0f} to {high:+,.0f})"


def scenario_costs_beside(path: str | Path) -> pd.DataFrame | None:
    """The ``scenario_costs.csv`` next to an evaluation's ``detail.json`` (None if absent)."""
    costs = Path(path).with_name("scenario_costs.csv")
    return pd.read_csv(costs) if costs.is_file() else None


def evaluation_markdown(path: str | Path, title: str = "Evaluation") -> str:
    """The comparison table of one evaluation JSON as markdown (Prefect artifact, report)."""
    table = _display(comparison_table(read_json(path), scenario_costs_beside(path)))
    return f"## {title}\n\n{markdown_table(table)}\n"


# --------------------------------------------------------------------------- plots


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _plot_costs(tables: dict[str, pd.DataFrame], out: Path) -> Path:
    """Mean cost with its interval per policy, one panel per mode, on a log axis: the
    do-nothing policy costs many times the others and would squash a linear scale."""
    plt = _pyplot()
    rows = sum(len(frame) for frame in tables.values())
    fig, axes = plt.subplots(
        len(tables), 1, figsize=(9, 1.2 + 0.4 * rows + 0.6 * len(tables)), squeeze=False
    )
    for ax, (mode, frame) in zip(axes[:, 0], tables.items(), strict=True):
        frame = frame.dropna(subset=["mean cost"])
        low = (frame["mean cost"] - frame["ci low"]).fillna(0).clip(lower=0)
        high = (frame["ci high"] - frame["mean cost"]).fillna(0).clip(lower=0)
        positions = range(len(frame))
        ax.errorbar(frame["mean cost"], positions, xerr=[low, high], fmt="o", capsize=3)
        for y, cost in zip(positions, frame["mean cost"], strict=True):
            ax.annotate(f"{cost:,.0f}", (cost, y), xytext=(6, 4), textcoords="offset points")
        ax.set_yticks(list(positions), frame["policy"])
        ax.set_xscale("log")
        ax.invert_yaxis()
        ax.margins(x=0.15)
        ax.grid(axis="x", which="both", alpha=0.3)
        ax.set_title(f"Mean cost by policy ({mode} demand, log scale)", fontsize=10)
    axes[-1, 0].set_xlabel("total cost over the horizon")
    fig.tight_layout()
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
    return out


def _plot_inventory(plan: pd.DataFrame, n_skus: int, out: Path, policy: str = "") -> Path:
    plt = _pyplot()
    skus = list(dict.fromkeys(plan["sku"]))[:n_skus]
    fig, axes = plt.subplots(len(skus), 1, figsize=(9, 0.6 + 2 * len(skus)), squeeze=False)
    for ax, sku in zip(axes[:, 0], skus, strict=True):
        rows = plan[plan["sku"] == sku]
        weeks = pd.to_datetime(rows["week"])
        ax.plot(weeks, rows["end_inventory"], label="end inventory")
        ax.plot(weeks, rows["target"], "--", label="target")
        ax.bar(weeks, rows["order_units"], width=3, alpha=0.3, label="order")
        ax.set_ylabel(f"{sku}\nunits", fontsize=9)
    axes[0, 0].legend(fontsize=8, ncol=3)
    shown = f"policy {policy}" if policy else "the recommended policy"
    axes[0, 0].set_title(f"{shown} on the forecast: end inventory vs target", fontsize=10)
    fig.tight_layout()
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
    return out


def _plot_learning(curves: dict[str, pd.DataFrame], out: Path) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 3.6))
    for mode, curve in curves.items():
        x = curve.columns[0]
        y = next((c for c in curve.columns if "cost" in c), curve.columns[-1])
        ax.plot(curve[x], curve[y], marker="o", label=f"{mode} ({y})")
    ax.set_xlabel("timesteps")
    for axis in (ax.xaxis, ax.yaxis):  # 150,000 rather than 150000
        axis.set_major_formatter(plt.matplotlib.ticker.StrMethodFormatter("{x:,.0f}"))
    ax.set_title("PPO learning curves (held-out evaluation)", fontsize=10)
    ax.legend()
    fig.tight_layout()
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
    return out


# --------------------------------------------------------------------------- tables


def _solve_table(solves: Mapping[str, Path]) -> pd.DataFrame:
    rows = []
    for mode, path in solves.items():
        payload = read_json(path)
        rows.append(
            {
                "mode": mode,
                "status": payload.get("status"),
                "objective": format_number(payload.get("objective"), 0),
                "bound": format_number(payload.get("bound"), 0),
                "gap": format_percent(payload.get("gap")),
                "limit hit": _yes_no(payload.get("limit_hit")),
                "node limit hits": format_number(payload.get("node_limit_hits")),
                "solver": f"{payload.get('solver')} ({payload.get('method')})",
                "time (s)": format_number(payload.get("solve_time_s"), 1),
                "simulated cost": format_number(payload.get("simulated_cost"), 0),
                "trust": "; ".join(trust_notes(payload)),
            }
        )
    return pd.DataFrame(rows)


def _yes_no(value: object) -> str:
    return "-" if not isinstance(value, bool) else "yes" if value else "no"


# Columns of this week's orders: CSV column -> (header, decimals; None = text).
_ORDER_COLUMNS = {
    "sku": ("SKU", None),
    "order_units": ("order (units)", 0),
    "containers_filled": ("containers", 2),
    "on_hand": ("on hand", 0),
    "arrival_week": ("arrives", None),
    "projected_on_hand": ("projected on hand at arrival", 0),
    "target": ("target at arrival", 0),
    "reason": ("reason", None),
}


def _orders_table(orders: pd.DataFrame) -> pd.DataFrame:
    """This week's orders formatted for people (the columns of :data:`_ORDER_COLUMNS`)."""
    out = pd.DataFrame()
    for column, (header, decimals) in _ORDER_COLUMNS.items():
        if column not in orders:
            continue
        values = orders[column]
        if decimals is None:
            out[header] = values.astype(str)
        else:  # a small order shows as "<0.01" containers, not as nothing
            out[header] = [
                f"<{10**-decimals:.{decimals}f}"
                if 0 < float(v) < 10**-decimals / 2
                else format_number(float(v), decimals)
                for v in values
            ]
    return out


def _orders_summary(summary: Mapping[str, Any]) -> str:
    """One sentence: what to order in total and how full the containers are."""
    if not summary:
        return ""
    return (
        f"Order {format_number(summary.get('order_units'))} units in "
        f"{format_number(summary.get('skus_ordered'))} SKUs: "
        f"{format_number(summary.get('order_volume'), 0)} volume in "
        f"{format_number(summary.get('containers'))} of "
        f"{format_number(summary.get('max_containers'))} containers "
        f"(container fill {format_percent(summary.get('container_fill_rate'))})."
    )


def _gate(drift: Mapping[str, Any] | None) -> tuple[str, str]:
    gate = (drift or {}).get("gate")
    if not isinstance(gate, Mapping):
        return "", ""
    return str(gate.get("decision", "")), str(gate.get("reason", ""))


def _drift_lines(
    drift: Mapping[str, Any] | None, html_link: str | None, text=markdown_text
) -> list[str]:
    """The drift summary as markdown list lines; ``text`` escapes what the data put there
    (SKU ids, the gate's reason), :func:`str` when the caller escapes for HTML itself."""
    if drift is None:
        return ["No drift check found."]
    lines = []
    labels = {"drift_share": "drift share threshold", "threshold": "p-value threshold"}
    for key in ("dataset_drift", "share_of_drifted_features", "drift_share", "method", "threshold"):
        if key in drift:
            value = drift[key]
            if key.startswith("share") or key == "drift_share":
                value = format_percent(value)
            elif isinstance(value, bool):
                value = "yes" if value else "no"
            lines.append(f"- {labels.get(key, key.replace('_', ' '))}: {text(value)}")
    drifted = drift.get("drifted_skus")
    if isinstance(drifted, list):
        shown = ", ".join(map(text, drifted[:15])) + (" ..." if len(drifted) > 15 else "")
        lines.append(f"- drifted SKUs ({len(drifted)}): {shown or 'none'}")
    if html_link:
        lines.append(f"- [Evidently report]({html_link})")
    return lines or [text(drift)]


TRUST_LEGEND = (
    "How far to trust this: a row without a badge came from a solve that stopped on its "
    "own criteria (counts, gaps) and reproduces on any machine. A badge says why a row "
    "deserves less trust: safety time limit hit = a solver stopped on the wall-clock "
    "safety net, so the result depends on the machine's speed (own gap = how far its plan "
    "may be from optimal); fallback weeks = scenario-weeks ordered by the fallback rule "
    "because a solve gave no plan; heuristic plans = plans the solver returned without a "
    "proven bound; stress sets = the same counts on the stress scenarios."
)


# --------------------------------------------------------------------------- page


def _read_orders(orders_csv: Path | None) -> pd.DataFrame | None:
    if orders_csv is None or not orders_csv.exists():
        return None
    return pd.read_csv(orders_csv, dtype={"sku": str, "location": str}, **ONLY_EMPTY_IS_MISSING)


def build_report(
    evaluations: Mapping[str, Path],
    learning_curves: Mapping[str, Path],
    drift_json: Path | None,
    drift_html: Path | None,
    plan_csv: Path | None,
    recommendation_md: Path | None,
    out_dir: Path,
    figures_dir: Path | None = None,
    n_plot_skus: int = 4,
    solves: Mapping[str, Path] | None = None,
    orders_csv: Path | None = None,
    orders_json: Path | None = None,
) -> dict[str, str]:
    """Write ``summary.md``, ``index.html`` and the PNG plots into ``out_dir``.

    Args:
        evaluations: Evaluation details JSON by demand mode (``detail.json``; the
            headline metrics JSON works too, without intervals).
        learning_curves: Learning-curve CSV by mode.
        drift_json: The drift stage's metrics (with its gate decision).
        drift_html: The Evidently HTML report.
        plan_csv: The recommended policy simulated on the forecast (sku, week,
            end_inventory, target, order_units).
        recommendation_md: This week's orders as markdown (used when ``orders_csv`` is
            missing).
        out_dir: The reports folder.
        figures_dir: Where the PNG plots go (default ``out_dir``).
        n_plot_skus: SKUs in the inventory-against-target plot.
        solves: The solve stage's metrics JSON by mode (status, objective, bound, gap).
        orders_csv: This week's orders (``reports/recommendation.csv``).
        orders_json: Their totals and the policy used (``metrics/recommendation.json``).

    Returns:
        The files written, by name.
    """
    figures_dir = figures_dir or out_dir
    figures_dir.mkdir(parents=True, exist_ok=True)
    rel = figures_dir.relative_to(out_dir) if figures_dir.is_relative_to(out_dir) else figures_dir
    missing = [str(p) for p in [*evaluations.values(), *learning_curves.values()] if not p.exists()]
    payloads = {m: read_json(p) for m, p in evaluations.items() if p.exists()}
    tables = {
        m: comparison_table(payload, scenario_costs_beside(evaluations[m]))
        for m, payload in payloads.items()
    }
    curves = {m: pd.read_csv(p) for m, p in learning_curves.items() if p.exists()}
    summary = read_json(orders_json) if orders_json is not None and orders_json.exists() else {}
    policy = str(summary.get("policy", ""))
    written: dict[str, str] = {}
    images: list[tuple[str, str]] = []
    if tables:
        written["cost_plot"] = str(_plot_costs(tables, figures_dir / "cost_by_policy.png"))
        images.append(("Cost by policy", str(rel / "cost_by_policy.png")))
    if plan_csv is not None and plan_csv.exists():
        plan = pd.read_csv(plan_csv, dtype={"sku": str}, **ONLY_EMPTY_IS_MISSING)
        written["inventory_plot"] = str(
            _plot_inventory(plan, n_plot_skus, figures_dir / "inventory_vs_target.png", policy)
        )
        title = f"Inventory against target ({policy or 'recommended policy'}, on the forecast)"
        images.append((title, str(rel / "inventory_vs_target.png")))
    if curves:
        written["learning_plot"] = str(_plot_learning(curves, figures_dir / "learning_curves.png"))
        images.append(("Learning curves", str(rel / "learning_curves.png")))
    drift = read_json(drift_json) if drift_json is not None and drift_json.exists() else None
    milp = _solve_table({m: p for m, p in (solves or {}).items() if p.exists()})
    link = (
        str(
            Path("..") / drift_html
            if not drift_html.is_relative_to(out_dir)
            else drift_html.relative_to(out_dir)
        )
        if drift_html is not None and drift_html.exists()
        else None
    )
    page = _Page(
        orders=_read_orders(orders_csv),
        orders_md=(
            recommendation_md.read_text()
            if recommendation_md is not None and recommendation_md.exists()
            else ""
        ),
        summary=summary,
        policy_trust=_policy_trust(payloads, policy),
        tables=tables,
        milp=milp,
        images=images,
        drift=drift,
        link=link,
        missing=missing,
    )
    written["summary"] = str(write_text(out_dir / "summary.md", page.markdown()))
    written["html"] = str(write_text(out_dir / "index.html", page.html()))
    return written


def _policy_trust(payloads: Mapping[str, Mapping[str, Any]], policy: str) -> list[str]:
    """The trust notes of the policy that made this week's orders, in any mode."""
    notes = []
    for mode, payload in payloads.items():
        entry = _entries(payload).get(policy)
        if entry is not None:
            notes += [f"{note} ({mode})" for note in trust_notes(entry)]
    return notes


# --------------------------------------------------------------------------- rendering


class _Html(str):
    """Markup built here from escaped parts: :func:`_cell_html` passes it unescaped."""


def _cell_html(value: object) -> str:
    return value if isinstance(value, _Html) else html_text(value)


def _badges(notes: str | Sequence[str]) -> _Html:
    items = [n for n in notes.split("; ")] if isinstance(notes, str) else list(notes)
    return _Html("".join(f"<span class='badge'>&#9888; {html_text(n)}</span>" for n in items if n))


_NUMERIC = {
    "mean cost", "fill rate", "service level", "gap to hindsight", "objective", "bound",
    "gap", "time (s)", "simulated cost", "order (units)", "containers", "on hand",
    "projected on hand at arrival", "target at arrival", "node limit hits",
}  # fmt: skip


def _numeric(column: str) -> bool:
    return column in _NUMERIC or column.startswith("vs ")


def _html_table(frame: pd.DataFrame, css: str = "") -> str:
    """An HTML table whose cells are escaped (:func:`_cell_html`); numbers right-aligned,
    a ``trust`` column shown as badges."""
    heads = "".join(
        f"<th{' class=num' if _numeric(c) else ''}>{html_text(c)}</th>" for c in frame.columns
    )
    rows = []
    for row in frame.itertuples(index=False):
        cells = []
        for column, value in zip(frame.columns, row, strict=True):
            value = _badges(value) if column == "trust" else value
            classes = ["num"] if _numeric(column) else ["trust"] if column == "trust" else []
            if column.startswith("vs ") or column == "confidence interval":
                classes.append("interval")  # "mean (low to high)" may wrap before "("
            attribute = f" class='{' '.join(classes)}'" if classes else ""
            cells.append(f"<td{attribute}>{_cell_html(value)}</td>")
        rows.append(f"<tr>{''.join(cells)}</tr>")
    return (
        f"<div class='scroll'><table class='{html_text(css)}'><thead><tr>{heads}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


_PAGE = Template(
    """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Inventory planning report</title>
<style>
body{font-family:system-ui,sans-serif;margin:0;color:#222;line-height:1.4}
main{max-width:1180px;margin:auto;padding:0 16px 32px}
h1{font-size:1.6em}h2{font-size:1.25em;margin-top:1.6em;border-bottom:1px solid #ddd}
.scroll{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;font-size:.92em}
th,td{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top;
white-space:nowrap}td.trust{white-space:normal;min-width:12em}th{white-space:normal}
td.interval{white-space:normal;min-width:7em}
th{background:#f3f3f3}.num{text-align:right;font-variant-numeric:tabular-nums}
img{max-width:100%;height:auto;display:block}
.badge{display:inline-block;background:#fff3cd;border:1px solid #e0b400;border-radius:4px;
padding:0 5px;margin:1px 3px 1px 0;font-size:.85em}
.lead{font-size:1.05em}.gate{font-weight:bold}.note{color:#555;font-size:.9em}
</style></head>
<body><main>
<h1>Inventory planning report</h1>
$body
</main></body></html>
"""
)


@dataclass(frozen=True)
class _Page:
    """The report's content, rendered as markdown (``summary.md``) or HTML (``index.html``)."""

    orders: pd.DataFrame | None
    orders_md: str
    summary: Mapping[str, Any]
    policy_trust: list[str]
    tables: Mapping[str, pd.DataFrame]
    milp: pd.DataFrame
    images: list[tuple[str, str]]
    drift: Mapping[str, Any] | None
    link: str | None
    missing: list[str]

    # ----------------------------------------------------------------- markdown

    def markdown(self) -> str:
        out = ["# Inventory planning report", "", "## This week's orders", ""]
        s = self.summary
        if s:
            out += [
                f"Week of {markdown_text(s.get('week', '-'))} at location "
                f"{markdown_text(s.get('location', '-'))}. "
                f"Policy used: **{markdown_text(s.get('policy', '-'))}**.",
                "",
            ]
        decision, reason = _gate(self.drift)
        if decision:
            why = f" ({markdown_text(reason)})" if reason else ""
            out += [f"Drift gate: **{markdown_text(decision)}**{why}.", ""]
        if self.policy_trust:
            out += ["Trust: " + "; ".join(map(markdown_text, self.policy_trust)), ""]
        if s:
            out += [_orders_summary(s), ""]
        if self.orders is not None:
            out += [markdown_table(_orders_table(self.orders)), ""]
        elif self.orders_md:
            out += [self.orders_md.replace("# ", "### ", 1), ""]
        else:
            out += ["No orders found: run `inventory recommend`.", ""]
        out += [f"*{TRUST_LEGEND}*", ""]
        for mode, frame in self.tables.items():
            out += [f"## Policies compared ({mode} demand)", "", markdown_table(_display(frame))]
            out += [""]
        out += [_COMPARISON_NOTE, ""]
        if not self.milp.empty:
            out += ["## MILP plans", "", markdown_table(self.milp), ""]
        out += [f"![{title}]({name})" for title, name in self.images] + [""]
        out += ["## Demand drift", "", *_drift_lines(self.drift, self.link), ""]
        if self.missing:
            out += ["## Missing inputs", "", *[f"- {m}" for m in self.missing], ""]
        return "\n".join(out)

    # ----------------------------------------------------------------- html

    def html(self) -> str:
        body = ["<h2 id='orders'>This week's orders</h2>", self._html_lead()]
        if self.orders is not None:
            body.append(_html_table(_orders_table(self.orders), "orders"))
        elif self.orders_md:
            body.append(f"<pre>{html_text(self.orders_md)}</pre>")
        else:
            body.append("<p>No orders found: run <code>inventory recommend</code>.</p>")
        body.append(f"<p class='note'>{html_text(TRUST_LEGEND)}</p>")
        for mode, frame in self.tables.items():
            body += [
                f"<h2>Policies compared ({html_text(mode)} demand)</h2>",
                _html_table(_display(frame), "policies"),
            ]
        if self.tables:
            body.append(f"<p class='note'>{html_text(_COMPARISON_NOTE)}</p>")
        if not self.milp.empty:
            body += ["<h2>MILP plans</h2>", _html_table(self.milp, "milp")]
        body += [
            f"<h2>{html_text(t)}</h2><img src='{html_text(n)}' alt='{html_text(t)}'>"
            for t, n in self.images
        ]
        body.append("<h2>Demand drift</h2><ul>")
        lines = _drift_lines(self.drift, None, text=str)
        body += [f"<li>{html_text(line.removeprefix('- '))}</li>" for line in lines]
        if self.link:
            body.append(f"<li><a href='{html_text(self.link)}'>Evidently report</a></li>")
        body.append("</ul>")
        if self.missing:
            body += ["<h2>Missing inputs</h2><ul>"]
            body += [f"<li>{html_text(m)}</li>" for m in self.missing] + ["</ul>"]
        return _PAGE.substitute(body="\n".join(body))

    def _html_lead(self) -> str:
        s = self.summary
        parts = []
        if s:
            parts.append(
                f"Week of <strong>{html_text(s.get('week', '-'))}</strong> at location "
                f"<strong>{html_text(s.get('location', '-'))}</strong>. Policy used: "
                f"<strong>{html_text(s.get('policy', '-'))}</strong>"
                f"{_badges(self.policy_trust)}."
            )
        decision, reason = _gate(self.drift)
        if decision:
            why = f" ({html_text(reason)})" if reason else ""
            parts.append(f"Drift gate: <span class='gate'>{html_text(decision)}</span>{why}.")
        if s:
            parts.append(html_text(_orders_summary(s)))
        return "".join(f"<p class='lead'>{p}</p>" for p in parts)


_COMPARISON_NOTE = (
    "Mean cost over the evaluation scenarios with its confidence interval; fill rate = "
    "units served / demanded; service level = share of SKU-weeks without lost sales; gap "
    "to hindsight = mean cost over the hindsight MILP's proven lower bound, both on the "
    "scenarios the hindsight plans were solved for. A row marked (first k scenarios) has "
    "its mean cost over those k only; compare rows by the vs column instead: the mean "
    "cost difference to that policy on the same scenarios (paired, negative = cheaper), "
    "with its confidence interval."
)
