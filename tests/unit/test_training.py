"""PPO training, checkpoints and resume, and the PPO policy adapter (tiny budgets)."""

from __future__ import annotations

import os
import pickle
import shutil
import tempfile
from contextlib import nullcontext
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from inventory import io
from inventory.config import Config, config_from_dict
from inventory.dynamics import simulate
from inventory.instance import Instance
from inventory.io import read_json, write_json
from inventory.layout import Layout
from inventory.model_files import load_policy, sha256_file
from inventory.policies import BaseStock
from inventory.policy_factories import PolicySources, build_policies
from inventory.ppo_policy import PPOPolicy, anchor_levels, target_levels
from inventory.scenarios import DemandModel, demand_model_for, sample_demand
from inventory.testing import make_instance
from inventory.training import (
    CostEvalCallback,
    latest_checkpoint,
    learning_rate_schedule,
    restore_run,
    train_ppo,
    training_end,
    training_setup,
)

HORIZON = 8


def tiny_config(policy: str = "shared", **quick) -> Config:
    """Quick profile shrunk to a few hundred steps (rollouts of 2 episodes x 4 copies)."""
    budget = {
        "total_timesteps": 256,
        "n_envs": 4,
        "n_steps": 2 * HORIZON,
        "batch_size": 32,
        "n_epochs": 2,
        "net_arch": [16, 16],
        "shared_net_arch": [16, 16],
        "eval_freq": 64,
        "checkpoint_freq": 64,
        "n_eval_scenarios": 4,
        **quick,
    }
    return config_from_dict(
        {
            "simulation": {"n_train_scenarios": 4, "demand_model": "negative_binomial"},
            "ppo": {"profile": "quick", "policy": policy, "progress_bar": False, "quick": budget},
        }
    )


@pytest.fixture(scope="module")
def instance() -> Instance:
    return make_instance(3, HORIZON, seed=5)


def train(tmp: Path, instance: Instance, mode: str = "stochastic", **kwargs):
    config = kwargs.pop("config", None) or tiny_config()
    folder = tmp / "models" / f"ppo_{mode}"
    return train_ppo(
        config, instance, mode, model_folder=folder, metrics_root=tmp / "metrics", **kwargs
    )


def demand(instance: Instance, n: int = 6) -> np.ndarray:
    model = DemandModel.uniform("negative_binomial", instance.n_skus)
    return sample_demand(instance, model, n, 11)


def orders_of(policy, instance: Instance) -> np.ndarray:
    return simulate(instance, demand(instance), policy).orders


@pytest.mark.parametrize("policy", ["shared", "catalog"])
def test_saved_model_reloads_and_predicts_the_same_actions(
    tmp_path: Path, instance, policy: str
) -> None:
    result = train(tmp_path, instance, config=tiny_config(policy))
    assert result.metrics["total_timesteps"] == 256
    live = PPOPolicy(
        result.model,
        result.model.get_env().normalize_obs,
        read_json(result.folder / "last" / "meta.json"),
    )
    loaded = PPOPolicy.load(result.folder / "last", instance)
    np.testing.assert_array_equal(orders_of(live, instance), orders_of(loaded, instance))
    observations = np.random.default_rng(3).uniform(
        -1, 3, (64, live.model.observation_space.shape[0])
    )
    observations = observations.astype(np.float32)
    for deterministic in (True, False):
        torch.manual_seed(0)
        expected = live.model.predict(live.normalize(observations), deterministic=deterministic)
        torch.manual_seed(0)
        normalize = loaded.normalize or (lambda obs: obs)  # the shared policy has none
        got = loaded.model.predict(normalize(observations), deterministic=deterministic)
        np.testing.assert_array_equal(expected[0], got[0])
    best = PPOPolicy.load(result.folder, instance)  # the best model by held-out cost
    assert orders_of(best, instance).shape == (6, HORIZON, 3)
    metrics = read_json(tmp_path / "metrics" / "train_stochastic.json")
    assert metrics["steps_per_s"] > 0 and np.isfinite(metrics["best_eval_cost"])
    curve = (tmp_path / "metrics" / "learning_curve_stochastic.csv").read_text().splitlines()
    assert curve[0].startswith("timesteps,mean_cost") and len(curve) >= 4


def test_same_seed_gives_the_same_model(tmp_path: Path, instance) -> None:
    first = train(tmp_path / "a", instance, "deterministic")
    second = train(tmp_path / "b", instance, "deterministic")
    np.testing.assert_array_equal(first.curve["mean_cost"], second.curve["mean_cost"])
    a = PPOPolicy.load(first.folder / "last", instance)
    b = PPOPolicy.load(second.folder / "last", instance)
    np.testing.assert_array_equal(orders_of(a, instance), orders_of(b, instance))


