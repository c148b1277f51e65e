"""The training flow: the stages of dvc.yaml as Prefect tasks, independent ones concurrently
(on Dask worker processes, see :func:`dask_runner`).

:data:`STEPS` is the flow's graph: each step is one task (one stage of
:mod:`inventory.stages`) and the steps it waits for. It names steps the way DVC names the
stages of dvc.yaml (``train@stochastic`` is the ``stochastic`` item of the ``train``
foreach stage), and a test checks that both contain the same stages in a compatible order.

After the stages, the flow records the run in DVC (``dvc commit``: dvc.lock gets the hashes
of the code, params and outputs that were just produced, and the outputs go to the DVC
cache), so ``dvc status`` is clean and the next ``dvc metrics diff`` compares this run with
the previous one. It does so only when it ran on the repository's own ``params.yaml``.
The evaluation results are published as Prefect markdown artifacts, this week's orders as
a table artifact; each task logs its stage's summary through Prefect's logger.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect_dask import DaskTaskRunner

import tasks
from inventory.config import DEFAULT_PARAMS, Config, load_config
from inventory.report import evaluation_markdown

__all__ = [
    "MODES",
    "Step",
    "STEPS",
    "pipeline_steps",
    "run_steps",
    "dask_runner",
    "dvc_commit",
    "dvc_add_data",
    "is_repo_params",
    "task_run_name",
    "training_flow",
]

MODES = ("deterministic", "stochastic")


@dataclass(frozen=True)
class Step:
    """One stage run: its DVC name, the task, its options and the steps it waits for."""

    name: str
    task: Any
    options: dict[str, str] = field(default_factory=dict)
    after: tuple[str, ...] = ()


def pipeline_steps(modes: tuple[str, ...] = MODES) -> list[Step]:
    """The stages of dvc.yaml in dependency order, for the given demand modes.

    Raises:
        ValueError: a mode other than deterministic or stochastic (modes name outputs).
    """
    unknown = [mode for mode in modes if mode not in MODES]
    if unknown:
        raise ValueError(f"modes must be among {', '.join(MODES)}; got {unknown}")
    steps = [
        Step("validate", tasks.validate),
        Step("forecast", tasks.forecast, after=("validate",)),
    ]
    for mode in modes:
        steps += [
            Step(f"train@{mode}", tasks.train, {"mode": mode}, ("forecast",)),
            Step(f"solve@{mode}", tasks.solve, {"mode": mode}, ("forecast",)),
        ]
    solves = tuple(f"solve@{mode}" for mode in modes)
    for mode in modes:  # the evaluator replays the solve stage's plans
        steps.append(
            Step(
                f"evaluate@{mode}",
                tasks.evaluate,
                {"mode": mode},
                ("forecast", f"train@{mode}", *solves),
            )
        )
    evaluations = tuple(f"evaluate@{mode}" for mode in modes)
    steps += [
        Step("drift", tasks.drift, after=("forecast",)),
        Step("recommend", tasks.recommend, after=("forecast", *evaluations)),
        Step("report", tasks.report, after=(*evaluations, *solves, "drift", "recommend")),
    ]
    return steps


STEPS = pipeline_steps()


def task_run_name(step: str, location: str | None = None) -> str:
    """The task-run name of a step: ``train@stochastic`` -> ``train-stochastic[-<location>]``."""
    name = step.replace("@", "-")
    return f"{name}-{location}" if location else name


def run_steps(
    steps: list[Step],
    params: str,
    *,
    root: str | None = None,
    location: str | None = None,
    retries: int = 0,
    retry_delay_s: float = 0.0,
) -> dict[str, Any]:
    """Submit every step to the flow's task runner, each after the steps it waits for.

    ``root``: the folder the stages read and write under (default the working directory);
    ``location``: appended to the task-run names (the scale-out's ``train-stochastic-L1``).

    Returns:
        The futures by step name (resolve with ``.result()``).
    """
    futures: dict[str, Any] = {}
    for step in steps:
        task = step.task.with_options(
            retries=retries,
            retry_delay_seconds=retry_delay_s,
            task_run_name=task_run_name(step.name, location),
        )
        extra = {"root": root} if root is not None else {}
        futures[step.name] = task.submit(
            params, **step.options, **extra, wait_for=[futures[name] for name in step.after]
        )
    return futures


def _dvc(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "dvc", *args], cwd=repo, capture_output=True, text=True, check=False
    )


def dvc_add_data(repo: Path) -> dict[str, str | None]:
    """Record the data folder as a new data version (``dvc add data``).

    ``data.dvc`` gets the new hash and the DVC cache the new files; the previous version
    stays in the cache and in git's committed ``data.dvc``
    (``git checkout <commit> -- data.dvc && dvc checkout data.dvc`` brings it back).

    Returns:
        The previous and the new hash of the data folder.
    """

    def current() -> str | None:
        path = repo / "data.dvc"
        return yaml.safe_load(path.read_text())["outs"][0]["md5"] if path.exists() else None

    previous = current()
    done = _dvc(repo, "add", "--quiet", "data")
    if done.returncode != 0:
        raise RuntimeError(f"dvc add data failed: {done.stderr.strip() or done.stdout.strip()}")
    return {"previous": previous, "current": current()}


def dvc_commit(repo: Path) -> str:
    """Record the outputs of every stage of dvc.yaml in dvc.lock and the DVC cache.

    Only the project's dvc.yaml: the scale-out's pipeline (``locations/dvc.yaml``) is
    reproduced on its own.
    """
    done = subprocess.run(
        [sys.executable, "-m", "dvc", "commit", "--force", "--quiet", "dvc.yaml"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"dvc commit failed: {done.stderr.strip() or done.stdout.strip()}")
    status = subprocess.run(
        [sys.executable, "-m", "dvc", "status", "--quiet", "dvc.yaml"],
        cwd=repo,
        check=False,
    )
    return "up to date" if status.returncode == 0 else "changed"


def _publish_evaluations(modes: tuple[str, ...], evaluation_dir: Path) -> None:
    from inventory.evaluation import detail_path  # lazily: it imports the policies

    for mode in modes:
        path = detail_path(evaluation_dir, mode)  # with the confidence intervals
        if path.exists():
            create_markdown_artifact(
                markdown=evaluation_markdown(path, title=f"Evaluation ({mode} demand)"),
                key=f"evaluation-{mode}",
                description=f"Policies compared on shared {mode} demand scenarios",
            )


def _publish_orders(reports_dir: Path) -> None:
    path = reports_dir / "recommendation.csv"
    if path.exists():
        orders = pd.read_csv(path, dtype=str, keep_default_na=False)
        create_table_artifact(
            table=orders.to_dict(orient="records"),
            key="orders-this-week",
            description=f"This week's orders ({path})",
        )


def is_repo_params(params: str) -> bool:
    """Whether ``params`` is the params.yaml of the DVC project in the working directory."""
    here = Path.cwd()
    return (here / "dvc.yaml").exists() and Path(params).resolve() == (here / DEFAULT_PARAMS)


def dask_runner(config: Config) -> DaskTaskRunner:
    """A Dask runner: on the scheduler at ``pipeline.dask_address``, or a new local cluster
    of ``pipeline.dask_workers`` processes with one thread each.

    Processes, not threads: each stage gets its own interpreter (PPO seeds the global torch
    and numpy generators; two trainings in one process would share them), so a flow run
    gives the same artefacts as ``dvc repro``, and the stages run truly in parallel.
    """
    if config.pipeline.dask_address:
        return DaskTaskRunner(address=config.pipeline.dask_address)
    return DaskTaskRunner(
        cluster_kwargs={
            "n_workers": config.pipeline.dask_workers,
            "threads_per_worker": 1,
            "processes": True,
            "dashboard_address": ":0",
        }
    )


@flow(name="training-stages")
def _stages(params: str, modes: list[str], retries: int, retry_delay_s: float) -> dict:
    futures = run_steps(
        pipeline_steps(tuple(modes)), params, retries=retries, retry_delay_s=retry_delay_s
    )
    return {name: future.result() for name, future in futures.items()}


@flow(name="training", log_prints=True)
def training_flow(params: str = str(DEFAULT_PARAMS), modes: list[str] | None = None) -> dict:
    """Run validate -> forecast -> train and solve -> evaluate -> drift -> recommend -> report.

    The stages run as tasks on Dask (:func:`dask_runner`), each as soon as the stages it
    needs are done; then the run is recorded in DVC.

    Args:
        params: The params file (relative to the working directory, the project root).
        modes: Demand modes to train, solve and evaluate (default both).

    Returns:
        What each stage wrote, by step name, and the DVC status after the commit.
    """
    config = load_config(params)
    chosen = tuple(modes or MODES)
    written = _stages.with_options(task_runner=dask_runner(config))(
        params, list(chosen), config.pipeline.retries, config.pipeline.retry_delay_s
    )
    _publish_evaluations(chosen, Path("artifacts") / "evaluation")
    _publish_orders(Path("reports"))
    dvc = "not recorded"
    if config.pipeline.dvc_commit and chosen == MODES and is_repo_params(params):
        dvc = dvc_commit(Path.cwd())
    get_run_logger().info("training flow done; dvc: %s", dvc)
    return {"stages": written, "dvc": dvc}


if __name__ == "__main__":
    from flows import SCHEDULES

    training_flow.serve(name="weekly-retrain", cron=SCHEDULES["weekly-retrain"][1])
