"""PPO quality benchmark (issue 6): PPO against the MILP plans and classical policies.

Run after training both modes (``inventory train --mode deterministic --profile full`` and
``--mode stochastic``), or let it train into a separate model root::

    python bench/bench_ppo.py                     # evaluate models/ppo_<mode>
    python bench/bench_ppo.py --train --profile full --models models/bench

In deterministic mode ``--profile full`` trains with ``ppo.full_deterministic`` (its own
budget and hyperparameters, named by ``ppo.modes.deterministic.full_profile``) and that
mode's anchor and action scale; the stochastic mode keeps ``ppo.full``. The results behind
the shipped values are in ``bench/RESULTS.md``.

Every figure is measured in this run on the default data, with the evaluator's shared
scenarios (``inventory.scenarios.scenarios_for``: the forecast in deterministic mode,
``simulation.n_eval_scenarios`` (>= 200) draws with ``simulation.eval_seed`` in stochastic
mode), so PPO and every other policy face the same demand (common random numbers). Costs
are the common simulator's (:func:`inventory.dynamics.simulate`), terminal cost included.

Targets:
- deterministic: PPO's cost within 5% of the MILP optimum (the plan on the forecast;
  its proven lower bound is shown too);
- stochastic: PPO's mean cost below the tuned base-stock policy and the open-loop MILP
  plan, each paired 95% confidence interval of (PPO - other) excluding zero.

Reported without a target: the rolling-horizon MILP and the hindsight bound (solved per
scenario, so on the first ``--rolling-scenarios`` / ``--hindsight-scenarios`` scenarios,
compared pairwise on that subset), the SAA plan, and the stress sets of
``inventory.stress`` (PPO vs the cheap-to-replay policies). The MILP plans are solved with
``--solver`` (HiGHS by default: GLPK only gets a Lagrangian plan at this size).
Baseline costs per scenario are cached in ``--cache`` so a re-run after retraining PPO
only simulates PPO (``--fresh`` recomputes them).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from scipy import stats  # noqa: E402

from inventory.config import Config, config_to_dict, load_config  # noqa: E402
from inventory.data import load_instance  # noqa: E402
from inventory.dynamics import simulate  # noqa: E402
from inventory.instance import Instance  # noqa: E402
from inventory.io import write_json  # noqa: E402
from inventory.layout import Layout  # noqa: E402
from inventory.policy_factories import POLICY_FACTORIES, build_policies  # noqa: E402
from inventory.ppo_policy import PPOPolicy  # noqa: E402
from inventory.scenarios import demand_model_for, scenarios_for  # noqa: E402

CHEAP = ("order_up_to", "base_stock", "s_S", "milp_open_loop", "milp_saa")
SUBSET = ("milp_rolling", "milp_hindsight")


def interval(values: np.ndarray, confidence: float = 0.95) -> tuple[float, float, float]:
    """Mean and Student-t confidence interval (a point when there is one value)."""
    mean = float(np.mean(values))
    if len(values) < 2:
        return mean, mean, mean
    half = stats.t.ppf(0.5 + confidence / 2, len(values) - 1) * np.std(values, ddof=1)
    half /= np.sqrt(len(values))
    return mean, mean - half, mean + half


def costs(instance: Instance, demand: np.ndarray, policy, terminal: bool) -> np.ndarray:
    """Total cost per scenario; a hindsight policy first sees the scenarios."""
    if hasattr(policy, "observe_demand"):
        policy.observe_demand(demand)
    return simulate(instance, demand, policy, terminal=terminal).total_cost()


def baseline_costs(
    config: Config, instance: Instance, mode: str, demand: dict[str, np.ndarray], train, args
) -> dict[str, dict[str, np.ndarray]]:
    """Cost per scenario of every non-PPO policy on every demand set (cached)."""
    key = hashlib.sha1(
        json.dumps(
            [
                config_to_dict(config.milp),
                config_to_dict(config.simulation),
                mode,
                args.rolling_scenarios,
                args.hindsight_scenarios,
                {k: hashlib.sha1(v.tobytes()).hexdigest() for k, v in demand.items()},
            ],
            sort_keys=True,
        ).encode()
    ).hexdigest()[:12]
    cache = Path(args.cache) / f"baselines_{mode}_{key}.json"
    saved = json.loads(cache.read_text()) if cache.exists() and not args.fresh else {}
    stored = saved.get("costs", {})
    out = {label: {k: np.array(v) for k, v in stored.get(label, {}).items()} for label in demand}
    timings, failures = saved.get("timings_s", {}), saved.get("failures", {})
    names = [n for n in (*CHEAP, *SUBSET) if n in POLICY_FACTORIES]
    for name in names:
        if name in timings or name in failures:
            continue  # cached (a re-run after retraining PPO only simulates PPO)
        if args.cached_only:
            failures[name] = "not computed yet (--cached-only)"
            continue
        started = time.perf_counter()
        try:
            _baseline(config, instance, mode, name, demand, train, args, out)
        except ValueError as exc:  # e.g. a MILP limit hit before any plan: reported, not fatal
            failures[name] = str(exc)
            print(f"  {mode}: {name} FAILED: {exc}", flush=True)
        else:
            timings[name] = round(time.perf_counter() - started, 1)
            print(f"  {mode}: {name} done in {timings[name]} s", flush=True)
        if not args.cached_only:
            plain = {label: {k: v.tolist() for k, v in d.items()} for label, d in out.items()}
            write_json(cache, {"timings_s": timings, "failures": failures, "costs": plain})
    out["failures"] = failures  # type: ignore[assignment]
    return out


def _baseline(config, instance, mode, name, demand, train, args, out) -> None:
    """Simulate one baseline on every demand set it applies to, into ``out``."""
    policy = build_policies(config, instance, mode, train, names=[name])[name]
    for label, scenarios in demand.items():
        if name in SUBSET and label != "main":
            continue
        limit = args.rolling_scenarios if name == "milp_rolling" else args.hindsight_scenarios
        subset = scenarios[:limit] if name in SUBSET else scenarios
        out[label][name] = costs(instance, subset, policy, config.simulation.terminal_cost)
        if label != "main":
            continue
        bounds = getattr(policy, "bounds", None)
        if bounds is not None:
            out[label]["milp_hindsight_bound"] = np.asarray(bounds, dtype=float)
        result = getattr(policy, "result", None)
        if result is not None:
            out[label][f"{name}_solver_bound"] = np.array([result.bound or np.nan])


def compare(ppo: np.ndarray, other: np.ndarray) -> dict[str, float]:
    """Paired comparison of PPO with another policy on the same scenarios."""
    n = len(other)
    mean, low, high = interval(ppo[:n] - other)
    base = float(np.mean(other))
    return {
        "n": n,
        "other_mean": base,
        "ppo_mean": float(np.mean(ppo[:n])),
        "diff": mean,
        "diff_ci_low": low,
        "diff_ci_high": high,
        "gap_pct": 100 * (float(np.mean(ppo[:n])) / max(base, 1e-12) - 1),
    }


def table(rows: dict[str, dict[str, float]], title: str) -> str:
    lines = [
        f"### {title}",
        "",
        "| policy | scenarios | policy mean cost | PPO mean cost (same scenarios) | PPO - policy "
        "[95% CI] | PPO gap |",
        "|---|---:|---:|---:|---|---:|",
    ]
    for name, r in rows.items():
        lines.append(
            f"| {name} | {r['n']} | {r['other_mean']:,.0f} | {r['ppo_mean']:,.0f} | "
            f"{r['diff']:+,.0f} [{r['diff_ci_low']:+,.0f}, {r['diff_ci_high']:+,.0f}] | "
            f"{r['gap_pct']:+.2f}% |"
        )
    return "\n".join(lines)


def _scenarios(config: Config, instance: Instance, mode: str) -> tuple:
    """The evaluator's scenarios and stress sets (the fitted demand model when there is one)."""
    model = demand_model_for(config, instance, Layout.from_config(config).demand_model)
    scenarios = scenarios_for(config, instance, mode, model)
    demand = {"main": scenarios.evaluation}
    if mode == "stochastic":
        from inventory.stress import stress_scenarios

        demand.update(stress_scenarios(config, instance, model[0]))
    return scenarios, demand


