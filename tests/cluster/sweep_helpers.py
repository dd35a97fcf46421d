"""Helpers for tests that drive real sweeps as a user would: ``python -m benchmark sweep`` in a subprocess,
watched through its runs folder and stopped or wounded with real signals."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmark.request import RunRequest

REPO = Path(__file__).resolve().parents[2]
# The grid of these tests: the random agent on point-nav (the fastest suite), smoke evaluation sizes.
GRID = ("--profile", "smoke", "--methods", "random", "--suites", "point-nav")


def sweep_command(runs_dir: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "benchmark", "sweep", *GRID, "--runs-dir", str(runs_dir), *args]


def start_sweep(runs_dir: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """A sweep in its own session (process group), as a shell starts a foreground job."""
    return subprocess.Popen(
        sweep_command(runs_dir, *args),
        cwd=REPO,
        env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def finish(process: subprocess.Popen[str], timeout: float = 300) -> tuple[int, str, str]:
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, 9)
        out, err = process.communicate()
        message = f"sweep still running after {timeout} s\nstdout:\n{out}\nstderr:\n{err}"
        raise AssertionError(message) from None
    return process.returncode, out, err


def run_id(seed: int, budget: int | None = None) -> str:
    return RunRequest("random", "point-nav", seed, "smoke", budget).run_id


def manifest(runs_dir: Path, run: str) -> dict[str, Any] | None:
    try:
        return json.loads((runs_dir / run / "manifest.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):  # not there yet, or being replaced
        return None


def evaluations(runs_dir: Path, run: str) -> int:
    """Evaluation points the run has written (the first, at env_steps 0, comes before any training)."""
    return len((manifest(runs_dir, run) or {}).get("evaluations", []))


def claim_pid(runs_dir: Path, run: str) -> int | None:
    """The PID of the process executing ``run``, from its claim file (``host H pid N``), if it has one."""
    try:
        words = (runs_dir / ".claims" / f"{run}.lock").read_text().split()
    except FileNotFoundError:
        return None
    return int(words[words.index("pid") + 1]) if "pid" in words else None


def wait_for(condition: Callable[[], Any], timeout: float, what: str, fail: bool = True) -> Any:
    """``condition()`` once it is true; after ``timeout`` seconds an AssertionError (or ``None``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    if fail:
        raise AssertionError(f"timed out after {timeout} s waiting for {what}")
    return None


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
