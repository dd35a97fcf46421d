"""Executors: how a sweep's runs are carried out. One registry line per executor, imported lazily.

``serial`` runs in the sweep's own process; ``local`` starts one process per run on this machine (the
default); ``ray`` sends every run to a Ray cluster as one task (the ``cluster`` extra). Each is a class
with a ``from_options`` constructor and the methods of :class:`Executor`;
:func:`benchmark.sweep.execute_sweep` owns the signals, the bookkeeping and the summary, so an executor only
starts runs, stops them when asked, and reports one :class:`~benchmark.jobs.JobResult` per run it started.
"""

from __future__ import annotations

import dataclasses
import importlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from benchmark.errors import BenchmarkError

if TYPE_CHECKING:
    from benchmark.jobs import JobResult, RunSettings, StopRequest
    from benchmark.request import RunRequest


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
    """Carries out a sweep's runs (``TAKES``: the :class:`ExecutorOptions` fields the class understands).

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
        jobs: Sequence[RunRequest],
        runs_dir: Path,
        settings: RunSettings,
        stop: StopRequest,
        report: Callable[[JobResult], None],
    ) -> None: ...


class StopEscalation:
    """How every executor stops its running runs, in two steps: ask them (SIGTERM, Ray's cancel), so that
    each saves a resume point; then, after ``grace_s`` or at a second signal, force them.

    Poll :meth:`step` once per loop: it returns ``"ask"`` the first time a stop is requested, ``"force"``
    once when the grace is over, and ``None`` otherwise.
    """

    def __init__(self, stop: StopRequest, grace_s: float) -> None:
        self.stop = stop
        self.grace_s = grace_s
        self._asked_at: float | None = None
        self._forced = False

    def step(self) -> str | None:
        if not self.stop.requested:
            return None
        if self._asked_at is None:
            self._asked_at = time.monotonic()
            return "ask"
        overdue = self.stop.urgent or time.monotonic() - self._asked_at > self.grace_s
        if overdue and not self._forced:
            self._forced = True
            return "force"
        return None


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
    """The executor ``name`` built from ``options``.

    Each executor class declares the options it takes (``TAKES``); any other option set away from its
    default raises a one-line :class:`BenchmarkError`, so a new option touches only the executors that
    take it.
    """
    module_name, class_name = EXECUTORS[check_executor_name(name)].split(":")
    executor_class = getattr(importlib.import_module(module_name), class_name)
    defaults = ExecutorOptions()
    for option in dataclasses.fields(ExecutorOptions):
        changed = getattr(options, option.name) != getattr(defaults, option.name)
        if changed and option.name not in executor_class.TAKES:
            flag = "--" + option.name.replace("_", "-")
            raise BenchmarkError(f"{flag} does not apply to --executor {name}")
    build: Callable[[ExecutorOptions], Executor] = executor_class.from_options
    return build(options)
