"""Deterministic synthetic default data, shaped like the seed data.

Per SKU (``config.n_skus`` at each location of ``config.locations``):

- volume per unit log-normal around 8 (seed: 2.3 to 33.5), safety-stock weeks in 2..8 in
  half weeks, lead time in ``lead_time_weeks_min..lead_time_weeks_max`` whole weeks. The
  seed's lead times are 14-22 weeks (98-154 days); the default keeps them to a few weeks so
  that a 52-week horizon holds many order cycles.
- expected weekly demand = level x (1 + trend) x (1 + yearly seasonality); history draws
  Poisson demand around it, with promotion spikes (x1.5 to x3 in about 3% of weeks).
  A share ``intermittent_share`` of SKUs is intermittent (Croston-style: demand occurs in
  15-40% of weeks, the rest are zeros).
- the forecast over the horizon is the expected demand path without noise or promotions
  (the forecast stage re-forecasts from history).
- the warehouse grows with the catalog: ``max_containers`` containers a week serve
  ``container_skus`` SKUs, so ``n_skus`` SKUs get :func:`containers_for_catalog` of them,
  never fewer than ``max_containers`` (``container_skus: null`` keeps ``max_containers``
  whatever the size). A fixed warehouse would leave each SKU of a large catalog a few
  units a week, ramp limits of one unit and a planners' rule serving 40% of demand at
  1,000 SKUs.
- levels are scaled so that the weekly container capacity (``container_volume x``
  those containers) is ``capacity_share`` times the mean weekly demand volume; ramp limit
  ``max(1, round(ramp_share x mean demand))``; costs by the seed convention: lost-sale cost
  uniform in [30, 40], overstock half of it, understock a third.
- on hand covers the safety stock plus about a week; last week's order is the mean demand;
  open purchase orders fill most of the lead-time pipeline (arriving in weeks 0..L-1).

Same config, same bytes: every draw comes from one ``numpy`` generator seeded by
``config.seed`` in a fixed order, and values are rounded before they are written.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from inventory.config import DataConfig
from inventory.data.schemas import Tables, check_tables

__all__ = ["generate_tables", "seed_costs", "max_containers_for", "containers_for_catalog"]

_WEEKS_PER_YEAR = 365.25 / 7


def seed_costs(rng: np.random.Generator, n_skus: int) -> dict[str, np.ndarray]:
    """The seed's cost convention: F ~ U[30, 40], H = F/2, G = F/3 (rounded)."""
    lost = rng.uniform(30, 40, n_skus).round(2)
    return {
        "lost_sale_cost": lost,
        "overstock_cost": (lost / 2).round(4),
        "understock_cost": (lost / 3).round(4),
    }


def max_containers_for(demand_volume: float, container_volume: float, capacity_share: float) -> int:
    """Containers per week giving ``capacity_share`` x the weekly demand volume (>= 1)."""
    return max(1, int(np.ceil(capacity_share * demand_volume / container_volume - 1e-9)))


def containers_for_catalog(config: DataConfig) -> int:
    """Containers per week of a generated location: ``max_containers`` for up to
    ``container_skus`` SKUs, in proportion (rounded) for a larger catalog. A smaller
    catalog keeps ``max_containers``: fewer containers would change its demand per SKU
    and the small instances the tests and demos are built on."""
    if config.container_skus is None:
        return config.max_containers
    scaled = round(config.max_containers * config.n_skus / config.container_skus)
    return max(config.max_containers, scaled)


@dataclass(frozen=True)
class _Skus:
    volume: np.ndarray
    safety_stock_weeks: np.ndarray
    lead_time_weeks: np.ndarray
    level: np.ndarray
    trend: np.ndarray
    amplitude: np.ndarray
    phase: np.ndarray
    occurrence: np.ndarray  # probability of a demand week (1 = smooth demand)
    unit_cost: np.ndarray


def _draw_skus(rng: np.random.Generator, config: DataConfig) -> _Skus:
    n = config.n_skus
    intermittent = np.zeros(n, dtype=bool)
    intermittent[rng.permutation(n)[: round(config.intermittent_share * n)]] = True
    volume = np.exp(rng.normal(np.log(8.0), 0.7, n)).clip(1.5, 40).round(2)
    low, high = sorted((config.lead_time_weeks_min, config.lead_time_weeks_max))
    return _Skus(
        volume=volume,
        safety_stock_weeks=rng.integers(4, 17, n) / 2,
        lead_time_weeks=rng.integers(low, high + 1, n),
        level=np.exp(rng.normal(np.log(10.0), 0.8, n)),
        trend=rng.uniform(-0.15, 0.25, n),
        amplitude=rng.uniform(0.1, 0.4, n),
        phase=rng.uniform(0, 2 * np.pi) + rng.normal(0, 0.7, n),  # a shared peak season
        occurrence=np.where(intermittent, rng.uniform(0.15, 0.4, n), 1.0),
        unit_cost=(volume * rng.uniform(4, 12, n)).round(2),
    )


