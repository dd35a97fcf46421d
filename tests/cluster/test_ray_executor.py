"""The ``ray`` executor against a real Ray head that the test starts on loopback (``ray start --head``):
a grid gives the serial sweep's metrics bit for bit, and a run whose worker process is killed mid-run is
retried by Ray, resumes from its checkpoint and ends with an uninterrupted run's metrics."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from benchmark.request import RunRequest
from benchmark.results.store import RESUME_FILE, read_run_metrics
from benchmark.sweep import execute_sweep
from tests.cluster.sweep_helpers import (
    alive,
    claim_pid,
    evaluations,
    finish,
    manifest,
    start_sweep,
    wait_for,
)

pytestmark = pytest.mark.cluster
ray = pytest.importorskip("ray")

RAY = Path(sys.executable).parent / "ray"
# Everything on loopback: without this Ray announces the machine's outward address on Linux (its switch for
# one-machine clusters, named after the platforms where it is the default).
LOOPBACK_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def session_members(session: int) -> list[int]:
    """PIDs in ``session``: the head and every process it started (they keep its session)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:  # ended meanwhile
                continue
            fields = stat.rsplit(")", 1)[1].split()  # after "pid (name)": state, ppid, pgrp, session
            if int(fields[3]) == session and fields[0] != "Z":
                pids.append(int(entry.name))
    return pids


@pytest.fixture(scope="module")
def head() -> Iterator[str]:
    """A one-node Ray cluster on 127.0.0.1 with 2 CPUs; its address. Torn down with every process it made."""
    # A short temp dir: Ray puts Unix sockets under it, and their paths are limited to 107 bytes.
    temp_dir = Path(tempfile.mkdtemp(prefix="ray", dir="/tmp"))
    port = free_port()
    command = [str(RAY), "start", "--head", "--block", f"--port={port}", "--node-ip-address=127.0.0.1"]
    command += [f"--ray-client-server-port={free_port()}", "--num-cpus=2", "--num-gpus=0"]
    command += ["--include-dashboard=false", f"--temp-dir={temp_dir}", "--disable-usage-stats"]
    log = (temp_dir / "head.log").open("w")
    # Its own session: `ray stop` would stop every Ray instance of this user; the teardown ends this one only.
    ray_head = subprocess.Popen(
        command,
        env={**os.environ, **LOOPBACK_ENV},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_for(lambda: "Ray runtime started" in (temp_dir / "head.log").read_text(), 120, "the Ray head")
        yield f"127.0.0.1:{port}"
    finally:
        ray_head.terminate()  # the head drains and stops the processes it started
        with contextlib.suppress(subprocess.TimeoutExpired):
            ray_head.wait(60)
        wait_for(lambda: not session_members(ray_head.pid), 30, "the head's processes to stop", fail=False)
        for pid in session_members(ray_head.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        log.close()
        shutil.rmtree(temp_dir, ignore_errors=True)


def ray_sweep(runs: Path, head: str, *args: str) -> subprocess.Popen[str]:
    return start_sweep(runs, "--executor", "ray", "--address", head, *args, env=LOOPBACK_ENV)


def serial_metrics(tmp_path: Path, jobs: list[RunRequest]) -> dict[str, pd.DataFrame]:
    report = execute_sweep(jobs, tmp_path / "serial", "serial", progress=False)
    assert report.exit_status == 0
    return {r.run_id: read_run_metrics(tmp_path / "serial" / r.run_id) for r in report.results}


def test_ray_sweep_gives_the_serial_sweeps_metrics(head, tmp_path):
    runs = tmp_path / "ray"
    status, out, err = finish(ray_sweep(runs, head, "--seeds", "3"))
    assert status == 0, (out, err)
    assert "sweep: 3 completed, 0 skipped, 0 failed" in out
    jobs = [RunRequest("random", "point-nav", seed, "smoke") for seed in range(3)]
    for run, expected in serial_metrics(tmp_path, jobs).items():
        assert manifest(runs, run)["status"] == "completed"
        pd.testing.assert_frame_equal(read_run_metrics(runs / run), expected)
    status, out, err = finish(ray_sweep(runs, head, "--seeds", "3"))
    assert status == 0 and "sweep: 0 completed, 3 skipped" in out, err


def test_a_killed_ray_worker_is_retried_and_its_run_resumes_to_the_uninterrupted_metrics(head, tmp_path):
    runs, budget = tmp_path / "ray", 200_000
    job = RunRequest("random", "point-nav", 0, "smoke", budget)
    sweep = ray_sweep(runs, head, "--seeds", "1", "--budget", str(budget))

    def mid_run_worker() -> int | None:
        pid = claim_pid(runs, job.run_id)
        # Past the first training evaluation, with the resume point written after it.
        resumable = evaluations(runs, job.run_id) >= 2 and (runs / job.run_id / RESUME_FILE).exists()
        return pid if resumable and pid is not None and alive(pid) else None

    pid = wait_for(mid_run_worker, 150, "the Ray worker to be mid-run")
    os.kill(pid, signal.SIGKILL)
    status, out, err = finish(sweep)
    assert status == 0, (out, err)
    assert "sweep: 1 completed, 0 skipped, 0 failed" in out
    record = manifest(runs, job.run_id)
    assert record["status"] == "completed"
    assert record.get("resumed"), record  # Ray's retry resumed the run; it did not start it again
    assert claim_pid(runs, job.run_id) != pid  # a new worker process finished it
    (expected,) = serial_metrics(tmp_path, [job]).values()
    pd.testing.assert_frame_equal(read_run_metrics(runs / job.run_id), expected)


def test_sigint_on_a_ray_sweep_interrupts_its_running_runs_and_cancels_the_queued_ones(head, tmp_path):
    runs, budget = tmp_path / "ray", 200_000
    sweep = ray_sweep(runs, head, "--seeds", "4", "--budget", str(budget))
    running = [RunRequest("random", "point-nav", seed, "smoke", budget).run_id for seed in range(2)]  # 2 CPUs
    for run in running:  # both past a resume point, so the next sweep resumes them
        wait_for(lambda run=run: (runs / run / RESUME_FILE).exists(), 150, f"{run} to be resumable")
    os.killpg(sweep.pid, signal.SIGINT)
    status, out, err = finish(sweep, timeout=120)
    assert status == 130, (out, err)
    assert "sweep stopped by SIGINT: 0 completed, 0 skipped, 0 failed, 2 interrupted, " in out, (out, err)
    assert "2 not started, of 4 runs." in out and "Traceback" not in err + out, err
    assert all(manifest(runs, run)["status"] == "interrupted" for run in running)
    status, out, err = finish(ray_sweep(runs, head, "--seeds", "4", "--budget", str(budget)))
    assert status == 0 and "sweep: 4 completed, 0 skipped, 0 failed" in out, err
    assert all(manifest(runs, run).get("resumed") for run in running)
