"""The MILP's best implementable policy against tuned base-stock (issue: a fair fight).

On the default data and params (stochastic mode), every variant runs on the same first
``--scenarios`` evaluation scenarios with common random numbers, and the paired cost
difference to tuned base-stock is printed with its 95% interval. Rolling-horizon
variants, for each value of ``--demand`` (``milp.rolling_demand``: ``forecast`` or a
quantile of the training scenarios, which the windows plan on; the safety-stock target
stays the forecast's):

- ``rolling`` as shipped: ``milp.rolling_scenarios`` distinct states solved per week;
  the other scenarios take the nearest solved state's orders, corrected by their
  inventory position;
- with ``--every-state``: a window solve for every scenario's own state each week
  (``rolling_scenarios`` = the number of scenarios; N x 52 solves).

``--saa`` adds ``milp_saa``, the sample-average plan replayed open loop.

Usage::

    python bench/bench_rolling.py                     # 20 scenarios, as shipped + q50
    python bench/bench_rolling.py --scenarios 10 --every-state --demand forecast 0.4
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", type=int, default=20, help="evaluation scenarios used")
    parser.add_argument(
        "--demand", nargs="+", default=["forecast", "0.5"], help="forecast or quantiles"
    )
    parser.add_argument("--every-state", action="store_true", help="solve every state")
    parser.add_argument("--saa", action="store_true", help="add the SAA plan")
    args = parser.parse_args()

    from inventory import stages
    from inventory.config import load_config
    from inventory.evaluation import evaluate_policies
    from inventory.milp_policies import RollingHorizon, planning_demand
    from inventory.policy_factories import POLICY_FACTORIES, PolicySources
    from inventory.scenarios import scenarios_for

    config = load_config(ROOT / "params.yaml")
    layout = stages._layout(config, None)
    instance = stages.planning_instance(config, layout=layout)
    model = stages._demand_model(config, instance, layout)
    scenarios = scenarios_for(config, instance, "stochastic", model)
    demand = scenarios.evaluation[: args.scenarios]
    train = scenarios.training
    sources = PolicySources(tuning_cache=layout.tuning_cache)
    terminal = config.simulation.terminal_cost

    started = time.perf_counter()
    policies = {
        "base_stock": POLICY_FACTORIES["base_stock"](
            config, instance, "stochastic", train, sources
        ),
    }
    settings = config.milp
    if args.every_state:
        settings = settings.model_copy(update={"rolling_scenarios": args.scenarios})
    for value in args.demand:
        rolling_demand = value if value == "forecast" else float(value)
        chosen = settings.model_copy(update={"rolling_demand": rolling_demand})
        label = "rolling" + (", every state" if args.every_state else "")
        label += "" if value == "forecast" else f", plan on q{round(float(value) * 100)}"
        policies[label] = RollingHorizon(
            chosen, terminal=terminal, planning_demand=planning_demand(chosen, train)
        )
    if args.saa:
        policies["milp_saa"] = POLICY_FACTORIES["milp_saa"](
            config, instance, "stochastic", train, PolicySources()
        )
    times = {}

    def timed(items, _):
        for name in items:
            began = time.perf_counter()
            yield name
            times[name] = time.perf_counter() - began

    result = evaluate_policies(
        instance, policies, demand, reference="base_stock", terminal=terminal, progress=timed
    )
    print(
        f"default data, {instance.n_skus} SKUs x {instance.horizon_weeks} weeks, "
        f"{demand.shape[0]} evaluation scenarios (CRN), paired against tuned base-stock"
    )
    print(f"{'policy':28s} {'mean cost':>11s} {'vs base-stock (95% CI)':>34s} {'time s':>8s}")
    for name, summary in result.summaries.items():
        m = summary.metrics
        interval = ""
        if name != "base_stock":
            mean, low, high = (
                m["diff_to_reference"],
                m["diff_to_reference_ci_low"],
                m["diff_to_reference_ci_high"],
            )
            interval = f"{mean:+10,.0f} [{low:+,.0f}, {high:+,.0f}]"
        print(f"{name:28s} {m['total_cost']:11,.0f} {interval:>34s} {times.get(name, 0):8.1f}")
    print(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
