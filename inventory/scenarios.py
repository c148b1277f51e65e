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

This module is the one home of the demand model: the class, reading the fitted model
(:func:`load_demand_model`), the choice between it and the fallback
(:func:`demand_model_for`), its fingerprint (:func:`demand_model_id`) and the scenarios of
each mode (:func:`scenarios_for`). Callers pass the file's path; none is assumed here.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from inventory.instance import Instance
from inventory.io import read_json

if TYPE_CHECKING:
    from inventory.config import Config

__all__ = [
    "FAMILIES",
    "MODES",
    "DemandModel",
    "load_demand_model",
    "demand_model_for",
    "demand_model_id",
    "Scenarios",
    "scenarios_for",
    "deterministic_demand",
    "sample_demand",
]

FAMILIES = ("poisson", "negative_binomial", "gamma")
MODES = ("deterministic", "stochastic")


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
    instance: Instance, model: DemandModel, n_scenarios: int, seed: int | np.random.Generator
) -> np.ndarray:
    """Draw ``n_scenarios`` integer demand paths (N, T, P) around the forecast.

    ``seed`` is a seed or a generator to draw from (the env passes its own).
    """
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


def load_demand_model(path: str | Path, instance: Instance) -> DemandModel:
    """The fitted :class:`DemandModel` of ``instance``'s location and SKUs, in its order.

    Raises:
        ValueError: the file, the location or some SKUs are missing (run ``inventory forecast``).
    """
    path = Path(path)
    if not path.exists():
        raise ValueError(f"{path}: no fitted demand model; run `inventory forecast` first")
    entry = read_json(path)["locations"].get(instance.location)
    if entry is None:
        raise ValueError(f"{path}: no demand model for location {instance.location!r}")
    index = {sku: i for i, sku in enumerate(entry["skus"])}
    missing = [sku for sku in instance.skus if sku not in index]
    if missing:
        raise ValueError(
            f"{path}: no demand model for {len(missing)} SKU(s) ({', '.join(missing[:5])}); "
            "re-run `inventory forecast`"
        )
    rows = [index[sku] for sku in instance.skus]
    return DemandModel(
        tuple(entry["family"][i] for i in rows),
        np.array([entry["dispersion"][i] for i in rows], dtype=float),
    )


def demand_model_for(
    config: Config, instance: Instance, path: str | Path | None = None
) -> tuple[DemandModel, str]:
    """The demand model of stochastic mode and a one-line description of where it came from.

    ``simulation.demand_model: fitted`` reads the forecast stage's fitted model at
    ``path`` (:func:`load_demand_model`); while there is no such file (or no ``path``), a
    negative binomial with ``forecast.fallback_dispersion`` for every SKU is used, and
    the description says so. Any other family applies to every SKU.
    """
    family = config.simulation.demand_model
    dispersion = config.forecast.fallback_dispersion
    if family != "fitted":
        return DemandModel.uniform(family, instance.n_skus, dispersion), family
    if path is not None and Path(path).exists():
        return load_demand_model(path, instance), f"fitted ({path})"
    fallback = DemandModel.uniform("negative_binomial", instance.n_skus, dispersion)
    missing = path if path is not None else "fitted model file"
    return fallback, f"fallback negative_binomial(size={dispersion}): no {missing} yet"


def demand_model_id(model: DemandModel | None) -> str:
    """Short fingerprint of a demand model ("forecast" for deterministic demand)."""
    if model is None:
        return "forecast"
    payload = [list(model.family), np.round(np.asarray(model.dispersion, float), 6).tolist()]
    return hashlib.sha1(json.dumps(payload).encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Scenarios:
    """Shared evaluation scenarios, training scenarios for tuning, and their origin."""

    evaluation: np.ndarray
    training: np.ndarray
    description: str


def scenarios_for(
    config: Config,
    instance: Instance,
    mode: str,
    demand_model: tuple[DemandModel, str] | None = None,
) -> Scenarios:
    """Deterministic: the forecast (one scenario). Stochastic: seeded draws (CRN) from
    ``demand_model`` (model, description), default :func:`demand_model_for` without a
    fitted model file."""
    if mode == "deterministic":
        demand = deterministic_demand(instance)
        return Scenarios(demand, demand, "forecast")
    if mode != "stochastic":
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    model, description = demand_model or demand_model_for(config, instance)
    sim = config.simulation
    return Scenarios(
        sample_demand(instance, model, sim.n_eval_scenarios, sim.eval_seed),
        sample_demand(instance, model, sim.n_train_scenarios, sim.train_seed),
        description,
    )
