"""The PPO policy shared by every SKU: permutation equivariance, any catalog, refusal."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from inventory.dynamics import State, simulate
from inventory.env import EnvSettings, InventoryVecEnv, env_knobs
from inventory.instance import Instance
from inventory.io import read_json
from inventory.ppo_policy import PPOPolicy
from inventory.shared_policy import SharedSkuPolicy
from inventory.testing import make_instance
from tests.unit.test_training import HORIZON, demand, tiny_config, train


def shared_settings() -> EnvSettings:
    return EnvSettings(env=env_knobs(tiny_config(), "deterministic"))


def other_catalog(instance: Instance, n_skus: int = 5) -> Instance:
    """Another catalog (other SKUs, another size) with the same longest lead time."""
    other = make_instance(n_skus, HORIZON, seed=21)
    lead = np.minimum(other.lead_time_weeks, instance.lead_time_weeks.max())
    lead[0] = instance.lead_time_weeks.max()
    return replace(other, skus=tuple(f"X{i}" for i in range(n_skus)), lead_time_weeks=lead)


def random_policy(env: InventoryVecEnv) -> SharedSkuPolicy:
    torch.manual_seed(3)
    core = env.core
    policy = SharedSkuPolicy(
        env.observation_space,
        env.action_space,
        lambda _: 1e-3,
        n_sku_features=core.n_sku_features,
        n_context=core.n_context,
        net_arch=[16, 16],
    )
    torch.nn.init.normal_(policy.mlp_extractor.actor_head.weight)  # not the zero start
    return policy


@pytest.fixture(scope="module")
def instance() -> Instance:
    return make_instance(4, HORIZON, seed=5)


def test_shuffling_the_skus_permutes_the_actions_and_values_the_same_way(instance) -> None:
    perm = np.array([2, 0, 3, 1])
    env = InventoryVecEnv(instance, 3, shared_settings(), seed=1)
    shuffled = InventoryVecEnv(instance.subset(perm), 3, shared_settings(), seed=1)
    policy = random_policy(env)
    obs = env.reset()
    state = env.core.state
    shuffled.core.state = State(
        state.t, state.on_hand[:, perm], state.ring[..., perm], state.last_order[:, perm]
    )
    shuffled_obs = shuffled.core.observe()
    with torch.no_grad():
        actions = policy.get_distribution(torch.as_tensor(obs)).distribution.mean
        permuted = policy.get_distribution(torch.as_tensor(shuffled_obs)).distribution.mean
        values = policy.predict_values(torch.as_tensor(obs))
        permuted_values = policy.predict_values(torch.as_tensor(shuffled_obs))
    assert actions.abs().max() > 1e-3  # not trivially zero
    np.testing.assert_allclose(permuted.numpy(), actions.numpy()[:, perm], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(permuted_values.numpy(), values.numpy(), rtol=1e-5, atol=1e-6)


def test_weights_do_not_depend_on_the_number_of_skus(instance) -> None:
    small = random_policy(InventoryVecEnv(instance, 1, shared_settings()))
    large = random_policy(InventoryVecEnv(other_catalog(instance, 7), 1, shared_settings()))
    shapes = {key: value.shape for key, value in small.state_dict().items()}
    assert shapes == {key: value.shape for key, value in large.state_dict().items()}


def test_the_untrained_shared_policy_acts_exactly_as_its_anchor(instance) -> None:
    env = InventoryVecEnv(instance, 3, shared_settings(), seed=2)
    torch.manual_seed(0)
    core = env.core
    policy = SharedSkuPolicy(
        env.observation_space,
        env.action_space,
        lambda _: 1e-3,
        n_sku_features=core.n_sku_features,
        n_context=core.n_context,
        net_arch=[16, 16],
    )
    action, _ = policy.predict(env.reset(), deterministic=True)
    np.testing.assert_array_equal(action, np.zeros((3, instance.n_skus)))
    assert policy.log_std.shape == (1,)


def test_train_metrics_say_whether_the_model_beats_its_anchor(tmp_path: Path, instance) -> None:
    result = train(tmp_path, instance, "deterministic")
    meta = read_json(result.folder / "meta.json")
    expected = result.metrics["best_timesteps"] > 0
    assert result.metrics["beats_anchor"] is expected and meta["beats_anchor"] is expected
    assert result.metrics["policy"] == "shared"


def test_a_model_trained_on_one_catalog_acts_on_another(tmp_path: Path, instance) -> None:
    folder = train(tmp_path, instance, "deterministic").folder
    meta = read_json(folder / "meta.json")
    assert "skus" not in meta and meta["features"]["sku_features"][0] == "on_hand"
    other = other_catalog(instance)
    policy = PPOPolicy.load(folder, other)
    orders = simulate(other, demand(other), policy).orders
    assert orders.shape == (6, HORIZON, other.n_skus) and np.all(orders >= 0)
    stochastic = train(tmp_path / "s", instance, "stochastic").folder
    with pytest.raises(ValueError, match="anchor_offset"):
        PPOPolicy.load(stochastic, other)
    policy = PPOPolicy.load(stochastic, other, anchor_offset=np.zeros(other.n_skus))
    assert simulate(other, demand(other), policy).orders.shape == (6, HORIZON, other.n_skus)


def test_a_shared_model_is_refused_when_the_features_differ(tmp_path: Path, instance) -> None:
    folder = train(tmp_path, instance, "deterministic").folder
    longer_lead = replace(instance, lead_time_weeks=instance.lead_time_weeks + 2)
    with pytest.raises(ValueError, match="other observation features"):
        PPOPolicy.load(folder, longer_lead)
    policy = PPOPolicy.load(folder, instance)
    with pytest.raises(ValueError, match="other observation features"):
        policy.reset(longer_lead, 2)
