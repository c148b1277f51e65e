"""PPO shared policy against the per-catalog network (issue 15), several training seeds.

Run from a folder holding the pipeline's inputs (``data/`` and ``artifacts/``: the fitted
demand model), with ``PYTHONPATH`` pointing at the repository::

    python bench/bench_shared_policy.py --params params.yaml --seeds 7 8 9

For each demand mode, policy (``ppo.policy``: shared, catalog) and seed it trains the
profile of ``--params`` (quick by default: what ``dvc repro`` runs) into
``--models/<policy>_<seed>/ppo_<mode>`` and reports the held-out cost at step 0 (the anchor)
and of the kept model, whether it beats its anchor, the training time, and the evaluator's
cost on the evaluator's scenarios (``inventory.scenarios.scenarios_for``) with the paired
difference to tuned base-stock and (s, S) (mean and 95% interval over the scenarios).
Deterministic mode also shows the gap to the MILP plan's cost given by ``--milp-cost``.
Then the mean and spread (min, max) over seeds. Every figure is measured in this run.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from scipy import stats  # noqa: E402

from inventory.config import Config, load_config  # noqa: E402
from inventory.data import load_instance  # noqa: E402
from inventory.dynamics import simulate  # noqa: E402
from inventory.layout import Layout  # noqa: E402
from inventory.policy_factories import build_policies  # noqa: E402
from inventory.ppo_policy import PPOPolicy  # noqa: E402
from inventory.scenarios import demand_model_for, scenarios_for  # noqa: E402
from inventory.training import train_ppo  # noqa: E402

BASELINES = ("base_stock", "s_S")


def paired(diff: np.ndarray) -> tuple[float, float, float]:
    """Mean and 95% Student-t interval of paired differences (a point for one value)."""
    mean = float(diff.mean())
    if len(diff) < 2:
        return mean, mean, mean
    half = stats.t.ppf(0.975, len(diff) - 1) * diff.std(ddof=1) / np.sqrt(len(diff))
    return mean, mean - half, mean + half


def with_policy(config: Config, policy: str, seed: int) -> Config:
    ppo = config.ppo.model_copy(update={"policy": policy, "seed": seed, "progress_bar": False})
    return config.model_copy(update={"ppo": ppo})


def run_one(config, instance, mode, scenarios, base, model, root: Path) -> dict:
    """Train one model and score it on the evaluator's scenarios."""
    folder = root / f"ppo_{mode}"
    result = train_ppo(
        config,
        instance,
        mode,
        model_folder=folder,
        metrics_root=root / "metrics",
        demand_model=model,
    )
    policy = PPOPolicy.load(folder, instance)
    terminal = config.simulation.terminal_cost
    cost = simulate(instance, scenarios.evaluation, policy, terminal=terminal).total_cost()
    metrics = result.metrics
    row = {
        "initial_eval_cost": metrics["initial_eval_cost"],
        "best_eval_cost": metrics["best_eval_cost"],
        "beats_anchor": metrics["beats_anchor"],
        "best_timesteps": metrics["best_timesteps"],
        "training_time_s": metrics["training_time_s"],
        "steps_per_s": metrics["steps_per_s"],
        "eval_cost": float(cost.mean()),
    }
    for name, other in base.items():
        row[f"vs_{name}"] = paired(cost - other)
    return row


def summary(rows: list[dict], key: str) -> str:
    values = np.array([r[key][0] if isinstance(r[key], tuple) else r[key] for r in rows], float)
    return f"{values.mean():,.0f} [{values.min():,.0f}, {values.max():,.0f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--models", default="models/bench_shared")
    parser.add_argument("--modes", nargs="+", default=["stochastic", "deterministic"])
    parser.add_argument("--policies", nargs="+", default=["shared", "catalog"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[7, 8, 9])
    parser.add_argument("--milp-cost", type=float, default=None)
    parser.add_argument("--out", default="bench_shared_policy.json")
    args = parser.parse_args()
    load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(f"load at start: {load}", flush=True)
    config = load_config(args.params)
    instance = load_instance(config)
    model = demand_model_for(config, instance, Layout.from_config(config).demand_model)
    results: dict = {"load": load}
    for mode in args.modes:
        scenarios = scenarios_for(config, instance, mode, model)
        policies = build_policies(config, instance, mode, scenarios.training, names=BASELINES)
        terminal = config.simulation.terminal_cost
        base = {
            name: simulate(instance, scenarios.evaluation, p, terminal=terminal).total_cost()
            for name, p in policies.items()
        }
        results[mode] = {"baselines": {k: float(v.mean()) for k, v in base.items()}}
        print(mode, results[mode]["baselines"], flush=True)
        for name in args.policies:
            rows = []
            for seed in args.seeds:
                root = Path(args.models) / f"{name}_{seed}"
                run_config = with_policy(config, name, seed)
                row = run_one(run_config, instance, mode, scenarios, base, model, root)
                row["seed"] = seed
                if args.milp_cost and mode == "deterministic":
                    row["gap_to_milp_pct"] = 100 * (row["eval_cost"] / args.milp_cost - 1)
                print(mode, name, json.dumps(row), flush=True)
                rows.append(row)
            results[mode][name] = rows
            keys = ["initial_eval_cost", "best_eval_cost", "eval_cost", "vs_base_stock", "vs_s_S"]
            print(mode, name, {k: summary(rows, k) for k in keys}, flush=True)
    Path(args.out).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
