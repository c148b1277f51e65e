"""Serve both deployments from one local process (``inventory serve``).

The same two deployments as ``prefect.yaml`` (weekly retraining, daily drift check), with
the same cron schedules (:data:`flows.SCHEDULES`), run by this process instead of a work
pool's worker. Stop it with Ctrl-C.

Serving and a work pool share the deployment names (``training/weekly-retrain``,
``monitoring/daily-drift-check``): whichever registered last runs them, and when this
process stops, Prefect pauses them (``pause_on_stop``), also for the work pool. Deployments
that must keep running belong to a work pool and its worker alone; ``prefect deploy --all``
registers them again, unpaused.
"""

from __future__ import annotations

from prefect import serve

from flows import SCHEDULES
from flows.monitoring import monitoring_flow
from flows.training import training_flow

__all__ = ["deployments", "serve_all"]


def deployments(params: str) -> list:
    """The two runner deployments, reading ``params``."""
    flows = {"weekly-retrain": training_flow, "daily-drift-check": monitoring_flow}
    return [
        flow_.to_deployment(
            name=name,
            cron=SCHEDULES[name][1],
            parameters={"params": params},
            description=(flow_.description or "").split("\n")[0],
            tags=["inventory"],
        )
        for name, flow_ in flows.items()
    ]


def serve_all(params: str, pause_on_stop: bool = True) -> None:
    """Register both deployments with the Prefect server and run their scheduled flows.

    Args:
        params: The params file the runs read.
        pause_on_stop: Pause both deployments when this process stops.
    """
    serve(*deployments(params), pause_on_shutdown=pause_on_stop)


if __name__ == "__main__":
    serve_all("params.yaml")
