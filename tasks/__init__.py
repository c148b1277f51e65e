"""Prefect tasks: one call each to a stage of :mod:`inventory.stages`, same name.

Arguments are serialisable (the params file path, plain options, an optional working
directory), never live models or DataFrames, so a task runs the same in a thread, in a Dask
worker process or on another machine that shares the file system. Each task returns the
stage's mapping of what it wrote.

Retries are set per flow run with ``task.with_options(retries=...)``; they only fire on
transient failures (see :func:`is_transient`): a ``ValueError`` from bad data or config
fails at once, because running it again would fail the same way.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from inventory import stages
from inventory.config import Config, load_config

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


@contextlib.contextmanager
def _workdir(path: str | None) -> Iterator[None]:
    """Run inside ``path`` (stages write relative to the working directory).

    Only the scale-out flow passes a directory, and it runs on Dask workers with one
    thread each, so changing the process's directory cannot race another task.
    """
    if path is None:
        yield
        return
    before = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


def _config(params: str) -> Config:
    return load_config(params)


_TASK = {"cache_policy": NO_CACHE, "retry_condition_fn": retry_on_transient}


@task(name="validate", **_TASK)
def validate(params: str, workdir: str | None = None) -> dict[str, str]:
    """:func:`inventory.stages.validate`."""
    with _workdir(workdir):
        return stages.validate(_config(params))


@task(name="forecast", **_TASK)
def forecast(params: str, workdir: str | None = None) -> dict[str, str]:
    """:func:`inventory.stages.forecast`."""
    with _workdir(workdir):
        return stages.forecast(_config(params))


@task(name="train", task_run_name="train-{mode}", **_TASK)
def train(params: str, mode: str, workdir: str | None = None) -> dict[str, str]:
    """:func:`inventory.stages.train` for one demand mode."""
    with _workdir(workdir):
        return stages.train(_config(params), mode=mode)


@task(name="solve", task_run_name="solve-{mode}", **_TASK)
def solve(params: str, mode: str, workdir: str | None = None) -> dict[str, str]:
    """:func:`inventory.stages.solve` for one demand mode."""
    with _workdir(workdir):
        return stages.solve(_config(params), mode=mode)


@task(name="evaluate", task_run_name="evaluate-{mode}", **_TASK)
def evaluate(params: str, mode: str, workdir: str | None = None) -> dict[str, str]:
    """:func:`inventory.stages.evaluate` for one demand mode."""
    with _workdir(workdir):
        return stages.evaluate(_config(params), mode=mode)


@task(name="drift", **_TASK)
def drift(params: str, current: str | None = None, workdir: str | None = None) -> dict[str, str]:
    """:func:`inventory.stages.drift`, optionally on a CSV of recent weekly demand."""
    with _workdir(workdir):
        return stages.drift(_config(params), current=current)


@task(name="recommend", **_TASK)
def recommend(params: str, state: str | None = None, workdir: str | None = None) -> dict[str, str]:
    """:func:`inventory.stages.recommend`, optionally from today's state CSV."""
    with _workdir(workdir):
        return stages.recommend(_config(params), state=state)


@task(name="report", **_TASK)
def report(params: str, workdir: str | None = None) -> dict[str, str]:
    """:func:`inventory.stages.report`."""
    with _workdir(workdir):
        return stages.report(_config(params))
