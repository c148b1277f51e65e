"""The monitoring flow: check demand for drift, retrain when the gate says so.

The drift stage compares recent weekly demand (the data folder's history, or a CSV of new
weeks passed as ``current``) with the window the models were trained on and writes its
gate decision. When the decision is "retrain", this flow runs the training flow as a
subflow, so the retrained models, the evaluation, this week's orders and dvc.lock all come
from the same run.
"""

from __future__ import annotations

from prefect import flow, get_run_logger

import tasks
from flows.training import training_flow
from inventory.config import DEFAULT_PARAMS, load_config
from inventory.io import read_json

__all__ = ["monitoring_flow", "gate_decision"]


def gate_decision(written: dict[str, str]) -> dict:
    """The drift gate's decision from what the drift stage wrote."""
    return read_json(written.get("detail", written["metrics"]))["gate"]  # with its reason


@flow(name="monitoring", log_prints=True)
def monitoring_flow(
    params: str = str(DEFAULT_PARAMS), current: str | None = None, retrain: bool = True
) -> dict:
    """Run the drift check; start the training flow when the gate says "retrain".

    Args:
        params: The params file.
        current: Optional CSV of recent weekly demand (sku, location, week, demand).
        retrain: Set to false to only report the decision.

    Returns:
        The gate decision and, when it ran, the training flow's result.
    """
    config = load_config(params)
    drift = tasks.drift.with_options(
        retries=config.pipeline.retries, retry_delay_seconds=config.pipeline.retry_delay_s
    )
    decision = gate_decision(drift(params, current=current))
    logger = get_run_logger()
    logger.info("drift gate: %s (%s)", decision.get("decision"), decision.get("reason"))
    result = {"gate": decision, "training": None}
    if decision.get("decision") == "retrain" and retrain:
        result["training"] = training_flow(params=params)
    return result


if __name__ == "__main__":
    from flows import SCHEDULES

    monitoring_flow.serve(name="daily-drift-check", cron=SCHEDULES["daily-drift-check"][1])
