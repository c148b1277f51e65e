"""Model files that hold no code: policy weights, normalisation arrays and their hashes.

A trained PPO model is stored as three files, none of which runs code when it is read:

- ``policy.pt``: the SB3 policy's ``state_dict`` (tensors only), written with
  ``torch.save`` and read with ``torch.load(..., weights_only=True)``, which refuses any
  pickled object other than tensors and plain containers.
- ``vecnormalize.npz``: the ``VecNormalize`` statistics (observation and return running
  mean, variance and count, the running returns, clip values, gamma, epsilon), read with
  ``np.load(..., allow_pickle=False)``.
- ``meta.json``: plain JSON, with the policy's constructor arguments and spaces
  (:func:`policy_spec`: SB3's ``ActorCriticPolicy`` or
  :class:`~inventory.shared_policy.SharedSkuPolicy`) and the sha256 of every other file
  (``files``).

Loading verifies every hash (:func:`verify_files`) before it reads a file, then rebuilds the
policy from ``meta.json`` and the weights (:func:`load_policy`). SB3's own ``model.zip`` and
``VecNormalize.save`` pickle Python objects, so loading them can run any code the file
holds; folders in that format are refused (:func:`refuse_legacy`).
"""

from __future__ import annotations

import errno
import hashlib
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from inventory.io import atomic_path

__all__ = [
    "WEIGHTS_FILE",
    "NORMALIZER_FILE",
    "LEGACY_FILES",
    "sha256_file",
    "file_hashes",
    "verify_files",
    "refuse_legacy",
    "policy_spec",
    "save_tensors",
    "load_tensors",
    "load_weights",
    "save_arrays",
    "load_arrays",
    "save_policy",
    "load_policy",
    "normalizer_arrays",
    "save_normalizer",
    "restore_normalizer",
    "load_normalizer",
]

WEIGHTS_FILE = "policy.pt"
NORMALIZER_FILE = "vecnormalize.npz"
LEGACY_FILES = ("model.zip", "vecnormalize.pkl")
_ACTIVATIONS = ("Tanh", "ReLU", "LeakyReLU", "ELU", "GELU", "SiLU")
_RETRAIN = "Retrain it: inventory train --mode <mode>"
_RETRAIN_LOWER = _RETRAIN[0].lower() + _RETRAIN[1:]  # after a semicolon


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_hashes(folder: str | Path, names: tuple[str, ...] | list[str]) -> dict[str, str]:
    """``{name: sha256}`` of the files ``names`` in ``folder`` (what ``meta.json`` records)."""
    return {name: sha256_file(Path(folder) / name) for name in names}


def verify_files(folder: str | Path, hashes: Any, required: tuple[str, ...]) -> None:
    """Check that ``folder`` holds the ``required`` files with the recorded sha256.

    Args:
        folder: The model or checkpoint folder.
        hashes: ``{name: sha256}`` from its ``meta.json`` (or a checkpoint's state file).
        required: Files that must be listed and match.

    Raises:
        ValueError: a file is not listed, missing, or its bytes changed after training.
    """
    folder = Path(folder)
    if not isinstance(hashes, dict) or any(name not in hashes for name in required):
        raise ValueError(
            f"{folder}: meta.json records no sha256 for {', '.join(required)}; the model "
            f"was written by an older version or edited. {_RETRAIN}"
        )
    for name in required:
        path = folder / name
        if not path.is_file():
            raise ValueError(f"{path} is missing. {_RETRAIN} (or restore it: dvc checkout)")
        if sha256_file(path) != hashes[name]:
            raise ValueError(
                f"{path}: sha256 does not match meta.json; the file was changed after "
                "training. Retrain or restore it with `dvc checkout`"
            )


def refuse_legacy(folder: str | Path) -> None:
    """Raise ValueError when ``folder`` holds a model in SB3's pickle format."""
    folder = Path(folder)
    found = [name for name in LEGACY_FILES if (folder / name).exists()]
    if found and not (folder / WEIGHTS_FILE).exists():
        raise ValueError(
            f"PPO model {folder} is in the old format ({' + '.join(found)}), which can only "
            f"be loaded by unpickling it (running any code the file holds). {_RETRAIN}"
        )


def _box_to_json(box: Any) -> dict[str, Any]:
    def bound(values: np.ndarray) -> float | list[float]:
        flat = values.ravel()
        return float(flat[0]) if flat.size and np.all(flat == flat[0]) else values.tolist()

    return {
        "shape": list(box.shape),
        "dtype": str(box.dtype),
        "low": bound(box.low),
        "high": bound(box.high),
    }


def _box_from_json(spec: dict[str, Any]) -> Any:
    from gymnasium import spaces

    shape, dtype = tuple(spec["shape"]), np.dtype(spec["dtype"])
    low = np.broadcast_to(np.asarray(spec["low"], dtype=dtype), shape)
    high = np.broadcast_to(np.asarray(spec["high"], dtype=dtype), shape)
    return spaces.Box(low, high, shape, dtype)