def run_mode(config: Config, instance: Instance, mode: str, args) -> dict:
    scenarios, demand = _scenarios(config, instance, mode)
    base = baseline_costs(config, instance, mode, demand, scenarios.training, args)
    failures = base.pop("failures", {})
    ppo_policy = PPOPolicy.load(Path(args.models) / f"ppo_{mode}", instance)
    ppo = {
        label: costs(instance, d, ppo_policy, config.simulation.terminal_cost)
        for label, d in demand.items()
    }
    rows = {
        name: compare(ppo["main"], c)
        for name, c in base["main"].items()
        if not name.endswith("bound")
    }
    result = {
        "mode": mode,
        "scenarios": scenarios.description,
        "n_scenarios": int(len(scenarios.evaluation)),
        "ppo_mean_cost": interval(ppo["main"]),
        "vs": rows,
        "stress": {},
        "failures": failures,
    }
    if "milp_hindsight_bound" in base["main"]:
        bound = base["main"]["milp_hindsight_bound"]
        result["vs"]["milp_hindsight_bound"] = compare(ppo["main"], bound)
    if "milp_open_loop_solver_bound" in base["main"]:
        result["milp_optimum_bound"] = float(base["main"]["milp_open_loop_solver_bound"][0])
    for label in demand:
        if label != "main":
            result["stress"][label] = {
                name: compare(ppo[label], c) for name, c in base[label].items()
            }
    return result


