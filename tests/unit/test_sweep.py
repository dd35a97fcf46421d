"""The sweep's bookkeeping, in process: results and summary, exit statuses, executor registry and options,
how a run's end is classified, and the serial executor's stop (fake runs; no simulator)."""

from __future__ import annotations

import importlib.util
import os
import signal
import time
from pathlib import Path

import pytest

from benchmark import errors, jobs
from benchmark.errors import BenchmarkError
from benchmark.executors import EXECUTORS, ExecutorOptions, make_executor
from benchmark.jobs import JobResult, RunSettings, StopRequest, attempt_job
from benchmark.request import RunRequest
from benchmark.sweep import SweepReport, build_grid, execute_sweep

JOBS = build_grid("smoke", ["random"], ["point-nav"], seeds=3)


def report_gpu(job, runs_dir, settings, connection):
    """A local worker's main (module level: the spawned child imports it) that runs nothing and reports the
    GPU it was given."""
    connection.send(JobResult(job, "completed", "", detail=os.environ.get("CUDA_VISIBLE_DEVICES", "none")))
    connection.close()


def results(*statuses: str) -> list[JobResult]:
    return [JobResult(job, status, job.run_id) for job, status in zip(JOBS, statuses, strict=False)]


@pytest.mark.parametrize(
    ("statuses", "signum", "exit_status"),
    [
        (("completed", "skipped", "claimed"), None, 0),
        (("completed", "failed", "completed"), None, 1),
        (("completed", "interrupted", "completed"), None, 1),
        (("completed", "interrupted", "not started"), signal.SIGINT, 130),
        (("failed", "interrupted", "not started"), signal.SIGTERM, 143),
    ],
)
def test_exit_status_says_whether_every_run_finished(statuses, signum, exit_status):
    assert SweepReport(results(*statuses), signum).exit_status == exit_status


def test_summary_counts_every_status_in_one_paragraph_and_lists_the_unfinished_runs():
    report = SweepReport(results("completed", "interrupted", "not started"), signal.SIGINT)
    summary = report.summary()
    assert "\n" not in summary
    assert summary.startswith("sweep stopped by SIGINT: 1 completed, 0 skipped, 0 failed, 1 interrupted, ")
    assert "0 claimed elsewhere, 1 not started, of 3 runs." in summary
    assert "same command again" in summary
    (line,) = report.details()  # not-started runs are counted, not listed
    assert line.startswith("  interrupted: random point-nav seed=1 (random__point-nav__s1__")
    claimed = SweepReport(results("claimed", "completed", "completed")).summary()
    assert "1 claimed elsewhere" in claimed and "another live process" in claimed


def test_executors_are_one_registry_and_refuse_options_they_do_not_take():
    assert set(EXECUTORS) == {"serial", "local", "ray"}
    with pytest.raises(BenchmarkError, match="unknown executor 'cloud'; known executors: serial, local, ray"):
        make_executor("cloud", ExecutorOptions())
    with pytest.raises(BenchmarkError, match="--address does not apply to --executor local"):
        make_executor("local", ExecutorOptions(address="127.0.0.1:6379"))
    with pytest.raises(BenchmarkError, match="--workers does not apply to --executor serial"):
        make_executor("serial", ExecutorOptions(workers=2))
    with pytest.raises(BenchmarkError, match="--workers does not apply to --executor ray"):
        make_executor("ray", ExecutorOptions(workers=2))
    assert make_executor("local", ExecutorOptions(workers=3)).workers == 3  # type: ignore[attr-defined]


def test_ray_executor_checks_the_device_spelling_only_and_says_how_to_install_ray(tmp_path):
    executor = make_executor("ray", ExecutorOptions(address="127.0.0.1:1"))
    executor.check_device("cuda:1")  # the GPUs are on the cluster's nodes, not necessarily here
    with pytest.raises(BenchmarkError, match="unknown device 'tpu'"):
        executor.check_device("tpu")
    if importlib.util.find_spec("ray") is None:
        with pytest.raises(BenchmarkError, match=r"pip install -e '\.\[cluster\]'"):
            execute_sweep(JOBS[:1], tmp_path, "ray", ExecutorOptions(), progress=False)


@pytest.mark.parametrize(
    ("raised", "status", "detail"),
    [
        (ValueError("boom"), "failed", "ValueError: boom"),
        (KeyboardInterrupt(), "interrupted", "KeyboardInterrupt"),
        (SystemExit(143), "interrupted", "SystemExit: 143"),
        (BenchmarkError("bad"), "failed", "BenchmarkError: bad"),
    ],
)
def test_attempt_job_classifies_how_a_run_ended(monkeypatch, tmp_path, raised, status, detail):
    def run_job(job, runs_dir, settings=None, progress=False):
        raise raised

    monkeypatch.setattr(jobs, "run_job", run_job)
    result = attempt_job(JOBS[0], tmp_path, RunSettings())
    assert (result.status, result.detail, result.run_id) == (status, detail, JOBS[0].run_id)


@pytest.mark.skipif(not hasattr(errors, "RunLockedError"), reason="the run claim has not landed")
def test_a_run_claimed_by_another_process_is_claimed_not_failed(monkeypatch, tmp_path):
    def run_job(job, runs_dir, settings=None, progress=False):
        raise errors.RunLockedError("run x is being executed by host h pid 1")

    monkeypatch.setattr(jobs, "run_job", run_job)
    assert attempt_job(JOBS[0], tmp_path, RunSettings()).status == "claimed"


