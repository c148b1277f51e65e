"""The synthetic generator: determinism, the promised shape, a sensible default instance,
and the committed data.dvc matching what the generator writes."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from inventory import stages
from inventory.config import Config, load_config
from inventory.data import FILES, build_instance, generate_tables, load_tables
from inventory.dynamics import simulate
from inventory.policies import OrderUpTo
from inventory.scenarios import deterministic_demand


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Config:
    shipped = load_config(Path(__file__).resolve().parents[2] / "params.yaml")
    folder = tmp_path_factory.mktemp("data")
    return shipped.model_copy(update={"data": shipped.data.model_copy(update={"dir": str(folder)})})


@pytest.fixture(scope="module")
def written(config: Config) -> Path:
    stages.generate(config)
    return Path(config.data.dir)


def _digest(folder: Path) -> dict[str, str]:
    return {name: hashlib.md5((folder / name).read_bytes()).hexdigest() for name in FILES.values()}


def test_same_seed_same_bytes_other_seed_other_bytes(
    config: Config, written: Path, tmp_path: Path
) -> None:
    stages.generate(config, tmp_path / "again")
    assert _digest(tmp_path / "again") == _digest(written)
    other = config.model_copy(update={"data": config.data.model_copy(update={"seed": 7})})
    stages.generate(other, tmp_path / "other")
    assert (
        _digest(tmp_path / "other")["demand_history.csv"] != _digest(written)["demand_history.csv"]
    )


def test_generated_files_validate(written: Path) -> None:
    tables = load_tables(written)
    assert len(tables.catalog) == 25
    assert tables.locations() == ["L1"]
    assert tables.history.groupby("sku").size().min() >= 156
    assert tables.forecast.groupby("sku").size().eq(52).all()
    assert len(tables.open_pos) > 0


def test_ranges_and_costs(written: Path) -> None:
    catalog = load_tables(written).catalog
    assert catalog["volume"].between(1.5, 40).all()
    assert catalog["lead_time_weeks"].between(2, 8).all()
    assert catalog["lead_time_weeks"].nunique() > 3
    assert catalog["safety_stock_weeks"].between(2, 8).all()
    assert catalog["lost_sale_cost"].between(30, 40).all()
    np.testing.assert_allclose(catalog["overstock_cost"], catalog["lost_sale_cost"] / 2)
    np.testing.assert_allclose(catalog["understock_cost"], catalog["lost_sale_cost"] / 3, atol=1e-4)
    assert (catalog["ramp_limit"] >= 1).all()
    assert load_tables(written).warehouse["container_volume"].eq(2350).all()


def test_yearly_seasonality_is_visible(written: Path) -> None:
    history = load_tables(written).history
    total = history.groupby("week")["demand"].sum()
    quarter = total.groupby((total.index - total.index[0]).days // 91).mean()
    # The quarters of one year differ far more than the Poisson noise of a quarter mean.
    assert quarter.max() / quarter.min() > 1.25
    # ... and the pattern repeats: same quarter one year apart correlates across years.
    by_week = total.to_numpy()[: 3 * 52].reshape(3, 52)
    assert np.corrcoef(by_week[1], by_week[2])[0, 1] > 0.5


def test_intermittent_skus_have_many_zero_weeks(written: Path) -> None:
    history = load_tables(written).history
    zero_share = history.assign(zero=history["demand"].eq(0)).groupby("sku")["zero"].mean()
    intermittent = zero_share[zero_share > 0.5]
    assert len(intermittent) == round(0.2 * 25)
    assert (zero_share.drop(intermittent.index) < 0.1).all()


def test_promotions_make_spikes(written: Path) -> None:
    history = load_tables(written).history
    ratio = history.groupby("sku")["demand"].apply(lambda s: s.max() / max(s.median(), 1))
    assert (ratio > 2).sum() >= 10


def test_default_instance_is_sensible(config: Config, written: Path) -> None:
    """Demand = forecast with a plain order-up-to rule: high fill rate, both constraints
    bind sometimes, nothing absurd."""
    instance = build_instance(load_tables(written), "L1", 52)
    volume = instance.forecast @ instance.volume
    assert 1.1 <= instance.capacity_volume / volume.mean() <= 1.3
    result = simulate(instance, deterministic_demand(instance), _OrderUpTo())
    fill_rate = result.sales.sum() / result.demand.sum()
    assert fill_rate > 0.95
    assert result.capacity_limited.any()
    assert result.ramp_limited.any()
    assert np.isfinite(result.total_cost()).all()


def _generated(config: Config, **update: object):
    data = config.data.model_copy(update=update)
    return build_instance(generate_tables(data), "L1", data.horizon_weeks)


def test_the_warehouse_grows_with_the_catalog(config: Config) -> None:
    """400 SKUs get 16 x the containers of 25, so each SKU's demand, its ramp limit and
    the planners' fill rate look like the default instance's; a fixed warehouse
    (``container_skus: null``) leaves each SKU a unit or two a week."""
    small, large = _generated(config), _generated(config, n_skus=400)
    assert (small.max_containers, large.max_containers) == (3, 48)
    ratio = large.forecast.mean() / small.forecast.mean()
    assert 0.67 <= ratio <= 1.5
    assert np.mean(large.ramp_limit == 1) < 0.2
    volume = large.forecast @ large.volume
    assert 1.1 <= large.capacity_volume / volume.mean() <= 1.3
    for instance in (small, large):
        result = simulate(instance, deterministic_demand(instance), OrderUpTo())
        assert result.sales.sum() / result.demand.sum() > 0.99
    fixed = _generated(config, n_skus=400, container_skus=None)
    assert fixed.max_containers == 3
    assert fixed.forecast.mean() < 0.1 * large.forecast.mean()


class _OrderUpTo:
    """Order up to lead-time demand plus safety stock, counting open POs as pipeline."""

    def reset(self, instance, n_scenarios) -> None:  # noqa: ANN001
        pass

    def act(self, instance, state, t):  # noqa: ANN001, ANN201
        horizon = instance.horizon_weeks
        level, due = np.zeros(instance.n_skus), np.zeros(instance.n_skus)
        for p, lead in enumerate(instance.lead_time_weeks):
            end = min(horizon, t + lead + 1)
            level[p] = instance.forecast[t:end, p].sum() + instance.target[end - 1, p]
            due[p] = instance.arrivals[t:end, p].sum()
        position = state.on_hand + state.in_transit() + due
        return np.maximum(0.0, level - position)


def test_committed_data_dvc_matches_generator(repo_root: Path, tmp_path: Path) -> None:
    """data.dvc records the directory hash DVC computes (dvc-data's own Tree digest: md5
    of the sorted JSON list of relpath + md5) of what the generator writes."""
    from dvc_data.hashfile.hash_info import HashInfo
    from dvc_data.hashfile.tree import Tree

    config = load_config(repo_root / "params.yaml")
    stages.generate(config, tmp_path)
    tree = Tree()
    for path in sorted(tmp_path.iterdir()):
        tree.add((path.name,), None, HashInfo("md5", hashlib.md5(path.read_bytes()).hexdigest()))
    tree.digest()
    out = yaml.safe_load((repo_root / "data.dvc").read_text())["outs"][0]
    assert out["path"] == "data"
    assert out["md5"] == tree.hash_info.value
    assert out["nfiles"] == len(FILES)
    assert out["size"] == sum(p.stat().st_size for p in tmp_path.iterdir())


def test_if_missing_keeps_existing_data(config: Config, written: Path) -> None:
    before = _digest(written)
    assert stages.generate(config, if_missing=True) == {}
    assert _digest(written) == before


def test_generator_rejects_a_start_week_that_is_not_a_monday(config: Config) -> None:
    bad = config.data.model_copy(update={"start_week": "2023-05-02"})
    with pytest.raises(ValueError, match="start_week"):
        generate_tables(bad)


def test_forecast_override_replaces_the_forecast(written: Path) -> None:
    tables = load_tables(written)
    override = tables.forecast.assign(forecast=tables.forecast["forecast"] * 2)
    base = build_instance(tables, "L1", 52)
    doubled = build_instance(tables, "L1", 52, forecast=override)
    np.testing.assert_allclose(doubled.forecast, 2 * base.forecast)
    assert isinstance(tables.forecast["week"].iloc[0], pd.Timestamp)


def test_a_small_catalog_keeps_the_default_warehouse() -> None:
    """The tests' and demos' small instances (4 SKUs) keep max_containers: scaling down
    to one container would change their demand per SKU."""
    from inventory.config import load_config
    from inventory.data.generate import containers_for_catalog

    data = load_config().data
    assert containers_for_catalog(data.model_copy(update={"n_skus": 4})) == data.max_containers
    assert containers_for_catalog(data.model_copy(update={"n_skus": 400})) == 48
