"""A sweep: the grid methods x suites x seeds of a profile, executed run by run.

Executors: ``serial`` (in this process) and ``local`` (a process pool, one run per core; torch is pinned to
one thread per run, DESIGN.md "Distribution"). Every run is idempotent, so an interrupted sweep resumes by
running the same command again.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

from tqdm import tqdm

from benchmark.agent import Runtime
from benchmark.errors import BenchmarkError
from benchmark.profiles import get_profile
from benchmark.registry import check_method_name
from benchmark.run import DEFAULT_RUNS_DIR, RunOutcome, execute_run, resolve_run
from benchmark.suites import check_suite_name

EXECUTORS = ("serial", "local")


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

    def resolve(self):
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


def run_job(job: Job, runs_dir: Path, progress: bool = False, device: str = "auto") -> RunOutcome:
    spec, config = job.resolve()
    runtime = Runtime.resolve(device, threads=1)
    return execute_run(spec, config, runs_dir, progress=progress, runtime=runtime)


def _init_worker() -> None:
    # One run per core: keep BLAS and torch from oversubscribing the machine.
    os.environ["OMP_NUM_THREADS"] = "1"
    os.environ["MKL_NUM_THREADS"] = "1"
    import torch

    torch.set_num_threads(1)


def execute_sweep(
    jobs: Sequence[Job],
    runs_dir: Path = DEFAULT_RUNS_DIR,
    executor: str = "local",
    workers: int | None = None,
    device: str = "auto",
) -> tuple[list[RunOutcome], list[tuple[Job, str]]]:
    """Run ``jobs``; return the outcomes and the ``(job, error)`` of every failed run (others go on)."""
    if executor not in EXECUTORS:
        raise BenchmarkError(f"unknown executor {executor!r}; known executors: {', '.join(EXECUTORS)}")
    outcomes: list[RunOutcome] = []
    failures: list[tuple[Job, str]] = []
    bar = tqdm(total=len(jobs), desc="sweep", unit="run", dynamic_ncols=True)
    if executor == "serial":
        for job in jobs:
            try:
                outcomes.append(run_job(job, runs_dir, progress=False, device=device))
            except Exception as exc:
                failures.append((job, f"{type(exc).__name__}: {exc}"))
            bar.update()
    else:
        workers = workers or os.cpu_count() or 1
        # spawn, not fork: MuJoCo/torch state must not be shared with the parent.
        with ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=_init_worker) as pool:
            futures: dict[Future, Job] = {
                pool.submit(run_job, job, runs_dir, False, device): job for job in jobs
            }
            remaining = set(futures)
            while remaining:
                done, remaining = wait(remaining, return_when=FIRST_COMPLETED)
                for future in done:
                    try:
                        outcomes.append(future.result())
                    except Exception as exc:
                        failures.append((futures[future], f"{type(exc).__name__}: {exc}"))
                    bar.update()
    bar.close()
    return outcomes, failures
