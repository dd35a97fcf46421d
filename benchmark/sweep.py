"""A sweep: the grid methods x suites x seeds of a profile, carried out run by run by an executor.

Executors (:mod:`benchmark.executors`): ``serial`` (in this process), ``local`` (one process per run, as
many at once as ``--workers``; torch pinned to one thread per run, DESIGN.md "Distribution") and ``ray``
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
from types import FrameType
from typing import Any

from tqdm import tqdm

from benchmark import errors
from benchmark.agent import Runtime
from benchmark.errors import BenchmarkError
from benchmark.executors import ExecutorOptions, check_executor_name, make_executor
from benchmark.profiles import get_profile
from benchmark.registry import check_method_name
from benchmark.results.store import MANIFEST_FILE
from benchmark.run import DEFAULT_RUNS_DIR, RunOutcome, RunSpec, execute_run, resolve_run
from benchmark.suites import check_suite_name

STATUSES = ("completed", "skipped", "claimed", "interrupted", "failed", "not started")
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@dataclass(frozen=True)
class Job:
    """One run of a sweep: what ``benchmark run`` would be given (everything but the runtime is hashed)."""

    method: str
    suite: str
    seed: int
    profile: str
    budget_env_steps: int | None = None
    overrides: tuple[str, ...] = ()
    eval_tasks: int | None = None
    eval_episodes: int | None = None
    eval_exploration: int | None = None

    def resolve(self) -> tuple[RunSpec, Any]:
        return resolve_run(
            self.method,
            self.suite,
            self.seed,
            self.profile,
            self.budget_env_steps,
            list(self.overrides),
            self.eval_tasks,
            self.eval_episodes,
            self.eval_exploration,
        )

    @property
    def run_id(self) -> str:
        return self.resolve()[0].run_id

    def describe(self) -> str:
        return f"{self.method} {self.suite} seed={self.seed}"


def build_grid(
    profile: str,
    methods: Sequence[str] | None = None,
    suites: Sequence[str] | None = None,
    seeds: int | None = None,
    first_seed: int = 0,
    budget_env_steps: int | None = None,
    eval_tasks: int | None = None,
    eval_episodes: int | None = None,
    eval_exploration: int | None = None,
) -> list[Job]:
    """The jobs of a sweep; ``None`` takes the profile's own grid. Everything is validated up front."""
    chosen = get_profile(profile)
    methods = [check_method_name(m) for m in (methods or chosen.methods)]
    suites = [check_suite_name(s) for s in (suites or chosen.suites)]
    seeds = chosen.seeds if seeds is None else seeds
    if seeds <= 0:
        raise BenchmarkError(f"number of seeds must be positive, got {seeds}")
    if first_seed < 0:
        raise BenchmarkError(f"first seed must be >= 0, got {first_seed}")
    if budget_env_steps is not None and budget_env_steps <= 0:
        raise BenchmarkError(f"budget must be a positive number of env steps, got {budget_env_steps}")
    return [
        Job(
            m,
            s,
            seed,
            profile,
            budget_env_steps,
            eval_tasks=eval_tasks,
            eval_episodes=eval_episodes,
            eval_exploration=eval_exploration,
        )
        for s in suites
        for m in methods
        for seed in range(first_seed, first_seed + seeds)
    ]


@dataclass(frozen=True, kw_only=True)
class RunSettings:
    """How every run of a sweep executes: recorded in the manifests, not hashed into the run ids."""

    device: str = "auto"
    """auto | cpu | cuda[:N], resolved where the run executes"""
    checkpoint_minutes: float | None = None
    """minutes of training between resume points besides the evaluation points; ``None``: the run's default"""
    env_workers: int = 1
    """subprocesses stepping each run's training environments (same results; issue #13)"""


def run_job(
    job: Job, runs_dir: Path, settings: RunSettings | None = None, progress: bool = False
) -> RunOutcome:
    """Execute one job here, one torch thread (what every executor's worker calls)."""
    settings = settings or RunSettings()
    spec, config = job.resolve()
    runtime = Runtime.resolve(settings.device, threads=1)
    extra: dict[str, Any] = {}
    if settings.checkpoint_minutes is not None:
        extra["checkpoint_minutes"] = settings.checkpoint_minutes
    return execute_run(
        spec, config, runs_dir, progress=progress, runtime=runtime, env_workers=settings.env_workers, **extra
    )