@pytest.mark.parametrize(
    ("policy", "in_transaction"), [("shared", False), ("catalog", False), ("shared", True)]
)
def test_resume_after_a_kill_equals_not_stopping(
    tmp_path: Path, instance, monkeypatch, policy: str, in_transaction: bool
) -> None:
    """Killed after its first checkpoint and resumed, a run ends exactly where an
    uninterrupted one does (a decaying learning rate: the schedule position matters too).
    Inside a command's transaction (as the CLI runs it) the killed run's model folder never
    lands, but its checkpoints, which live next to it, still let it resume."""
    config = tiny_config(policy, learning_rate_final=1e-5)
    full = train(tmp_path / "full", instance, config=config)
    original = CostEvalCallback.checkpoint

    def killed_after_first(self):
        folder = original(self)
        raise KeyboardInterrupt(f"killed after {folder.name}")

    monkeypatch.setattr(CostEvalCallback, "checkpoint", killed_after_first)
    with pytest.raises(KeyboardInterrupt), io.transaction() if in_transaction else nullcontext():
        train(tmp_path / "killed", instance, config=config)
    if in_transaction:  # rolled back: no model folder, no metrics, the checkpoint stays
        assert not (tmp_path / "killed" / "models" / "ppo_stochastic").exists()
    monkeypatch.setattr(CostEvalCallback, "checkpoint", original)
    checkpoint = latest_checkpoint(tmp_path / "killed" / "models" / "ppo_stochastic")
    assert checkpoint is not None and checkpoint.name == "step_0000000064"

    resumed = train(tmp_path / "killed", instance, config=config, resume=True)
    assert resumed.metrics["resumed_from_timesteps"] == 64
    assert resumed.metrics["total_timesteps"] == full.metrics["total_timesteps"] == 256
    assert resumed.curve["timesteps"].tolist()[:2] == [0, 64]  # curve kept, not restarted
    # Equal to not stopping: weights, optimizer, curve and best model; only timings differ.
    timing = ["elapsed_s"]
    assert resumed.curve.drop(columns=timing).equals(full.curve.drop(columns=timing))
    assert resumed.metrics["best_eval_cost"] == full.metrics["best_eval_cost"]
    assert resumed.metrics["best_timesteps"] == full.metrics["best_timesteps"]
    weights = resumed.model.policy.state_dict()
    for key, value in full.model.policy.state_dict().items():
        assert torch.equal(weights[key], value), key
    adam = resumed.model.policy.optimizer.state_dict()["state"]
    for index, moments in full.model.policy.optimizer.state_dict()["state"].items():
        for name, value in moments.items():
            assert torch.equal(adam[index][name], value), (index, name)
    for stats in ("obs_rms", "ret_rms") if policy == "catalog" else ("ret_rms",):
        mine, theirs = getattr(resumed.model.get_env(), stats), getattr(full.model.get_env(), stats)
        np.testing.assert_array_equal(mine.mean, theirs.mean)
        np.testing.assert_array_equal(mine.var, theirs.var)
        assert mine.count == theirs.count
    best = [PPOPolicy.load(r.folder, instance) for r in (full, resumed)]
    np.testing.assert_array_equal(orders_of(best[0], instance), orders_of(best[1], instance))
    # SB3's log too: every update's losses, the one before the kill included
    log = (resumed.folder / "progress.csv").read_bytes()
    assert log == (full.folder / "progress.csv").read_bytes()


def test_sb3_log_is_saved_with_the_model_and_no_temporary_folder(
    tmp_path: Path, instance, monkeypatch
) -> None:
    """progress.csv in the model folder holds every update's losses, entropy and
    explained variance (and the held-out cost), the same bytes for the same run; SB3's
    default logger would have made an empty SB3-<date> folder in the temporary folder."""
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))
    first = train(tmp_path / "a", instance)
    second = train(tmp_path / "b", instance)

    log = pd.read_csv(first.folder / "progress.csv")
    updates = 256 // (4 * 2 * HORIZON)
    assert log["train/n_updates"].max() == updates * 2  # n_epochs per update
    for column in ("entropy_loss", "explained_variance", "value_loss", "policy_gradient_loss"):
        assert log[f"train/{column}"].notna().sum() == updates, column
    scored = log.dropna(subset=["eval/mean_cost"])
    assert scored["eval/timesteps"].tolist() == first.curve["timesteps"].tolist()
    assert scored["eval/mean_cost"].tolist() == first.curve["mean_cost"].tolist()
    assert log["time/total_timesteps"].max() == 256 and "time/fps" not in log
    assert (first.folder / "progress.csv").read_bytes() == (
        second.folder / "progress.csv"
    ).read_bytes()
    assert list(temporary.iterdir()) == []


