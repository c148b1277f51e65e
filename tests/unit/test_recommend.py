"""This week's orders: feasible, equal to the policy's first simulated week, explained."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from inventory.dynamics import simulate
from inventory.policies import BaseStock, DoNothing, OrderUpTo
from inventory.recommend import REASONS, apply_state, read_state, recommend_orders, to_markdown
from inventory.scenarios import DemandModel, sample_demand
from inventory.testing import make_instance


def policies(instance):
    return {
        "order_up_to": OrderUpTo(),
        "base_stock": BaseStock(instance.forecast.mean(axis=0) * 4),
        "do_nothing": DoNothing(),
    }


@pytest.mark.parametrize("seed", range(5))
def test_orders_respect_capacity_and_ramp(seed: int) -> None:
    instance = make_instance(8, 12, seed=seed, capacity_share=0.4, ramp_share=0.3)
    for name, policy in policies(instance).items():
        rec = recommend_orders(instance, policy, name)
        orders = rec.orders["order_units"].to_numpy(dtype=float)
        assert orders @ instance.volume <= instance.capacity_volume + 1e-9
        band_low = np.maximum(0, np.ceil(instance.last_order - instance.ramp_limit))
        # capacity wins over the ramp floor only when the floor itself does not fit
        if band_low @ instance.volume <= instance.capacity_volume:
            assert np.all(orders >= band_low)
        assert np.all(orders <= instance.last_order + instance.ramp_limit)
        assert rec.summary["containers"] <= instance.max_containers


@pytest.mark.parametrize("seed", range(5))
def test_orders_equal_first_week_of_the_simulator(seed: int) -> None:
    instance = make_instance(6, 10, seed=seed, capacity_share=0.6)
    model = DemandModel.uniform("negative_binomial", instance.n_skus)
    demand = sample_demand(instance, model, 16, seed=seed)
    for name, policy in policies(instance).items():
        rec = recommend_orders(instance, policy, name)
        simulated = simulate(instance, demand, policy).orders[:, 0]
        expected = np.broadcast_to(rec.orders["order_units"].to_numpy(), simulated.shape)
        np.testing.assert_array_equal(simulated, expected)


def test_reasons() -> None:
    instance = make_instance(5, 8, seed=1, capacity_share=5.0, ramp_share=0.5)
    rec = recommend_orders(instance, DoNothing(), "do_nothing")
    # last order is above the ramp limit for every SKU: ordering 0 is not allowed
    assert set(rec.orders["reason"]) == {"ramp-limited"}
    tight = make_instance(5, 8, seed=1, capacity_share=0.05, ramp_share=100.0)
    huge = BaseStock(np.full(5, 1e5))
    assert set(recommend_orders(tight, huge, "huge").orders["reason"]) == {"capacity-limited"}
    roomy = make_instance(5, 8, seed=1, capacity_share=100.0, ramp_share=1000.0)
    reasons = recommend_orders(roomy, OrderUpTo(), "order_up_to").orders
    assert set(reasons["reason"]) <= {"below target", "no order needed"}
    assert (reasons["reason"] == "below target").tolist() == (reasons["order_units"] > 0).tolist()
    assert set(REASONS) == {
        "capacity-limited",
        "ramp-limited",
        "below target",
        "no order needed",
        "covers later weeks",
    }


def test_an_order_the_arrival_week_does_not_need_covers_later_weeks() -> None:
    """A base-stock level far above the target orders although the stock at arrival
    covers the target: the reason says so instead of "below target"."""
    roomy = make_instance(6, 12, seed=2, capacity_share=100.0, ramp_share=1000.0)
    high = BaseStock(roomy.forecast.sum(axis=0))  # a whole horizon of demand
    rec = recommend_orders(roomy, high, "base_stock").orders
    ordered = rec["order_units"] > 0
    assert ordered.any()
    covered = rec["projected_on_hand"] - rec["order_units"] >= rec["target"]
    assert (rec.loc[ordered & covered, "reason"] == "covers later weeks").all()
    assert (rec.loc[ordered & ~covered, "reason"] == "below target").all()
    assert (ordered & covered).any()


def test_projection_covers_the_lead_time_and_summary_is_consistent() -> None:
    instance = make_instance(6, 12, seed=2, max_lead_time=3)
    rec = recommend_orders(instance, OrderUpTo(), "order_up_to")
    weeks = int(instance.lead_time_weeks.max()) + 1
    assert len(rec.projection) == weeks * instance.n_skus
    assert rec.summary["order_units"] == rec.orders["order_units"].sum()
    if rec.summary["containers"]:
        fill = rec.summary["order_volume"] / (rec.summary["containers"] * instance.container_volume)
        assert rec.summary["container_fill_rate"] == pytest.approx(fill, abs=1e-4)
    text = to_markdown(rec)
    assert all(sku in text for sku in instance.skus)
    assert "| sku |" in text


def test_state_csv_sets_on_hand_last_order_and_open_pos(tmp_path) -> None:
    instance = make_instance(4, 8, seed=3)
    path = tmp_path / "state.csv"
    pd.DataFrame(
        {
            "sku": ["S000", "S002"],
            "on_hand": [0, 50],
            "last_order": [3, 4],
            "open_po_week_0": [5, 0],
            "open_po_week_2": [0, 7],
        }
    ).to_csv(path, index=False)
    today = apply_state(instance, read_state(path, instance))
    assert today.on_hand.tolist() == [0, instance.on_hand[1], 50, instance.on_hand[3]]
    assert today.last_order[[0, 2]].tolist() == [3, 4]
    assert today.arrivals[:, 0].tolist() == [5, 0, 0, 0, 0, 0, 0, 0]
    assert today.arrivals[2, 2] == 7 and today.arrivals[:, 2].sum() == 7
    np.testing.assert_array_equal(today.arrivals[:, 1], instance.arrivals[:, 1])
    rec = recommend_orders(today, OrderUpTo(), "order_up_to")
    expected = simulate(today, today.forecast[None], OrderUpTo()).orders[0, 0]
    np.testing.assert_array_equal(rec.orders["order_units"].to_numpy(), expected)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("sku,stock\nS000,1\n", "missing column"),
        ("sku,on_hand\nS999,1\n", "not in the catalog"),
        ("sku,on_hand\nS000,1\nS000,2\n", "duplicate"),
        ("sku,on_hand\nS000,-1\n", "must be numbers >= 0"),
        ("sku,on_hand\nS000,abc\n", "must be numbers >= 0"),
        ("sku,on_hand,open_po_week_99\nS000,1,1\n", "beyond"),
        ("sku,on_hand,colour\nS000,1,red\n", "unknown column"),
    ],
)
def test_bad_state_csv_is_rejected(tmp_path, content: str, message: str) -> None:
    path = tmp_path / "state.csv"
    path.write_text(content)
    with pytest.raises(ValueError, match=message):
        read_state(path, make_instance(4, 8, seed=3))


def test_an_adhoc_run_never_writes_the_pipeline_outputs(tmp_path) -> None:
    from inventory import stages
    from inventory.config import load_config
    from inventory.layout import Layout

    params = tmp_path / "params.yaml"
    params.write_text(
        "data:\n  n_skus: 3\n  history_weeks: 60\n  horizon_weeks: 8\n"
        "recommend:\n  policy: order_up_to\n  mode: deterministic\n"
    )
    config = load_config(params)
    layout = Layout.from_config(config, tmp_path)
    stages.generate(config, layout=layout)
    state = tmp_path / "state.csv"
    state.write_text("sku,on_hand\nSKU001,4\n")
    files = stages.recommend(config, state=state, layout=layout)
    adhoc = tmp_path / "reports" / "adhoc"
    assert {Path(p).parent for p in files.values()} == {adhoc}
    assert (adhoc / "recommendation.csv").exists() and (adhoc / "recommendation.json").exists()
    assert not (tmp_path / "reports" / "recommendation.csv").exists()
    assert not (tmp_path / "metrics").exists() and not (tmp_path / "artifacts").exists()
    elsewhere = stages.recommend(config, state=state, layout=layout, out_dir=tmp_path / "x")
    assert Path(elsewhere["orders"]).parent == tmp_path / "x"
    assert set(stages.recommend(config, layout=layout)) == set(files)  # the pipeline's run
    assert (tmp_path / "reports" / "recommendation.csv").exists()
