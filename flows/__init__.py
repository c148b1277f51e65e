"""Prefect flows (training pipeline, drift monitor, multi-location scale-out) and schedules.

Dependencies point one way: ``flows -> tasks -> inventory``. The cron schedules live here
for ``inventory serve`` and are repeated in ``prefect.yaml`` for ``prefect deploy --all``;
a test checks that both agree.
"""

from __future__ import annotations

__all__ = ["SCHEDULES"]

# deployment name -> (flow entrypoint, cron in UTC)
SCHEDULES: dict[str, tuple[str, str]] = {
    "weekly-retrain": ("flows/training.py:training_flow", "0 3 * * 1"),
    "daily-drift-check": ("flows/monitoring.py:monitoring_flow", "0 6 * * *"),
}
