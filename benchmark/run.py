"""One run: (method, suite, seed, profile) -> meta-training with evaluations on a fixed grid -> run folder.

Data flow (DESIGN.md): build the seeded suite, construct the agent from the registry, drive its
``meta_train`` generator while the harness counts env_steps, evaluate with the shared protocol whenever a
grid point is crossed, append the rows to ``metrics.csv`` (and every step's reward to ``traces.csv`` at the
recorded points), and keep ``manifest.json`` and ``checkpoint.pt`` up to date. ``run_id`` derives from the
resolved configuration, so a finished run is skipped on re-run; the :class:`~benchmark.agent.Runtime`
(device, threads) is recorded in the manifest but not hashed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import platform
import random
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from benchmark import registry
from benchmark.agent import EnvSpec, MetaAgent, Runtime, TrainingContext
from benchmark.config import apply_overrides, config_to_dict
from benchmark.errors import BenchmarkError
from benchmark.profiles import get_profile
from benchmark.protocol import EpisodeResult, EvalSettings, TrialTrace, evaluate
from benchmark.results.store import (
    CHECKPOINT_FILE,
    METRICS_FILE,
    TRACES_FILE,
    MetricsWriter,
    TracesWriter,
    read_manifest,
    write_manifest,
)
from benchmark.suites import SUITES, check_suite_name, make_suite

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_RUNS_DIR = REPO_ROOT / "results" / "runs"
RECORDED_PACKAGES = (
    "torch",
    "numpy",
    "gymnasium",
    "mujoco",
    "metaworld",
    "stable-baselines3",
    "sb3-contrib",
    "pandas",
)


@dataclass(frozen=True)
class RunSpec:
    """A fully resolved run; its JSON form is hashed into :attr:`run_id`."""

    method: str
    suite: str
    seed: int
    profile: str
    budget_env_steps: int
    eval_grid: tuple[int, ...]
    eval: EvalSettings
    agent_config: dict[str, Any] = field(hash=False)

    def to_json(self) -> dict[str, Any]:
        return json.loads(json.dumps(dataclasses.asdict(self)))

    @property
    def run_id(self) -> str:
        digest = hashlib.sha256(json.dumps(self.to_json(), sort_keys=True).encode()).hexdigest()[:10]
        return f"{self.method}__{self.suite}__s{self.seed}__{digest}"


def resolve_run(
    method: str,
    suite: str,
    seed: int,
    profile: str,
    budget_env_steps: int | None = None,
    overrides: list[str] | None = None,
    eval_tasks: int | None = None,
    eval_episodes: int | None = None,
    eval_exploration: int | None = None,
) -> tuple[RunSpec, Any]:
    """Validate the user's choices and resolve them into a :class:`RunSpec` and the agent's config object.

    The evaluation protocol's size comes from the profile unless ``eval_tasks`` (N) or ``eval_episodes`` (K)
    say otherwise; its exploration episodes E from ``eval_exploration``, else the method's
    ``default_exploration_episodes(suite)`` (0 for methods without one; capped at K - 1), so every run
    records the E it was measured with.

    Raises:
        BenchmarkError: unknown method/suite/profile, non-positive budget, seed outside numpy's range,
            bad override, a config value out of range, an evaluation size out of range.
    """
    registry.check_method_name(method)
    check_suite_name(suite)
    suite_budget = get_profile(profile).budget(suite)
    if not 0 <= seed < 2**32:
        raise BenchmarkError(f"seed must lie in [0, 2**32), got {seed}")
    if budget_env_steps is not None:
        if budget_env_steps <= 0:
            raise BenchmarkError(f"budget must be a positive number of env steps, got {budget_env_steps}")
        suite_budget = dataclasses.replace(suite_budget, env_steps=budget_env_steps)
    agent_class = registry.load_method(method)
    config = apply_overrides(agent_class.default_config(suite, profile), overrides or [])
    validate_config = getattr(agent_class, "validate_config", None)
    try:
        if validate_config is not None:
            validate_config(config, suite)
        settings = _resolve_eval(
            suite_budget.eval, agent_class, suite, eval_tasks, eval_episodes, eval_exploration
        )
    except ValueError as exc:
        raise BenchmarkError(f"{method} on {suite}: {exc}") from None
    suite_budget = dataclasses.replace(suite_budget, eval=settings)
    spec = RunSpec(
        method=method,
        suite=suite,
        seed=seed,
        profile=profile,
        budget_env_steps=suite_budget.env_steps,
        eval_grid=suite_budget.eval_grid(),
        eval=suite_budget.eval,
        agent_config=config_to_dict(config),
    )
    return spec, config


def _resolve_eval(
    settings: EvalSettings,
    agent_class: Any,
    suite: str,
    num_tasks: int | None,
    episodes: int | None,
    exploration: int | None,
) -> EvalSettings:
    episodes = episodes if episodes is not None else settings.episodes
    if exploration is None:
        default = getattr(agent_class, "default_exploration_episodes", None)
        exploration = min(int(default(suite)), episodes - 1) if default is not None else 0
    return dataclasses.replace(
        settings,
        num_tasks=num_tasks if num_tasks is not None else settings.num_tasks,
        episodes=episodes,
        exploration_episodes=max(exploration, 0),
        action_mode=settings.action_mode or SUITES[suite].eval_action_mode,
    )


@dataclass(frozen=True)
class RunOutcome:
    run_id: str
    run_dir: Path
    status: str  # "completed" | "skipped"
    env_steps: int
    wall_s: float
    train_env_steps_per_s: float


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 - legacy global state, for third-party code that still uses it
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a hard dependency, but the harness itself needs none
        return
    torch.manual_seed(seed)


def execute_run(
    spec: RunSpec,
    config: Any,
    runs_dir: Path = DEFAULT_RUNS_DIR,
    progress: bool = True,
    force: bool = False,
    runtime: Runtime | None = None,
) -> RunOutcome:
    """Execute ``spec`` into ``runs_dir/<run_id>/`` and return what happened.

    A completed run is skipped (unless ``force``); an incomplete one (crashed, killed) is moved aside to
    ``runs_dir/.incomplete/`` and started again, so nothing is ever overwritten in place.
    """
    runtime = runtime or Runtime()
    run_dir = Path(runs_dir) / spec.run_id
    if (run_dir / "manifest.json").exists():
        previous = read_manifest(run_dir)
        if previous.get("status") == "completed" and not force:
            return RunOutcome(spec.run_id, run_dir, "skipped", int(previous.get("env_steps", 0)), 0.0, 0.0)
        _move_aside(run_dir)
    elif run_dir.exists():
        _move_aside(run_dir)
    run_dir.mkdir(parents=True)

    manifest: dict[str, Any] = {
        "run_id": spec.run_id,
        "spec": spec.to_json(),
        "status": "running",
        "started_at": _now(),
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "packages": _package_versions(),
        "git": _git_state(),
        "torch_threads": _torch_threads(),
        "runtime": dataclasses.asdict(runtime),
        "evaluations": [],
    }
    write_manifest(run_dir, manifest)
    start = time.perf_counter()
    train_seconds = 0.0
    try:
        seed_everything(spec.seed)
        suite = make_suite(spec.suite, spec.seed)
        env_spec = EnvSpec.from_suite(suite)
        agent: MetaAgent = registry.load_method(spec.method)(config, env_spec, spec.seed, runtime)
        ctx = TrainingContext(suite, env_spec, spec.seed, spec.budget_env_steps, runtime)
        writer = MetricsWriter(run_dir / METRICS_FILE)
        traces_writer = TracesWriter(run_dir / TRACES_FILE) if spec.eval.traces != "none" else None
        final_point = spec.eval_grid[-1]
        pending = list(spec.eval_grid)
        bar = _progress_bar(spec, progress)
        checkpointed_at = -1

        def checkpoint() -> None:
            nonlocal checkpointed_at
            if ctx.env_steps != checkpointed_at:  # the agent only changes by training
                _save_checkpoint(run_dir, agent, ctx.env_steps)
                checkpointed_at = ctx.env_steps

        def evaluate_due() -> None:
            # Several grid points crossed within one agent iteration are evaluated once, at the largest.
            due = [p for p in pending if p <= ctx.env_steps]
            if not due:
                return
            for point in due:
                pending.remove(point)
            eval_start = time.perf_counter()
            bar.set_postfix_str(f"evaluating at {due[-1]:,} env steps")
            record = spec.eval.traces == "all" or (spec.eval.traces == "final" and due[-1] == final_point)
            traces: list[TrialTrace] | None = [] if record else None
            results = evaluate(agent, suite, spec.eval, spec.seed, traces)
            writer.append(_rows(spec, due[-1], results))
            if traces_writer is not None and traces:
                traces_writer.append(_trace_rows(spec, due[-1], traces))
            manifest["evaluations"].append(
                {
                    "grid_env_steps": due[-1],
                    "actual_env_steps": ctx.env_steps,
                    "skipped_grid_points": due[:-1],
                    "eval_s": round(time.perf_counter() - eval_start, 3),
                }
            )
            manifest["env_steps"] = ctx.env_steps
            checkpoint()
            write_manifest(run_dir, manifest)
            bar.set_postfix_str("")

        evaluate_due()  # the untrained agent, at env_steps = 0
        training = agent.meta_train(ctx)
        try:
            while not ctx.budget_exhausted:
                tick = time.perf_counter()
                try:
                    next(training)
                except StopIteration:
                    break
                train_seconds += time.perf_counter() - tick
                bar.update(min(ctx.env_steps, spec.budget_env_steps) - bar.n)
                evaluate_due()
        finally:
            close = getattr(training, "close", None)  # generators; a plain iterator has nothing to close
            if close is not None:
                close()
            bar.close()
        # An agent whose generator returned may have stepped since its last yield: evaluate what it reached.
        evaluate_due()
        if pending:
            manifest["unreached_grid_points"] = pending
        manifest.update(
            status="completed",
            finished_at=_now(),
            env_steps=ctx.env_steps,
            wall_s=round(time.perf_counter() - start, 3),
            train_s=round(train_seconds, 3),
            train_env_steps_per_s=round(ctx.env_steps / train_seconds, 1) if train_seconds > 0 else None,
        )
        checkpoint()
        write_manifest(run_dir, manifest)
    except BaseException as exc:
        manifest.update(
            status="failed",
            finished_at=_now(),
            error=f"{type(exc).__name__}: {exc}",
            wall_s=round(time.perf_counter() - start, 3),
        )
        write_manifest(run_dir, manifest)
        raise
    return RunOutcome(
        spec.run_id,
        run_dir,
        "completed",
        manifest["env_steps"],
        manifest["wall_s"],
        manifest["train_env_steps_per_s"] or 0.0,
    )


def _rows(spec: RunSpec, env_steps: int, results: list[EpisodeResult]) -> list[dict[str, Any]]:
    rows = []
    for r in results:
        base = {
            "run_id": spec.run_id,
            "method": spec.method,
            "suite": spec.suite,
            "split": r.split,
            "seed": spec.seed,
            "env_steps": env_steps,
            "trial": r.trial,
            "task_id": r.task_id,
            "task_name": r.task_name,
            "episode": r.episode,
            "task_param": r.task_param,
        }
        rows.append({**base, "metric": "return", "value": r.episode_return})
        rows.append({**base, "metric": "episode_length", "value": float(r.length)})
        if r.success is not None:
            rows.append({**base, "metric": "success", "value": r.success})
    return rows


def _trace_rows(spec: RunSpec, env_steps: int, traces: list[TrialTrace]) -> list[dict[str, Any]]:
    rows = []
    for trace in traces:
        base = {
            "run_id": spec.run_id,
            "method": spec.method,
            "suite": spec.suite,
            "split": trace.split,
            "seed": spec.seed,
            "env_steps": env_steps,
            "trial": trace.trial,
            "task_id": trace.task_id,
            "task_name": trace.task_name,
            "task_param": trace.task_param,
        }
        for step, (reward, episode) in enumerate(zip(trace.rewards, trace.episodes, strict=True)):
            rows.append({**base, "episode": episode, "step": step, "reward": reward})
    return rows


def _save_checkpoint(run_dir: Path, agent: MetaAgent, env_steps: int) -> None:
    import torch  # torch.save handles tensors and numpy state alike

    tmp = run_dir / (CHECKPOINT_FILE + ".tmp")
    torch.save({"env_steps": env_steps, "agent": agent.state_dict()}, tmp)
    tmp.replace(run_dir / CHECKPOINT_FILE)


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Load a run checkpoint; a missing or corrupt file raises a one-line :class:`BenchmarkError`."""
    import torch

    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    except FileNotFoundError:
        raise BenchmarkError(f"{path}: no such checkpoint") from None
    except Exception as exc:  # torch raises many types for a truncated or foreign file
        raise BenchmarkError(f"{path}: corrupt checkpoint ({type(exc).__name__})") from None
    if not isinstance(checkpoint, dict) or "agent" not in checkpoint:
        raise BenchmarkError(f"{path}: not a run checkpoint (no 'agent' entry)")
    return checkpoint


def _move_aside(run_dir: Path) -> None:
    graveyard = run_dir.parent / ".incomplete"
    graveyard.mkdir(exist_ok=True)
    shutil.move(
        str(run_dir), str(graveyard / f"{run_dir.name}-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}")
    )


def _progress_bar(spec: RunSpec, enabled: bool):
    from tqdm import tqdm

    return tqdm(
        total=spec.budget_env_steps,
        desc=f"{spec.method} {spec.suite} s{spec.seed}",
        unit="step",
        unit_scale=True,
        disable=not enabled,
        dynamic_ncols=True,
    )


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def _package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in RECORDED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _git_state() -> dict[str, Any]:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()

    try:
        return {"commit": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain"))}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def _torch_threads() -> int | None:
    try:
        import torch
    except ImportError:  # pragma: no cover
        return None
    return torch.get_num_threads()