@pytest.mark.parametrize("total", [250, 256, 257])
def test_progress_bar_total_is_where_training_really_ends(
    tmp_path: Path, instance, total: int
) -> None:
    """SB3 runs whole rollouts (here 4 copies x 16 steps): 250 steps end at 256, 257 at 320."""
    config = tiny_config(total_timesteps=total)
    run = config.ppo.run_for("stochastic")
    result = train(tmp_path, instance, config=config, progress_bar=True)
    assert result.metrics["total_timesteps"] == training_end(total, run.n_steps, run.n_envs)
    assert training_end(total, run.n_steps, run.n_envs) == (256 if total <= 256 else 320)


def test_a_changed_model_file_is_refused_before_it_is_read(tmp_path: Path, instance) -> None:
    folder = train(tmp_path, instance).folder / "last"
    weights = folder / "policy.pt"
    original = weights.read_bytes()
    state = torch.load(weights, weights_only=True)
    state[next(iter(state))] += 1e-3  # a valid weights file, just not the trained one
    torch.save(state, weights)
    with pytest.raises(ValueError, match="policy.pt: sha256 does not match meta.json"):
        PPOPolicy.load(folder, instance)
    weights.write_bytes(original)
    PPOPolicy.load(folder, instance)
    (folder / "vecnormalize.npz").unlink()
    with pytest.raises(ValueError, match="vecnormalize.npz is missing"):
        PPOPolicy.load(folder, instance)


