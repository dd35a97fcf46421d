"""Executors: how a sweep's runs are carried out. One registry line per executor, imported lazily.

``serial`` runs in the sweep's own process; ``local`` starts one process per run on this machine (the
default); ``ray`` sends every run to a Ray cluster as one task (the ``cluster`` extra). Each is a class
with a ``from_options`` constructor and the methods of :class:`Executor`;
:func:`benchmark.sweep.execute_sweep` owns the signals, the bookkeeping and the summary, so an executor only
starts runs, stops them when asked, and reports one :class:`~benchmark.sweep.JobResult` per run it started.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from benchmark.errors import BenchmarkError

if TYPE_CHECKING:
    from benchmark.sweep import Job, JobResult, RunSettings, StopRequest


@dataclass(frozen=True, kw_only=True)
class ExecutorOptions:
    """The sweep's command-line options that concern executors; each executor takes those it understands."""

    workers: int | None = None
    """parallel runs (``local``); ``None``: one per core"""
    address: str | None = None
    """Ray cluster address ``HOST:PORT`` (``ray``); ``None``: Ray's own discovery"""
    max_retries: int = 3
    """times Ray retries a run whose worker process or node died (``ray``)"""


class Executor(Protocol):
    """Carries out a sweep's runs.

    ``run`` starts the jobs (in order, as capacity allows), calls ``report`` once for each job it started,
    with that job's result, and returns when every job is reported. When ``stop.requested`` becomes true it
    starts nothing more, asks every running run to stop (SIGTERM, or Ray's cancel), reports those as they
    end, and returns; the jobs it never started stay unreported (the sweep counts them as not started).
    """

    def check_device(self, device: str) -> None:
        """Raise a one-line :class:`BenchmarkError` for a device the runs could not use."""
        ...

    def run(
        self,
        jobs: Sequence[Job],
        runs_dir: Path,
        settings: RunSettings,
        stop: StopRequest,
        report: Callable[[JobResult], None],
    ) -> None: ...


def check_local_device(device: str) -> None:
    """The device must work here: ``serial`` and ``local`` runs compute on this machine."""
    from benchmark.agent import Runtime

    Runtime.resolve(device)


EXECUTORS: dict[str, str] = {
    "serial": "benchmark.executors.serial:SerialExecutor",
    "local": "benchmark.executors.local:LocalExecutor",
    "ray": "benchmark.executors.ray_cluster:RayExecutor",
}


def check_executor_name(name: str) -> str:
    """Return ``name`` if it is a known executor, else raise a one-line :class:`BenchmarkError`."""
    if name not in EXECUTORS:
        raise BenchmarkError(f"unknown executor {name!r}; known executors: {', '.join(EXECUTORS)}")
    return name


def make_executor(name: str, options: ExecutorOptions) -> Executor:
    """The executor ``name`` built from ``options``; an option it does not take raises BenchmarkError."""
    module_name, class_name = EXECUTORS[check_executor_name(name)].split(":")
    executor_class: Callable[[ExecutorOptions], Executor] = getattr(
        importlib.import_module(module_name), class_name
    ).from_options
    return executor_class(options)


def refuse_options(executor: str, options: ExecutorOptions, *names: str) -> None:
    """Raise a one-line :class:`BenchmarkError` if any option in ``names`` differs from its default."""
    defaults = ExecutorOptions()
    for name in names:
        if getattr(options, name) != getattr(defaults, name):
            flag = "--" + name.replace("_", "-")
            raise BenchmarkError(f"{flag} does not apply to --executor {executor}")
