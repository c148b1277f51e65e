"""The same answer on a quiet and on a busy machine: the pipeline run twice, metrics compared.

A fresh ``git clone`` of this repository (its committed HEAD) runs ``dvc repro`` once on a
quiet machine, commits that run, then runs ``dvc repro --force`` again while busy loops
keep every core loaded (``--load-per-core`` processes per core, default 2). It prints
``dvc metrics diff`` between the two runs and a check of every number in
``metrics/*.json``: fields that are times (wall-clock or CPU seconds, rates per second)
may differ; any other difference is a reproducibility defect and makes the script exit 1.

Usage::

    python bench/bench_reproducibility.py             # default data and params (~25 min)
    python bench/bench_reproducibility.py --tiny      # the tests' tiny profile (~3 min)
    python bench/bench_reproducibility.py --keep DIR  # keep the clone in DIR
    python bench/bench_reproducibility.py --tiny --from-worktree  # uncommitted code too

The clone uses this environment's Python (the one running the script) for every stage.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
# A metric whose dotted path matches this is a time or a rate per time: it may differ.
TIME_FIELD = re.compile(
    r"(^|[._])(time|times|seconds|elapsed|wall|cpu|duration)([._]|$)|_s$|_ms$|per_s$|_per_second"
)


def _run(repo: Path, *args: str, check: bool = True) -> str:
    env = os.environ | {
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(repo),
        "DVC_NO_ANALYTICS": "1",
    }
    done = subprocess.run(args, cwd=repo, env=env, capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}")
    return done.stdout + done.stderr


def _busy() -> None:
    while True:
        pass


def _copy_worktree(repo: Path) -> None:
    """The working tree's project files (committed or not) in a new git + DVC repo."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for folder in ("inventory", "tasks", "flows", "tests", "bench"):
        shutil.copytree(ROOT / folder, repo / folder, ignore=ignore)
    for name in ("dvc.yaml", "params.yaml", ".gitignore", ".dvcignore", "data.dvc"):
        if (ROOT / name).exists():
            shutil.copy(ROOT / name, repo / name)
    _run(repo, "git", "init", "-q")
    _run(repo, "dvc", "init", "-q")


def prepare(repo: Path, tiny: bool, from_worktree: bool = False) -> None:
    """Clone HEAD (or copy the working tree) into ``repo``; generate its data."""
    if from_worktree:
        repo.mkdir(parents=True)
        _copy_worktree(repo)
    else:
        subprocess.run(["git", "clone", "--quiet", str(ROOT), str(repo)], check=True)
    _run(repo, "git", "config", "user.name", "Reproducibility Bench")
    _run(repo, "git", "config", "user.email", "bench@example.com")
    _run(repo, "dvc", "config", "core.analytics", "false")
    if tiny:
        sys.path.insert(0, str(ROOT))
        from tests.integration.tiny_profile import write_tiny_params

        write_tiny_params(repo / "params.yaml", repo / "params.yaml")
    _run(repo, sys.executable, "-m", "inventory", "data", "generate", "--if-missing")
    if (repo / "data.dvc").exists():
        _run(repo, "dvc", "commit", "--force", "--quiet", "data.dvc")
    else:
        _run(repo, "dvc", "add", "-q", "data")


def timed_repro(repo: Path, *extra: str) -> float:
    began = time.perf_counter()
    _run(repo, "dvc", "repro", *extra)
    return time.perf_counter() - began


def flatten(value: object, prefix: str = "") -> dict[str, object]:
    """Every leaf of a JSON value by its dotted path."""
    if isinstance(value, dict):
        out: dict[str, object] = {}
        for key, item in value.items():
            out |= flatten(item, f"{prefix}.{key}" if prefix else str(key))
        return out
    if isinstance(value, list):
        out = {}
        for index, item in enumerate(value):
            out |= flatten(item, f"{prefix}[{index}]")
        return out
    return {prefix: value}


def metric_files(folder: Path) -> dict[str, dict[str, object]]:
    return {p.name: flatten(json.loads(p.read_text())) for p in sorted(folder.glob("*.json"))}


def compare(quiet: dict, loaded: dict) -> tuple[list[str], list[str]]:
    """(time fields that differ, other fields that differ), as printable lines."""
    times, others = [], []
    for name in sorted(set(quiet) | set(loaded)):
        left, right = quiet.get(name, {}), loaded.get(name, {})
        for key in sorted(set(left) | set(right)):
            if left.get(key) == right.get(key):
                continue
            line = f"{name}: {key}: {left.get(key)!r} -> {right.get(key)!r}"
            (times if TIME_FIELD.search(key.lower()) else others).append(line)
    return times, others


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiny", action="store_true", help="the tests' tiny profile")
    parser.add_argument("--load-per-core", type=int, default=2, help="busy loops per core")
    parser.add_argument("--keep", type=Path, default=None, help="keep the clone here")
    parser.add_argument(
        "--from-worktree", action="store_true", help="copy the working tree instead of HEAD"
    )
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="repro-bench-"))
    repo = (args.keep or workdir / "project").resolve()
    if repo.exists():
        raise SystemExit(f"--keep {repo}: the folder exists; choose a new one")
    try:
        prepare(repo, args.tiny, args.from_worktree)
        quiet_s = timed_repro(repo)
        quiet = metric_files(repo / "metrics")
        _run(repo, "git", "add", "-A")
        _run(repo, "git", "commit", "-q", "-m", "quiet run")
        n_busy = args.load_per_core * (os.cpu_count() or 1)
        busy = [multiprocessing.Process(target=_busy, daemon=True) for _ in range(n_busy)]
        for process in busy:
            process.start()
        try:
            loaded_s = timed_repro(repo, "--force")
        finally:
            for process in busy:
                process.terminate()
        loaded = metric_files(repo / "metrics")
        print(f"quiet run: {quiet_s:.0f} s; loaded run ({n_busy} busy loops): {loaded_s:.0f} s")
        print("\n$ dvc metrics diff   (HEAD = quiet run, workspace = loaded run)")
        print(_run(repo, "dvc", "metrics", "diff", "--precision", "6", check=False))
        times, others = compare(quiet, loaded)
        print(f"fields that differ: {len(times)} times, {len(others)} others")
        for line in others:
            print("  NOT A TIME:", line)
        if others:
            print("FAIL: results depend on machine load")
            return 1
        print("OK: only time fields differ")
        return 0
    finally:
        if args.keep is None:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
