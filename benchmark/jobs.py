"""What a sweep hands its executors: a job (one run), how runs execute, how each ended, and the stop flag.

These types sit below :mod:`benchmark.sweep` and :mod:`benchmark.executors`, which both import them, so
neither imports the other's internals.
"""

from __future__ import annotations

import signal
import threading
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from benchmark import errors
from benchmark.agent import Runtime
from benchmark.request import RunRequest
from benchmark.results.store import MANIFEST_FILE
from benchmark.run import RunOutcome, execute_run

STATUSES = ("completed", "skipped", "claimed", "interrupted", "failed", "not started")
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@dataclass(frozen=True, kw_only=True)
class RunSettings:
    """How every run of a sweep executes: recorded in the manifests, not hashed into the run ids."""

    device: str = "auto"
    """auto | cpu | cuda[:N], resolved where the run executes"""
    checkpoint_minutes: float | None = None
    """minutes of training between resume points besides the evaluation points; ``None``: the run's default"""
    env_workers: int = 1
    """subprocesses stepping each run's training environments (same results as one process)"""


def run_job(
    job: RunRequest, runs_dir: Path, settings: RunSettings | None = None, progress: bool = False
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

    job: RunRequest
    status: str
    run_id: str
    detail: str = ""
    outcome: RunOutcome | None = None


class SweepInterrupted(KeyboardInterrupt):
    """Raised inside a run that executes in the sweep's own process (``serial``) when the sweep is stopped."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"sweep stopped by {signal.Signals(signum).name}")
        self.signum = signum


def attempt_job(job: RunRequest, runs_dir: Path, settings: RunSettings) -> JobResult:
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


def unfinished_result(job: RunRequest, runs_dir: Path, stopping: bool, detail: str) -> JobResult:
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
