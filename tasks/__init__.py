"""Prefect tasks: one call each to a stage of :mod:`inventory.stages`, same name.

Arguments are serialisable (the params file path, plain options, an optional project
root), never live models or DataFrames, so a task runs the same in a thread, in a Dask
worker process or on another machine that shares the file system. Each task returns the
stage's mapping of what it wrote. ``root`` is the folder the stage reads and writes under
(its :class:`~inventory.layout.Layout`; default the working directory): the scale-out
passes each location's folder, and no task changes the working directory.

Each task's writes are all or nothing, as each CLI command's are: the stage runs inside
:func:`inventory.io.transaction` (one per task, also when tasks share a process), so a
task that fails, or is retried, leaves no half set of outputs behind.

Retries are set per flow run with ``task.with_options(retries=...)``; they only fire on
transient failures (see :func:`is_transient`): a ``ValueError`` from bad data or config
fails at once, because running it again would fail the same way.
"""

from __future__ import annotations

import logging
from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.exceptions import MissingContextError

from inventory import io, stages
from inventory.config import Config, load_config
from inventory.layout import Layout
from inventory.summaries import stage_summary

__all__ = [
    "TRANSIENT_ERRORS",
    "is_transient",
    "retry_on_transient",
    "validate",
    "forecast",
    "train",
    "solve",
    "evaluate",
    "drift",
    "recommend",
    "report",
    "append_demand",
    "new_demand_costs",
    "compare_retraining",
]

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    ConnectionError,
    TimeoutError,
    BlockingIOError,
    InterruptedError,
)


def is_transient(exc: BaseException | None) -> bool:
    """Whether a failure may go away on retry (network, timeouts, a busy file)."""
    return isinstance(exc, TRANSIENT_ERRORS)


def retry_on_transient(task_: Any, task_run: Any, state: Any) -> bool:
    """Prefect ``retry_condition_fn``: retry only transient failures."""
    exc = state.data if isinstance(state.data, BaseException) else None
    if exc is None:
        try:
            state.result(raise_on_failure=True)
        except Exception as raised:  # noqa: BLE001 - the state's own exception
            exc = raised
    return is_transient(exc)


def _config(params: str) -> Config:
    return load_config(params)


def _layout(config: Config, root: str | None) -> Layout | None:
    return None if root is None else Layout.from_config(config, root)


def _logged(stage: str, written: dict[str, Any]) -> dict[str, Any]:
    """Log ``stage``'s summary to the task run's Prefect logger; return ``written``."""
    try:
        logger: Any = get_run_logger()
    except MissingContextError:  # called outside a flow run (e.g. ``task.fn``)
        logger = logging.getLogger(f"tasks.{stage}")
    logger.info(stage_summary(stage, written))
    return written


_TASK: dict[str, Any] = {"cache_policy": NO_CACHE, "retry_condition_fn": retry_on_transient}


@task(name="validate", **_TASK)
@io.all_or_nothing
def validate(params: str, root: str | None = None) -> dict[str, str]:
    """:func:`inventory.stages.validate`."""
    config = _config(params)
    return _logged("validate", stages.validate(config, layout=_layout(config, root)))


@task(name="forecast", **_TASK)
@io.all_or_nothing
def forecast(params: str, root: str | None = None) -> dict[str, str]:
    """:func:`inventory.stages.forecast`."""
    config = _config(params)
    return _logged("forecast", stages.forecast(config, layout=_layout(config, root)))


@task(name="train", task_run_name="train-{mode}", **_TASK)
@io.all_or_nothing
def train(params: str, mode: str, root: str | None = None) -> dict[str, str]:
    """:func:`inventory.stages.train` for one demand mode."""
    config = _config(params)
    return _logged("train", stages.train(config, mode=mode, layout=_layout(config, root)))


@task(name="solve", task_run_name="solve-{mode}", **_TASK)
@io.all_or_nothing
def solve(params: str, mode: str, root: str | None = None) -> dict[str, str]:
    """:func:`inventory.stages.solve` for one demand mode."""
    config = _config(params)
    return _logged("solve", stages.solve(config, mode=mode, layout=_layout(config, root)))


@task(name="evaluate", task_run_name="evaluate-{mode}", **_TASK)
@io.all_or_nothing
def evaluate(params: str, mode: str, root: str | None = None) -> dict[str, str]:
    """:func:`inventory.stages.evaluate` for one demand mode."""
    config = _config(params)
    return _logged("evaluate", stages.evaluate(config, mode=mode, layout=_layout(config, root)))


@task(name="drift", **_TASK)
@io.all_or_nothing
def drift(params: str, current: str | None = None, root: str | None = None) -> dict[str, str]:
    """:func:`inventory.stages.drift`, optionally on a CSV of recent weekly demand."""
    config = _config(params)
    return _logged("drift", stages.drift(config, current=current, layout=_layout(config, root)))


@task(name="recommend", **_TASK)
@io.all_or_nothing
def recommend(params: str, state: str | None = None, root: str | None = None) -> dict[str, str]:
    """:func:`inventory.stages.recommend`, optionally from today's state CSV."""
    config = _config(params)
    return _logged("recommend", stages.recommend(config, state=state, layout=_layout(config, root)))


@task(name="report", **_TASK)
@io.all_or_nothing
def report(params: str, root: str | None = None) -> dict[str, str]:
    """:func:`inventory.stages.report`."""
    config = _config(params)
    return _logged("report", stages.report(config, layout=_layout(config, root)))


@task(name="append-demand", **_TASK)
@io.all_or_nothing
def append_demand(params: str, demand: str, root: str | None = None) -> dict[str, Any]:
    """:func:`inventory.stages.append_demand` (a data import, not a pipeline stage)."""
    config = _config(params)
    written = stages.append_demand(config, demand, layout=_layout(config, root))
    return _logged("append-demand", written)


@task(name="new-demand-costs", task_run_name="new-demand-costs-{label}", **_TASK)
@io.all_or_nothing
def new_demand_costs(
    params: str, current: str, label: str, root: str | None = None
) -> dict[str, str]:
    """:func:`inventory.stages.new_demand_costs`."""
    config = _config(params)
    written = stages.new_demand_costs(config, current, label, layout=_layout(config, root))
    return _logged("new-demand-costs", written)


@task(name="compare-retraining", **_TASK)
@io.all_or_nothing
def compare_retraining(
    params: str, before: str, after: str, root: str | None = None
) -> dict[str, str]:
    """:func:`inventory.stages.compare_retraining`."""
    config = _config(params)
    written = stages.compare_retraining(config, before, after, layout=_layout(config, root))
    return _logged("compare-retraining", written)