def policy_spec(policy: Any) -> dict[str, Any]:
    """The JSON constructor arguments of an SB3 ``ActorCriticPolicy`` (for ``meta.json``).

    Raises:
        ValueError: the policy uses an option this format does not record.
    """
    activation = policy.activation_fn.__name__
    if type(policy).__name__ == "SharedSkuPolicy" and activation in _ACTIVATIONS:
        return {
            "class": "SharedSkuPolicy",
            "net_arch": list(policy.net_arch),
            "activation_fn": activation,
            "log_std_init": float(policy.log_std_init),
            "n_sku_features": policy.n_sku_features,
            "n_context": policy.n_context,
            "observation_space": _box_to_json(policy.observation_space),
            "action_space": _box_to_json(policy.action_space),
        }
    if (
        type(policy).__name__ != "ActorCriticPolicy"
        or policy.use_sde
        or activation not in _ACTIVATIONS
        or policy.features_extractor_class.__name__ != "FlattenExtractor"
    ):
        raise ValueError(
            "only an MlpPolicy (ActorCriticPolicy, flatten extractor, no gSDE) can be saved "
            f"as weights + JSON, got {type(policy).__name__} with activation {activation}"
        )
    return {
        "class": "ActorCriticPolicy",
        "net_arch": policy.net_arch,
        "activation_fn": activation,
        "ortho_init": bool(policy.ortho_init),
        "log_std_init": float(policy.log_std_init),
        "share_features_extractor": bool(policy.share_features_extractor),
        "observation_space": _box_to_json(policy.observation_space),
        "action_space": _box_to_json(policy.action_space),
    }


def save_tensors(tensors: dict[str, Any], path: str | Path) -> None:
    """``torch.save`` a dict of tensors (a ``state_dict``) atomically.

    Raises:
        ValueError: naming ``path`` when the file cannot be written (disk full, file size
            limit), which torch reports as a ``RuntimeError`` of its zip writer.
    """
    import torch

    with atomic_path(path) as tmp:
        try:
            torch.save(tensors, tmp)
        except RuntimeError as error:
            detail = (str(error).strip().splitlines() or ["write failed"])[0][:200]
            raise OSError(  # atomic_path names the file
                errno.EIO, f"{detail}; check the free disk space and any file size limit"
            ) from None


def load_tensors(path: str | Path) -> dict[str, Any]:
    """Read a file written by :func:`save_tensors` without unpickling any object.

    Raises:
        ValueError: the file holds something other than tensors and plain containers.
    """
    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError) as error:
        ends = "the file ends early (empty or cut short)" if isinstance(error, EOFError) else ""
        detail = (str(error).splitlines() or [ends or type(error).__name__])[0]
        raise ValueError(
            f"{path} is not a weights-only tensor file (refused, nothing was executed): "
            f"{detail}. {_RETRAIN}"
        ) from None


def load_weights(module: Any, path: str | Path, hint: str = _RETRAIN_LOWER) -> None:
    """Load the ``state_dict`` in ``path`` (:func:`load_tensors`) into a torch module or
    optimizer.

    Raises:
        ValueError: naming ``path``, when the saved weights do not fit ``module`` (another
            network size or feature layout); ``hint`` says what to do.
    """
    state = load_tensors(path)
    try:
        module.load_state_dict(state)
    except (RuntimeError, ValueError, KeyError) as error:
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        detail = (lines[1] if len(lines) > 1 else lines[0] if lines else type(error).__name__)[:240]
        raise ValueError(
            f"{path}: the saved weights do not fit the network built from the current "
            f"params ({detail}); {hint}"
        ) from None


def save_arrays(arrays: dict[str, np.ndarray], path: str | Path) -> None:
    """``np.savez`` numeric arrays atomically."""
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.savez(handle, **arrays)  # type: ignore[arg-type]  # numpy stubs: **kwds vs allow_pickle


def load_arrays(path: str | Path) -> dict[str, np.ndarray]:
    """Read a file written by :func:`save_arrays` (``allow_pickle=False``).

    Raises:
        ValueError: the file is not an ``.npz`` of plain arrays.
    """
    try:
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    except (ValueError, OSError) as error:
        raise ValueError(f"{path} is not an .npz of plain arrays: {error}. {_RETRAIN}") from None


def save_policy(policy: Any, path: str | Path) -> None:
    """Write the policy's ``state_dict`` (weights of actor, critic and ``log_std``)."""
    save_tensors(policy.state_dict(), path)


