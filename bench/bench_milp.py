"""MILP benchmark (issue 4): GLPK and HiGHS side by side on the default instance and on a
50-SKU x 52-week instance of the same generator.

Run: ``python bench/bench_milp.py [--gap 0.01] [--iterations N] [--safety-time-limit S]
[--skip-monolithic-glpk]``.

For every instance it solves the deterministic plan (demand = forecast, terminal cost as
in params.yaml) with GLPK (``milp.method: auto``, i.e. the Lagrangian decomposition at
this size), GLPK relaxed-sales (``method: relaxed``: relaxed bound, simulated plan, exact
fallback in the remaining time), GLPK on the monolithic model (default instance only: it
finds no plan within the limit at 25 SKUs already), HiGHS on the monolithic model and
HiGHS relaxed-sales, each to the same gap, one thread; the Lagrangian runs
``milp.lagrangian_iterations`` iterations (``--iterations``), and the wall-clock safety net
(``--safety-time-limit``, default ``milp.safety_time_limit_s``) only stops pathological
solves (column ``limit``: ``HIT`` when it did; such a row depends on the machine's speed).
Column ``inc``: which plan won, the solver's or the heuristic incumbent's. Every figure is
measured in this run; the plan's cost is re-simulated with
:func:`inventory.dynamics.simulate_plan` and must equal the reported objective.

Instances: ``default`` is the data folder with its own forecast (``data/forecast.csv``);
``pipeline`` (only when ``artifacts/forecast.csv`` exists, i.e. after ``dvc repro`` or
``inventory forecast``) is the same data with the forecast stage's forecast, the instance
``inventory solve`` plans on; ``50-SKU`` is the generator at 50 SKUs.

Recorded figures and the design choices they support: ``bench/RESULTS.md`` (section MILP).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from inventory import milp  # noqa: E402
from inventory.config import load_config  # noqa: E402
from inventory.data import build_instance, generate_tables, load_instance  # noqa: E402
from inventory.dynamics import simulate_plan  # noqa: E402
from inventory.forecast import planning_forecast  # noqa: E402
from inventory.scenarios import deterministic_demand  # noqa: E402
from inventory.stages import FORECAST  # noqa: E402


def _instances(config, n_large: int):
    default = load_instance(config)
    instances = {"default": default}
    forecast = planning_forecast(FORECAST, config.forecast)
    if forecast is not None:  # the forecast stage has run: the instance the pipeline solves
        instances["pipeline"] = load_instance(config, forecast=forecast)
    data = config.data.model_copy(update={"n_skus": n_large})
    tables = generate_tables(data)
    large = build_instance(tables, config.simulation.location, config.data.horizon_weeks)
    instances[f"{n_large}-SKU"] = large
    return instances


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--safety-time-limit", type=float, default=None, help="s per solve")
    parser.add_argument("--iterations", type=int, default=None, help="Lagrangian iterations")
    parser.add_argument("--gap", type=float, default=0.01)
    parser.add_argument("--large-skus", type=int, default=50)
    parser.add_argument("--skip-monolithic-glpk", action="store_true")
    args = parser.parse_args()
    config = load_config(args.params)
    terminal = config.simulation.terminal_cost
    runs = [
        ("glpk", "auto"),
        ("glpk", "relaxed"),
        ("glpk", "monolithic"),
        ("highs", "monolithic"),
        ("highs", "relaxed"),
    ]
    if args.skip_monolithic_glpk:
        runs.remove(("glpk", "monolithic"))
    header = (
        f"{'instance':<9} {'SKUxT':>6} {'solver':<6} {'method':<10} {'status':<11} "
        f"{'objective':>12} {'bound':>12} {'gap':>7} {'time_s':>7} {'replay_ok':>9} "
        f"{'limit':>5} {'inc':>9}"
    )
    safety_s = args.safety_time_limit or config.milp.safety_time_limit_s
    iterations = args.iterations or config.milp.lagrangian_iterations
    print(
        f"safety net {safety_s:g} s, {iterations} Lagrangian iterations, target gap "
        f"{100 * args.gap:g}%, terminal cost {'on' if terminal else 'off'}"
    )
    print(header)
    print("-" * len(header))
    for label, instance in _instances(config, args.large_skus).items():
        for solver, method in runs:
            if (solver, method) == ("glpk", "monolithic") and label != "default":
                print(
                    f"{label:<9} glpk monolithic skipped: no plan within 60 s at 25 SKUs, "
                    "so none at this size either",
                    flush=True,
                )
                continue
            settings = config.milp.model_copy(
                update={
                    "solver": solver,
                    "method": method,
                    "safety_time_limit_s": safety_s,
                    "lagrangian_iterations": iterations,
                    "mip_gap": args.gap,
                }
            )
            result = milp.solve_plan(instance, settings=settings, terminal=terminal)
            replay = "-"
            if result.orders is not None:
                cost = simulate_plan(
                    instance, result.orders, deterministic_demand(instance), terminal=terminal
                ).total_cost()[0]
                replay = "yes" if abs(cost - result.objective) <= 1e-6 * cost else "NO"

            def fmt(value, spec):
                if value is None:
                    return "-"
                return format(value, spec.rstrip("%")) + ("%" if spec.endswith("%") else "")

            shape = f"{instance.n_skus}x{instance.horizon_weeks}"
            print(
                f"{label:<9} {shape:>6} {solver:<6} {result.method:<10} "
                f"{result.status:<11} {fmt(result.objective, '12,.1f')} "
                f"{fmt(result.bound, '12,.1f')} "
                f"{fmt(None if result.gap is None else 100 * result.gap, '6.2f%'):>7} "
                f"{result.solve_time_s:7.1f} {replay:>9} "
                f"{'HIT' if result.limit_hit else '-':>5} "
                f"{result.details.get('incumbent', '-'):>9}",
                flush=True,
            )
            if result.method == "relaxed":
                extra = result.details
                print(
                    f"{'':<9} relaxed: replay of the relaxed plan "
                    f"{fmt(extra.get('replay_objective'), ',.1f')}, exact fallback "
                    f"{extra.get('fallback', 'none')}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
