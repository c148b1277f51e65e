"""The pipeline's report: ``reports/summary.md`` and ``reports/index.html``.

Everything here is read from what the other stages wrote (metrics JSON, curves CSV, the
drift report, this week's orders); nothing is recomputed. The page has:

- the comparison table per demand mode: mean cost with its confidence interval, fill rate,
  cycle service level and gap to the hindsight bound;
- PNG plots: cost by policy (with the intervals), inventory against target for a few SKUs
  (the recommended policy on the forecast), PPO learning curves;
- the drift summary with a link to the Evidently HTML report;
- this week's orders.

Missing inputs (e.g. a mode that was not run) are listed on the page rather than failing,
so a partial pipeline still gets a report; the dvc stage declares every input it reads.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from inventory.identifiers import html_text, markdown_text
from inventory.io import read_json, write_text

__all__ = [
    "MODES",
    "markdown_table",
    "comparison_table",
    "best_policy",
    "evaluation_markdown",
    "build_report",
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


def _cell(value: object) -> str:
    if isinstance(value, float):
        if value != value:  # NaN
            return "-"
        return f"{value:,.2f}" if abs(value) >= 1 else f"{value:.3g}"
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


def comparison_table(payload: Mapping[str, Any]) -> pd.DataFrame:
    """One row per policy, sorted by mean cost: cost with CI, fill rate, service, gap."""
    rows = []
    total = payload.get("n_scenarios")
    for name, entry in _entries(payload).items():
        subset = entry.get("n_scenarios")
        if isinstance(subset, int | float) and total and subset < total:
            name = f"{name} (first {int(subset)} scenarios)"  # e.g. the hindsight bound
        row = {"policy": name} | {col: _lookup(entry, keys) for col, keys in _COLUMNS.items()}
        cost = entry.get("cost") if isinstance(entry.get("cost"), Mapping) else {}
        ci = cost.get("ci") or entry.get("cost_ci")
        if isinstance(ci, list | tuple) and len(ci) == 2:
            row["ci low"], row["ci high"] = float(ci[0]), float(ci[1])
        rows.append(row)
    frame = pd.DataFrame(rows, columns=["policy", *_COLUMNS])
    bound = frame.loc[frame["policy"].str.contains("hindsight"), "mean cost"]
    if frame["gap to hindsight"].isna().all() and len(bound) == 1:
        frame["gap to hindsight"] = frame["mean cost"] / max(float(bound.iloc[0]), 1e-12) - 1
    return frame.sort_values("mean cost", kind="stable").reset_index(drop=True)


def best_policy(payload: Mapping[str, Any]) -> str:
    """The implementable policy with the lowest mean cost (the hindsight bound excluded).

    Raises:
        ValueError: the evaluation lists no policy.
    """
    table = comparison_table(payload)
    table = table[~table["policy"].str.contains("hindsight")].dropna(subset=["mean cost"])
    if table.empty:
        raise ValueError("the evaluation metrics list no policy; run `inventory evaluate` first")
    return str(table["policy"].iloc[0])


def _display(frame: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame({"policy": frame["policy"]})
    out["mean cost [CI]"] = [
        f"{c:,.0f} [{lo:,.0f}, {hi:,.0f}]" if lo == lo else f"{c:,.0f}"
        for c, lo, hi in zip(frame["mean cost"], frame["ci low"], frame["ci high"], strict=True)
    ]
    for col in ("fill rate", "service level"):
        out[col] = [f"{100 * v:.1f}%" if v == v else "-" for v in frame[col]]
    out["gap to hindsight"] = [
        f"{100 * v:+.1f}%" if v == v else "-" for v in frame["gap to hindsight"]
    ]
    return out


def evaluation_markdown(path: str | Path, title: str = "Evaluation") -> str:
    """The comparison table of one evaluation JSON as markdown (Prefect artifact, report)."""
    table = _display(comparison_table(read_json(path)))
    return f"## {title}\n\n{markdown_table(table)}\n"


# --------------------------------------------------------------------------- plots


def _plot_costs(tables: dict[str, pd.DataFrame], out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(tables), figsize=(6 * len(tables), 4), squeeze=False)
    for ax, (mode, frame) in zip(axes[0], tables.items(), strict=True):
        low = (frame["mean cost"] - frame["ci low"]).fillna(0).clip(lower=0)
        high = (frame["ci high"] - frame["mean cost"]).fillna(0).clip(lower=0)
        ax.barh(frame["policy"], frame["mean cost"], xerr=[low, high], color="tab:blue")
        ax.invert_yaxis()
        ax.set_title(f"Mean cost by policy ({mode})")
        ax.set_xlabel("total cost over the horizon")
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def _plot_inventory(plan: pd.DataFrame, n_skus: int, out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    skus = list(dict.fromkeys(plan["sku"]))[:n_skus]
    fig, axes = plt.subplots(len(skus), 1, figsize=(8, 2.2 * len(skus)), squeeze=False)
    for ax, sku in zip(axes[:, 0], skus, strict=True):
        rows = plan[plan["sku"] == sku]
        weeks = pd.to_datetime(rows["week"])
        ax.plot(weeks, rows["end_inventory"], label="end inventory")
        ax.plot(weeks, rows["target"], "--", label="target")
        ax.bar(weeks, rows["order_units"], width=3, alpha=0.3, label="order")
        ax.set_title(sku, fontsize=9)
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def _plot_learning(curves: dict[str, pd.DataFrame], out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for mode, curve in curves.items():
        x = curve.columns[0]
        y = next((c for c in curve.columns if "cost" in c), curve.columns[-1])
        ax.plot(curve[x], curve[y], marker="o", label=f"{mode} ({y})")
    ax.set_xlabel("timesteps")
    ax.set_title("PPO learning curves (held-out evaluation)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


# --------------------------------------------------------------------------- page


def _solve_table(solves: Mapping[str, Path]) -> pd.DataFrame:
    rows = []
    for mode, path in solves.items():
        payload = read_json(path)
        gap = payload.get("gap")
        rows.append(
            {
                "mode": mode,
                "status": payload.get("status"),
                "objective": payload.get("objective"),
                "bound": payload.get("bound"),
                "gap": f"{100 * gap:.2f}%" if isinstance(gap, int | float) else "-",
                "solver": f"{payload.get('solver')} ({payload.get('method')})",
                "time (s)": payload.get("solve_time_s"),
                "simulated cost": payload.get("simulated_cost"),
            }
        )
    return pd.DataFrame(rows)


def _drift_lines(
    drift: Mapping[str, Any] | None, html_link: str | None, text=markdown_text
) -> list[str]:
    """The drift summary as markdown list lines; ``text`` escapes what the data put there
    (SKU ids, the gate's reason), :func:`str` when the caller escapes for HTML itself."""
    if drift is None:
        return ["No drift check found."]
    gate = drift.get("gate", {}) if isinstance(drift.get("gate"), Mapping) else {}
    lines = []
    for key in ("dataset_drift", "drift_share", "share_of_drifted_features", "method", "threshold"):
        if key in drift:
            lines.append(f"- {key.replace('_', ' ')}: {text(drift[key])}")
    drifted = drift.get("drifted_skus")
    if isinstance(drifted, list):
        shown = ", ".join(map(text, drifted[:15])) + (" ..." if len(drifted) > 15 else "")
        lines.append(f"- drifted SKUs ({len(drifted)}): {shown or 'none'}")
    if gate:
        decision, reason = text(gate.get("decision")), text(gate.get("reason", ""))
        lines.append(f"- gate: **{decision}** ({reason})")
    if html_link:
        lines.append(f"- [Evidently report]({html_link})")
    return lines or [text(drift)]


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
) -> dict[str, str]:
    """Write ``summary.md``, ``index.html`` and the PNG plots into ``out_dir``.

    Args:
        evaluations: Evaluation metrics JSON by demand mode.
        learning_curves: Learning-curve CSV by mode.
        drift_json: The drift stage's metrics (with its gate decision).
        drift_html: The Evidently HTML report.
        solves: The solve stage's metrics JSON by mode (status, objective, bound, gap).
        plan_csv: The recommended policy simulated on the forecast (sku, week,
            end_inventory, target, order_units).
        recommendation_md: This week's orders as markdown.
        out_dir: The reports folder.
        figures_dir: Where the PNG plots go (default ``out_dir``).
        n_plot_skus: SKUs in the inventory-against-target plot.

    Returns:
        The files written, by name.
    """
    figures_dir = figures_dir or out_dir
    figures_dir.mkdir(parents=True, exist_ok=True)
    rel = figures_dir.relative_to(out_dir) if figures_dir.is_relative_to(out_dir) else figures_dir
    missing = [str(p) for p in [*evaluations.values(), *learning_curves.values()] if not p.exists()]
    tables = {m: comparison_table(read_json(p)) for m, p in evaluations.items() if p.exists()}
    curves = {m: pd.read_csv(p) for m, p in learning_curves.items() if p.exists()}
    written: dict[str, str] = {}
    images: list[tuple[str, str]] = []
    if tables:
        written["cost_plot"] = str(_plot_costs(tables, figures_dir / "cost_by_policy.png"))
        images.append(("Cost by policy", str(rel / "cost_by_policy.png")))
    if plan_csv is not None and plan_csv.exists():
        plan = pd.read_csv(plan_csv)
        written["inventory_plot"] = str(
            _plot_inventory(plan, n_plot_skus, figures_dir / "inventory_vs_target.png")
        )
        images.append(("Inventory against target", str(rel / "inventory_vs_target.png")))
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
    orders = (
        recommendation_md.read_text() if recommendation_md and recommendation_md.exists() else ""
    )
    sections = ["# Inventory planning report", ""]
    for mode, frame in tables.items():
        sections += [
            f"## Policies compared ({mode} demand)",
            "",
            markdown_table(_display(frame)),
            "",
        ]
    sections += [
        "Mean cost over the evaluation scenarios with its confidence interval; fill "
        "rate = units served / demanded; service level = share of SKU-weeks without "
        "lost sales; gap to hindsight = mean cost over the hindsight MILP's proven lower "
        "bound, both on the scenarios the hindsight plans were solved for.",
        "",
    ]
    sections += [f"![{title}]({name})" for title, name in images] + [""]
    if not milp.empty:
        sections += ["## MILP plans", "", markdown_table(milp), ""]
    sections += ["## Demand drift", "", *_drift_lines(drift, link), ""]
    if orders:
        sections += ["## This week's orders", "", orders.replace("# ", "### ", 1), ""]
    if missing:
        sections += ["## Missing inputs", "", *[f"- {m}" for m in missing], ""]
    markdown = "\n".join(sections)
    written["summary"] = str(write_text(out_dir / "summary.md", markdown))
    written["html"] = str(
        write_text(
            out_dir / "index.html", _html(tables, images, milp, drift, link, orders, missing)
        )
    )
    return written


