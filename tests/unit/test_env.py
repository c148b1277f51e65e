"""The gymnasium env and the batched VecEnv over the dynamics."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

from inventory.config import default_config
from inventory.dynamics import simulate
from inventory.env import EnvSettings, InventoryEnv, InventoryVecEnv, env_knobs
from inventory.policies import OrderUpTo
from inventory.scenarios import DemandModel, deterministic_demand
from inventory.testing import make_instance
from tests import oracle


def settings(demand: str = "stochastic", **overrides) -> EnvSettings:
    """params.yaml's env knobs of stochastic mode (no initial-stock noise), with ``demand``
    and ``overrides``."""
    knobs = env_knobs(default_config(), "stochastic")
    return EnvSettings(env=replace(knobs, demand=demand, **overrides))


@pytest.mark.parametrize("demand", ["deterministic", "stochastic"])
def test_both_check_envs_pass(demand: str) -> None:
    env = InventoryEnv(make_instance(4, 10, seed=1), settings(demand=demand))
    gym_check_env(env, skip_render_check=True)
    sb3_check_env(InventoryEnv(make_instance(4, 10, seed=1), settings(demand=demand)))


def rollout(env: InventoryEnv, seed: int, actions: np.ndarray) -> tuple[list, list]:
    obs, _ = env.reset(seed=seed)
    observations, rewards = [obs], []
    for action in actions:
        obs, reward, terminated, truncated, _ = env.step(action)
        observations.append(obs)
        rewards.append(reward)
        if terminated:
            break
    return observations, rewards


def test_same_seed_same_episode_different_seed_different_demand() -> None:
    instance = make_instance(3, 12, seed=2)
    knobs = {"demand": "stochastic", "initial_on_hand_noise": 0.3}
    actions = np.random.default_rng(0).uniform(-1, 1, (12, 3)).astype(np.float32)
    first = rollout(InventoryEnv(instance, settings(**knobs)), 7, actions)
    second = rollout(InventoryEnv(instance, settings(**knobs)), 7, actions)
    other = rollout(InventoryEnv(instance, settings(**knobs)), 8, actions)
    np.testing.assert_array_equal(np.array(first[0]), np.array(second[0]))
    assert first[1] == second[1]
    assert first[1] != other[1]


def test_observations_stay_inside_the_space_under_extreme_actions() -> None:
    env = InventoryEnv(make_instance(5, 20, seed=3), settings(obs_clip=3.0))
    rng = np.random.default_rng(1)
    for episode in range(3):
        obs, _ = env.reset(seed=episode)
        assert env.observation_space.contains(obs)
        done = False
        while not done:
            action = rng.choice([-1.0, 1.0], size=5).astype(np.float32)
            obs, _, done, _, _ = env.step(action)
            assert env.observation_space.contains(obs)


def test_zero_action_is_the_planners_rule_and_reward_is_scaled_cost() -> None:
    instance = make_instance(4, 10, seed=4)
    env = InventoryEnv(instance, settings(demand="deterministic", reward_scale=10.0))
    env.reset(seed=0)
    rewards, costs, done = [], [], False
    while not done:
        _, reward, done, _, info = env.step(np.zeros(4, dtype=np.float32))
        rewards.append(reward)
        costs.append(info["cost"])
        parts = (
            "cost_lost_sales",
            "cost_overstock",
            "cost_understock",
            "cost_containers",
            "cost_terminal",
        )
        assert info["cost"] == pytest.approx(sum(info[k] for k in parts))
    expected = simulate(instance, deterministic_demand(instance), OrderUpTo())
    assert sum(costs) == pytest.approx(float(expected.total_cost()[0]), rel=1e-9)
    np.testing.assert_allclose(rewards, -np.array(costs) / 10.0)


def test_action_mapping_scales_the_order_up_to_level() -> None:
    instance = make_instance(3, 6, seed=5, capacity_share=50.0, ramp_share=100.0)
    env = InventoryEnv(instance, settings(demand="deterministic", action_scale=0.5))
    env.reset(seed=0)
    core = env.core
    position = instance.on_hand + instance.arrivals.sum(axis=0)
    for action, factor in ((-1.0, 0.5), (0.0, 1.0), (1.0, 1.5)):
        orders = core.orders_from_action(np.full(3, action))
        np.testing.assert_allclose(orders[0], np.maximum(core.levels[0] * factor - position, 0))


def test_vecenv_copies_match_single_envs_and_auto_reset() -> None:
    instance = make_instance(3, 5, seed=6)
    vec = InventoryVecEnv(instance, 4, settings(demand="deterministic"), seed=0)
    single = InventoryEnv(instance, settings(demand="deterministic"))
    obs = vec.reset()
    single_obs, _ = single.reset(seed=0)
    assert obs.shape == (4, vec.observation_space.shape[0])
    np.testing.assert_array_equal(obs[2], single_obs)
    actions = np.random.default_rng(2).uniform(-1, 1, (5, 3)).astype(np.float32)
    for week, action in enumerate(actions):
        obs, rewards, dones, infos = vec.step(np.tile(action, (4, 1)))
        single_obs, reward, done, _, _ = single.step(action)
        np.testing.assert_allclose(rewards, reward, rtol=1e-6)
        assert dones.all() == done == (week == 4)
    np.testing.assert_array_equal(infos[1]["terminal_observation"], single_obs)
    assert infos[0]["TimeLimit.truncated"] is False
    np.testing.assert_array_equal(obs[0], single.reset(seed=0)[0])


def assert_bitwise(actual: np.ndarray, expected: np.ndarray, name: str) -> None:
    """Same shape, dtype and bytes: catches signed zeros and NaN payloads too."""
    actual, expected = np.ascontiguousarray(actual), np.ascontiguousarray(expected)
    assert actual.shape == expected.shape and actual.dtype == expected.dtype, name
    assert actual.tobytes() == expected.tobytes(), name


def oracle_week(core, proposed: np.ndarray, terminal: bool) -> tuple[dict, object]:
    """The env's week on a copy of its state through the numpy oracle: (info, state)."""
    instance, state = core.instance, core.state.copy()
    projection = oracle.project_orders(instance, proposed, state.last_order)
    demand = core.demand[:, state.t]
    week = oracle.advance(instance, state, projection.orders, demand)
    done = state.t >= instance.horizon_weeks
    final = np.zeros(core.n)
    if done and terminal:
        final = oracle.terminal_cost_by_sku(instance, state).sum(axis=1)
    info = {
        "cost_lost_sales": week.cost_lost_sales.sum(axis=1),
        "cost_overstock": week.cost_overstock.sum(axis=1),
        "cost_understock": week.cost_understock.sum(axis=1),
        "cost_containers": week.cost_containers,
        "cost_terminal": final,
        "lost_units": week.lost.sum(axis=1),
        "sales_units": week.sales.sum(axis=1),
        "demand_units": demand.sum(axis=1),
        "adjusted_units": projection.adjusted_units.sum(axis=1),
        "cost": week.total_cost() + final,
    }
    return info, state