def verdicts(results: dict) -> list[str]:
    lines = []
    det = results.get("deterministic")
    if det and "milp_open_loop" in det["vs"]:
        gap = det["vs"]["milp_open_loop"]["gap_pct"]
        lines.append(
            f"deterministic: PPO gap to the MILP optimum {gap:+.2f}% (target <= +5%): "
            f"{'MET' if gap <= 5 else 'MISSED by ' + format(gap - 5, '.2f') + ' points'}"
        )
    sto = results.get("stochastic")
    if sto:
        for name in ("base_stock", "milp_open_loop"):
            if name in sto["vs"]:
                r = sto["vs"][name]
                ok = r["diff_ci_high"] < 0
                lines.append(
                    f"stochastic: PPO - {name} = {r['diff']:+,.0f} [{r['diff_ci_low']:+,.0f}, "
                    f"{r['diff_ci_high']:+,.0f}] ({r['gap_pct']:+.2f}%): "
                    f"{'MET' if ok else 'MISSED'} (target: CI entirely below 0)"
                )
    return lines


def main() -> None:  # noqa: C901 - one branch per command-line option
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--modes", nargs="+", default=["deterministic", "stochastic"])
    parser.add_argument("--train", action="store_true", help="train the modes first")
    parser.add_argument("--train-only", action="store_true", help="with --train: stop after it")
    parser.add_argument("--profile", default=None, help="profile for --train (default params)")
    parser.add_argument(
        "--models", default="models", help="model root (with --train: metrics in <root>/metrics)"
    )
    parser.add_argument("--solver", default="highs", choices=["highs", "glpk"])
    parser.add_argument(
        "--time-limit", type=float, default=300.0, help="s, safety net per plan solve"
    )
    parser.add_argument("--rolling-scenarios", type=int, default=10)
    parser.add_argument("--hindsight-scenarios", type=int, default=10)
    parser.add_argument("--cache", default="artifacts/bench")
    parser.add_argument("--fresh", action="store_true", help="recompute the baseline costs")
    parser.add_argument("--baselines-only", action="store_true")
    parser.add_argument(
        "--cached-only", action="store_true", help="compare only with the cached baselines"
    )
    parser.add_argument("--out", default="artifacts/bench/ppo_quality.json")
    args = parser.parse_args()

    config = load_config(args.params)
    # Every scenario of the rolling-horizon subset gets its own weekly solves (no nearest-state
    # sharing), so its cost is the rolling-horizon MILP's, not an approximation.
    milp = config.milp.model_copy(
        update={
            "solver": args.solver,
            "rolling_scenarios": args.rolling_scenarios,
            "safety_time_limit_s": args.time_limit,
        }
    )
    config = config.model_copy(update={"milp": milp})
    instance = load_instance(config)
    if args.train:
        from inventory.training import train_ppo

        if args.profile:
            ppo = config.ppo.model_copy(update={"profile": args.profile})
            config = config.model_copy(update={"ppo": ppo})
        for mode in args.modes:
            result = train_ppo(
                config,
                instance,
                mode,
                model_folder=Path(args.models) / f"ppo_{mode}",
                metrics_root=Path(args.models) / "metrics",
                demand_model=demand_model_for(
                    config, instance, Layout.from_config(config).demand_model
                ),
            )
            print(json.dumps(result.metrics), flush=True)
        if args.train_only:
            return
    results, train_metrics = {}, {}
    for mode in args.modes:
        if args.baselines_only:
            scenarios, demand = _scenarios(config, instance, mode)
            baseline_costs(config, instance, mode, demand, scenarios.training, args)
            continue
        results[mode] = run_mode(config, instance, mode, args)
        metrics_path = Path(args.models) / "metrics" / f"train_{mode}.json"
        if metrics_path.exists():
            train_metrics[mode] = json.loads(metrics_path.read_text())
    if args.baselines_only:
        return
    out = []
    for mode, result in results.items():
        low, high = result["ppo_mean_cost"][1:]
        out.append(f"## {mode}: {result['n_scenarios']} scenario(s), {result['scenarios']}")
        out.append(
            f"PPO mean cost {result['ppo_mean_cost'][0]:,.0f} (95% CI {low:,.0f} - {high:,.0f})"
        )
        if "milp_optimum_bound" in result:
            out.append(f"MILP open-loop proven lower bound: {result['milp_optimum_bound']:,.0f}")
        tm = train_metrics.get(mode)
        if tm:
            out.append(
                f"training: profile {tm['profile']}, {tm['total_timesteps']:,} steps, "
                f"{tm['training_time_s']:.0f} s, {tm['steps_per_s']:,.0f} steps/s, "
                f"anchor {tm.get('anchor')}"
            )
        out.append(table(result["vs"], f"{mode}: PPO vs each policy"))
        for name, reason in result["failures"].items():
            out.append(f"{name}: no result ({reason})")
        for label, rows in result["stress"].items():
            out.append(table(rows, f"stress {label}: PPO vs each policy"))
    out += ["## verdict", *verdicts(results)]
    text = "\n\n".join(out)
    print(text)
    write_json(
        args.out, {"results": results, "training": train_metrics, "verdicts": verdicts(results)}
    )
    Path(args.out).with_suffix(".md").write_text(text + "\n")


if __name__ == "__main__":
    main()
