"""``ray``: every run one Ray task on a cluster (``pip install -e '.[cluster]'`` on every node).

Each run is a task that asks for one CPU (and one GPU when the runs compute on CUDA) and writes its run folder
itself, under ``--runs-dir``: on a cluster that path must be one every node shares (NFS, a mounted bucket),
so the results are gathered there as the runs write them; the sweep checks that every completed run's
folder is visible from where it was started. A task whose worker process or node dies is retried by Ray
(``--max-retries``, default 3) and the retried run resumes from the checkpoint in its run folder. A run that
raises is not retried: it would raise again.

``--address HOST:PORT`` connects to the head of a running cluster (``ray start --head``). Without it Ray finds
a cluster the usual way (the ``RAY_ADDRESS`` variable, else a head started on this machine) and otherwise
starts a one-machine instance for the sweep's lifetime.

A stop (SIGINT/SIGTERM) cancels the queued tasks and interrupts the running ones (Ray raises
``KeyboardInterrupt`` in them, so each records its interruption and keeps its checkpoint); runs still going
after :attr:`RayExecutor.grace_s` seconds, or after a second signal, are killed.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar

from benchmark.errors import BenchmarkError
from benchmark.executors import ExecutorOptions, StopEscalation
from benchmark.executors.local import SINGLE_THREAD_ENV
from benchmark.jobs import JobResult, RunSettings, StopRequest, attempt_job, unfinished_result
from benchmark.request import RunRequest
from benchmark.results.store import MANIFEST_FILE

HEAD_TIMEOUT_S = 5.0
"""how long to wait for a Ray head's port to answer before giving up (ray.init itself retries for minutes)"""

RAY_MISSING = "the ray executor needs Ray: pip install -e '.[cluster]' (on every node of the cluster)"


class RayExecutor:
    """Sends every job to a Ray cluster as one task; Ray schedules them on the cluster's CPUs/GPUs."""

    TAKES: ClassVar[tuple[str, ...]] = ("address", "max_retries")

    grace_s: float = 60.0
    """how long an interrupted run may take to record its interruption before its task is killed"""
    poll_s: float = 0.5
    """how often the sweep looks at the stop flag while it waits on the tasks"""

    def __init__(self, address: str | None = None, max_retries: int = 3) -> None:
        if max_retries < 0:
            raise BenchmarkError(f"max retries must be >= 0, got {max_retries}")
        self.address = address
        self.max_retries = max_retries

    @classmethod
    def from_options(cls, options: ExecutorOptions) -> RayExecutor:
        return cls(options.address, options.max_retries)

    def check_device(self, device: str) -> None:
        # The runs compute on the cluster's nodes, not here: only the spelling is checked on this machine.
        if device not in ("auto", "cpu") and not device.startswith("cuda"):
            raise BenchmarkError(f"unknown device {device!r}; use auto, cpu or cuda[:N]")

    def run(
        self,
        jobs: Sequence[RunRequest],
        runs_dir: Path,
        settings: RunSettings,
        stop: StopRequest,
        report: Callable[[JobResult], None],
    ) -> None:
        ray = _import_ray()
        self._connect(ray)
        stop.take_signals()  # ray.init installs its own SIGTERM handler
        try:
            gpus = self._gpus_per_run(ray, settings.device)
            task = ray.remote(
                num_cpus=1, num_gpus=gpus, max_retries=self.max_retries, retry_exceptions=False
            )(run_job_task)
            pending = {task.remote(job, str(runs_dir), settings): job for job in jobs}
            escalation = StopEscalation(stop, self.grace_s)
            while pending:
                action = escalation.step()
                if action is not None:
                    for ref in pending:
                        ray.cancel(ref, force=action == "force")
                done, _ = ray.wait(list(pending), num_returns=len(pending), timeout=self.poll_s)
                for ref in done:
                    report(self._result(ray, ref, pending.pop(ref), runs_dir, stop.requested))
        finally:
            ray.shutdown()

    def _connect(self, ray: Any) -> None:
        if self.address is not None:
            check_reachable(self.address)
        try:
            ray.init(
                address=self.address,
                runtime_env={"env_vars": SINGLE_THREAD_ENV},
                logging_level=logging.WARNING,
            )
        except ConnectionError as exc:
            where = self.address or "the address Ray found"
            raise BenchmarkError(f"cannot connect to a Ray cluster at {where}: {_first_line(exc)}") from None

    def _gpus_per_run(self, ray: Any, device: str) -> int:
        """One GPU per run for ``cuda``, and for ``auto`` on a cluster that has GPUs; else none."""
        cluster_gpus = ray.cluster_resources().get("GPU", 0)
        if device.startswith("cuda") and not cluster_gpus:
            raise BenchmarkError(f"device {device!r} requested but the Ray cluster has no GPU")
        return 1 if device.startswith("cuda") or (device == "auto" and cluster_gpus) else 0

    def _result(self, ray: Any, ref: Any, job: RunRequest, runs_dir: Path, stopping: bool) -> JobResult:
        try:
            result: JobResult = ray.get(ref)
        except ray.exceptions.TaskCancelledError:
            return unfinished_result(job, runs_dir, True, "cancelled by the sweep's stop")
        except ray.exceptions.RayError as exc:  # its worker or node died more often than max_retries
            return unfinished_result(job, runs_dir, stopping, f"{type(exc).__name__}: {_first_line(exc)}")
        if result.status == "completed" and not (runs_dir / result.run_id / MANIFEST_FILE).exists():
            return JobResult(
                job,
                "failed",
                result.run_id,
                f"completed on a Ray node, but its folder is not under {runs_dir} here: "
                "--runs-dir must be a path that every node shares",
            )
        return result


def run_job_task(job: RunRequest, runs_dir: str, settings: RunSettings) -> JobResult:
    """The Ray task: one run, where Ray placed it (a retry after a worker's death resumes the run)."""
    import torch

    torch.set_num_threads(1)
    return attempt_job(job, Path(runs_dir), settings)


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise BenchmarkError(RAY_MISSING) from None
    return ray


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def check_reachable(address: str, timeout_s: float = HEAD_TIMEOUT_S) -> None:
    """Refuse a ``HOST:PORT`` Ray head that does not accept a TCP connection, in one line and within
    ``timeout_s`` (``ray.init`` would retry for minutes). ``auto``, ``local`` and ``ray://`` client
    addresses are left to Ray."""
    if address in ("auto", "local") or "://" in address:
        return
    host, sep, port_text = address.rpartition(":")
    if not sep or not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise BenchmarkError(f"Ray address {address!r} is not HOST:PORT")
    try:
        socket.create_connection((host.strip("[]"), int(port_text)), timeout=timeout_s).close()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise BenchmarkError(f"cannot reach a Ray head at {address}: {reason}") from None
