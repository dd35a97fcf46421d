"""Runs that survive: a run killed with SIGKILL at any moment resumes from its last resume point
and ends with exactly the metrics of an uninterrupted run; a live run is never taken from its process.

Every registered method is killed for real: the run executes in a child process (``python -m benchmark
run``), which the test SIGKILLs once it has written a resume point; the same run is then executed again.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmark import registry
from benchmark.errors import RunLockedError
from benchmark.request import resolve_run
from benchmark.results.store import METRICS_FILE, RESUME_FILE, TRACES_FILE
from benchmark.run import RunClaim, execute_run

REPO = Path(__file__).resolve().parents[2]
BUDGET = 2_400


def command(method: str, runs_dir: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "benchmark",
        "run",
        "--method",
        method,
        "--suite",
        "point-nav",
        "--profile",
        "smoke",
        "--budget",
        str(BUDGET),
        "--checkpoint-minutes",
        "0",
        "--runs-dir",
        str(runs_dir),
        "--no-progress",
    ]


def kill_after_first_resume_point(method: str, runs_dir: Path) -> Path:
    """Start the run in a child, SIGKILL it right after its first resume point; return the run folder."""
    spec, _ = resolve_run(method, "point-nav", 0, "smoke", budget_env_steps=BUDGET)
    run_dir = runs_dir / spec.run_id
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    child = subprocess.Popen(command(method, runs_dir), cwd=REPO, env=env, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not (run_dir / RESUME_FILE).exists():
        assert child.poll() is None, f"{method}: the run ended before writing a resume point"
        assert time.monotonic() < deadline, f"{method}: no resume point after 120 s"
        time.sleep(0.005)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "running", f"{method}: finished before the kill; the test proved nothing"
    return run_dir


@pytest.mark.parametrize("method", sorted(registry.METHODS))
def test_a_killed_run_resumes_and_matches_the_uninterrupted_run(tmp_path, method):
    killed_dir = kill_after_first_resume_point(method, tmp_path / "killed")
    spec, config = resolve_run(method, "point-nav", 0, "smoke", budget_env_steps=BUDGET)
    resumed = execute_run(spec, config, tmp_path / "killed", progress=False, checkpoint_minutes=0)
    assert resumed.status == "resumed"
    spec, config = resolve_run(method, "point-nav", 0, "smoke", budget_env_steps=BUDGET)
    clean = execute_run(spec, config, tmp_path / "clean", progress=False, checkpoint_minutes=0)
    assert clean.status == "completed"
    for name in (METRICS_FILE, TRACES_FILE):
        assert (killed_dir / name).read_bytes() == (clean.run_dir / name).read_bytes(), name
    manifest = json.loads((killed_dir / "manifest.json").read_text())
    assert manifest["status"] == "completed" and len(manifest["resumed"]) == 1
    assert not (killed_dir / RESUME_FILE).exists()  # a finished run is never resumed


def test_a_live_claim_is_refused_and_a_released_one_is_taken(tmp_path):
    spec, config = resolve_run("random", "point-nav", 0, "smoke")
    with RunClaim(tmp_path, spec.run_id):
        with pytest.raises(RunLockedError, match=f"pid {os.getpid()}"):
            execute_run(spec, config, tmp_path, progress=False)
        assert not (tmp_path / spec.run_id).exists()  # nothing touched while claimed
    assert execute_run(spec, config, tmp_path, progress=False).status == "completed"


def test_a_dead_processes_claim_is_taken_over(tmp_path):
    spec, config = resolve_run("random", "point-nav", 0, "smoke")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from benchmark.run import RunClaim;"
            f"c = RunClaim(Path(sys.argv[1]), {spec.run_id!r}).__enter__(); print('held', flush=True);"
            "time.sleep(60)",
            str(tmp_path),
        ],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    with pytest.raises(RunLockedError):
        execute_run(spec, config, tmp_path, progress=False)
    holder.kill()
    holder.wait()
    assert execute_run(spec, config, tmp_path, progress=False).status == "completed"


def test_a_corrupt_resume_point_restarts_the_run_and_keeps_the_old_folder(tmp_path):
    spec, config = resolve_run("random", "point-nav", 0, "smoke", budget_env_steps=BUDGET)
    outcome = execute_run(spec, config, tmp_path, progress=False)
    manifest_path = outcome.run_dir / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["status"] = "interrupted"
    manifest_path.write_text(json.dumps(manifest))
    (outcome.run_dir / RESUME_FILE).write_bytes(b"not a checkpoint")
    assert execute_run(spec, config, tmp_path, progress=False).status == "completed"
    assert len(list((tmp_path / ".incomplete").iterdir())) == 1
