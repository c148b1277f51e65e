"""Forecasting per SKU, rolling-origin backtests and demand-distribution fits.

Forecasting models (one weekly series per SKU; every model returns a non-negative path):

- ``seasonal_naive``: the value one season (52 weeks) earlier; the reference of MASE.
- ``holt_winters``: statsmodels ``ExponentialSmoothing``, damped additive trend and additive
  yearly season (needs two seasons of history; with less it drops the season).
- ``fourier``: trend + yearly Fourier terms (statsmodels ``DeterministicProcess``) fitted by
  OLS; robust to the weekly noise that makes 52 free seasonal states overfit.
- ``croston``: Croston's method with the Syntetos-Boylan bias correction (SBA) for
  intermittent demand (statsmodels has none; see :func:`croston_sba`).

Each SKU gets the model with the lowest WAPE in a rolling-origin backtest: ``backtest_folds``
origins, ``backtest_horizon_weeks`` apart, ending at the last history week; at each origin
the models see only the weeks before it.

Demand distributions: the simulator draws demand around the forecast
(:mod:`inventory.scenarios`). Its dispersion is fitted here to the backtest pairs
(actual demand, out-of-sample forecast mean) by maximum likelihood with scipy.stats, the
mean fixed at the forecast and the location at 0, for Poisson, negative binomial
(variance ``mu + mu**2/k``) and gamma (shape ``k``, scale ``mu/k``, rounded to whole units,
so its likelihood is that of the rounded value); the family with the lowest AIC wins.
Fallback: a SKU with fewer than ``min_points`` backtest weeks of positive forecast, or fewer
than ``min_nonzero_points`` nonzero demands (or no history at all), gets
``fallback_family`` with ``fallback_dispersion`` from params.yaml, recorded as such.

Prediction quantiles of the forecast are the quantiles of that fitted distribution at the
forecast mean. Without any history (the seed format), the given forecast is used as is.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa
from scipy import optimize, stats

from inventory.config import ForecastConfig, default_config
from inventory.data.schemas import ONLY_EMPTY_IS_MISSING
from inventory.identifiers import csv_safe
from inventory.io import read_json, write_csv, write_json
from inventory.scenarios import FAMILIES, DemandModel

__all__ = [
    "MODELS",
    "SKU_METRICS",
    "FittedDistribution",
    "SkuFit",
    "Backtest",
    "SkuForecast",
    "ForecastResult",
    "seasonal_naive",
    "holt_winters",
    "fourier_regression",
    "croston_sba",
    "intermittent",
    "rolling_origins",
    "backtest_series",
    "forecast_errors",
    "fit_distribution",
    "fit_demand_model",
    "fit_demand_sku",
    "forecast_sku",
    "quantile_columns",
    "demand_quantiles",
    "forecast_tables",
    "forecast_schema",
    "save_demand_model",
    "demand_model_table",
    "write_forecast",
    "read_forecast",
    "planning_forecast",
]

ForecastFn = Callable[[np.ndarray, int, ForecastConfig], np.ndarray]
SKU_METRICS = ("wape", "bias", "mase", "rmse")


# --------------------------------------------------------------------------- models


def _level(history: np.ndarray, weeks: int = 13) -> float:
    return float(history[-weeks:].mean()) if history.size else 0.0


def seasonal_naive(history: np.ndarray, steps: int, config: ForecastConfig) -> np.ndarray:
    """The value one season earlier; the mean of the last 13 weeks when history is shorter."""
    season = config.season_length_weeks
    if history.size < season:
        return np.full(steps, _level(history))
    last_season = history[-season:]
    return np.resize(last_season, steps).astype(float)


def holt_winters(history: np.ndarray, steps: int, config: ForecastConfig) -> np.ndarray:
    """Holt-Winters (statsmodels): damped additive trend, additive season (if 2 seasons)."""
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    season = config.season_length_weeks
    if history.size < 10 or np.all(history == history[0]):
        return np.full(steps, _level(history))
    seasonal = "add" if history.size >= 2 * season else None
    model = ExponentialSmoothing(
        history,
        trend="add",
        damped_trend=True,
        seasonal=seasonal,
        seasonal_periods=season if seasonal else None,
        initialization_method="heuristic" if seasonal else "estimated",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted = model.fit(use_brute=False)
    return np.maximum(np.asarray(fitted.forecast(steps), dtype=float), 0.0)


def fourier_regression(history: np.ndarray, steps: int, config: ForecastConfig) -> np.ndarray:
    """Linear trend + ``fourier_order`` yearly harmonics, OLS (statsmodels).

    The fitted trend is extrapolated linearly (clipped at zero); without a full season of
    history the harmonics are dropped.
    """
    import statsmodels.api as sm
    from statsmodels.tsa.deterministic import DeterministicProcess, Fourier

    season = config.season_length_weeks
    if history.size < 8:
        return np.full(steps, _level(history))
    terms = [Fourier(season, config.fourier_order)] if history.size >= season else []
    process = DeterministicProcess(
        pd.RangeIndex(history.size), constant=True, order=1, additional_terms=terms
    )
    fit = sm.OLS(history, process.in_sample()).fit()
    future = process.out_of_sample(steps)
    return np.maximum(np.asarray(fit.predict(future), dtype=float), 0.0)


def croston_sba(history: np.ndarray, steps: int, config: ForecastConfig) -> np.ndarray:
    """Croston's method with the Syntetos-Boylan approximation (SBA).

    Demand sizes ``z`` and inter-demand intervals ``p`` (weeks between nonzero demands)
    are smoothed separately with ``alpha = croston_alpha``, updated only in weeks with
    demand; initialised with the first nonzero demand and the weeks up to it. The flat
    forecast is ``(1 - alpha/2) * z / p``, the SBA correction of Croston's upward bias.

    Example: weeks [0, 0, 6, 0, 4] with alpha 0.5 -> z = 6, p = 3 after week 3; after
    week 5: z = 5, p = 2.5; forecast 0.75 * 5 / 2.5 = 1.5.
    """
    alpha = config.croston_alpha
    demand_weeks = np.flatnonzero(history > 0)
    if demand_weeks.size == 0:
        return np.zeros(steps)
    size = float(history[demand_weeks[0]])
    interval = float(demand_weeks[0] + 1)
    for previous, week in zip(demand_weeks[:-1], demand_weeks[1:], strict=True):
        size += alpha * (history[week] - size)
        interval += alpha * ((week - previous) - interval)
    return np.full(steps, (1 - alpha / 2) * size / interval)


MODELS: dict[str, ForecastFn] = {
    "seasonal_naive": seasonal_naive,
    "holt_winters": holt_winters,
    "fourier": fourier_regression,
    "croston": croston_sba,
}


def _check_models(config: ForecastConfig) -> None:
    unknown = sorted(set(config.models) - set(MODELS))
    if unknown or not config.models:
        raise ValueError(
            f"forecast.models: unknown {unknown or 'empty list'}; allowed: {', '.join(MODELS)}"
        )


# --------------------------------------------------------------------------- backtest


def rolling_origins(n_weeks: int, config: ForecastConfig) -> list[int]:
    """Backtest origins (index of the first forecast week), oldest first.

    Origins are ``backtest_horizon_weeks`` apart and the last fold ends at the last week;
    origins leaving fewer than 8 training weeks are dropped.
    """
    horizon = config.backtest_horizon_weeks
    origins = [
        n_weeks - horizon * (config.backtest_folds - i) for i in range(config.backtest_folds)
    ]
    return [origin for origin in origins if origin >= 8]


@dataclass(frozen=True)
class Backtest:
    """Out-of-sample forecasts of one series.

    Attributes:
        origins: Fold origins (index into the history).
        index: History index of each backtest week, shape (B,).
        actual: Demand in those weeks (B,).
        predictions: Model name -> forecasts of those weeks (B,).
        scale: MASE scale: in-sample MAE of the seasonal naive before the first origin.
    """

    origins: list[int]
    index: np.ndarray
    actual: np.ndarray
    predictions: dict[str, np.ndarray]
    scale: float


def _mase_scale(train: np.ndarray, season: int) -> float:
    lag = season if train.size > season else 1
    if train.size <= lag:
        return float("nan")
    return float(np.mean(np.abs(train[lag:] - train[:-lag])))


def backtest_series(history: np.ndarray, config: ForecastConfig) -> Backtest:
    """Rolling-origin backtest of every model in ``config.models`` on one series.

    At each origin a model is given ``history[:origin]`` only, so no future week leaks in.
    """
    _check_models(config)
    origins = rolling_origins(history.size, config)
    horizon = config.backtest_horizon_weeks
    predictions: dict[str, list[np.ndarray]] = {name: [] for name in config.models}
    for origin in origins:
        train = history[:origin]
        for name in config.models:
            predictions[name].append(MODELS[name](train, horizon, config))
    index = (
        np.concatenate([np.arange(o, o + horizon) for o in origins])
        if origins
        else np.zeros(0, int)
    )
    return Backtest(
        origins=origins,
        index=index,
        actual=history[index].astype(float),
        predictions={k: np.concatenate(v) if v else np.zeros(0) for k, v in predictions.items()},
        scale=_mase_scale(
            history[: origins[0]] if origins else history, config.season_length_weeks
        ),
    )


def forecast_errors(actual: np.ndarray, predicted: np.ndarray, scale: float) -> dict[str, float]:
    """WAPE = sum|e| / sum(actual), bias = sum(e) / sum(actual) (e = forecast - actual),
    MASE = mean|e| / scale (scale: in-sample MAE of the seasonal naive), RMSE; NaN when
    undefined."""
    error = predicted - actual
    total = float(actual.sum())
    return {
        "wape": float(np.abs(error).sum() / total) if total > 0 else float("nan"),
        "bias": float(error.sum() / total) if total > 0 else float("nan"),
        "mase": float(np.abs(error).mean() / scale) if scale > 0 and error.size else float("nan"),
        "rmse": float(np.sqrt(np.mean(error**2))) if error.size else float("nan"),
    }


def intermittent(history: np.ndarray, config: ForecastConfig) -> bool:
    """Whether the average inter-demand interval (weeks per nonzero week, ADI) exceeds
    ``intermittent_adi`` (Syntetos and Boylan's 1.32)."""
    nonzero = int((history > 0).sum())
    return nonzero == 0 or history.size / nonzero > config.intermittent_adi


def _choose(errors: dict[str, dict[str, float]], is_intermittent: bool = False) -> str:
    """The model with the lowest backtest WAPE (ties and NaN: the first listed).

    Intermittent SKUs are chosen by RMSE instead, without seasonal naive: absolute-error
    metrics reward forecasts near the median, which is zero for such demand, while the
    simulator needs the mean; and seasonal naive would put zero mean (so zero simulated
    demand) on every week that happened to have none a year ago.
    """
    metric = "rmse" if is_intermittent else "wape"
    scores = {
        name: e[metric]
        for name, e in errors.items()
        if not (is_intermittent and name == "seasonal_naive")
    }
    finite = {name: score for name, score in scores.items() if np.isfinite(score)}
    return min(finite, key=finite.get) if finite else next(iter(errors))  # type: ignore[arg-type]


# --------------------------------------------------------------------------- distributions


@dataclass(frozen=True)
class FittedDistribution:
    """A maximum-likelihood fit of one family.

    Attributes:
        family: One of :data:`inventory.scenarios.FAMILIES`.
        mean: Fitted mean (iid fits) or the mean of the given forecast means.
        dispersion: NB size or gamma shape (``inf`` for Poisson).
        loglik: Maximised log-likelihood.
        aic: ``2 * n_params - 2 * loglik``.
        n_points: Observations used.
    """

    family: str
    mean: float
    dispersion: float
    loglik: float
    aic: float
    n_points: int


def _loglik(family: str, demand: np.ndarray, mean: np.ndarray, dispersion: float) -> float:
    if family == "poisson":
        return float(stats.poisson.logpmf(demand, mean).sum())
    if family == "negative_binomial":
        return float(
            stats.nbinom.logpmf(demand, dispersion, dispersion / (dispersion + mean)).sum()
        )
    # gamma rounded to whole units (as the simulator draws it): P(round(X) = y)
    scale = mean / dispersion
    upper = stats.gamma.cdf(demand + 0.5, dispersion, scale=scale)
    lower = stats.gamma.cdf(np.maximum(demand - 0.5, 0.0), dispersion, scale=scale)
    return float(np.log(np.maximum(upper - lower, 1e-300)).sum())


def _moment_dispersion(demand: np.ndarray, mean: np.ndarray, family: str) -> float:
    residual_var = float(np.mean((demand - mean) ** 2))
    mu2 = float(np.mean(mean**2))
    excess = residual_var - (float(mean.mean()) if family == "negative_binomial" else 0.0)
    return float(np.clip(mu2 / excess, 0.05, 1e4)) if excess > 0 else 1e3


def _fit_dispersion(family: str, demand: np.ndarray, mean: np.ndarray) -> tuple[float, float]:
    """(dispersion, loglik) maximising the likelihood over log-dispersion, mean fixed."""
    if family == "poisson":
        return float("inf"), _loglik("poisson", demand, mean, 1.0)
    start = np.log(_moment_dispersion(demand, mean, family))
    result = optimize.minimize_scalar(
        lambda log_k: -_loglik(family, demand, mean, float(np.exp(log_k))),
        bounds=(min(start, np.log(1e-3)) - 1, max(start, np.log(1e5)) + 1),
        method="bounded",
        options={"xatol": 1e-6},
    )
    return float(np.exp(result.x)), float(-result.fun)


def fit_distribution(
    demand: np.ndarray, family: str, mean: np.ndarray | None = None
) -> FittedDistribution:
    """Maximum-likelihood fit of one family (location fixed at 0).

    Args:
        demand: Observed whole-unit demands, shape (n,).
        family: ``poisson``, ``negative_binomial`` or ``gamma``.
        mean: Known mean of each observation (e.g. its forecast), shape (n,), all > 0;
            ``None`` fits one common mean as well (iid sample).
    """
    if family not in FAMILIES:
        raise ValueError(f"family {family!r} unknown; allowed: {', '.join(FAMILIES)}")
    demand = np.asarray(demand, dtype=float)
    if mean is not None:
        mean = np.asarray(mean, dtype=float)
        dispersion, loglik = _fit_dispersion(family, demand, mean)
        n_params = 0 if family == "poisson" else 1
        return FittedDistribution(
            family, float(mean.mean()), dispersion, loglik, 2 * n_params - 2 * loglik, demand.size
        )
    return _fit_iid(demand, family)


def _fit_iid(demand: np.ndarray, family: str) -> FittedDistribution:
    """Joint fit of a common mean and the dispersion (Nelder-Mead on the logs)."""
    start_mean = max(float(demand.mean()), 1e-6)
    if family == "poisson":
        loglik = _loglik("poisson", demand, np.full(demand.size, start_mean), 1.0)
        return FittedDistribution(
            family, start_mean, float("inf"), loglik, 2 - 2 * loglik, demand.size
        )
    start_k = _moment_dispersion(demand, np.full(demand.size, start_mean), family)

    def negative(params: np.ndarray) -> float:
        mu, k = np.exp(params)
        return -_loglik(family, demand, np.full(demand.size, mu), float(k))

    result = optimize.minimize(
        negative,
        np.log([start_mean, start_k]),
        method="Nelder-Mead",
        options={"xatol": 1e-6, "fatol": 1e-6, "maxiter": 2000},
    )
    mu, k = np.exp(result.x)
    loglik = float(-result.fun)
    return FittedDistribution(family, float(mu), float(k), loglik, 4 - 2 * loglik, demand.size)


@dataclass(frozen=True)
class SkuFit:
    """The chosen demand distribution of one SKU and why."""

    family: str
    dispersion: float
    method: str  # "mle" or "fallback: <reason>"
    n_points: int
    aic: dict[str, float]


def fit_demand_sku(actual: np.ndarray, mean: np.ndarray, config: ForecastConfig) -> SkuFit:
    """Fit every family to (actual, forecast-mean) pairs and keep the lowest AIC.

    Weeks with a zero forecast carry no information on the dispersion and are dropped.
    Too little data -> the params fallback (module docstring). A Poisson winner gets the
    placeholder dispersion ``fallback_dispersion`` (ignored by the sampler).
    """
    keep = mean > 1e-9
    actual, mean = np.rint(actual[keep]), mean[keep]
    nonzero = int((actual > 0).sum())
    if actual.size < config.min_points or nonzero < config.min_nonzero_points:
        reason = f"fallback: {actual.size} weeks, {nonzero} nonzero"
        return SkuFit(config.fallback_family, config.fallback_dispersion, reason, actual.size, {})
    fits = {family: fit_distribution(actual, family, mean) for family in FAMILIES}
    best = min(fits.values(), key=lambda f: f.aic)
    dispersion = best.dispersion if np.isfinite(best.dispersion) else config.fallback_dispersion
    aic = {name: round(f.aic, 3) for name, f in fits.items()}
    return SkuFit(best.family, float(dispersion), "mle", actual.size, aic)


def fit_demand_model(
    actual: np.ndarray, mean: np.ndarray, config: ForecastConfig
) -> tuple[DemandModel, list[SkuFit]]:
    """Per-SKU fits of demand around its forecast.

    Args:
        actual: Demand, shape (B, P) (B backtest weeks; NaN = not observed).
        mean: Out-of-sample forecast of the same weeks, shape (B, P).
        config: The ``forecast`` group (fallback and minimum data).

    Returns:
        The :class:`DemandModel` the simulator samples from, and per-SKU fit details.
    """
    fits = []
    for column in range(actual.shape[1]):
        seen = np.isfinite(actual[:, column]) & np.isfinite(mean[:, column])
        fits.append(fit_demand_sku(actual[seen, column], mean[seen, column], config))
    model = DemandModel(tuple(f.family for f in fits), np.array([f.dispersion for f in fits]))
    return model, fits


def demand_quantiles(
    mean: np.ndarray, family: str, dispersion: float, quantile: float
) -> np.ndarray:
    """Whole-unit ``quantile`` of the simulator's demand distribution at ``mean``."""
    mean = np.maximum(np.asarray(mean, dtype=float), 1e-12)
    if family == "poisson":
        values = stats.poisson.ppf(quantile, mean)
    elif family == "negative_binomial":
        values = stats.nbinom.ppf(quantile, dispersion, dispersion / (dispersion + mean))
    else:
        values = np.rint(stats.gamma.ppf(quantile, dispersion, scale=mean / dispersion))
    return np.where(mean > 1e-9, values, 0.0)


# --------------------------------------------------------------------------- one location


@dataclass(frozen=True)
class SkuForecast:
    """Backtest and forecast of one SKU."""

    sku: str
    model: str
    errors: dict[str, dict[str, float]]
    backtest: Backtest
    history_weeks: pd.DatetimeIndex
    weeks: pd.DatetimeIndex
    forecast: np.ndarray
    adi: float


def _weekly_series(history: pd.DataFrame, sku: str, weeks: pd.DatetimeIndex) -> np.ndarray:
    rows = history[history["sku"] == sku].set_index("week")["demand"]
    return rows.reindex(weeks, fill_value=0.0).to_numpy(dtype=float)


def _steps_ahead(last_history_week: pd.Timestamp, planning: pd.DatetimeIndex) -> np.ndarray:
    steps = ((planning - last_history_week).days // 7).to_numpy()
    if steps.min() < 1:
        raise ValueError(
            f"forecast weeks from {planning.min():%Y-%m-%d} overlap the demand history "
            f"(last week {last_history_week:%Y-%m-%d}); the forecast must start after it"
        )
    return steps


def forecast_sku(
    series: np.ndarray,
    weeks: pd.DatetimeIndex,
    planning: pd.DatetimeIndex,
    sku: str,
    config: ForecastConfig,
) -> SkuForecast:
    """Backtest the models on one SKU's weekly series and forecast the planning weeks."""
    backtest = backtest_series(series, config)
    errors: dict[str, dict[str, float]] = {
        name: forecast_errors(backtest.actual, backtest.predictions[name], backtest.scale)
        for name in config.models
    }
    model = _choose(errors, intermittent(series, config))
    steps = _steps_ahead(weeks[-1], planning)
    path = MODELS[model](series, int(steps.max()), config)
    nonzero = max(int((series > 0).sum()), 1)
    return SkuForecast(
        sku, model, errors, backtest, weeks, planning, path[steps - 1], series.size / nonzero
    )


@dataclass(frozen=True)
class ForecastResult:
    """Everything the forecast stage writes for all locations.

    Attributes:
        forecast: sku, location, week, forecast, q.., model (the stage output).
        by_sku: Backtest metrics per SKU and model, and the chosen model.
        backtest: sku, location, week, demand, forecast (chosen model, out of sample), fold.
        demand_models: location -> (skus, DemandModel, fit details).
        summary: The small metrics JSON.
    """

    forecast: pd.DataFrame
    by_sku: pd.DataFrame
    backtest: pd.DataFrame
    demand_models: dict[str, tuple[list[str], DemandModel, list[SkuFit]]]
    summary: dict[str, Any]


def quantile_columns(config: ForecastConfig) -> list[str]:
    """Column names of the prediction quantiles, e.g. ``q10``."""
    return [f"q{round(q * 100):02d}" for q in config.quantiles]


def _location_forecast(
    history: pd.DataFrame,
    given: pd.DataFrame,
    location: str,
    skus: list[str],
    config: ForecastConfig,
) -> tuple[list[SkuForecast], pd.DatetimeIndex, dict[str, pd.DataFrame]]:
    hist = history[history["location"] == location]
    given = given[given["location"] == location]
    weeks = (
        pd.date_range(hist["week"].min(), hist["week"].max(), freq="7D")
        if len(hist)
        else pd.DatetimeIndex([])
    )
    with_history = set(hist["sku"])
    results, plain = [], {}
    for sku in skus:
        planning = pd.DatetimeIndex(sorted(given.loc[given["sku"] == sku, "week"]))
        if sku in with_history and len(planning):
            series = _weekly_series(hist, sku, weeks)
            results.append(forecast_sku(series, weeks, planning, sku, config))
        else:
            plain[sku] = given[given["sku"] == sku]
    return results, weeks, plain


def forecast_tables(
    history: pd.DataFrame, given: pd.DataFrame, catalog: pd.DataFrame, config: ForecastConfig
) -> ForecastResult:
    """Forecast every SKU of every location over the weeks of the given forecast.

    Args:
        history: sku, location, week, demand (may be empty: the given forecast is kept).
        given: The given forecast (sku, location, week, forecast): defines the planning weeks.
        catalog: sku, location of the SKUs to plan.
        config: The ``forecast`` group.
    """
    from threadpoolctl import threadpool_limits

    _check_models(config)
    # hundreds of tiny statsmodels fits: multithreaded BLAS only adds overhead (3-4x slower)
    with threadpool_limits(limits=1, user_api="blas"):
        return _forecast_all(history, given, catalog, config)


def _forecast_all(
    history: pd.DataFrame, given: pd.DataFrame, catalog: pd.DataFrame, config: ForecastConfig
) -> ForecastResult:
    parts: dict[str, list[pd.DataFrame]] = {"forecast": [], "by_sku": [], "backtest": []}
    models = {}
    for location in sorted(catalog["location"].unique()):
        skus = catalog.loc[catalog["location"] == location, "sku"].tolist()
        results, _, plain = _location_forecast(history, given, location, skus, config)
        fitted = _fit_location(results, skus, config)
        models[location] = (skus, *fitted)
        parts["forecast"].append(_forecast_frame(results, plain, location, fitted[0], skus, config))
        parts["by_sku"].append(_metrics_frame(results, location))
        parts["backtest"].append(_backtest_frame(results, location))
    frames = {k: pd.concat(v, ignore_index=True) if v else pd.DataFrame() for k, v in parts.items()}
    forecast = forecast_schema(config).validate(frames["forecast"], lazy=True)
    summary = _summary(frames["by_sku"], frames["backtest"], catalog, models, config)
    return ForecastResult(forecast, frames["by_sku"], frames["backtest"], models, summary)


def _fit_location(
    results: list[SkuForecast], skus: list[str], config: ForecastConfig
) -> tuple[DemandModel, list[SkuFit]]:
    """Demand model of all ``skus`` (those without a backtest get the fallback)."""
    by_sku = {r.sku: r for r in results}
    length = max((r.backtest.index.size for r in results), default=0)
    actual = np.full((length, len(skus)), np.nan)
    mean = np.full((length, len(skus)), np.nan)
    for column, sku in enumerate(skus):
        if sku in by_sku:
            bt = by_sku[sku].backtest
            actual[: bt.index.size, column] = bt.actual
            mean[: bt.index.size, column] = bt.predictions[by_sku[sku].model]
    return fit_demand_model(actual, mean, config)


def _forecast_frame(
    results: list[SkuForecast],
    plain: dict[str, pd.DataFrame],
    location: str,
    model: DemandModel,
    skus: list[str],
    config: ForecastConfig,
) -> pd.DataFrame:
    rows = []
    for r in results:
        rows.append(
            pd.DataFrame({"sku": r.sku, "week": r.weeks, "forecast": r.forecast, "model": r.model})
        )
    for given in plain.values():
        rows.append(given[["sku", "week", "forecast"]].assign(model="given"))
    frame = (
        pd.concat(rows, ignore_index=True)
        if rows
        else pd.DataFrame(columns=["sku", "week", "forecast", "model"])
    )
    frame.insert(1, "location", location)
    frame["forecast"] = frame["forecast"].astype(float).round(4)
    index = {sku: i for i, sku in enumerate(skus)}
    for name, q in zip(quantile_columns(config), config.quantiles, strict=True):
        frame[name] = _quantiles_of(frame, model, index, q)
    ordered = ["sku", "location", "week", "forecast", *quantile_columns(config), "model"]
    return frame[ordered].sort_values(["sku", "week"], ignore_index=True)


def _quantiles_of(
    frame: pd.DataFrame, model: DemandModel, index: dict[str, int], quantile: float
) -> np.ndarray:
    out = np.zeros(len(frame))
    for sku, rows in frame.groupby("sku").groups.items():
        column = index[sku]
        out[frame.index.get_indexer(rows)] = demand_quantiles(
            frame.loc[rows, "forecast"].to_numpy(),
            model.family[column],
            float(model.dispersion[column]),
            quantile,
        )
    return out


def _metrics_frame(results: list[SkuForecast], location: str) -> pd.DataFrame:
    rows = []
    for r in results:
        row: dict[str, Any] = {"sku": r.sku, "location": location, "model": r.model}
        row.update({f"chosen_{name}": r.errors[r.model][name] for name in SKU_METRICS})
        for model, errors in r.errors.items():
            row.update({f"{model}_{name}": errors[name] for name in SKU_METRICS})
        row["adi"] = round(r.adi, 3)
        row["backtest_weeks"] = int(r.backtest.index.size)
        row["demand_sum"] = float(r.backtest.actual.sum())
        rows.append(row)
    return pd.DataFrame(rows)


def _backtest_frame(results: list[SkuForecast], location: str) -> pd.DataFrame:
    rows = []
    for r in results:
        bt, horizon = r.backtest, r.backtest.index.size // max(len(r.backtest.origins), 1)
        rows.append(
            pd.DataFrame(
                {
                    "sku": r.sku,
                    "location": location,
                    "week": r.history_weeks[bt.index],
                    "demand": bt.actual,
                    "forecast": bt.predictions[r.model].round(4),
                    "seasonal_naive": bt.predictions.get(
                        "seasonal_naive", np.full(bt.index.size, np.nan)
                    ),
                    "fold": np.repeat(np.arange(len(bt.origins)), horizon),
                }
            )
        )
    return (
        pd.concat(rows, ignore_index=True)
        if rows
        else pd.DataFrame(
            columns=["sku", "location", "week", "demand", "forecast", "seasonal_naive", "fold"]
        )
    )


def _overall(backtest: pd.DataFrame, column: str) -> dict[str, float | None]:
    error = backtest[column] - backtest["demand"]
    total = float(backtest["demand"].sum())
    return {
        "wape": round(float(error.abs().sum() / total), 4) if total > 0 else None,
        "bias": round(float(error.sum() / total), 4) if total > 0 else None,
    }


def _summary(
    by_sku: pd.DataFrame,
    backtest: pd.DataFrame,
    catalog: pd.DataFrame,
    models: dict[str, tuple[list[str], DemandModel, list[SkuFit]]],
    config: ForecastConfig,
) -> dict[str, Any]:
    fits = [fit for _, _, location_fits in models.values() for fit in location_fits]
    summary: dict[str, Any] = {
        "n_skus": len(catalog),
        "n_forecast_skus": len(by_sku),
        "families": dict(pd.Series([f.family for f in fits]).value_counts().sort_index()),
        "fallback_fits": sum(f.method != "mle" for f in fits),
    }
    if by_sku.empty:
        summary["source"] = "given"
        summary["note"] = (
            "no demand history: the given forecast is used as is (no backtest); demand "
            f"distributions are the fallback {config.fallback_family} "
            f"(dispersion {config.fallback_dispersion})"
        )
        return summary
    summary["source"] = "backtest" if len(by_sku) == len(catalog) else "backtest+given"
    chosen = _overall(backtest, "forecast")
    naive = _overall(backtest, "seasonal_naive") if "seasonal_naive" in config.models else {}
    summary["overall"] = {
        **chosen,
        "mase": round(float(by_sku["chosen_mase"].mean()), 4),
        "seasonal_naive_wape": naive.get("wape"),
        "seasonal_naive_bias": naive.get("bias"),
    }
    summary["models"] = dict(by_sku["model"].value_counts().sort_index())
    summary["backtest"] = {
        "folds": config.backtest_folds,
        "horizon_weeks": config.backtest_horizon_weeks,
    }
    return summary


# --------------------------------------------------------------------------- schema, files


def forecast_schema(config: ForecastConfig) -> pa.DataFrameSchema:
    """Pandera schema of the forecast stage output (``artifacts/forecast.csv``)."""
    number: dict[str, Any] = {"nullable": False, "checks": [pa.Check.ge(0)]}
    names = quantile_columns(config)
    ordered = pa.Check(
        lambda df: (df[names].diff(axis=1).iloc[:, 1:] >= 0).all(axis=1),
        error="prediction quantiles must be non-decreasing",
    )
    return pa.DataFrameSchema(
        {
            "sku": pa.Column(str, pa.Check.str_length(min_value=1)),
            "location": pa.Column(str, pa.Check.str_length(min_value=1)),
            "week": pa.Column(
                "datetime64[ns]",
                pa.Check(lambda s: s.dt.dayofweek == 0, error="week must be a Monday"),
            ),
            "forecast": pa.Column(float, **number),
            **{name: pa.Column(float, **number) for name in names},
            "model": pa.Column(str, pa.Check.isin([*MODELS, "given"])),
        },
        checks=[ordered] if len(names) > 1 else [],
        unique=["sku", "location", "week"],
        strict=True,
        coerce=False,
    )


def save_demand_model(
    path: str | Path, models: dict[str, tuple[list[str], DemandModel, list[SkuFit]]]
) -> Path:
    """Write per-location demand models (family, dispersion and fit details per SKU)."""
    payload = {
        "locations": {
            location: {
                "skus": list(skus),
                "family": list(model.family),
                "dispersion": [round(float(k), 6) for k in model.dispersion],
                "method": [f.method for f in fits],
                "n_points": [f.n_points for f in fits],
                "aic": [f.aic for f in fits],
            }
            for location, (skus, model, fits) in models.items()
        }
    }
    return write_json(path, payload)


def demand_model_table(path: str | Path) -> pd.DataFrame:
    """The saved demand models as a table: location, sku, family, dispersion."""
    path = Path(path)
    if not path.exists():
        raise ValueError(f"{path}: no fitted demand model; run `inventory forecast` first")
    rows = [
        pd.DataFrame(
            {
                "location": location,
                "sku": entry["skus"],
                "family": entry["family"],
                "dispersion": entry["dispersion"],
            }
        )
        for location, entry in read_json(path)["locations"].items()
    ]
    return pd.concat(rows, ignore_index=True)


def write_forecast(
    result: ForecastResult,
    *,
    forecast: Path,
    demand_model: Path,
    backtest: Path,
    metrics: Path,
    by_sku: Path,
    detail: Path | None = None,
) -> dict[str, str]:
    """Write the forecast stage's outputs atomically; return name -> path.

    Args:
        result: What :func:`forecast_tables` computed.
        forecast: CSV of the forecast and its quantiles.
        demand_model: JSON of the fitted demand models.
        backtest: CSV of the out-of-sample backtest forecasts (the drift reference).
        metrics: JSON of the summary metrics; with ``detail``, only the headline
            (``n_skus``, ``source`` and ``overall``: WAPE, bias, MASE, seasonal naive).
        by_sku: CSV of the metrics per SKU.
        detail: JSON of every summary figure (model and family counts, backtest folds).
    """
    paths = {
        "forecast": write_csv(forecast, _dated(result.forecast)),
        "demand_model": save_demand_model(demand_model, result.demand_models),
        "backtest": write_csv(backtest, _dated(result.backtest)),
        "metrics": write_json(metrics, _headline(result.summary) if detail else result.summary),
        "by_sku": write_csv(by_sku, csv_safe(result.by_sku.round(5))),
    }
    if detail is not None:
        paths["detail"] = write_json(detail, result.summary)
    return {name: str(path) for name, path in paths.items()}


def _headline(summary: dict) -> dict:
    """What ``dvc metrics show`` lists for the forecast: SKUs, source, overall accuracy."""
    return {key: summary[key] for key in ("n_skus", "source", "overall") if key in summary}


def _dated(frame: pd.DataFrame) -> pd.DataFrame:
    if frame.empty or "week" not in frame:
        return frame
    return frame.assign(week=pd.to_datetime(frame["week"]).dt.strftime("%Y-%m-%d"))


def read_forecast(path: str | Path, config: ForecastConfig | None = None) -> pd.DataFrame:
    """Read ``artifacts/forecast.csv`` back (ids as text, weeks as dates), validated.

    Its sku, location, week and forecast columns are a drop-in ``forecast`` override for
    :func:`inventory.data.build_instance`.

    Raises:
        ValueError: the file is missing (run ``inventory forecast``) or invalid.
    """
    path = Path(path)
    if not path.exists():
        raise ValueError(f"{path}: not found; run `inventory forecast` first")
    frame = pd.read_csv(
        path, dtype={"sku": str, "location": str, "model": str}, **ONLY_EMPTY_IS_MISSING
    )
    frame["week"] = pd.to_datetime(frame["week"])
    for column in frame.columns.drop(["sku", "location", "week", "model"], errors="ignore"):
        frame[column] = frame[column].astype(float)
    try:
        return forecast_schema(config or default_config().forecast).validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases[["column", "check", "index", "failure_case"]]
        raise ValueError(
            f"{path}: invalid forecast file (written with other forecast settings? rerun "
            f"`inventory forecast`):\n{cases.head(10).to_string(index=False)}"
        ) from exc


def planning_forecast(
    path: str | Path, config: ForecastConfig | None = None
) -> pd.DataFrame | None:
    """The forecast stage's forecast as a ``forecast`` override for
    :func:`inventory.data.build_instance` / ``load_instance`` (sku, location, week,
    forecast), or None when the stage has not run yet."""
    if not Path(path).exists():
        return None
    return read_forecast(path, config)[["sku", "location", "week", "forecast"]]
