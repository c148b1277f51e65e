"""The monitoring flow: check demand for drift, retrain on the drift when the gate says so.

The drift stage compares recent weekly demand (the data folder's history, or a CSV of new
weeks passed as ``current``) with the window the models were trained on and writes its
gate decision. The flow keeps that report under the flow run's name
(``reports/drift/<run>.html``, ``.json`` and ``_skus.html``: the training flow's own drift
stage later rewrites ``reports/drift.html``) and publishes the verdict as a Prefect artifact
that links to it.

When the decision is "retrain" and new weeks were given, the flow closes the loop:

1. scores the current PPO models on the new weeks (``metrics/retrain/<run>-before.json``);
2. appends the new weeks to the demand history (``inventory data append-demand``) and, in
   a DVC project, records the new data version (``dvc add data``: ``data.dvc`` gets the new
   hash; the previous version stays in the DVC cache and in git's ``data.dvc``);
3. runs the training flow as a subflow, so forecast, demand model, models, plans,
   evaluation, this week's orders and dvc.lock all come from the extended history;
4. scores the retrained models on the same weeks (``<run>-after.json``) and compares
   (``metrics/retrain.json``, ``reports/retrain.md``, a Prefect artifact): did retraining
   lower the cost on the demand that triggered it?

Without new weeks (drift found in the history's last weeks) the history already holds them:
the flow retrains, with nothing to append or compare.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.runtime import flow_run

import tasks
from flows.training import dvc_add_data, is_repo_params, training_flow
from inventory.config import DEFAULT_PARAMS, load_config
from inventory.identifiers import is_valid_id
from inventory.io import atomic_path, confined, read_json

__all__ = ["monitoring_flow", "gate_decision", "keep_drift_report", "run_label"]


def gate_decision(written: dict[str, str]) -> dict:
    """The drift gate's decision from what the drift stage wrote."""
    return read_json(written.get("detail", written["metrics"]))["gate"]  # with its reason


def run_label() -> str:
    """The flow run's name (``quick-otter``), or its id when the name cannot name a file."""
    name = flow_run.name or "manual"
    return name if is_valid_id(name) else str(flow_run.id)


def keep_drift_report(written: dict[str, str], label: str) -> dict[str, str]:
    """Copy the drift stage's files to ``reports/drift/<label>.*`` (atomically).

    Returns:
        The kept copies: ``metrics`` (.json), ``report`` (.html), ``sku_report`` (_skus.html).
    """
    folder = Path(written["report"]).parent / "drift"
    names = {
        "metrics": f"{label}.json",
        "report": f"{label}.html",
        "sku_report": f"{label}_skus.html",
    }
    kept = {}
    for key, name in names.items():
        target = confined(folder, name)
        with atomic_path(target) as tmp:
            shutil.copyfile(written[key], tmp)
        kept[key] = str(target)
    return kept


def _publish_verdict(decision: dict, kept: dict[str, str], label: str) -> None:
    report = Path(kept["report"]).resolve()
    create_markdown_artifact(
        markdown=(
            f"# Drift check: {decision.get('decision')}\n\n{decision.get('reason')}\n\n"
            f"- [drift report]({report.as_uri()}) (`{kept['report']}`)\n"
            f"- [per-SKU report]({Path(kept['sku_report']).resolve().as_uri()})\n"
            f"- summary: `{kept['metrics']}`\n"
        ),
        key="drift-verdict",
        description=f"Drift gate of run {label}",
    )


def _publish_comparison(written: dict[str, str]) -> None:
    create_markdown_artifact(
        markdown=Path(written["report"]).read_text(),
        key="retrain-comparison",
        description="Previous vs retrained models on the demand that triggered retraining",
    )


def _retrain_on_new_weeks(params: str, current: str, label: str, options: dict) -> dict:
    """Steps 1-4 of the module docstring; returns what each wrote."""
    logger = get_run_logger()
    score = tasks.new_demand_costs.with_options(**options)
    before = score(params, current, f"{label}-before")
    appended = tasks.append_demand.with_options(**options)(params, current)
    data = dvc_add_data(Path.cwd()) if is_repo_params(params) else "not recorded"
    logger.info("new data version: %s", data)
    training = training_flow(params=params)
    after = score(params, current, f"{label}-after")
    compared = tasks.compare_retraining.with_options(**options)(
        params, before["metrics"], after["metrics"]
    )
    _publish_comparison(compared)
    logger.info("retraining on the new demand:\n%s", Path(compared["report"]).read_text())
    return {"appended": appended, "data_version": data, "training": training, **compared}


@flow(name="monitoring", log_prints=True)
def monitoring_flow(
    params: str = str(DEFAULT_PARAMS), current: str | None = None, retrain: bool = True
) -> dict[str, Any]:
    """Run the drift check; on "retrain", learn from the new weeks (module docstring).

    Args:
        params: The params file.
        current: Optional CSV of recent weekly demand (sku, week, demand[, location]).
        retrain: Set to false to only report the decision.

    Returns:
        The gate decision, the kept drift report and, when it ran, the training flow's
        result and the retraining comparison.
    """
    config = load_config(params)
    options = {
        "retries": config.pipeline.retries,
        "retry_delay_seconds": config.pipeline.retry_delay_s,
    }
    label = run_label()
    written = tasks.drift.with_options(**options)(params, current=current)
    kept = keep_drift_report(written, label)
    decision = gate_decision(written)
    _publish_verdict(decision, kept, label)
    logger = get_run_logger()
    logger.info("drift gate: %s (%s)", decision.get("decision"), decision.get("reason"))
    result: dict[str, Any] = {"gate": decision, "drift_report": kept, "training": None}
    if decision.get("decision") != "retrain" or not retrain:
        return result
    if current is None:
        result["training"] = training_flow(params=params)
        return result
    result.update(_retrain_on_new_weeks(params, current, label, options))
    return result


if __name__ == "__main__":
    from flows import SCHEDULES

    monitoring_flow.serve(name="daily-drift-check", cron=SCHEDULES["daily-drift-check"][1])
