"""``local``: one spawned process per run, at most ``workers`` at once, on this machine (the default).

Why not a process pool: in ``concurrent.futures.ProcessPoolExecutor`` one worker killed by the OS (SIGKILL,
the out-of-memory killer) breaks the whole pool and fails every queued run. Here each run has its own
process and its own pipe, so a dead worker fails its own run only and the sweep goes on with the others.
Starting a process per run costs about a second of imports, nothing next to a run.

Signals: the workers do not take SIGINT (Ctrl-C in a terminal reaches the whole process group; only the
sweep decides what a stop means). On a stop the sweep sends each running worker SIGTERM, which raises
``SystemExit`` inside its run, so the run records the interruption and keeps its checkpoint; a worker still
alive after :attr:`LocalExecutor.grace_s` seconds, or after a second signal, is killed.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing import get_context
from multiprocessing.connection import Connection, wait
from multiprocessing.context import SpawnContext, SpawnProcess
from pathlib import Path
from types import FrameType
from typing import ClassVar

from benchmark.errors import BenchmarkError
from benchmark.executors import ExecutorOptions, StopEscalation, check_local_device
from benchmark.jobs import JobResult, RunSettings, StopRequest, attempt_job, unfinished_result
from benchmark.request import RunRequest

# One run per core: BLAS and torch in every worker stay on one thread.
SINGLE_THREAD_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


class LocalExecutor:
    """Runs every job in its own spawned process, ``workers`` at a time."""

    TAKES: ClassVar[tuple[str, ...]] = ("workers",)

    grace_s: float = 60.0
    """how long a stopped run may take to record its interruption before it is killed"""
    poll_s: float = 0.2
    """how often the sweep looks at the stop flag while it waits on its workers"""

    def __init__(self, workers: int) -> None:
        if workers < 1:
            raise BenchmarkError(f"workers must be positive, got {workers}")
        self.workers = workers

    @classmethod
    def from_options(cls, options: ExecutorOptions) -> LocalExecutor:
        return cls(options.workers or os.cpu_count() or 1)

    def check_device(self, device: str) -> None:
        check_local_device(device)

    def run(
        self,
        jobs: Sequence[RunRequest],
        runs_dir: Path,
        settings: RunSettings,
        stop: StopRequest,
        report: Callable[[JobResult], None],
    ) -> None:
        # spawn, not fork: MuJoCo/torch state must not be shared with the parent.
        context = get_context("spawn")
        queued = deque(jobs)
        running: list[_Worker] = []
        escalation = StopEscalation(stop, self.grace_s)
        try:
            while queued or running:
                if not stop.requested:
                    while queued and len(running) < self.workers:
                        running.append(_Worker.start(context, queued.popleft(), runs_dir, settings))
                action = escalation.step()
                if action is not None:
                    for worker in running:
                        worker.signal(signal.SIGTERM if action == "ask" else signal.SIGKILL)
                if not running:
                    break
                wait([w.connection for w in running] + [w.process.sentinel for w in running], self.poll_s)
                for worker in list(running):
                    result = worker.result(runs_dir, stopping=stop.requested)
                    if result is not None:
                        running.remove(worker)
                        report(result)
        finally:
            for worker in running:  # only after an error in this loop: leave no orphan behind
                worker.signal(signal.SIGKILL)
                worker.process.join()


@dataclass
class _Worker:
    """One run's process and the receiving end of the pipe its result comes back on."""

    job: RunRequest
    process: SpawnProcess
    connection: Connection

    @classmethod
    def start(cls, context: SpawnContext, job: RunRequest, runs_dir: Path, settings: RunSettings) -> _Worker:
        receiver, sender = context.Pipe(duplex=False)
        process = context.Process(
            target=_worker_main, args=(job, runs_dir, settings, sender), name=f"run {job.describe()}"
        )
        with _single_thread_env(), _sigint_blocked():
            process.start()
        sender.close()  # only the child holds the sending end, so its death reads as end of file here
        return cls(job, process, receiver)

    def signal(self, signum: int) -> None:
        if self.process.pid is not None and self.process.is_alive():
            with contextlib.suppress(ProcessLookupError):  # it ended in between
                os.kill(self.process.pid, signum)

    def result(self, runs_dir: Path, stopping: bool) -> JobResult | None:
        """The run's result once the worker has ended, else ``None``."""
        if self.connection.poll():
            try:
                result: JobResult = self.connection.recv()
            except (EOFError, OSError):  # the pipe closed without a result: the worker died
                pass
            else:
                self._close()
                return result
        if self.process.is_alive():
            return None
        self.process.join()
        detail = f"worker process died ({_describe_exit(self.process.exitcode)})"
        self._close()
        return unfinished_result(self.job, runs_dir, stopping, detail)

    def _close(self) -> None:
        self.process.join()
        self.connection.close()
        self.process.close()


def _worker_main(job: RunRequest, runs_dir: Path, settings: RunSettings, connection: Connection) -> None:
    """A worker's whole life: one run, its result sent back, exit."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _exit_on_first_sigterm)
    import torch

    torch.set_num_threads(1)
    result = attempt_job(job, runs_dir, settings)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the run is over: a late SIGTERM must not lose its result
    try:
        connection.send(result)
    finally:
        connection.close()


def _exit_on_first_sigterm(signum: int, frame: FrameType | None) -> None:
    # SystemExit unwinds through the run, which records its interruption; a second SIGTERM must not cut
    # that recording short.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise SystemExit(128 + signum)


def _describe_exit(exitcode: int | None) -> str:
    if exitcode is None:
        return "still running"
    if exitcode < 0:
        name = signal.Signals(-exitcode).name
        return f"killed by {name}" + (", e.g. by the out-of-memory killer" if name == "SIGKILL" else "")
    return f"exit status {exitcode} without a result"


@contextmanager
def _single_thread_env() -> Iterator[None]:
    """The workers' environment: set while they start (a spawned child copies it), restored after."""
    previous = {name: os.environ.get(name) for name in SINGLE_THREAD_ENV}
    os.environ.update(SINGLE_THREAD_ENV)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def _sigint_blocked() -> Iterator[None]:
    """SIGINT blocked while a worker starts: the child inherits the mask, so Ctrl-C never reaches it even
    during its imports; the parent gets any SIGINT that came meanwhile once it is unblocked."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