def test_serial_sweep_runs_for_real_then_skips(tmp_path):
    report = execute_sweep(JOBS[:2], tmp_path, "serial", progress=False)
    assert [r.status for r in report.results] == ["completed", "completed"] and report.exit_status == 0
    again = execute_sweep(JOBS[:2], tmp_path, "serial", progress=False)
    assert [r.status for r in again.results] == ["skipped", "skipped"]


def test_a_signal_interrupts_the_serial_run_in_progress_and_starts_nothing_more(monkeypatch, tmp_path):
    started: list[RunRequest] = []

    def run_job(job, runs_dir, settings=None, progress=False):
        started.append(job)
        os.kill(os.getpid(), signal.SIGTERM)  # the handler raises inside this "run"
        time.sleep(5)
        raise AssertionError("the signal did not interrupt the run")

    monkeypatch.setattr(jobs, "run_job", run_job)
    previous = signal.getsignal(signal.SIGTERM)
    report = execute_sweep(JOBS, tmp_path, "serial", progress=False)
    assert signal.getsignal(signal.SIGTERM) == previous  # the sweep's handlers are gone after it
    assert started == JOBS[:1]
    assert [r.status for r in report.results] == ["interrupted", "not started", "not started"]
    assert report.results[0].detail == "SweepInterrupted: sweep stopped by SIGTERM"
    assert report.exit_status == 143


def test_a_stop_before_the_sweep_starts_anything_leaves_every_run_not_started(tmp_path):
    stop = StopRequest()
    stop.request(signal.SIGINT)
    for executor in ("serial", "local"):
        report = execute_sweep(JOBS, Path(tmp_path), executor, stop=stop, progress=False)
        assert {r.status for r in report.results} == {"not started"} and report.exit_status == 130
    assert not any(tmp_path.iterdir())


def test_executors_never_import_the_sweep_and_declare_their_options():
    """The job types live below both (benchmark.jobs): no import cycle between sweep and executors."""
    import ast
    import importlib
    from pathlib import Path

    import benchmark.executors as executors_package

    for path in Path(executors_package.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                assert node.module != "benchmark.sweep", path
    for name, target in EXECUTORS.items():
        module_name, class_name = target.split(":")
        if name == "ray" and importlib.util.find_spec("ray") is None:
            continue
        taken = getattr(importlib.import_module(module_name), class_name).TAKES
        assert set(taken) <= {"workers", "address", "max_retries"}, name


def test_stop_escalation_asks_once_then_forces_once():
    from benchmark.executors import StopEscalation

    stop = StopRequest()
    escalation = StopEscalation(stop, grace_s=3600.0)
    assert escalation.step() is None
    stop.request(signal.SIGTERM)
    assert escalation.step() == "ask"
    assert escalation.step() is None  # within the grace
    stop.request(signal.SIGINT)  # a second signal: no more waiting
    assert escalation.step() == "force"
    assert escalation.step() is None


# ---- GPUs of a local sweep (fake device counts; no GPU needed) ---------------------------------------------


def fake_gpus(monkeypatch, count: int) -> None:
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: count > 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: count)


@pytest.mark.parametrize(
    ("device", "count", "visible", "gpus"),
    [
        ("cuda", 3, None, ["0", "1", "2"]),
        ("auto", 2, None, ["0", "1"]),
        ("auto", 2, "5,7", ["5", "7"]),  # the sweep's own CUDA_VISIBLE_DEVICES, by name
        ("cuda", 1, None, []),  # one GPU: nothing to spread
        ("auto", 0, None, []),  # the CPU
        ("cpu", 4, None, []),
        ("cuda:1", 4, None, []),  # pinned by the user
    ],
)
def test_local_sweeps_spread_over_the_gpus_torch_sees(monkeypatch, device, count, visible, gpus):
    from benchmark.executors.local import GpuSlots

    fake_gpus(monkeypatch, count)
    if visible is None:
        monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    else:
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)
    assert GpuSlots.for_device(device).gpus == gpus


def test_gpu_slots_go_round_robin_and_to_the_least_busy_gpu():
    from benchmark.executors.local import GpuSlots

    slots = GpuSlots(["0", "1", "2"])
    held: list[str | None] = []
    for _ in range(4):
        held.append(slots.take(held))
    assert held == ["0", "1", "2", "0"]
    held.remove("1")  # the run on GPU 1 ended: the next run goes there, not to a busy GPU
    assert slots.take(held) == "1"
    assert GpuSlots([]).take(["0"]) is None


def test_each_local_worker_starts_with_its_gpu_in_cuda_visible_devices(monkeypatch, tmp_path):
    """Four runs, two at a time, three GPUs: the workers get GPUs 0, 1, 2 in turn (the fourth the least busy
    in turn), each through CUDA_VISIBLE_DEVICES, and the sweep's own environment is left as it was."""
    import benchmark.executors.local as local

    fake_gpus(monkeypatch, 3)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.setattr(local, "_worker_main", report_gpu)
    grid = build_grid("smoke", ["random"], ["point-nav"], seeds=4)
    reported: list[JobResult] = []
    local.LocalExecutor(workers=2).run(
        grid, tmp_path, RunSettings(device="cuda"), StopRequest(), reported.append
    )
    gpu_of = {result.job: result.detail for result in reported}
    assert [gpu_of[job] for job in grid[:3]] == ["0", "1", "2"] and gpu_of[grid[3]] in ("0", "1")
    assert "CUDA_VISIBLE_DEVICES" not in os.environ
    reported.clear()
    local.LocalExecutor(workers=2).run(
        grid[:1], tmp_path, RunSettings(device="cpu"), StopRequest(), reported.append
    )
    assert reported[0].detail == "none"  # a CPU sweep sets nothing
