"""Tuning base-stock and (s, S) levels: training cost, CPU time and peak memory by size.

Run: ``python bench/bench_tuning.py --skus 25 100 400`` (single core: BLAS threads are
pinned to 1). Each size runs in its own process, so the peak resident memory printed is
that size's alone. Instances come from the synthetic generator (``data.n_skus`` set to
each size, one location, the fallback demand model); ``--project DIR`` instead tunes the
pipeline's own instance of the project folder ``DIR`` (its data, the forecast stage's
forecast and fitted demand model), whose costs are the tuned rows of the evaluation table.

The cost printed is the mean total cost over the training scenarios
(``simulation.n_train_scenarios``, seed ``simulation.train_seed``): what the search
minimises. ``--max-passes`` caps the passes of every search (default
``evaluation.tune_max_passes``), which makes a per-pass time of a slow search
measurable. Times are CPU seconds of the tuning alone (user + system), so load from
other processes on a shared machine does not count.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from inventory.config import Config, load_config  # noqa: E402
from inventory.data import build_instance  # noqa: E402
from inventory.data.generate import generate_tables  # noqa: E402
from inventory.instance import Instance  # noqa: E402
from inventory.layout import Layout  # noqa: E402
from inventory.policies import tune_base_stock, tune_s_s  # noqa: E402
from inventory.scenarios import demand_model_for, sample_demand  # noqa: E402


def instance_of(config: Config, n_skus: int, project: str | None) -> tuple[Instance, str]:
    """The instance tuned and where its demand model comes from."""
    if project is not None:
        from inventory.stages import planning_instance

        layout = Layout.from_config(config, project)
        instance = planning_instance(config, layout=layout)
        return instance, str(layout.demand_model)
    data = config.data.model_copy(update={"n_skus": n_skus})
    tables = generate_tables(data)
    return build_instance(tables, data.locations[0], data.horizon_weeks), ""


def run_one(args: argparse.Namespace, n_skus: int) -> dict[str, float]:
    """Tune both policies on one instance, in this process."""
    config = load_config(args.params)
    instance, model_path = instance_of(config, n_skus, args.project)
    model, _ = demand_model_for(config, instance, model_path or None)
    sim = config.simulation
    train = sample_demand(instance, model, sim.n_train_scenarios, sim.train_seed)
    passes = args.max_passes or config.evaluation.tune_max_passes
    options = {
        "review_period_weeks": sim.review_period_weeks,
        "terminal": sim.terminal_cost,
        "max_passes": passes,
    }
    cpu = time.process_time()
    base = tune_base_stock(instance, train, **options)
    base_cpu = time.process_time() - cpu
    s_s = tune_s_s(instance, train, base=base, **options)
    s_s_cpu = time.process_time() - cpu - base_cpu
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "skus": instance.n_skus,
        "base_stock_cost": base.cost,
        "s_S_cost": s_s.cost,
        "base_stock_cpu_s": base_cpu,
        "s_S_cpu_s": s_s_cpu,
        "peak_mb": peak_mb,
        "offset_sum": float(np.sum(base.safety_units)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skus", type=int, nargs="+", default=[25, 100, 400])
    parser.add_argument("--project", help="tune this project folder's pipeline instance")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--max-passes", type=int, default=0, help="0: tune_max_passes")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:
        print(json.dumps(run_one(args, args.one)))
        return
    sizes = [0] if args.project else args.skus
    print(
        f"{'SKUs':>6}{'base-stock cost':>17}{'(s, S) cost':>14}{'base CPU s':>12}"
        f"{'(s,S) CPU s':>13}{'peak MB':>10}"
    )
    for size in sizes:
        command = [sys.executable, __file__, "--one", str(size), "--params", args.params]
        command += ["--max-passes", str(args.max_passes)]
        command += ["--project", args.project] if args.project else []
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        row = json.loads(done.stdout.strip().splitlines()[-1])
        print(
            f"{row['skus']:>6}{row['base_stock_cost']:>17,.0f}{row['s_S_cost']:>14,.0f}"
            f"{row['base_stock_cpu_s']:>12.1f}{row['s_S_cpu_s']:>13.1f}{row['peak_mb']:>10,.0f}"
        )


if __name__ == "__main__":
    main()
