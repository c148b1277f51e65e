"""Exact optima to measure PPO against (issue 15 item 3): single-SKU lost-sales instances.

Poisson demand with mean 5, holding cost h = 1, lost-sale cost p = 4, 9, 19 (p/h), lead
times 1..4 weeks, safety stock 0, no binding ramp or containers: the classical lost-sales
problem, whose optimum relative value iteration computes (:mod:`inventory.lost_sales`).
For each instance the table gives the exact optimal cost per week, the best base-stock
level and its exact cost, and their gap; the oracle's own cost in the simulator (same
scenarios as PPO: a check of the chain against ``simulate``); and PPO's simulated cost
with its gaps to both, when trained models are given::

    python bench/bench_lost_sales.py
    python bench/bench_lost_sales.py --ppo-models models/lost_sales

``--ppo-models DIR`` holds one model folder per instance, ``DIR/mean5_L<L>_p<p>`` (e.g.
``mean5_L2_p4``) with the ``model.zip``, ``vecnormalize.pkl`` and ``meta.json`` of
:class:`inventory.ppo_policy.PPOPolicy`, trained on that instance with the product's PPO
(the instance of :func:`inventory.lost_sales.lost_sales_instance`; the location and SKU id
are taken from the model's ``meta.json``). A missing folder leaves the row's PPO cells
"not run". The hook is :func:`policy_cost`: any :class:`inventory.policies.Policy` in,
its average cost per week out.

Simulated costs: ``--scenarios`` Poisson paths of ``--warmup + --weeks`` weeks (seeded,
the same for every policy of an instance), average cost per week after the warm-up, +-
one standard error over the paths. Results are recorded in ``bench/RESULTS.md`` under
"Lost-sales exact optima".
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass, replace  # noqa: E402
from pathlib import Path  # noqa: E402

from inventory.lost_sales import (  # noqa: E402
    LostSalesProblem,
    OraclePolicy,
    best_base_stock,
    lost_sales_instance,
    simulated_cost_per_week,
    solve,
)
from inventory.policies import Policy  # noqa: E402

NOT_RUN = "not run"


@dataclass(frozen=True)
class Simulation:
    """How simulated costs are measured."""

    scenarios: int = 100
    weeks: int = 2000
    warmup: int = 200
    seed: int = 0


def model_folder_name(problem: LostSalesProblem) -> str:
    """The folder name of an instance's PPO model under ``--ppo-models``."""
    ratio = problem.lost_sale_cost / problem.holding_cost
    return f"mean{problem.demand_mean:g}_L{problem.lead_time_weeks}_p{ratio:g}"


def policy_cost(
    policy: Policy, problem: LostSalesProblem, simulation: Simulation, on_hand: float = 0.0
) -> tuple[float, float]:
    """Simulated average cost per week of ``policy`` on ``problem``'s instance, +- SE."""
    instance = lost_sales_instance(problem, simulation.warmup + simulation.weeks, on_hand)
    return simulated_cost_per_week(
        instance,
        policy,
        n_scenarios=simulation.scenarios,
        warmup_weeks=simulation.warmup,
        seed=simulation.seed,
    )


def load_ppo(folder: Path, problem: LostSalesProblem, simulation: Simulation) -> Policy | None:
    """The PPO model in ``folder`` for ``problem``'s instance, None if there is none."""
    if not (folder / "meta.json").exists():
        return None
    from inventory.ppo_policy import PPOPolicy

    meta = json.loads((folder / "meta.json").read_text())
    instance = lost_sales_instance(problem, simulation.warmup + simulation.weeks)
    instance = replace(instance, location=meta["location"], skus=tuple(meta["skus"]))
    return PPOPolicy.load(folder, instance)


def gap(cost: float, reference: float) -> str:
    """``cost`` above ``reference`` in percent."""
    return f"{100 * (cost / reference - 1):+.2f}%"


def instance_row(
    problem: LostSalesProblem, simulation: Simulation, ppo_models: Path | None
) -> dict[str, str]:
    """One row of the table: exact optimum, best base stock, oracle and PPO simulated."""
    solution = solve(problem)
    started = time.perf_counter()
    level, level_cost, _ = best_base_stock(problem)
    base_seconds = time.perf_counter() - started
    oracle, oracle_error = policy_cost(OraclePolicy(solution.policy), problem, simulation, level)
    row = {
        "L": str(problem.lead_time_weeks),
        "p/h": f"{problem.lost_sale_cost / problem.holding_cost:g}",
        "states": str(solution.n_states),
        "VI sweeps": str(solution.iterations),
        "VI s": f"{solution.seconds:.1f}",
        "optimum": f"{solution.average_cost:.4f}",
        "cap hit": "yes" if solution.cap_reached else "no",
        "best S": str(level),
        "base-stock": f"{level_cost:.4f}",
        "BS gap": gap(level_cost, solution.average_cost),
        "BS search s": f"{base_seconds:.1f}",
        "oracle sim": f"{oracle:.3f} +- {oracle_error:.3f}",
        "PPO sim": NOT_RUN,
        "PPO gap opt": NOT_RUN,
        "PPO gap BS": NOT_RUN,
    }
    ppo = None
    if ppo_models is not None:
        ppo = load_ppo(ppo_models / model_folder_name(problem), problem, simulation)
    if ppo is not None:
        cost, error = policy_cost(ppo, problem, simulation, level)
        row["PPO sim"] = f"{cost:.3f} +- {error:.3f}"
        row["PPO gap opt"] = gap(cost, solution.average_cost)
        row["PPO gap BS"] = gap(cost, level_cost)
    return row


def markdown(rows: list[dict[str, str]]) -> str:
    """The rows as a markdown table."""
    head = list(rows[0])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(row[key] for key in head) + " |" for row in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mean", type=float, default=5.0, help="Poisson mean demand per week")
    parser.add_argument("--holding", type=float, default=1.0, help="h per unit and week")
    parser.add_argument("--ratios", type=float, nargs="+", default=[4.0, 9.0, 19.0])
    parser.add_argument("--leads", type=int, nargs="+", default=[1, 2, 3, 4])
    parser.add_argument("--ppo-models", type=Path, default=None)
    parser.add_argument("--scenarios", type=int, default=Simulation.scenarios)
    parser.add_argument("--weeks", type=int, default=Simulation.weeks)
    parser.add_argument("--warmup", type=int, default=Simulation.warmup)
    parser.add_argument("--seed", type=int, default=Simulation.seed)
    args = parser.parse_args()
    simulation = Simulation(args.scenarios, args.weeks, args.warmup, args.seed)
    rows = []
    for lead in args.leads:
        for ratio in args.ratios:
            problem = LostSalesProblem(args.mean, lead, args.holding, ratio * args.holding)
            rows.append(instance_row(problem, simulation, args.ppo_models))
            print(" ".join(f"{k}={v}" for k, v in rows[-1].items()), flush=True)
    print()
    print(markdown(rows))


if __name__ == "__main__":
    main()