class _Plant:
    """Unpickling this creates the marker file (what a malicious pickle does)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (str(self.marker),))


def test_planted_pickles_are_never_executed(tmp_path: Path, instance) -> None:
    folder = train(tmp_path, instance).folder / "last"
    marker = tmp_path / "pwned"
    (folder / "vecnormalize.pkl").write_bytes(pickle.dumps(_Plant(marker)))
    PPOPolicy.load(folder, instance)  # the old normaliser name is never read
    torch.save({"weights": _Plant(marker)}, folder / "policy.pt")
    with pytest.raises(ValueError, match="sha256 does not match"):
        PPOPolicy.load(folder, instance)
    meta = read_json(folder / "meta.json")  # even with meta.json rewritten to match it
    meta["files"]["policy.pt"] = sha256_file(folder / "policy.pt")
    write_json(folder / "meta.json", meta)
    with pytest.raises(ValueError, match="not a weights-only tensor file"):
        PPOPolicy.load(folder, instance)
    assert not marker.exists()


def test_old_pickle_format_models_and_checkpoints_are_refused(tmp_path: Path, instance) -> None:
    result = train(tmp_path, instance)
    old = tmp_path / "old"
    old.mkdir()
    for name in ("model.zip", "vecnormalize.pkl"):
        (old / name).write_bytes(b"PK")
    shutil.copy(result.folder / "meta.json", old / "meta.json")
    with pytest.raises(ValueError, match=r"old format \(model.zip \+ vecnormalize.pkl\).*Retrain"):
        PPOPolicy.load(old, instance)
    checkpoint = latest_checkpoint(result.folder)
    state = read_json(checkpoint / "state.json")
    write_json(checkpoint / "state.json", {k: v for k, v in state.items() if k != "files"})
    with pytest.raises(ValueError, match="older version.*without --resume"):
        train(tmp_path, instance, resume=True)


def test_resume_refuses_a_checkpoint_made_with_other_settings_or_data(
    tmp_path: Path, instance
) -> None:
    """Resuming continues the same run, so a changed knob, network or data is refused,
    naming the checkpoint and what differs, before anything is deleted or trained."""
    config = tiny_config(learning_rate_final=1e-5)
    result = train(tmp_path, instance, config=config)
    checkpoint = latest_checkpoint(result.folder)
    kept = sha256_file(result.folder / "policy.pt")
    changes = {
        "ppo.quick.learning_rate": (
            tiny_config(learning_rate=1e-3, learning_rate_final=1e-5),
            instance,
        ),
        "ppo.quick.shared_net_arch": (
            tiny_config(learning_rate_final=1e-5, shared_net_arch=[32, 32]),
            instance,
        ),
        "the data": (config, make_instance(3, HORIZON, seed=6)),
    }
    for needle, (changed, data) in changes.items():
        with pytest.raises(ValueError) as error:
            train(tmp_path, data, config=changed, resume=True)
        message = str(error.value)
        assert str(checkpoint) in message and needle in message, message
        assert "without --resume" in message and "\n" not in message
    assert sha256_file(result.folder / "policy.pt") == kept  # nothing was replaced
    assert latest_checkpoint(result.folder) == checkpoint
    # knobs that change no result: a finished run resumes and trains no further
    same = tiny_config(learning_rate_final=1e-5, checkpoint_freq=128)
    resumed = train(tmp_path, instance, config=same, resume=True)
    assert resumed.metrics["resumed_from_timesteps"] == 256


def test_a_checkpoint_state_that_is_not_json_is_named(tmp_path: Path, instance) -> None:
    result = train(tmp_path, instance)
    state = latest_checkpoint(result.folder) / "state.json"
    state.write_text("{oops")
    with pytest.raises(ValueError, match=r"state.json is not valid JSON .*without --resume"):
        train(tmp_path, instance, resume=True)
    meta = result.folder / "meta.json"
    meta.write_text("{oops")
    with pytest.raises(ValueError, match=r"meta.json is not valid JSON .*dvc pull"):
        PPOPolicy.load(result.folder, instance)


def test_weights_that_do_not_fit_the_network_name_the_file(tmp_path: Path, instance) -> None:
    folder = train(tmp_path, instance).folder
    spec = read_json(folder / "meta.json")["policy"]
    with pytest.raises(ValueError, match=r"policy.pt: the saved weights do not fit .*size"):
        load_policy(folder / "policy.pt", {**spec, "net_arch": [32, 32]})
    checkpoint = latest_checkpoint(folder)
    model = train(tmp_path / "wide", instance, config=tiny_config(shared_net_arch=[32])).model
    state = read_json(checkpoint / "state.json")
    with pytest.raises(ValueError, match=r"step_\d+/policy.pt: the saved weights do not fit"):
        restore_run(model, checkpoint, state)


def test_adapter_rejects_a_model_for_another_catalog(tmp_path: Path, instance) -> None:
    folder = train(tmp_path, instance, config=tiny_config("catalog")).folder
    with pytest.raises(ValueError, match="another catalog"):
        PPOPolicy.load(folder, instance.subset([0, 1]))
    renamed = replace(instance, skus=("A", "B", "C"))
    with pytest.raises(ValueError, match="another catalog"):
        PPOPolicy.load(folder, renamed)
    longer_lead = replace(instance, lead_time_weeks=instance.lead_time_weeks + 2)
    with pytest.raises(ValueError, match="observations of size"):
        PPOPolicy.load(folder, longer_lead)
    policy = PPOPolicy.load(folder, instance)
    with pytest.raises(ValueError, match="another catalog"):
        policy.reset(renamed, 2)


def test_ppo_orders_respect_capacity_and_ramp_after_projection(tmp_path: Path) -> None:
    tight = make_instance(4, HORIZON, seed=9, capacity_share=0.5, ramp_share=0.2)
    config = tiny_config(log_std_init=1.0)  # wide exploration: extreme proposals
    policy = PPOPolicy.load(train(tmp_path, tight, config=config).folder / "last", tight)
    result = simulate(tight, demand(tight, 20).clip(0) * 3, policy)
    orders = result.orders
    last = np.concatenate([np.broadcast_to(tight.last_order, (20, 1, 4)), orders[:, :-1]], axis=1)
    assert np.all(orders >= 0) and np.all(orders == np.rint(orders))
    assert np.all(orders @ tight.volume <= tight.capacity_volume + 1e-6)
    assert np.all(orders <= last + tight.ramp_limit + 1e-9)
    floor_ok = orders >= last - tight.ramp_limit - 1e-9
    assert np.all(floor_ok | result.capacity_limited)


def test_evaluator_factory_needs_a_model_and_loads_it_after_training(
    tmp_path: Path, instance
) -> None:
    config = tiny_config()
    config = config.model_copy(
        update={"simulation": config.simulation.model_copy(update={"location": "T1"})}
    )
    layout = Layout(tmp_path, tmp_path / "data")
    folder = layout.trained_model("stochastic", instance.location, config.simulation.location)
    assert folder == tmp_path / "models" / "ppo_stochastic"
    current = PolicySources(demand_model_for(config, instance)[0], ppo_model=folder)
    train_demand = demand(instance)
    with pytest.raises(ValueError, match="ppo_stochastic/policy.pt"):
        build_policies(config, instance, "stochastic", train_demand, current, names=["ppo"])
    train_ppo(config, instance, "stochastic", model_folder=folder, metrics_root=tmp_path)
    built = build_policies(config, instance, "stochastic", train_demand, current, names=["ppo"])
    assert isinstance(built["ppo"], PPOPolicy)
    forecast = config.forecast.model_copy(update={"fallback_dispersion": 9.0})
    other_config = config.model_copy(update={"forecast": forecast})
    other = replace(current, demand_model=demand_model_for(other_config, instance)[0])
    with pytest.warns(UserWarning, match="another demand model"):
        build_policies(config, instance, "stochastic", train_demand, other, names=["ppo"])


def test_learning_rate_is_constant_or_decays_linearly_to_the_final_rate(
    tmp_path: Path, instance
) -> None:
    run = tiny_config().ppo.run
    assert learning_rate_schedule(run) == run.learning_rate
    decaying = run.model_copy(update={"learning_rate": 1e-3, "learning_rate_final": 1e-4})
    schedule = learning_rate_schedule(decaying)
    assert schedule(1.0) == pytest.approx(1e-3)
    assert schedule(0.5) == pytest.approx(5.5e-4)
    assert schedule(0.0) == pytest.approx(1e-4)
    result = train(tmp_path, instance, config=tiny_config(learning_rate_final=1e-5))
    assert result.model.lr_schedule(0.0) == pytest.approx(1e-5)


def test_target_anchor_ends_every_covered_week_on_target_when_demand_is_the_forecast() -> None:
    """Oracle: with demand = a rising forecast and no binding ramp or capacity, ordering up
    to :func:`target_levels` ends week t + L exactly on the safety-stock target; the
    planners' level (L + R + S weeks of forecast) stays above it while demand rises."""
    base = make_instance(3, 20, seed=1, capacity_share=100.0, ramp_share=100.0, open_pos=False)
    rising = np.rint(np.array([4.0, 6.0, 9.0]) * (1 + 0.1 * np.arange(20))[:, None])
    levels = target_levels(replace(base, forecast=rising))
    tight = replace(base, forecast=rising, on_hand=levels[0])
    for anchor, on_target in (("target", True), ("planner", False)):
        policy = BaseStock(anchor_levels(tight, 1, 0.0, anchor), np.zeros(3))
        result = simulate(tight, rising[None], policy)
        covered = np.arange(20)[:, None] >= tight.lead_time_weeks[None, :]
        gap = np.abs(result.end_inventory[0] - result.target[0])[covered]
        assert (gap.max() < 1e-9) == on_target


