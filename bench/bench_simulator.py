"""Simulator throughput: vectorised dynamics vs a plain per-SKU Python loop, and VecEnv.

Run: ``python bench/bench_simulator.py`` (single core: BLAS threads are pinned to 1).
Every figure is measured in this run; the ratio compares the same dynamics and the same
base-stock policy (state feedback each week) on the same scenarios, and the
implementations are checked to agree before timing counts (trajectories and per-week
costs exactly; sums over SKUs, added in another order by the loop, to 1e-12).

Timing: each implementation runs ``--rounds`` times, interleaved with the others, and the
fastest run counts. Runs are timed in CPU seconds (user + system) of this single-threaded
process, so time slices taken by other processes on a shared machine do not count against
any implementation; wall-clock seconds of the same runs are printed alongside.

JIT: ``simulate``, ``simulate_cost_by_sku`` and the VecEnv run compiled kernels
(:mod:`inventory.fused_week`, numba; the plain loop is the test oracle
``tests/oracle.py``). The first line reports what a process pays for them once: loading
the kernels from numba's on-disk cache in this process, and compiling them from an empty
cache (in a subprocess, as on a fresh machine). The agreement check runs
every implementation before timing, so no timed run includes either.

Targets (issue 3): vectorised >= 100x the plain loop, and >= 1e6 SKU-weeks/s for an
evaluation batch of 1000 scenarios x 25 SKUs x 52 weeks. ``simulate`` returns every
(N, T, P) trajectory (10 float64 and 2 bool arrays, about 107 MB for the default batch);
the "output memory floor" row times only allocating and writing those arrays once, the
part of its cost no arithmetic change can remove.

Memory: each implementation's output is kept until its next run replaces it, as the
evaluator keeps one policy's result while it simulates the next, so the C allocator hands
each run the memory of an earlier result (before, whether it did depended on which
allocations happened to outlive a run). Fresh pages from the operating system (page
faults, zeroing) cost about as much again as the floor row, and for the default batch
that is enough to take simulate below 100x: with glibc, ``env
MALLOC_MMAP_THRESHOLD_=1000000 python bench/bench_simulator.py`` gives every large array
fresh pages and shows that case (read the floor and simulate rows together).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402

import numpy as np  # noqa: E402

from inventory.dynamics import simulate, simulate_cost_by_sku  # noqa: E402
from inventory.env import InventoryVecEnv  # noqa: E402
from inventory.policies import BaseStock, planner_levels  # noqa: E402
from inventory.testing import make_instance  # noqa: E402
from tests.oracle import simulate_loop  # noqa: E402

TARGET_RATIO = 100.0
TARGET_RATE = 1e6
EXACT_FIELDS = ("orders", "sales", "lost", "end_inventory", "cost_lost_sales")
EXACT_FIELDS += ("cost_overstock", "cost_understock", "containers", "cost_containers")


def timed(fn: Callable[[], object]) -> tuple[float, float, object]:
    """(CPU seconds, wall seconds, output) of one call."""
    cpu, wall = time.process_time(), time.perf_counter()
    output = fn()
    return time.process_time() - cpu, time.perf_counter() - wall, output


_LOAD_KERNELS = "import inventory.fused_week"


def jit_seconds() -> tuple[float, bool, float]:
    """CPU seconds to get the compiled kernels in this process, whether they came from
    the disk cache, and CPU seconds to compile them from an empty cache in a fresh
    process (less that process's import of numba and numpy)."""
    cpu = time.process_time()
    import inventory.fused_week as kernels

    loaded = time.process_time() - cpu
    hit = not any(getattr(kernels, name).stats.cache_misses for name in kernels.__all__)
    timing = "import time; t = time.process_time(); {}; print(time.process_time() - t)"
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        seconds = [
            float(
                subprocess.run(
                    [sys.executable, "-c", timing.format(code)],
                    env=env,
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout
            )
            for code in ("import numba, numpy", _LOAD_KERNELS)
        ]
    return loaded, hit, seconds[1] - seconds[0]


def check_agreement(instance, demand: np.ndarray, levels: np.ndarray) -> None:
    """Refuse to time implementations that do not compute the same thing."""
    loop = simulate_loop(instance, demand, base_stock_levels=levels)
    result = simulate(instance, demand, BaseStock(levels))
    costs, shared = simulate_cost_by_sku(instance, demand, BaseStock(levels))
    same = all(np.array_equal(getattr(result, name), loop[name]) for name in EXACT_FIELDS)
    same &= np.allclose(result.cost_terminal, loop["cost_terminal"], rtol=1e-12)
    same &= np.allclose(costs.sum(axis=1) + shared, result.total_cost(), rtol=1e-12)
    if not same:
        raise SystemExit("vectorised and plain-loop dynamics disagree; timings are meaningless")


def output_floor(n: int, horizon: int, n_skus: int) -> list[np.ndarray]:
    """Allocate and write once the arrays that simulate() returns (its memory floor)."""
    floats = [np.empty((horizon, n, n_skus)) for _ in range(10)]
    flags = [np.empty((horizon, n, n_skus), dtype=bool) for _ in range(2)]
    for array in floats + flags:
        array.fill(1)
    return floats + flags


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", type=int, default=1000)
    parser.add_argument("--skus", type=int, default=25)
    parser.add_argument("--weeks", type=int, default=52)
    parser.add_argument("--loop-scenarios", type=int, default=10)
    parser.add_argument("--envs", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()

    jit_loaded, jit_cache_hit, jit_compiled = jit_seconds()
    instance = make_instance(args.skus, args.weeks, seed=0, max_lead_time=6, capacity_share=1.2)
    rng = np.random.default_rng(0)
    demand = rng.poisson(instance.forecast, (args.scenarios, args.weeks, args.skus)).astype(float)
    levels = np.rint(planner_levels(instance) * 1.1)
    few = demand[: args.loop_scenarios]
    check_agreement(instance, few, levels)

    vec = InventoryVecEnv(instance, args.envs, seed=0)
    vec.reset()  # the VecEnv resets itself at the end of each episode
    actions = rng.uniform(-1, 1, (args.weeks, args.envs, args.skus)).astype(np.float32)

    def episode() -> None:
        for week in range(args.weeks):
            vec.step(actions[week])

    runs = {
        "plain per-SKU loop": lambda: simulate_loop(instance, few, base_stock_levels=levels),
        "simulate (full trajectories)": lambda: simulate(instance, demand, BaseStock(levels)),
        "simulate_cost_by_sku (costs only)": lambda: simulate_cost_by_sku(
            instance, demand, BaseStock(levels)
        ),
        "output memory floor of simulate": lambda: output_floor(
            args.scenarios, args.weeks, args.skus
        ),
        f"InventoryVecEnv ({args.envs} envs)": episode,
    }
    # Interleaved rounds, best of each: load spikes hit all implementations alike. Each
    # output lives until its next run has returned (see the module docstring).
    cpu = dict.fromkeys(runs, np.inf)
    wall = dict.fromkeys(runs, np.inf)
    kept = dict.fromkeys(runs)
    for _ in range(args.rounds):
        for name, run in runs.items():
            cpu_s, wall_s, kept[name] = timed(run)
            cpu[name], wall[name] = min(cpu[name], cpu_s), min(wall[name], wall_s)

    sku_weeks = dict.fromkeys(runs, args.scenarios * args.skus * args.weeks)
    sku_weeks["plain per-SKU loop"] = args.loop_scenarios * args.skus * args.weeks
    sku_weeks[f"InventoryVecEnv ({args.envs} envs)"] = args.envs * args.skus * args.weeks
    scenarios = dict.fromkeys(runs, str(args.scenarios))
    scenarios["plain per-SKU loop"] = str(args.loop_scenarios)
    scenarios[f"InventoryVecEnv ({args.envs} envs)"] = ""
    rate = {name: sku_weeks[name] / cpu[name] for name in runs}
    loop_rate = rate["plain per-SKU loop"]

    print(
        f"instance: {args.skus} SKUs x {args.weeks} weeks, lead times 0..6, one core; "
        f"best of {args.rounds} interleaved rounds"
    )
    how = "loaded from the disk cache" if jit_cache_hit else "compiled (no disk cache yet)"
    print(
        f"JIT (numba kernels, once per process, not in the timings): {how} in "
        f"{jit_loaded * 1e3:,.0f} ms CPU; compiled from an empty cache in "
        f"{jit_compiled * 1e3:,.0f} ms CPU"
    )
    print(
        f"{'implementation':<36}{'scenarios':>10}{'CPU ms':>9}{'wall ms':>9}"
        f"{'SKU-weeks/s':>14}{'vs loop':>9}"
    )
    for name in runs:
        # The VecEnv runs another policy (random actions) with observations: no ratio.
        ratio = "" if name.startswith("InventoryVecEnv") else f"{rate[name] / loop_rate:,.0f}x"
        print(
            f"{name:<36}{scenarios[name]:>10}{cpu[name] * 1e3:>9.1f}{wall[name] * 1e3:>9.1f}"
            f"{rate[name]:>14,.0f}{ratio:>9}"
        )
    env_steps = args.envs * args.weeks / cpu[f"InventoryVecEnv ({args.envs} envs)"]
    print(f"VecEnv: {env_steps:,.0f} env steps/s ({env_steps / args.envs:,.0f} batched calls/s)")
    for name in ("simulate (full trajectories)", "simulate_cost_by_sku (costs only)"):
        ratio = rate[name] / loop_rate
        print(
            f"targets, {name}: >={TARGET_RATIO:.0f}x loop "
            f"{'met' if ratio >= TARGET_RATIO else 'MISSED'} ({ratio:.0f}x); "
            f">=1e6 SKU-weeks/s {'met' if rate[name] >= TARGET_RATE else 'MISSED'} "
            f"({rate[name]:.2e})"
        )


if __name__ == "__main__":
    main()
