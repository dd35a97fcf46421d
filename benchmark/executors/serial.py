"""``serial``: the runs one after another in the sweep's own process (debugging, tests, one-core machines)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import ClassVar

from benchmark.executors import ExecutorOptions, check_local_device
from benchmark.jobs import (
    JobResult,
    RunRequest,
    RunSettings,
    StopRequest,
    SweepInterrupted,
    attempt_job,
    unfinished_result,
)


class SerialExecutor:
    """Runs every job in this process. A signal raises inside the running run, which records it."""

    TAKES: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def from_options(cls, options: ExecutorOptions) -> SerialExecutor:
        return cls()

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
        for job in jobs:
            if stop.requested:
                return
            stop.raise_in_main = True
            try:
                result = attempt_job(job, runs_dir, settings)
            except SweepInterrupted as exc:  # the signal landed just outside the run's own handling
                result = unfinished_result(job, runs_dir, stopping=True, detail=str(exc))
            finally:
                stop.raise_in_main = False
            report(result)
