"""A sweep: the grid methods x suites x seeds of a profile, carried out run by run by an executor.

Executors (:mod:`benchmark.executors`): ``serial`` (in this process), ``local`` (one process per run, as
many at once as ``--workers``; torch pinned to one thread per run) and ``ray``
(one Ray task per run on a cluster). Whatever the executor, every run ends in one of :data:`STATUSES`:

- ``completed``: ran to its budget in this sweep; ``skipped``: already completed in the runs folder;
- ``claimed``: another live process holds the run's claim (another sweep on the same runs folder is running
  it): this sweep leaves it alone and says so; it is not a failure;
- ``interrupted``: stopped by a signal; its run folder keeps its checkpoint and the same command resumes it;
- ``failed``: raised, or its worker process died (killed by the OS, out of memory): only that run fails;
- ``not started``: still queued when the sweep was stopped.

SIGINT (Ctrl-C) or SIGTERM on the sweep stops it: nothing more starts, running runs are asked to stop
(SIGTERM to local workers, cancel on Ray) and recorded as interrupted, a summary is printed, and the exit
status is 130 (SIGINT) or 143 (SIGTERM), without a traceback. A second signal stops the runs at once.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from benchmark.errors import BenchmarkError
from benchmark.executors import ExecutorOptions, check_executor_name, make_executor
from benchmark.jobs import STATUSES, STOP_SIGNALS, JobResult, RunSettings, StopRequest
from benchmark.profiles import get_profile
from benchmark.registry import check_method_name
from benchmark.request import RunRequest
from benchmark.run import DEFAULT_RUNS_DIR
from benchmark.suites import check_suite_name


def build_grid(
    profile: str,
    methods: Sequence[str] | None = None,
    suites: Sequence[str] | None = None,
    seeds: int | None = None,
    first_seed: int = 0,
    **options: Any,
) -> list[RunRequest]:
    """The runs of a sweep: ``None`` takes the profile's own methods, suites and seed counts; ``options``
    are the :class:`~benchmark.request.RunRequest` fields every run shares (budget, evaluation sizes).
    Everything is validated up front."""
    chosen = get_profile(profile)
    methods = [check_method_name(m) for m in (methods or chosen.methods)]
    suites = [check_suite_name(s) for s in (suites or chosen.suites)]
    if seeds is not None and seeds <= 0:
        raise BenchmarkError(f"number of seeds must be positive, got {seeds}")
    if first_seed < 0:
        raise BenchmarkError(f"first seed must be >= 0, got {first_seed}")
    budget = options.get("budget_env_steps")
    if budget is not None and budget <= 0:
        raise BenchmarkError(f"budget must be a positive number of env steps, got {budget}")
    return [
        RunRequest(m, s, seed, profile, **options)
        for s in suites
        for m in methods
        for seed in range(first_seed, first_seed + (chosen.seeds_of(m) if seeds is None else seeds))
    ]


@contextmanager
def _signals_to(stop: StopRequest) -> Iterator[None]:
    """SIGINT/SIGTERM set ``stop`` while the sweep runs; the previous handlers come back after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    stop.take_signals()
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@dataclass
class SweepReport:
    """Every run of a sweep with how it ended, and the signal that stopped the sweep, if any."""

    results: list[JobResult]
    signum: int | None = None
    statuses: dict[str, int] = field(init=False)

    def __post_init__(self) -> None:
        self.statuses = {status: 0 for status in STATUSES}
        for result in self.results:
            self.statuses[result.status] += 1

    def count(self, status: str) -> int:
        return self.statuses[status]

    @property
    def exit_status(self) -> int:
        """128 + the signal that stopped the sweep; else 1 if a run failed or was interrupted; else 0."""
        if self.signum is not None:
            return 128 + self.signum
        return 1 if self.count("failed") or self.count("interrupted") else 0

    def summary(self) -> str:
        """One paragraph: the counts, then what to do about the runs that did not finish."""
        counts = self.statuses
        head = "sweep" if self.signum is None else f"sweep stopped by {signal.Signals(self.signum).name}"
        text = (
            f"{head}: {counts['completed']} completed, {counts['skipped']} skipped, "
            f"{counts['failed']} failed, "
            f"{counts['interrupted']} interrupted, {counts['claimed']} claimed elsewhere, "
            f"{counts['not started']} not started, of {len(self.results)} runs."
        )
        if counts["interrupted"] or counts["not started"]:
            text += " Run the same command again to resume the interrupted runs and start the others."
        if counts["claimed"]:
            text += (
                " Runs claimed elsewhere are being run by another live process on the same runs folder;"
                " this sweep left them alone."
            )
        if counts["failed"]:
            text += " Failed runs are listed below, with their errors in their manifests."
        return text

    def details(self) -> list[str]:
        """One line per run that did not complete or skip, in grid order."""
        return [
            f"  {result.status}: {result.job.describe()} ({result.run_id})"
            + (f": {result.detail}" if result.detail else "")
            for result in self.results
            if result.status not in ("completed", "skipped", "not started")
        ]


def execute_sweep(
    jobs: Sequence[RunRequest],
    runs_dir: Path = DEFAULT_RUNS_DIR,
    executor: str = "local",
    options: ExecutorOptions | None = None,
    settings: RunSettings | None = None,
    stop: StopRequest | None = None,
    progress: bool = True,
) -> SweepReport:
    """Carry out ``jobs`` with ``executor`` and report how every run ended (a failed run fails only itself).

    Every job is resolved first, so a bad configuration is refused before anything runs. SIGINT and SIGTERM
    stop the sweep as the module docstring says (``stop`` lets a caller or test hold the flag).

    Raises:
        BenchmarkError: unknown executor, options it does not take, a device it cannot use, a job that
            does not resolve.
    """
    check_executor_name(executor)
    run_ids = {job: job.run_id for job in jobs}  # validates every job before anything starts
    chosen = make_executor(executor, options or ExecutorOptions())
    settings = settings or RunSettings()
    chosen.check_device(settings.device)
    stop = stop or StopRequest()
    reported: dict[RunRequest, JobResult] = {}
    bar = tqdm(total=len(jobs), desc="sweep", unit="run", dynamic_ncols=True, disable=not progress)

    def report(result: JobResult) -> None:
        reported[result.job] = result
        bar.update()

    try:
        with _signals_to(stop):
            chosen.run(jobs, Path(runs_dir).resolve(), settings, stop, report)
    finally:
        bar.close()
    results = [
        reported.get(job) or JobResult(job, "not started", run_ids[job], "stopped before it started")
        for job in jobs
    ]
    return SweepReport(results, stop.signum)
