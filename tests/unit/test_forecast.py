"""Forecasting, backtests and demand-distribution fits (inventory.forecast)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pandera.errors
import pytest

from inventory.config import DataConfig, ForecastConfig
from inventory.forecast import (
    MODELS,
    SkuFit,
    backtest_series,
    croston_sba,
    demand_quantiles,
    fit_demand_sku,
    fit_distribution,
    forecast_schema,
    forecast_tables,
    rolling_origins,
    save_demand_model,
)
from inventory.scenarios import FAMILIES, DemandModel, load_demand_model
from inventory.testing import make_instance

CONFIG = ForecastConfig()


# --------------------------------------------------------------------------- distributions


def test_negative_binomial_fit_recovers_mean_and_dispersion() -> None:
    rng = np.random.default_rng(0)
    mean, size = 12.0, 3.0
    draws = rng.negative_binomial(size, size / (size + mean), 5000)
    fit = fit_distribution(draws, "negative_binomial")
    assert fit.mean == pytest.approx(mean, rel=0.03)
    assert fit.dispersion == pytest.approx(size, rel=0.06)


def test_dispersion_fit_around_a_varying_forecast() -> None:
    rng = np.random.default_rng(1)
    mean = 5 + 20 * rng.random(5000)
    size = 4.0
    draws = rng.negative_binomial(size, size / (size + mean))
    fit = fit_distribution(draws, "negative_binomial", mean)
    assert fit.dispersion == pytest.approx(size, rel=0.06)


def test_gamma_fit_recovers_shape_of_the_rounded_draws() -> None:
    rng = np.random.default_rng(2)
    mean, shape = 20.0, 2.5
    draws = np.rint(rng.gamma(shape, mean / shape, 5000))
    fit = fit_distribution(draws, "gamma")
    assert fit.mean == pytest.approx(mean, rel=0.03)
    assert fit.dispersion == pytest.approx(shape, rel=0.06)


@pytest.mark.parametrize("family", FAMILIES)
def test_aic_picks_the_true_family(family: str) -> None:
    rng = np.random.default_rng(3)
    mean = 8 + 10 * rng.random(5000)
    if family == "poisson":
        draws = rng.poisson(mean)
    elif family == "negative_binomial":
        draws = rng.negative_binomial(2.0, 2.0 / (2.0 + mean))
    else:
        draws = np.rint(rng.gamma(3.0, mean / 3.0))
    fit = fit_demand_sku(draws.astype(float), mean, CONFIG)
    assert fit.method == "mle"
    assert fit.family == family, fit.aic


def test_too_little_data_falls_back_to_the_params_default() -> None:
    config = CONFIG.model_copy(update={"fallback_family": "poisson"})
    fit = fit_demand_sku(np.array([0.0, 3, 0, 0, 5]), np.full(5, 1.6), config)
    assert fit.family == "poisson"
    assert fit.method.startswith("fallback")


def test_quantiles_follow_the_simulator_parameterisation() -> None:
    rng = np.random.default_rng(4)
    mean, size = 10.0, 2.0
    draws = rng.negative_binomial(size, size / (size + mean), 20_000)
    for q in (0.1, 0.5, 0.9):
        expected = np.quantile(draws, q)
        got = demand_quantiles(np.array([mean]), "negative_binomial", size, q)[0]
        assert abs(got - expected) <= 1


# --------------------------------------------------------------------------- models


def test_croston_sba_worked_example() -> None:
    config = CONFIG.model_copy(update={"croston_alpha": 0.5})
    forecast = croston_sba(np.array([0.0, 0, 6, 0, 4]), 3, config)
    np.testing.assert_allclose(forecast, 1.5)


def test_models_return_nonnegative_paths_of_the_requested_length() -> None:
    rng = np.random.default_rng(5)
    series = rng.poisson(3, 120).astype(float)
    for name, model in MODELS.items():
        path = model(series, 17, CONFIG)
        assert path.shape == (17,), name
        assert np.all(path >= 0) and np.all(np.isfinite(path)), name


def test_intermittent_skus_are_chosen_by_rmse_without_seasonal_naive() -> None:
    from inventory.forecast import _choose, intermittent

    assert intermittent(np.array([0.0, 0, 3, 0, 0, 5, 0, 0]), CONFIG)
    assert not intermittent(np.array([1.0, 2, 3, 0, 4, 5]), CONFIG)
    errors = {
        "seasonal_naive": {"wape": 0.9, "rmse": 9.0},
        "fourier": {"wape": 1.1, "rmse": 4.0},
        "croston": {"wape": 1.0, "rmse": 5.0},
    }
    assert _choose(errors) == "seasonal_naive"
    assert _choose(errors, is_intermittent=True) == "fourier"


def test_rolling_origins_end_at_the_last_week() -> None:
    assert rolling_origins(156, CONFIG) == [104, 117, 130, 143]


def test_backtest_never_uses_data_after_the_origin() -> None:
    """Changing the series after the first origin leaves the first fold's forecasts as is."""
    rng = np.random.default_rng(6)
    weeks = np.arange(156)
    series = rng.poisson(20 * (1 + 0.3 * np.sin(2 * np.pi * weeks / 52))).astype(float)
    changed = series.copy()
    first_origin = rolling_origins(series.size, CONFIG)[0]
    changed[first_origin:] *= 5
    original, perturbed = backtest_series(series, CONFIG), backtest_series(changed, CONFIG)
    horizon = CONFIG.backtest_horizon_weeks
    for name in CONFIG.models:
        np.testing.assert_allclose(
            original.predictions[name][:horizon],
            perturbed.predictions[name][:horizon],
            err_msg=name,
        )
        if name != "seasonal_naive":  # it looks 52 weeks back: still before the change
            later = slice(horizon, None)
            assert not np.allclose(
                original.predictions[name][later], perturbed.predictions[name][later]
            )