def test_each_mode_trains_with_its_own_anchor_action_scale_and_noise(instance) -> None:
    """``ppo.modes.<mode>`` is the one place the modes differ; both reach the env."""
    config = config_from_dict(
        {
            "ppo": {
                "modes": {
                    "deterministic": {"anchor": "target", "action_scale": 0.07},
                    "stochastic": {"anchor": "base_stock", "initial_on_hand_noise": 0.1},
                }
            }
        }
    )
    det = training_setup(config, instance, "deterministic")
    assert det.anchor == "target" and det.settings.env.action_scale == 0.07
    assert det.settings.env.demand == "deterministic"
    assert not det.anchor_offset.any()
    sto = training_setup(config, instance, "stochastic")
    assert sto.anchor == config.ppo.anchor_for("stochastic") == "base_stock"
    assert sto.settings.env.action_scale == config.ppo.modes.stochastic.action_scale
    assert sto.settings.env.initial_on_hand_noise == 0.1


def test_an_empty_weights_file_and_a_meta_json_list_are_named(tmp_path: Path, instance) -> None:
    """The error path itself must not fail: an empty policy.pt (hash matching) once raised
    IndexError inside the handler, and a meta.json list an AttributeError."""
    folder = train(tmp_path, instance).folder / "last"
    (folder / "policy.pt").write_bytes(b"")
    meta = read_json(folder / "meta.json")
    meta["files"]["policy.pt"] = sha256_file(folder / "policy.pt")
    write_json(folder / "meta.json", meta)
    with pytest.raises(ValueError, match=r"policy.pt is not a .*: the file ends early \(empty"):
        PPOPolicy.load(folder, instance)
    write_json(folder / "meta.json", [1, 2])
    with pytest.raises(ValueError, match=r"meta.json: not a JSON object \(got \[1, 2\]\); retrain"):
        PPOPolicy.load(folder, instance)
