"""The planning instance: one location's SKUs, warehouse and horizon as numpy arrays.

An :class:`Instance` is what every part of the product plans against: the simulator
(:mod:`inventory.dynamics`), the environment, the MILP and the policies. It is built from
validated input tables by :func:`inventory.data.build_instance`.

Shapes: ``P`` SKUs, ``T`` planning weeks. Week ``t`` of the horizon is ``weeks[t]``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

__all__ = ["Instance"]


# The per-SKU arrays of an Instance, each of shape (P,).
_PER_SKU_FIELDS = (
    "volume",
    "safety_stock_weeks",
    "lead_time_weeks",
    "ramp_limit",
    "lost_sale_cost",
    "overstock_cost",
    "understock_cost",
    "unit_cost",
    "on_hand",
    "last_order",
)


@dataclass(frozen=True, eq=False)
class Instance:
    """One location's planning problem (DESIGN.md section 2).

    Attributes:
        location: Location id.
        skus: SKU ids, length P.
        volume: Volume per unit, shape (P,), > 0.
        safety_stock_weeks: Safety-stock target in weeks of forecast, shape (P,).
        lead_time_weeks: Whole weeks from order to arrival (0 = same week), int (P,).
        ramp_limit: Max change of the order quantity from one week to the next, units (P,).
        lost_sale_cost: F, cost per unit of lost sales (P,).
        overstock_cost: H, cost per unit of end inventory above target (P,).
        understock_cost: G, cost per unit of end inventory below target (P,).
        unit_cost: Purchase cost per unit (P,), reporting only.
        on_hand: Units in stock at the start of week 0 (P,).
        last_order: Units ordered in the week before the horizon (P,), anchors the ramp.
        forecast: Demand forecast, shape (T, P).
        arrivals: Open purchase orders arriving in week t, shape (T, P).
        container_volume: Volume of one shipping container.
        max_containers: Containers that may ship per week.
        container_cost: Cost per container used (0 = none).
        weeks: ISO Monday of each planning week, ``datetime64[D]`` shape (T,).
    """

    location: str
    skus: tuple[str, ...]
    volume: np.ndarray
    safety_stock_weeks: np.ndarray
    lead_time_weeks: np.ndarray
    ramp_limit: np.ndarray
    lost_sale_cost: np.ndarray
    overstock_cost: np.ndarray
    understock_cost: np.ndarray
    unit_cost: np.ndarray
    on_hand: np.ndarray
    last_order: np.ndarray
    forecast: np.ndarray
    arrivals: np.ndarray
    container_volume: float
    max_containers: int
    container_cost: float
    weeks: np.ndarray

    @property
    def n_skus(self) -> int:
        return len(self.skus)

    def fingerprint(self) -> bytes:
        """Bytes of every number the dynamics and costs read (for keys of cached results)."""
        arrays = (
            self.forecast,
            self.arrivals,
            self.on_hand,
            self.last_order,
            self.ramp_limit,
            self.volume,
            self.lead_time_weeks,
            self.lost_sale_cost,
            self.overstock_cost,
            self.understock_cost,
            self.safety_stock_weeks,
            np.array([self.container_volume, self.max_containers, self.container_cost]),
        )
        return b"".join(np.ascontiguousarray(a, dtype=float).tobytes() for a in arrays)

    @property
    def horizon_weeks(self) -> int:
        return int(self.forecast.shape[0])

    @property
    def capacity_volume(self) -> float:
        """Volume that may ship per week: container volume x max containers."""
        return float(self.container_volume * self.max_containers)

    @property
    def target(self) -> np.ndarray:
        """Safety-stock target in units, tau = S x forecast, shape (T, P)."""
        return self.safety_stock_weeks[None, :] * self.forecast

    @property
    def week_of_year(self) -> np.ndarray:
        """ISO week number (1..53) of each planning week, shape (T,)."""
        import pandas as pd

        return pd.DatetimeIndex(self.weeks).isocalendar().week.to_numpy(dtype=np.int64)

    def truncate(self, horizon_weeks: int) -> Instance:
        """The same instance over its first ``horizon_weeks`` weeks."""
        if not 1 <= horizon_weeks <= self.horizon_weeks:
            raise ValueError(
                f"horizon_weeks must be in 1..{self.horizon_weeks}, got {horizon_weeks}"
            )
        return replace(
            self,
            forecast=self.forecast[:horizon_weeks],
            arrivals=self.arrivals[:horizon_weeks],
            weeks=self.weeks[:horizon_weeks],
        )

    def subset(self, sku_index: np.ndarray | list[int]) -> Instance:
        """The instance restricted to some SKUs (capacity unchanged)."""
        idx = np.asarray(sku_index, dtype=np.int64)
        per_sku = {name: getattr(self, name)[idx] for name in _PER_SKU_FIELDS}
        return replace(
            self,
            skus=tuple(self.skus[i] for i in idx),
            forecast=self.forecast[:, idx],
            arrivals=self.arrivals[:, idx],
            **per_sku,
        )

    def validate(self) -> None:
        """Raise ValueError if shapes or values are inconsistent."""
        p, t = self.n_skus, self.horizon_weeks
        for name in _PER_SKU_FIELDS:
            arr = getattr(self, name)
            if arr.shape != (p,):
                raise ValueError(f"Instance.{name}: shape {arr.shape}, expected ({p},)")
            if not np.all(np.isfinite(arr)) or np.any(arr < 0):
                raise ValueError(f"Instance.{name}: values must be finite and >= 0")
        if np.any(self.volume <= 0):
            raise ValueError("Instance.volume: every SKU needs a volume > 0")
        for name in ("forecast", "arrivals"):
            arr = getattr(self, name)
            if arr.shape != (t, p):
                raise ValueError(f"Instance.{name}: shape {arr.shape}, expected ({t}, {p})")
            if not np.all(np.isfinite(arr)) or np.any(arr < 0):
                raise ValueError(f"Instance.{name}: values must be finite and >= 0")
