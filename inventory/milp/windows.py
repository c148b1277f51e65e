"""Rolling-horizon windows: the plan problem seen from one state at a later week."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from inventory import dynamics
from inventory.instance import Instance

__all__ = ["window_instance"]


def window_instance(
    instance: Instance,
    on_hand: np.ndarray,
    pipeline: np.ndarray,
    last_order: np.ndarray,
    start_week: int,
    lookahead_weeks: int,
) -> tuple[Instance, np.ndarray, np.ndarray]:
    """The sub-problem seen from one state at ``start_week`` (rolling horizon).

    Orders already placed (``pipeline[j]`` arrives in week ``start_week + j``) become
    open purchase orders of the window; those arriving after it are returned as
    ``transit_beyond`` for the terminal position. A window that reaches the end of the
    horizon keeps the original required position, so its terminal cost is the true one.

    Returns:
        (window instance, transit_beyond (P,), required position (P,)).
    """
    horizon = instance.horizon_weeks
    end = min(horizon, start_week + lookahead_weeks)
    length = end - start_week
    arrivals = instance.arrivals[start_week:end].copy()
    within = min(length, pipeline.shape[0])
    arrivals[:within] += pipeline[:within]
    beyond = pipeline[within:].sum(axis=0)
    window = replace(
        instance,
        forecast=instance.forecast[start_week:end],
        arrivals=arrivals,
        weeks=instance.weeks[start_week:end],
        on_hand=np.asarray(on_hand, dtype=float),
        last_order=np.asarray(last_order, dtype=float),
    )
    if end == horizon:
        required = dynamics.required_position(instance)
    else:
        required = dynamics.required_position(window)
    return window, beyond, required
