"""Pipeline stages by catalog size: wall time, peak memory and their growth exponents.

Run: ``python bench/bench_scaling.py`` (25, 100, 400 and 1,000 SKUs), or a quick run:
``python bench/bench_scaling.py --sizes 25 100 --stages generate validate tune``.

For each size the script makes a project folder in a temporary directory whose
``params.yaml`` is this repository's with ``data.n_skus`` set to the size and one
location (``L1``), generates the data there and runs each stage as its own process,
``python -m inventory <stage>`` in that folder, so each stage's peak resident memory
(``ru_maxrss`` of that child and the processes it waited for, from ``os.wait4``) is its
own. Each stage gets wall-clock seconds and CPU seconds (user + system, its waited-for
children included): on a shared machine the wall time includes waiting for a core, the
CPU time does not (the stages' own thread counts are left as the pipeline runs them).

Stages, in pipeline order (``--stages`` picks a subset; each reads what the earlier ones
wrote, so a subset should keep the ones it depends on):

- ``generate``: ``inventory data generate``;
- ``validate``: ``inventory validate``;
- ``forecast``: ``inventory forecast`` (backtests, model choice, fitted distributions);
- ``tune``: tuned base-stock and (s, S) levels on the training scenarios, alone
  (``bench/bench_tuning.py`` on the folder's pipeline instance); the same tuning also
  runs inside stochastic training (the anchor), ``evaluate`` and ``recommend``;
- ``train``: ``inventory train --mode stochastic --profile quick`` with
  ``ppo.total_timesteps`` capped at ``--train-steps`` (printed; the quick profile's own
  budget is 150,000 steps);
- ``evaluate``: ``inventory evaluate --mode stochastic`` with ``evaluation.policies`` without
  the MILP policies (``ppo`` only when ``train`` trained a model at that size), stress
  sets included;
- ``recommend``: ``inventory recommend`` (the best policy of the stochastic evaluation);
- ``solve`` (only with ``--milp``, and the MILP rows of ``evaluate`` with it):
  ``inventory solve --mode deterministic``.

The growth exponent is the least-squares slope of log(time) (or log(peak memory)) on
log(SKUs) over the sizes measured: 1 is linear, 2 quadratic. A stage whose CPU time at
the next size, extrapolated from the two largest sizes measured (at least linearly),
would exceed ``--budget-s`` is skipped with the reason printed (CPU, not wall: the
machine's load must not decide what is measured); a stage still running after four
times the budget in wall-clock seconds is stopped and reported as such.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("generate", "validate", "forecast", "tune", "train", "evaluate", "recommend", "solve")
MILP_POLICIES = ("milp_open_loop", "milp_saa", "milp_rolling", "milp_hindsight")


@dataclass
class Outcome:
    """One stage at one size: wall and CPU seconds and peak MB, or why there are none."""

    seconds: float | None = None
    cpu_s: float | None = None
    peak_mb: float | None = None
    note: str = ""


def project_params(size: int, args: argparse.Namespace, trained: bool) -> dict:
    """This repository's params with the size, one location and the bench's budgets."""
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["data"].update({"n_skus": size, "locations": ["L1"], "dir": "data"})
    params["simulation"]["location"] = "L1"
    policies = [
        name
        for name in params["evaluation"]["policies"]
        if (args.milp or name not in MILP_POLICIES) and (trained or name != "ppo")
    ]
    params["evaluation"]["policies"] = policies
    params["ppo"].update({"total_timesteps": args.train_steps, "progress_bar": False})
    return params


def command(stage: str) -> list[str]:
    """The process that runs ``stage`` in a project folder."""
    inventory = [sys.executable, "-m", "inventory"]
    return {
        "generate": [*inventory, "data", "generate"],
        "validate": [*inventory, "validate"],
        "forecast": [*inventory, "forecast"],
        "tune": [sys.executable, str(ROOT / "bench" / "bench_tuning.py"), "--one", "0"]
        + ["--project", ".", "--params", "params.yaml"],
        "train": [*inventory, "train", "--mode", "stochastic", "--profile", "quick"],
        "evaluate": [*inventory, "evaluate", "--mode", "stochastic"],
        "recommend": [*inventory, "recommend"],
        "solve": [*inventory, "solve", "--mode", "deterministic"],
    }[stage]


def run_stage(stage: str, folder: Path, timeout_s: float, log: Path) -> Outcome:
    """Run one stage as a child process; its wall time and its own peak memory."""
    # This checkout's package first, wherever the interpreter's editable install points.
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH", "")]))
    env = {**os.environ, "PYTHONPATH": path}
    with log.open("w") as out:
        start = time.perf_counter()
        child = subprocess.Popen(command(stage), cwd=folder, stdout=out, stderr=out, env=env)
        while True:
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() - start > timeout_s:
                child.kill()
                os.wait4(child.pid, 0)
                return Outcome(note=f"stopped after {timeout_s:.0f} s")
            time.sleep(0.05)
        seconds = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        tail = log.read_text().strip().splitlines()[-1:] or ["no output"]
        return Outcome(note=f"failed (exit {child.returncode}): {tail[0][:120]}")
    return Outcome(seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)


def predicted_seconds(sizes: list[int], seconds: list[float], size: int) -> float | None:
    """Time at ``size`` extrapolated from the two largest measured sizes, at least
    linearly; None with fewer than two measurements."""
    if len(sizes) < 2:
        return None
    slope = np.log(seconds[-1] / seconds[-2]) / np.log(sizes[-1] / sizes[-2])
    return seconds[-1] * (size / sizes[-1]) ** max(1.0, slope)


def exponent(sizes: list[int], values: list[float]) -> float | None:
    """Least-squares slope of log(value) on log(size)."""
    if len(sizes) < 2:
        return None
    return float(np.polyfit(np.log(sizes), np.log(values), 1)[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[25, 100, 400, 1000])
    parser.add_argument("--stages", nargs="+", choices=STAGES, default=list(STAGES[:-1]))
    parser.add_argument("--milp", action="store_true", help="add solve and the MILP rows")
    parser.add_argument("--train-steps", type=int, default=20_000)
    parser.add_argument("--budget-s", type=float, default=600.0)
    parser.add_argument("--keep", help="keep the project folders under this folder")
    args = parser.parse_args()
    stages = [s for s in STAGES if s in args.stages and (s != "solve" or args.milp)]
    if args.milp and "solve" not in stages:
        stages.append("solve")
    print(
        f"stages: {', '.join(stages)}; train: quick profile capped at {args.train_steps:,} "
        f"steps; evaluate: {'with' if args.milp else 'without'} MILP policies; "
        f"budget {args.budget_s:.0f} s per stage"
    )
    results: dict[str, dict[int, Outcome]] = {stage: {} for stage in stages}
    parent = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench_scaling_"))
    for size in sorted(args.sizes):
        folder = parent / f"skus_{size}"
        folder.mkdir(parents=True, exist_ok=True)
        params = project_params(size, args, trained="train" in stages)
        (folder / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        for stage in stages:
            done = {n: o for n, o in results[stage].items() if o.seconds is not None}
            guess = predicted_seconds(list(done), [o.cpu_s for o in done.values()], size)
            if guess is not None and guess > args.budget_s:
                note = f"skipped: ~{guess:,.0f} CPU s predicted from smaller sizes"
                outcome = Outcome(note=note)
            else:
                if stage == "evaluate" and "train" in stages and results["train"][size].note:
                    # No model at this size: evaluate the other policies.
                    params = project_params(size, args, trained=False)
                    (folder / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
                log = folder / f"{stage}.log"
                outcome = run_stage(stage, folder, 4 * args.budget_s, log)
            results[stage][size] = outcome
            shown = (
                f"{outcome.seconds:8.1f} s wall {outcome.cpu_s:8.1f} s CPU "
                f"{outcome.peak_mb:8,.0f} MB"
                if outcome.seconds is not None
                else outcome.note
            )
            print(f"{size:>6} SKUs  {stage:<10} {shown}", flush=True)
    print_table(results, sorted(args.sizes))
    if not args.keep:
        print(f"(project folders in {parent}; pass --keep DIR to choose where)")


def print_table(results: dict[str, dict[int, Outcome]], sizes: list[int]) -> None:
    """Seconds / peak MB per stage and size, and the growth exponents."""
    header = "".join(f"{f'{size} SKUs':>22}" for size in sizes)
    print(f"\n{'stage':<10}{header}{'wall exp':>9}{'CPU exp':>8}{'mem exp':>8}")
    for stage, by_size in results.items():
        cells = []
        for size in sizes:
            outcome = by_size.get(size, Outcome(note="-"))
            if outcome.seconds is None:
                cells.append(f"{outcome.note.split(':')[0][:20]:>22}")
            else:
                times = f"{outcome.seconds:.0f}/{outcome.cpu_s:.0f}s"
                cells.append(f"{times:>14}{outcome.peak_mb:>6,.0f}MB")
        measured = [(n, o) for n, o in sorted(by_size.items()) if o.seconds is not None]
        counts = [n for n, _ in measured]
        growth = [
            exponent(counts, [getattr(o, name) for _, o in measured])
            for name in ("seconds", "cpu_s", "peak_mb")
        ]
        shown = "".join(
            f"{'' if g is None else f'{g:.2f}':>{w}}"
            for g, w in zip(growth, (9, 8, 8), strict=True)
        )
        print(f"{stage:<10}{''.join(cells)}{shown}")
    print("\ncells: wall / CPU seconds (user + system) and peak resident MB of the stage's process")
    print("exp: least-squares slope of log(value) on log(SKUs) over the measured sizes")


if __name__ == "__main__":
    main()