def load_policy(
    path: str | Path, spec: dict[str, Any], spaces: tuple[Any, Any] | None = None
) -> Any:
    """Rebuild an SB3 ``ActorCriticPolicy`` (or a
    :class:`~inventory.shared_policy.SharedSkuPolicy`) from :func:`policy_spec` and its
    weights. ``spaces`` (observation, action) replace the recorded ones for a shared
    policy, whose weights fit any number of SKUs."""
    from stable_baselines3.common.policies import ActorCriticPolicy
    from torch import nn

    known = ("ActorCriticPolicy", "SharedSkuPolicy")
    if spec.get("class") not in known or spec.get("activation_fn") not in _ACTIVATIONS:
        raise ValueError(f"{path}: meta.json describes an unknown policy ({spec}). {_RETRAIN}")
    if spec["class"] == "SharedSkuPolicy":
        return _load_shared(path, spec, spaces)
    policy = ActorCriticPolicy(
        _box_from_json(spec["observation_space"]),
        _box_from_json(spec["action_space"]),
        lambda _: 0.0,
        net_arch=spec["net_arch"],
        activation_fn=getattr(nn, spec["activation_fn"]),
        ortho_init=spec["ortho_init"],
        log_std_init=spec["log_std_init"],
        share_features_extractor=spec["share_features_extractor"],
    )
    load_weights(policy, path)
    policy.set_training_mode(False)
    return policy


def _load_shared(path: str | Path, spec: dict[str, Any], spaces: Any) -> Any:
    from torch import nn

    from inventory.shared_policy import SharedSkuPolicy

    if spaces is None:
        spaces = (_box_from_json(spec["observation_space"]), _box_from_json(spec["action_space"]))
    observation_space, action_space = spaces
    policy = SharedSkuPolicy(
        observation_space,
        action_space,
        lambda _: 0.0,
        n_sku_features=spec["n_sku_features"],
        n_context=spec["n_context"],
        net_arch=spec["net_arch"],
        activation_fn=getattr(nn, spec["activation_fn"]),
        log_std_init=spec["log_std_init"],
    )
    load_weights(policy, path)
    policy.set_training_mode(False)
    return policy


def normalizer_arrays(normalizer: Any) -> dict[str, np.ndarray]:
    """The ``VecNormalize`` statistics and settings as plain arrays."""
    ret = normalizer.ret_rms
    # without observation normalisation (the shared policy) SB3 keeps no statistics
    obs = getattr(normalizer, "obs_rms", None)
    empty = np.zeros(0)
    return {
        "obs_mean": empty if obs is None else obs.mean,
        "obs_var": empty if obs is None else obs.var,
        "obs_count": np.float64(0.0 if obs is None else obs.count),
        "ret_mean": ret.mean,
        "ret_var": ret.var,
        "ret_count": np.float64(ret.count),
        "returns": normalizer.returns,
        "clip_obs": np.float64(normalizer.clip_obs),
        "clip_reward": np.float64(normalizer.clip_reward),
        "gamma": np.float64(normalizer.gamma),
        "epsilon": np.float64(normalizer.epsilon),
        "norm_obs": np.bool_(normalizer.norm_obs),
        "norm_reward": np.bool_(normalizer.norm_reward),
    }


def save_normalizer(normalizer: Any, path: str | Path) -> None:
    """Write :func:`normalizer_arrays` as ``.npz``."""
    save_arrays(normalizer_arrays(normalizer), path)


def restore_normalizer(normalizer: Any, arrays: dict[str, np.ndarray]) -> None:
    """Set a ``VecNormalize``'s statistics and settings from :func:`normalizer_arrays`."""
    if hasattr(normalizer, "obs_rms"):
        normalizer.obs_rms.mean = arrays["obs_mean"].copy()
        normalizer.obs_rms.var = arrays["obs_var"].copy()
        normalizer.obs_rms.count = float(arrays["obs_count"])
    normalizer.ret_rms.mean = arrays["ret_mean"].copy()
    normalizer.ret_rms.var = arrays["ret_var"].copy()
    normalizer.ret_rms.count = float(arrays["ret_count"])
    if arrays["returns"].shape == normalizer.returns.shape:
        normalizer.returns = arrays["returns"].copy()
    normalizer.clip_obs = float(arrays["clip_obs"])
    normalizer.clip_reward = float(arrays["clip_reward"])
    normalizer.gamma = float(arrays["gamma"])
    normalizer.epsilon = float(arrays["epsilon"])
    normalizer.norm_obs = bool(arrays["norm_obs"])
    normalizer.norm_reward = bool(arrays["norm_reward"])


def load_normalizer(path: str | Path, venv: Any) -> Any:
    """A ``VecNormalize`` over ``venv`` with the statistics in ``path``, not training."""
    from stable_baselines3.common.vec_env import VecNormalize

    arrays = load_arrays(path)
    if arrays["obs_mean"].shape != venv.observation_space.shape:
        raise ValueError(
            f"{path}: statistics of shape {arrays['obs_mean'].shape} do not match the "
            f"observations {venv.observation_space.shape}. {_RETRAIN}"
        )
    normalizer = VecNormalize(venv, training=False)
    restore_normalizer(normalizer, arrays)
    return normalizer