def _html(
    tables: Mapping[str, pd.DataFrame],
    images: list[tuple[str, str]],
    milp: pd.DataFrame,
    drift: Mapping[str, Any] | None,
    link: str | None,
    orders: str,
    missing: list[str],
) -> str:
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        "<title>Inventory planning report</title>",
        "<style>body{font-family:sans-serif;max-width:1100px;margin:auto}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px}"
        "</style></head><body><h1>Inventory planning report</h1>",
    ]
    for mode, frame in tables.items():
        parts += [
            f"<h2>Policies compared ({html.escape(mode)} demand)</h2>",
            _display(frame).to_html(index=False, border=0),
        ]
    parts += [
        f"<h3>{html.escape(t)}</h3><img src='{html.escape(n)}' alt='{html.escape(t)}'>"
        for t, n in images
    ]
    if not milp.empty:
        parts += ["<h2>MILP plans</h2>", milp.to_html(index=False, border=0)]
    parts.append("<h2>Demand drift</h2><ul>")
    lines = _drift_lines(drift, None, text=str)
    parts += [f"<li>{html_text(line.removeprefix('- '))}</li>" for line in lines]
    if link:
        parts.append(f"<li><a href='{html.escape(link)}'>Evidently report</a></li>")
    parts.append("</ul>")
    if orders:
        parts += ["<h2>This week's orders</h2>", f"<pre>{html.escape(orders)}</pre>"]
    if missing:
        parts += [
            "<h2>Missing inputs</h2><ul>",
            *[f"<li>{html.escape(m)}</li>" for m in missing],
            "</ul>",
        ]
    parts.append("</body></html>")
    return "\n".join(parts)