def _expected(skus: _Skus, week_index: np.ndarray) -> np.ndarray:
    """Expected weekly demand (T, P) at weeks ``week_index`` (0 = first planning week)."""
    years = week_index[:, None] / _WEEKS_PER_YEAR
    season = 1 + skus.amplitude * np.sin(2 * np.pi * years + skus.phase)
    trend = np.maximum(0.2, 1 + skus.trend * years)
    return skus.level * trend * season * skus.occurrence


def _history(rng: np.random.Generator, skus: _Skus, mean: np.ndarray) -> np.ndarray:
    promo = np.where(rng.random(mean.shape) < 0.03, rng.uniform(1.5, 3.0, mean.shape), 1.0)
    occurs = rng.random(mean.shape) < skus.occurrence
    size = mean / skus.occurrence * promo
    return np.where(occurs, rng.poisson(size), 0).astype(float)


def _location_tables(
    rng: np.random.Generator, config: DataConfig, location: str, start: pd.Timestamp
) -> dict[str, pd.DataFrame]:
    skus = _draw_skus(rng, config)
    past = np.arange(-config.history_weeks, 0)
    future = np.arange(config.horizon_weeks)
    capacity = config.container_volume * containers_for_catalog(config)
    demand_volume = float(_expected(skus, future).mean(axis=0) @ skus.volume)
    skus = _scaled(skus, capacity / config.capacity_share / demand_volume)
    forecast = _expected(skus, future).round(3)
    history = _history(rng, skus, _expected(skus, past))
    ids = [f"SKU{i + 1:03d}" for i in range(config.n_skus)]
    mean = forecast.mean(axis=0)
    catalog = pd.DataFrame(
        {
            "sku": ids,
            "location": location,
            "volume": skus.volume,
            "safety_stock_weeks": skus.safety_stock_weeks,
            "lead_time_weeks": skus.lead_time_weeks,
            "ramp_limit": np.maximum(1, np.round(config.ramp_share * mean)),
            **seed_costs(rng, config.n_skus),
            "on_hand": np.round(mean * (skus.safety_stock_weeks + rng.uniform(0.5, 1.5, len(ids)))),
            "unit_cost": skus.unit_cost,
            "last_order": np.round(mean),
        }
    )
    return {
        "catalog": catalog,
        "history": _long(ids, location, start + pd.to_timedelta(7 * past, "D"), history, "demand"),
        "forecast": _long(
            ids, location, start + pd.to_timedelta(7 * future, "D"), forecast, "forecast"
        ),
        "open_pos": _open_pos(rng, ids, location, skus, mean, start),
    }


def _scaled(skus: _Skus, factor: float) -> _Skus:
    return _Skus(**{**skus.__dict__, "level": skus.level * factor})


def _long(
    ids: list[str], location: str, weeks: pd.DatetimeIndex, values: np.ndarray, name: str
) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "sku": np.tile(ids, len(weeks)),
            "location": location,
            "week": np.repeat(weeks, len(ids)),
            name: values.ravel(),
        }
    ).sort_values(["sku", "week"], kind="stable", ignore_index=True)


def _open_pos(
    rng: np.random.Generator,
    ids: list[str],
    location: str,
    skus: _Skus,
    mean: np.ndarray,
    start: pd.Timestamp,
) -> pd.DataFrame:
    """Orders placed before the horizon: most of the lead-time pipeline is in transit."""
    rows = []
    for p, sku in enumerate(ids):
        for week in range(int(skus.lead_time_weeks[p])):
            units = float(np.round(mean[p] * rng.uniform(0.8, 1.2)))
            if rng.random() < 0.8 and units > 0:
                rows.append((sku, location, start + pd.Timedelta(weeks=week), units))
    frame = pd.DataFrame(rows, columns=["sku", "location", "week", "units"])
    frame.insert(0, "po_number", [f"PO{location}-{i + 1:05d}" for i in range(len(frame))])
    return frame


def generate_tables(config: DataConfig) -> Tables:
    """The synthetic default data described in the module docstring, validated."""
    start = pd.Timestamp(config.start_week)
    if start.dayofweek != 0:
        raise ValueError(f"data.start_week: {config.start_week} is not a Monday")
    if not config.locations:
        raise ValueError("data.locations: empty; list at least one location id, e.g. [L1]")
    rng = np.random.default_rng(config.seed)
    parts = [_location_tables(rng, config, loc, start) for loc in config.locations]
    frames = {
        name: pd.concat([p[name] for p in parts], ignore_index=True)
        for name in ("catalog", "history", "forecast", "open_pos")
    }
    frames["warehouse"] = pd.DataFrame(
        {
            "location": list(config.locations),
            "container_volume": config.container_volume,
            "max_containers": containers_for_catalog(config),
            "container_cost": config.container_cost,
        }
    )
    return check_tables(frames, "generated data")