# --------------------------------------------------------------------------- tables


def _synthetic_tables(history_weeks: int = 156) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Two SKUs: a seasonal one with trend and promotions, an intermittent one."""
    rng = np.random.default_rng(7)
    start = pd.Timestamp("2024-01-01")
    past = start + pd.to_timedelta(7 * np.arange(-history_weeks, 0), "D")
    future = start + pd.to_timedelta(7 * np.arange(26), "D")
    index = np.arange(-history_weeks, 0)
    seasonal = 30 * (1 + 0.002 * index) * (1 + 0.4 * np.sin(2 * np.pi * index / 52))
    promo = np.where(rng.random(history_weeks) < 0.03, 2.0, 1.0)
    smooth = rng.poisson(seasonal * promo)
    sparse = np.where(rng.random(history_weeks) < 0.25, rng.poisson(8, history_weeks), 0)
    history = pd.concat(
        [
            pd.DataFrame(
                {"sku": sku, "location": "L1", "week": past, "demand": values.astype(float)}
            )
            for sku, values in (("A", smooth), ("B", sparse))
        ],
        ignore_index=True,
    )
    given = pd.DataFrame(
        {
            "sku": np.repeat(["A", "B"], 26),
            "location": "L1",
            "week": np.tile(future, 2),
            "forecast": 5.0,
        }
    )
    catalog = pd.DataFrame({"sku": ["A", "B"], "location": "L1"})
    return history, given, catalog


def test_forecast_tables_writes_validated_quantiles_and_metrics() -> None:
    history, given, catalog = _synthetic_tables()
    result = forecast_tables(history, given, catalog, CONFIG)
    assert len(result.forecast) == 52
    assert list(result.forecast.columns) == [
        "sku",
        "location",
        "week",
        "forecast",
        "q10",
        "q50",
        "q90",
        "model",
    ]
    assert (result.forecast["q10"] <= result.forecast["q90"]).all()
    assert result.summary["source"] == "backtest"
    assert set(result.by_sku["sku"]) == {"A", "B"}
    assert result.by_sku.set_index("sku").loc["A", "model"] != "croston"
    # the seasonal SKU's forecast follows its season, not the given flat 5.0
    assert result.forecast.query("sku == 'A'")["forecast"].std() > 1


def test_forecast_schema_rejects_crossed_quantiles() -> None:
    history, given, catalog = _synthetic_tables()
    frame = forecast_tables(history, given, catalog, CONFIG).forecast.copy()
    frame.loc[0, "q10"] = frame.loc[0, "q90"] + 1
    with pytest.raises(pandera.errors.SchemaErrors):
        forecast_schema(CONFIG).validate(frame, lazy=True)


def test_without_history_the_given_forecast_is_used_as_is() -> None:
    history, given, catalog = _synthetic_tables()
    result = forecast_tables(history.iloc[:0], given, catalog, CONFIG)
    np.testing.assert_allclose(result.forecast["forecast"], 5.0)
    assert set(result.forecast["model"]) == {"given"}
    assert result.summary["source"] == "given" and "as is" in result.summary["note"]
    _, model, fits = result.demand_models["L1"]
    assert model.family == (CONFIG.fallback_family,) * 2
    assert all(fit.method.startswith("fallback") for fit in fits)


def test_demand_model_round_trip(tmp_path) -> None:
    instance = make_instance()
    skus = list(instance.skus)[::-1]
    model = DemandModel(
        tuple(FAMILIES[i % 3] for i in range(len(skus))), np.arange(1.0, len(skus) + 1)
    )
    fits = [
        SkuFit(f, float(k), "mle", 52, {})
        for f, k in zip(model.family, model.dispersion, strict=True)
    ]
    path = save_demand_model(
        tmp_path / "demand_model.json", {instance.location: (skus, model, fits)}
    )
    loaded = load_demand_model(path, instance)
    assert loaded.family == model.family[::-1]
    np.testing.assert_allclose(loaded.dispersion, model.dispersion[::-1])


def test_forecaster_beats_seasonal_naive_on_the_default_data() -> None:
    """Backtest WAPE of the chosen models vs seasonal naive on the generator's default data."""
    from inventory.data import generate_tables

    tables = generate_tables(DataConfig())
    result = forecast_tables(tables.history, tables.forecast, tables.catalog, CONFIG)
    overall = result.summary["overall"]
    assert overall["wape"] < 0.9 * overall["seasonal_naive_wape"], overall
    assert overall["mase"] < 1.0