@pytest.mark.parametrize("seed", range(4))
def test_vecenv_step_is_bitwise_the_numpy_oracle(seed: int) -> None:
    """The env steps with the simulator's compiled week; rewards, infos and the next
    state are bit for bit the oracle's, over episodes and auto-resets (PPO's inputs)."""
    rng = np.random.default_rng(seed)
    instance = make_instance(
        int(rng.integers(1, 7)),
        int(rng.integers(2, 9)),
        seed=seed,
        capacity_share=rng.uniform(0.2, 1.4),
        container_cost=float(rng.choice([0.0, 50.0])),
    )
    knobs = EnvSettings(
        env=replace(
            EnvSettings().env, demand="stochastic", initial_on_hand_noise=0.3, action_scale=1.0
        ),
        terminal_cost=bool(seed % 2 == 0),
    )
    vec = InventoryVecEnv(instance, 5, knobs, seed=seed)
    vec.reset()
    for _ in range(2 * instance.horizon_weeks):
        actions = rng.uniform(-1.5, 1.5, (5, instance.n_skus)).astype(np.float32)
        actions[rng.random(actions.shape) < 0.05] = np.nan
        proposed = vec.core.orders_from_action(actions)
        expected, state = oracle_week(vec.core, proposed, knobs.terminal_cost)
        _, rewards, dones, infos = vec.step(actions)
        for name, value in expected.items():
            assert_bitwise(np.array([info[name] for info in infos]), value, name)
        scaled = (-expected["cost"] / vec.core.reward_scale).astype(np.float32)
        assert_bitwise(rewards, scaled, "reward")
        if not dones[0]:
            for name in ("on_hand", "last_order", "ring"):
                assert_bitwise(getattr(vec.core.state, name), getattr(state, name), name)
            assert_bitwise(vec.core.state.in_transit(), state.in_transit(), "in_transit")


def test_vecenv_seeding_is_reproducible_and_copies_differ() -> None:
    instance = make_instance(3, 5, seed=7)
    model = DemandModel.uniform("poisson", 3)
    knobs = replace(settings("stochastic"), demand_model=model)

    def run(seed: int) -> np.ndarray:
        vec = InventoryVecEnv(instance, 3, knobs)
        vec.seed(seed)
        vec.reset()
        return np.array([vec.step(np.zeros((3, 3)))[1] for _ in range(4)])

    np.testing.assert_array_equal(run(3), run(3))
    assert not np.array_equal(run(3), run(4))
    assert len(np.unique(run(3)[-1])) > 1


def test_vecenv_sb3_api() -> None:
    vec = InventoryVecEnv(make_instance(2, 4, seed=8), 3)
    assert vec.get_attr("render_mode") == [None, None, None]
    assert vec.env_is_wrapped(object) == [False] * 3
    assert len(vec.env_method("reset")) == 3
    vec.set_attr("custom", 5)
    assert vec.get_attr("custom", indices=[0]) == [5]


def test_ppo_learns_a_few_steps_on_the_vecenv() -> None:
    import torch
    from stable_baselines3 import PPO

    torch.set_num_threads(1)
    vec = InventoryVecEnv(make_instance(3, 6, seed=9), 4, seed=0)
    model = PPO("MlpPolicy", vec, n_steps=12, batch_size=24, n_epochs=1, seed=0, device="cpu")
    model.learn(total_timesteps=96)
    assert model.num_timesteps >= 96
