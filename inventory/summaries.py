"""One-line summaries of what a stage wrote, for logs (the Prefect tasks log them).

A summary names the files written and the headline of the stage's metrics JSON, if it
wrote one: its top-level numbers and words (a few), the drift gate, and for an evaluation
each policy's mean total cost.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from inventory.io import read_json

__all__ = ["headline", "stage_summary"]

MAX_ITEMS = 8


def _scalar(value: Any) -> bool:
    return isinstance(value, int | float | str | bool) or value is None


def _costs(policies: dict[str, Any]) -> str:
    costs = {
        name: row["total_cost"]
        for name, row in policies.items()
        if isinstance(row, dict) and isinstance(row.get("total_cost"), int | float)
    }
    return ", ".join(f"{name} {cost:,.1f}" for name, cost in sorted(costs.items(), key=_second))


def _second(item: tuple[str, float]) -> float:
    return item[1]


def headline(payload: dict[str, Any]) -> str:
    """The headline of a metrics payload (module docstring)."""
    parts = [
        f"{key}={value}"
        for key, value in payload.items()
        if _scalar(value) and not (isinstance(value, str) and len(value) > 60)
    ][:MAX_ITEMS]
    gate = payload.get("gate")
    if isinstance(gate, dict):
        parts.append(f"gate={gate.get('decision')} ({gate.get('reason')})")
    if isinstance(payload.get("policies"), dict):
        parts.append(f"mean total cost: {_costs(payload['policies'])}")
    return "; ".join(parts)


def stage_summary(stage: str, written: dict[str, Any]) -> str:
    """``stage``'s summary from its mapping of what it wrote."""
    files = [str(v) for v in written.values() if isinstance(v, str) and Path(v).suffix]
    line = f"{stage}: wrote {', '.join(files) or 'nothing'}"
    ranked = sorted(written.items(), key=lambda item: not str(item[0]).endswith("metrics"))
    metrics = [Path(v) for _, v in ranked if str(v).endswith(".json") and Path(str(v)).exists()]
    if metrics:
        payload = read_json(metrics[0])
        if isinstance(payload, dict):
            line += f" | {headline(payload)}"
    return line
