"""``local``: one spawned process per run, at most ``workers`` at once, on this machine (the default).

Why not a process pool: in ``concurrent.futures.ProcessPoolExecutor`` one worker killed by the OS (SIGKILL,
the out-of-memory killer) breaks the whole pool and fails every queued run. Here each run has its own
process and its own pipe, so a dead worker fails its own run only and the sweep goes on with the others.
Starting a process per run costs about a second of imports, nothing next to a run.

GPUs: with ``--device cuda`` or ``auto`` on a machine where torch sees several GPUs, each worker is started
with ``CUDA_VISIBLE_DEVICES`` naming one of them (:class:`GpuSlots`: the least busy, in turn among equals),
so the runs spread over the GPUs instead of all landing on the first; inside its worker a run's ``cuda`` is
that GPU. ``cuda:N`` pins every run to GPU N, as asked.

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
        gpus = GpuSlots.for_device(settings.device)
        queued = deque(jobs)
        running: list[_Worker] = []
        escalation = StopEscalation(stop, self.grace_s)
        try:
            while queued or running:
                if not stop.requested:
                    while queued and len(running) < self.workers:
                        gpu = gpus.take([w.gpu for w in running])
                        running.append(_Worker.start(context, queued.popleft(), runs_dir, settings, gpu))
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


class GpuSlots:
    """The GPUs a sweep's runs are spread over (``CUDA_VISIBLE_DEVICES`` values); none: leave it alone.

    :meth:`take` gives a new worker the GPU that the fewest running workers hold, and among those the next
    in turn after the last one given (round-robin while runs take equally long).
    """

    def __init__(self, gpus: Sequence[str]) -> None:
        self.gpus = list(gpus)
        self._next = 0

    @classmethod
    def for_device(cls, device: str) -> GpuSlots:
        """Every GPU torch sees, for ``cuda`` or ``auto`` when it sees more than one; else none (the CPU, a
        single GPU, or ``cuda:N``, which pins the runs)."""
        if device not in ("cuda", "auto"):
            return cls([])
        import torch

        count = torch.cuda.device_count() if torch.cuda.is_available() else 0  # starts no CUDA context
        if count < 2:
            return cls([])
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        names = [name.strip() for name in visible.split(",")] if visible else [str(i) for i in range(count)]
        return cls(names[:count])

    def take(self, held: Sequence[str | None]) -> str | None:
        """The GPU for a worker starting while the running ones hold ``held``; None without GPUs."""
        if not self.gpus:
            return None
        n = len(self.gpus)
        order = [self.gpus[(self._next + k) % n] for k in range(n)]
        gpu = min(order, key=lambda g: (held.count(g), order.index(g)))
        self._next = (self.gpus.index(gpu) + 1) % n
        return gpu


@dataclass
class _Worker:
    """One run's process, the receiving end of the pipe its result comes back on, and its GPU (if given)."""

    job: RunRequest
    process: SpawnProcess
    connection: Connection
    gpu: str | None = None

    @classmethod
    def start(
        cls, context: SpawnContext, job: RunRequest, runs_dir: Path, settings: RunSettings, gpu: str | None
    ) -> _Worker:
        receiver, sender = context.Pipe(duplex=False)
        process = context.Process(
            target=_worker_main, args=(job, runs_dir, settings, sender), name=f"run {job.describe()}"
        )
        gpu_env = {"CUDA_VISIBLE_DEVICES": gpu} if gpu is not None else {}
        with _worker_env(gpu_env), _sigint_blocked():
            process.start()
        sender.close()  # only the child holds the sending end, so its death reads as end of file here
        return cls(job, process, receiver, gpu)

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
def _worker_env(extra: dict[str, str]) -> Iterator[None]:
    """A worker's environment (one thread, its GPU): set while it starts (a spawned child copies it),
    restored after."""
    variables = {**SINGLE_THREAD_ENV, **extra}
    previous = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
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