@dataclass(frozen=True)
class JobResult:
    """How one run of a sweep ended: one of :data:`STATUSES`, with the reason where it did not complete."""

    job: Job
    status: str
    run_id: str
    detail: str = ""
    outcome: RunOutcome | None = None


class SweepInterrupted(KeyboardInterrupt):
    """Raised inside a run that executes in the sweep's own process (``serial``) when the sweep is stopped."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"sweep stopped by {signal.Signals(signum).name}")
        self.signum = signum


def attempt_job(job: Job, runs_dir: Path, settings: RunSettings) -> JobResult:
    """Run ``job`` where it stands (any executor's worker) and say how it ended; never raises.

    A run claimed live by another process (``benchmark.errors.RunLockedError``) is ``claimed``; a run
    stopped by SIGINT/SIGTERM (KeyboardInterrupt, SystemExit) is ``interrupted``; any other exception is
    ``failed`` with its one-line message.
    """
    run_locked_error = getattr(errors, "RunLockedError", None)
    run_id = ""
    try:
        run_id = job.run_id
        outcome = run_job(job, runs_dir, settings)
    except (KeyboardInterrupt, SystemExit) as exc:
        return JobResult(job, "interrupted", run_id, f"{type(exc).__name__}: {exc}".rstrip(": "))
    except Exception as exc:
        if run_locked_error is not None and isinstance(exc, run_locked_error):
            return JobResult(job, "claimed", run_id, str(exc))
        return JobResult(job, "failed", run_id, f"{type(exc).__name__}: {exc}")
    if outcome.status == "skipped":
        return JobResult(job, "skipped", outcome.run_id, outcome=outcome)
    detail = "resumed from its checkpoint" if outcome.status == "resumed" else ""
    return JobResult(job, "completed", outcome.run_id, detail, outcome)


def unfinished_result(job: Job, runs_dir: Path, stopping: bool, detail: str) -> JobResult:
    """The result of a run whose worker ended without reporting (killed, cancelled).

    While the sweep stops, a run that had created its folder is ``interrupted`` (resumable) and one that had
    not is ``not started``; otherwise the worker's death is that run's failure.
    """
    run_id = job.run_id
    if not stopping:
        return JobResult(job, "failed", run_id, detail)
    started = (Path(runs_dir) / run_id / MANIFEST_FILE).exists()
    return JobResult(job, "interrupted" if started else "not started", run_id, detail)


class StopRequest:
    """The sweep's stop flag, set by SIGINT/SIGTERM; executors poll :attr:`requested`.

    While ``raise_in_main`` is true (a run executing in this very process), the first signal also raises
    :class:`SweepInterrupted` where the main thread stands, so the run records its interruption.
    """

    def __init__(self) -> None:
        self.signum: int | None = None
        self.count = 0
        self.raise_in_main = False

    @property
    def requested(self) -> bool:
        return self.signum is not None

    @property
    def urgent(self) -> bool:
        """A second signal: stop the running runs at once instead of waiting for them to save."""
        return self.count > 1

    def request(self, signum: int) -> None:
        self.count += 1
        if self.signum is None:
            self.signum = signum

    def handle(self, signum: int, frame: FrameType | None) -> None:
        self.request(signum)
        if self.raise_in_main and self.count == 1:
            self.raise_in_main = False
            raise SweepInterrupted(signum)

    def take_signals(self) -> None:
        """Make SIGINT/SIGTERM set this flag (main thread only: Python's rule for signal handlers).

        Executors call it again after a library that installs its own handlers (``ray.init``).
        """
        if threading.current_thread() is threading.main_thread():
            for signum in STOP_SIGNALS:
                signal.signal(signum, self.handle)


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
    jobs: Sequence[Job],
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
    reported: dict[Job, JobResult] = {}
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
