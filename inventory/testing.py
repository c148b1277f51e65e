"""Tiny random instances for tests and benchmarks (shipped with the code, like SB3's
``IdentityEnv``): valid, seeded, with lead times, open POs, binding capacity and ramps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from inventory.instance import Instance

__all__ = ["make_instance", "store_floor_plan"]


def make_instance(
    n_skus: int = 3,
    horizon_weeks: int = 8,
    *,
    seed: int = 0,
    max_lead_time: int = 3,
    capacity_share: float = 0.8,
    ramp_share: float = 0.5,
    container_cost: float = 0.0,
    open_pos: bool = True,
) -> Instance:
    """A random instance.

    Args:
        n_skus: Number of SKUs.
        horizon_weeks: Planning weeks.
        seed: Random seed.
        max_lead_time: Lead times are drawn from 0..max_lead_time.
        capacity_share: Weekly capacity as a share of the mean weekly demand volume
            (below 1 makes capacity bind).
        ramp_share: Ramp limit as a share of each SKU's mean demand.
        container_cost: Cost per container.
        open_pos: Whether to add a few open purchase orders.
    """
    rng = np.random.default_rng(seed)
    mean = rng.uniform(2, 12, n_skus)
    season = 1 + 0.3 * np.sin(2 * np.pi * np.arange(horizon_weeks) / 13)[:, None]
    forecast = np.round(mean * season * rng.uniform(0.8, 1.2, (horizon_weeks, n_skus)), 1)
    volume = rng.uniform(1, 5, n_skus).round(2)
    arrivals = np.zeros((horizon_weeks, n_skus))
    if open_pos:
        weeks = rng.integers(0, horizon_weeks, n_skus)
        arrivals[weeks, np.arange(n_skus)] = rng.integers(0, 15, n_skus)
    lost = rng.uniform(30, 40, n_skus).round(2)
    demand_volume = float((mean * volume).sum())
    container_volume = max(10.0, round(demand_volume * capacity_share / 2, 1))
    return Instance(
        location="T1",
        skus=tuple(f"S{i:03d}" for i in range(n_skus)),
        volume=volume,
        safety_stock_weeks=rng.integers(0, 4, n_skus).astype(float),
        lead_time_weeks=rng.integers(0, max_lead_time + 1, n_skus),
        ramp_limit=np.maximum(1.0, np.round(mean * ramp_share)),
        lost_sale_cost=lost,
        overstock_cost=lost / 2,
        understock_cost=lost / 3,
        unit_cost=rng.uniform(5, 50, n_skus).round(2),
        on_hand=rng.integers(0, 30, n_skus).astype(float),
        last_order=np.round(mean),
        forecast=forecast,
        arrivals=arrivals,
        container_volume=container_volume,
        max_containers=2,
        container_cost=container_cost,
        weeks=(np.datetime64("2024-01-01") + 7 * np.arange(horizon_weeks)).astype("datetime64[D]"),
    )


def store_floor_plan(root: Path, instance: Instance, settings: Any) -> tuple[Any, np.ndarray]:
    """A deterministic solve stage's output under ``root`` (``artifacts/milp``,
    ``metrics``): the ramp-floor plan (feasible, not optimal, so a replay is told apart
    from a fresh solve) keyed on ``settings`` (a ``MilpConfig``). Returns the stored plans
    (``SolvedPlans``) and the plan."""
    from inventory.milp.model import order_bounds
    from inventory.milp_policies import SolvedPlans, plan_key, write_solved_plan

    solved = SolvedPlans(root / "artifacts" / "milp", root / "metrics")
    stored = np.asarray(order_bounds(instance)[0])
    key = plan_key(instance, instance.forecast[None], settings, True)
    metrics = {"status": "feasible", "objective": 1.0, "bound": 0.0, "gap": 1.0, "plan_key": key}
    write_solved_plan(
        instance,
        "deterministic",
        stored,
        metrics,
        plans_dir=solved.plans_dir,
        metrics_dir=solved.metrics_dir,
    )
    return solved, stored
