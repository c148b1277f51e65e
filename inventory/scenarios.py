"""Demand scenarios around the forecast, drawn once and shared by every policy.

A :class:`DemandModel` gives, per SKU, a distribution family and a dispersion parameter;
the mean of week ``t`` is always the forecast ``mu = forecast[t, p]``:

- ``poisson``: variance ``mu``;
- ``negative_binomial``: variance ``mu + mu**2 / dispersion`` (``dispersion`` = size k);
- ``gamma``: shape ``dispersion``, scale ``mu / dispersion`` (variance ``mu**2 / k``),
  rounded to whole units.

Scenarios are seeded; the same seed gives the same array (common random numbers).
:func:`inventory.forecast.fit_demand_model` fits these families to history by maximum
likelihood, so training and evaluation draw from the same model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from inventory.instance import Instance

__all__ = ["FAMILIES", "DemandModel", "deterministic_demand", "sample_demand"]

FAMILIES = ("poisson", "negative_binomial", "gamma")


@dataclass(frozen=True)
class DemandModel:
    """Per-SKU demand distribution around the forecast.

    Attributes:
        family: One of :data:`FAMILIES` per SKU, tuple of length P.
        dispersion: Size (negative binomial) or shape (gamma) per SKU, shape (P,);
            ignored for Poisson.
    """

    family: tuple[str, ...]
    dispersion: np.ndarray

    @classmethod
    def uniform(cls, family: str, n_skus: int, dispersion: float = 4.0) -> DemandModel:
        """The same family for every SKU."""
        if family not in FAMILIES:
            raise ValueError(f"demand family {family!r} unknown; allowed: {', '.join(FAMILIES)}")
        return cls((family,) * n_skus, np.full(n_skus, float(dispersion)))

    def __post_init__(self) -> None:
        bad = sorted(set(self.family) - set(FAMILIES))
        if bad:
            raise ValueError(f"demand family {bad} unknown; allowed: {', '.join(FAMILIES)}")
        if np.any(np.asarray(self.dispersion) <= 0):
            raise ValueError("demand dispersion must be > 0 for every SKU")


def deterministic_demand(instance: Instance, n_scenarios: int = 1) -> np.ndarray:
    """Demand equal to the forecast, shape (n_scenarios, T, P)."""
    return np.broadcast_to(instance.forecast, (n_scenarios, *instance.forecast.shape)).copy()


def sample_demand(
    instance: Instance, model: DemandModel, n_scenarios: int, seed: int
) -> np.ndarray:
    """Draw ``n_scenarios`` integer demand paths (N, T, P) around the forecast."""
    if len(model.family) != instance.n_skus:
        raise ValueError(
            f"demand model has {len(model.family)} SKUs, instance has {instance.n_skus}"
        )
    rng = np.random.default_rng(seed)
    mean = np.broadcast_to(instance.forecast, (n_scenarios, *instance.forecast.shape))
    family = np.asarray(model.family)
    k = np.asarray(model.dispersion, dtype=float)
    out = np.zeros(mean.shape)
    for name in FAMILIES:
        cols = np.flatnonzero(family == name)
        if cols.size == 0:
            continue
        mu = mean[..., cols]
        if name == "poisson":
            out[..., cols] = rng.poisson(mu)
        elif name == "negative_binomial":
            size = np.broadcast_to(k[cols], mu.shape)
            prob = size / (size + np.maximum(mu, 1e-12))
            out[..., cols] = np.where(mu > 0, rng.negative_binomial(size, prob), 0)
        else:
            shape = np.broadcast_to(k[cols], mu.shape)
            out[..., cols] = np.rint(rng.gamma(shape, np.maximum(mu, 0) / shape))
    return out
