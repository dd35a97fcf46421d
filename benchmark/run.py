"""One run: (method, suite, seed, profile) -> meta-training with evaluations on a fixed grid -> run folder.

Data flow: build the seeded suite, construct the agent from the registry, drive its
``meta_train`` generator while the harness counts env_steps, evaluate with the shared protocol whenever a
grid point is crossed, append the rows to ``metrics.csv`` (and every step's reward to ``traces.csv`` at the
recorded points), and keep ``manifest.json`` and ``checkpoint.pt`` up to date. ``run_id`` derives from the
resolved configuration, so a finished run is skipped on re-run; the :class:`~benchmark.agent.Runtime`
(device, threads) is recorded in the manifest but not hashed; its precision comes from the spec, where a
precision other than fp32 is hashed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import math
import os
import platform
import random
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from benchmark import registry
from benchmark.agent import EnvSpec, MetaAgent, Runtime, TrainingContext
from benchmark.checkpoint import safe_load
from benchmark.errors import BenchmarkError, ResultsSchemaError, RunLockedError
from benchmark.files import Digest, atomic_write, cut_to, holds_prefix
from benchmark.protocol import TrialTrace, evaluate
from benchmark.request import RunSpec
from benchmark.results.rows import evaluation_scores, metric_rows, step_trace_rows
from benchmark.results.store import (
    CHECKPOINT_FILE,
    METRICS_FILE,
    PROGRESS_FILE,
    RESUME_FILE,
    TRACES_FILE,
    MetricsWriter,
    ProgressLog,
    TracesWriter,
    read_manifest,
    write_manifest,
)
from benchmark.suites import Suite, make_suite

DEFAULT_CHECKPOINT_MINUTES = 10.0
RESUME_VERSION = 2  # 2: the logs' digests; a version-1 point is set aside
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
class RunOutcome:
    run_id: str
    run_dir: Path
    status: str  # "completed" | "resumed" (completed after resuming) | "skipped"
    env_steps: int
    wall_s: float
    train_env_steps_per_s: float


def capture_global_rngs(runtime: Runtime | None = None) -> dict[str, Any]:
    """The process-wide generators third-party code draws from (SB3 uses numpy's and torch's), with the
    runtime's CUDA generator on a GPU (where torch ops on CUDA tensors draw)."""
    import torch

    state = {
        "python": random.getstate(),
        "numpy": np.random.get_state(legacy=False),  # noqa: NPY002
        "torch": torch.random.get_rng_state(),
    }
    for index in runtime.cuda_devices() if runtime is not None else []:
        state["torch_cuda"] = torch.cuda.get_rng_state(index)
    return state


def restore_global_rngs(state: dict[str, Any], runtime: Runtime | None = None) -> None:
    import torch

    python_state = state["python"]
    random.setstate((python_state[0], tuple(python_state[1]), python_state[2]))
    np.random.set_state(state["numpy"])  # noqa: NPY002
    torch.random.set_rng_state(state["torch"])
    for index in runtime.cuda_devices() if runtime is not None else []:
        if state.get("torch_cuda") is not None:
            torch.cuda.set_rng_state(state["torch_cuda"], index)


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
    checkpoint_minutes: float = DEFAULT_CHECKPOINT_MINUTES,
    env_workers: int = 1,
) -> RunOutcome:
    """Execute ``spec`` into ``runs_dir/<run_id>/`` and return what happened.

    A completed run is skipped (unless ``force``, which moves it aside to ``runs_dir/.incomplete/`` and
    starts again). An interrupted or crashed run resumes from its ``resume.pt``: the metrics rows written
    after that checkpoint are dropped and training continues where it was, giving the same metrics as an
    uninterrupted run. A run without a usable resume point is moved aside and started again, so nothing is
    ever overwritten in place; a resume point written on another device type (CPU, CUDA) is refused with a
    one-line :class:`~benchmark.errors.BenchmarkError` and the folder is left as it is. The run is claimed
    for the whole call (:class:`RunClaim`): a live claim by another process raises
    :class:`~benchmark.errors.RunLockedError`; a dead process's claim is taken over.

    Args:
        checkpoint_minutes: besides every evaluation point, write a resume point at the first agent yield
            after this many minutes of training (0: at every yield).
        env_workers: subprocesses stepping each training batch's environments in parallel; the results
            are the single-process ones bit for bit, so it is recorded but not hashed.
    """
    # The precision belongs to the spec (it changes the results, and a bf16 run has its own id); the agent
    # reads it from its runtime.
    runtime = dataclasses.replace(runtime or Runtime(), precision=spec.precision)
    if checkpoint_minutes < 0:
        raise BenchmarkError(f"checkpoint interval must be >= 0 minutes, got {checkpoint_minutes}")
    if env_workers < 1:
        raise BenchmarkError(f"env workers must be >= 1, got {env_workers}")
    run_dir = Path(runs_dir) / spec.run_id
    with RunClaim(Path(runs_dir), spec.run_id):
        resume_state: dict[str, Any] | None = None
        if run_dir.exists():
            previous, problem = _previous_manifest(run_dir)
            if previous is not None and previous.get("status") == "completed" and not force:
                return RunOutcome(
                    spec.run_id, run_dir, "skipped", int(previous.get("env_steps") or 0), 0.0, 0.0
                )
            if previous is not None and not force:
                resume_state, problem = _resume_point(run_dir, spec, previous)
                if resume_state is not None:
                    _check_resume_device(resume_state, runtime, spec)
            if resume_state is None:
                _set_aside(run_dir, None if force else problem)
        run = Run(spec, config, run_dir, runtime, checkpoint_minutes, progress, env_workers)
        return run.execute(resume_state)


class Run:
    """One run's training loop, evaluations, checkpoints and files; :func:`execute_run` is its entry.

    :meth:`execute` opens the manifest, assembles the run's parts, trains with :meth:`_after_iteration` as
    the per-iteration hook (progress log, evaluation when a grid point is crossed, resume point when due),
    and finishes; a failure anywhere is recorded in the manifest before it propagates.
    """

    # Built by :meth:`_assemble` when the run starts, not here: a failure while building them (a bad
    # config, a simulator that does not load) is the run's failure, recorded in its manifest.
    suite: Suite
    agent: MetaAgent
    ctx: TrainingContext
    writer: MetricsWriter
    traces_writer: TracesWriter | None
    progress_log: ProgressLog
    bar: Any

    def __init__(
        self,
        spec: RunSpec,
        config: Any,
        run_dir: Path,
        runtime: Runtime,
        checkpoint_minutes: float,
        progress: bool,
        env_workers: int = 1,
    ) -> None:
        self.spec, self.config, self.run_dir, self.runtime = spec, config, run_dir, runtime
        self.env_workers = env_workers
        self.checkpoint_seconds = 60.0 * checkpoint_minutes
        self.progress = progress
        self.pending = list(spec.eval_grid)  # grid points not evaluated yet
        self.train_seconds = 0.0
        self.manifest: dict[str, Any] = {}
        self._checkpointed_at = -1  # env_steps of the last checkpoint.pt
        self._last_resume_point = 0.0  # perf_counter of the last resume.pt
        self._previous_wall = 0.0  # wall seconds of earlier sittings (a resumed run's)
        self._sitting_start = 0.0  # perf_counter when this sitting began

    # ---- the loop ---------------------------------------------------------------------------------------

    def execute(self, resume_state: dict[str, Any] | None) -> RunOutcome:
        self._sitting_start = time.perf_counter()
        if resume_state is not None:
            problem = self._load_resume_point(resume_state)  # touches no file
            if problem is not None:
                _set_aside(self.run_dir, problem)
                resume_state = None
        self._previous_wall = self._open_manifest(resume_state)
        try:
            if resume_state is None:
                self._assemble()
            self._open_logs(resume_state)
            self._train()
            self._finish()
        except BaseException as exc:
            interrupted = isinstance(exc, (KeyboardInterrupt, SystemExit))
            self.manifest.update(
                status="interrupted" if interrupted else "failed",
                finished_at=_now(),
                error=f"{type(exc).__name__}: {exc}",
                wall_s=self._wall_so_far(),
            )
            # On a full disk even this write can fail: the manifest then keeps "running", which resumes
            # the same way (only "completed" is skipped); the original error is the one to report.
            with contextlib.suppress(OSError):
                write_manifest(self.run_dir, self.manifest)
            raise
        return RunOutcome(
            self.spec.run_id,
            self.run_dir,
            "resumed" if resume_state is not None else "completed",
            self.manifest["env_steps"],
            self.manifest["wall_s"],
            self.manifest["train_env_steps_per_s"] or 0.0,
        )

    def _open_manifest(self, resume_state: dict[str, Any] | None) -> float:
        """A new run's folder and manifest, or the resumed run's manifest marked running; the wall time
        earlier sittings spent."""
        if resume_state is None:
            self.run_dir.mkdir(parents=True)
            self.manifest = self._new_manifest()
        else:
            self.manifest = read_manifest(self.run_dir)
            self.manifest["evaluations"] = self.manifest["evaluations"][: int(resume_state["evaluations"])]
            self.manifest.update(
                status="running",
                runtime=dataclasses.asdict(self.runtime),
                env_steps=resume_state["env_steps"],
            )
            self.manifest.setdefault("resumed", []).append(
                {"at_env_steps": resume_state["env_steps"], "time": _now(), "host": socket.gethostname()}
            )
        write_manifest(self.run_dir, self.manifest)
        return float(self.manifest.get("wall_s") or 0.0) if resume_state else 0.0

    def _assemble(self) -> None:
        """The suite, the agent and the training context, freshly seeded; no file is touched."""
        spec = self.spec
        self.runtime.make_deterministic()  # before the agent starts CUDA
        seed_everything(spec.seed)
        self.suite = make_suite(spec.suite, spec.seed)
        env_spec = EnvSpec.from_suite(self.suite)
        factory = registry.load_method(spec.method)
        self.agent = factory(self.config, env_spec, spec.seed, self.runtime)
        self.ctx = TrainingContext(
            self.suite, env_spec, spec.seed, spec.budget_env_steps, self.runtime, env_workers=self.env_workers
        )

    def _load_resume_point(self, state: dict[str, Any]) -> str | None:
        """Assemble the run's parts and load the resume point into them; why it is unusable, or None.

        Nothing on disk changes here: the files were checked against the point's digests by
        :func:`_resume_point`, and a state that does not load into a fresh agent (another layout, a bad
        field) sets the run aside before any file is cut back.
        """
        self._assemble()
        try:
            self.agent.load_state_dict(state["agent"])
            self.ctx.load_state_dict(state["context"])
            restore_global_rngs(state["rngs"], self.runtime)
        except Exception as exc:  # whatever a foreign state makes load_state_dict raise
            self.ctx.close()
            return f"{RESUME_FILE} does not fit the agent ({type(exc).__name__}: {_first_line(exc)})"
        self.pending = [int(p) for p in state["pending"]]
        self.train_seconds = float(state["train_seconds"])
        return None

    def _open_logs(self, resume_state: dict[str, Any] | None) -> None:
        """The run's writers; when resuming, every log cut back to the bytes the resume point recorded."""
        spec = self.spec
        if resume_state is not None:
            for name, digest in _log_digests(resume_state).items():
                if (self.run_dir / name).exists():
                    cut_to(self.run_dir / name, digest.size)
        self.manifest["env_workers"] = self.env_workers
        self.writer = MetricsWriter(self.run_dir / METRICS_FILE)
        self.traces_writer = TracesWriter(self.run_dir / TRACES_FILE) if spec.eval.traces != "none" else None
        self.progress_log = ProgressLog(self.run_dir / PROGRESS_FILE)
        if resume_state is not None:
            self.progress_log.rows = int(resume_state["progress_rows"])
        self.bar = _progress_bar(spec, self.progress, initial=min(self.ctx.env_steps, spec.budget_env_steps))
        self._last_resume_point = time.perf_counter()

    def _train(self) -> None:
        """Step the agent's ``meta_train`` generator until the budget is spent; the hook after each yield."""
        if self._evaluate_due():  # the untrained agent at env_steps = 0 (nothing when resuming)
            self._save_resume_point()  # so a run killed before its first iteration resumes too
        training = self.agent.meta_train(self.ctx)
        try:
            while not self.ctx.budget_exhausted:
                tick = time.perf_counter()
                steps_before = self.ctx.env_steps
                try:
                    next(training)
                except StopIteration:
                    break
                self._after_iteration(self.ctx.env_steps - steps_before, time.perf_counter() - tick)
        finally:
            training.close()
            self.bar.close()
            self.progress_log.close()
            self.ctx.close()  # env worker processes, where there are any

    def _after_iteration(self, steps: int, seconds: float) -> None:
        """After each agent yield: count its time, log its statistics, evaluate when a grid point was
        crossed, and write a resume point after an evaluation or ``checkpoint_minutes`` of training."""
        self.train_seconds += seconds
        self.bar.update(min(self.ctx.env_steps, self.spec.budget_env_steps) - self.bar.n)
        self._log_progress(steps, seconds)
        evaluated = self._evaluate_due()
        timed = time.perf_counter() - self._last_resume_point >= self.checkpoint_seconds
        if evaluated or timed:
            self._save_resume_point()

    def _finish(self) -> None:
        """The last evaluation, the manifest marked completed, the final checkpoint; no resume point left."""
        # An agent whose generator returned may have stepped since its last yield: evaluate that.
        self._evaluate_due()
        if self.pending:
            self.manifest["unreached_grid_points"] = self.pending
        train_s = self.train_seconds
        self.manifest.update(
            status="completed",
            finished_at=_now(),
            env_steps=self.ctx.env_steps,
            wall_s=self._wall_so_far(),
            train_s=round(train_s, 3),
            train_env_steps_per_s=round(self.ctx.env_steps / train_s, 1) if train_s > 0 else None,
        )
        self._save_checkpoint()
        write_manifest(self.run_dir, self.manifest)
        (self.run_dir / RESUME_FILE).unlink(missing_ok=True)  # a finished run is never resumed

    def _evaluate_due(self) -> bool:
        """Evaluate if a grid point was crossed; several crossed in one iteration are evaluated once."""
        spec, ctx = self.spec, self.ctx
        due = [p for p in self.pending if p <= ctx.env_steps]
        if not due:
            return False
        for point in due:
            self.pending.remove(point)
        eval_start = time.perf_counter()
        self.bar.set_postfix_str(f"evaluating at {due[-1]:,} env steps")
        record = spec.eval.traces == "all" or (spec.eval.traces == "final" and due[-1] == spec.eval_grid[-1])
        traces: list[TrialTrace] | None = [] if record else None
        results = evaluate(self.agent, self.suite, spec.eval, spec.seed, traces)
        new_rows = metric_rows(spec, due[-1], results)
        rows = self.writer.append(new_rows)
        self.progress_log.log_evaluation(due[-1], evaluation_scores(new_rows))
        trace_rows = 0
        if self.traces_writer is not None and traces:
            trace_rows = self.traces_writer.append(step_trace_rows(spec, due[-1], traces))
        self.manifest["evaluations"].append(
            {
                "grid_env_steps": due[-1],
                "actual_env_steps": ctx.env_steps,
                "skipped_grid_points": due[:-1],
                "eval_s": round(time.perf_counter() - eval_start, 3),
                "rows": rows,
                "trace_rows": trace_rows,
                "metrics": self.writer.digest.to_json(),
                "traces": self.traces_writer.digest.to_json() if self.traces_writer is not None else None,
            }
        )
        # Wall time so far over all sittings: a sitting killed before it can write its manifest (SIGKILL,
        # power loss) still counts up to its last evaluation when the run resumes.
        self.manifest.update(env_steps=ctx.env_steps, wall_s=self._wall_so_far())
        self._save_checkpoint()
        write_manifest(self.run_dir, self.manifest)
        self.bar.set_postfix_str("")
        return True

    def _wall_so_far(self) -> float:
        """Wall seconds of every sitting of this run, the current one up to now."""
        return round(self._previous_wall + time.perf_counter() - self._sitting_start, 3)

    def _log_progress(self, steps: int, seconds: float) -> None:
        rate = {"env_steps_per_s": round(steps / seconds, 1)} if seconds > 0 else {}
        self.progress_log.append(
            self.ctx.env_steps, round(self.train_seconds, 3), {**rate, **self.agent.last_stats}
        )

    # ---- files --------------------------------------------------------------------------------------------

    def _new_manifest(self) -> dict[str, Any]:
        return {
            "run_id": self.spec.run_id,
            "spec": self.spec.to_json(),
            "status": "running",
            "started_at": _now(),
            "host": socket.gethostname(),
            "platform": platform.platform(),
            "python": sys.version.split()[0],
            "packages": _package_versions(),
            "git": _git_state(),
            "torch_threads": _torch_threads(),
            "runtime": dataclasses.asdict(self.runtime),
            "evaluations": [],
        }

    def _save_checkpoint(self) -> None:
        """The agent as evaluated (``checkpoint.pt``), without what only resuming needs (replay buffers)."""
        if self.ctx.env_steps == self._checkpointed_at:  # the agent only changes by training
            return
        _save_checkpoint(self.run_dir, self.agent, self.ctx.env_steps)
        self._checkpointed_at = self.ctx.env_steps

    def _save_resume_point(self) -> None:
        """Everything that decides the rest of the run, at an agent yield (``resume.pt``)."""
        context = self.ctx.state_dict()
        if context is None:  # some env is mid-episode: this yield cannot be resumed exactly
            self.manifest["unresumable_yields"] = self.manifest.get("unresumable_yields", 0) + 1
            return
        import torch

        state = {
            "version": RESUME_VERSION,
            "run_id": self.spec.run_id,
            "device": _device_type(self.runtime),
            "env_steps": self.ctx.env_steps,
            "agent": self.agent.state_dict(),
            "context": context,
            "rngs": capture_global_rngs(self.runtime),
            "pending": list(self.pending),
            "evaluations": len(self.manifest["evaluations"]),
            "train_seconds": self.train_seconds,
            "progress_rows": self.progress_log.rows,
            "logs": {name: log.digest.to_json() for name, log in self._logs().items()},
        }
        atomic_write(self.run_dir / RESUME_FILE, lambda temporary: torch.save(state, temporary))
        self._last_resume_point = time.perf_counter()

    def _logs(self) -> dict[str, MetricsWriter | ProgressLog]:
        logs: dict[str, MetricsWriter | ProgressLog] = {
            METRICS_FILE: self.writer,
            PROGRESS_FILE: self.progress_log,
        }
        if self.traces_writer is not None:
            logs[TRACES_FILE] = self.traces_writer
        return logs


def _previous_manifest(run_dir: Path) -> tuple[dict[str, Any] | None, str | None]:
    """An existing run folder's manifest, or why there is none usable."""
    try:
        return read_manifest(run_dir), None
    except ResultsSchemaError as exc:
        return None, str(exc)


def _resume_point(
    run_dir: Path, spec: RunSpec, manifest: dict[str, Any]
) -> tuple[dict[str, Any] | None, str | None]:
    """The run's resume point, if it is one this run can continue from; else ``None`` and the reason.

    Checked here, before anything is written: the file loads safely, belongs to this spec and this
    version, every field has its type, the manifest still lists the evaluations it counts, and every log
    (metrics, traces, progress) still starts with exactly the bytes it recorded (size and SHA-256).
    """
    path = run_dir / RESUME_FILE
    if not path.exists():
        return None, f"no {RESUME_FILE}"
    if manifest.get("spec") != spec.to_json():
        return None, "its manifest describes another run"
    try:
        state = safe_load(path)
    except Exception as exc:  # a truncated or foreign file: start again (the old folder is kept aside)
        return None, f"{RESUME_FILE} does not load ({type(exc).__name__})"
    try:
        _check_resume_fields(state, spec, manifest)
    except (KeyError, TypeError, ValueError) as exc:
        return None, f"{RESUME_FILE}: {_first_line(exc)}"
    for name, digest in _log_digests(state).items():
        log = run_dir / name
        if not holds_prefix(log, digest) and not (digest.size == 0 and not log.exists()):
            return None, f"{name} no longer holds the {digest.size} bytes recorded at the resume point"
    return state, None


def _check_resume_fields(state: Any, spec: RunSpec, manifest: dict[str, Any]) -> None:
    """Raise ``ValueError``, ``TypeError`` or ``KeyError`` naming the first field of a resume state that is
    off."""
    if not isinstance(state, dict):
        raise TypeError(f"not a mapping but {type(state).__name__}")
    if state.get("version") != RESUME_VERSION:
        raise ValueError(f"format version {state.get('version')!r}, this harness writes {RESUME_VERSION}")
    if state.get("run_id") != spec.run_id:
        raise ValueError(f"belongs to run {state.get('run_id')!r}")
    if state.get("device", "cpu") not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'cpu' or 'cuda', got {state.get('device')!r}")
    for name in ("env_steps", "evaluations", "progress_rows"):
        value = state[name]
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
    evaluations = manifest.get("evaluations")
    if not isinstance(evaluations, list) or len(evaluations) < state["evaluations"]:
        raise ValueError("the manifest lists fewer evaluations than the resume point counts")
    if not isinstance(state["pending"], list) or not all(isinstance(p, int) for p in state["pending"]):
        raise ValueError(f"pending must be a list of grid points, got {state['pending']!r}")
    if not set(state["pending"]) <= set(spec.eval_grid):
        raise ValueError("pending names points outside the evaluation grid")
    seconds = state["train_seconds"]
    if not isinstance(seconds, (int, float)) or not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"train_seconds must be a finite number >= 0, got {seconds!r}")
    for name in ("agent", "context", "rngs"):
        if not isinstance(state[name], dict):
            raise TypeError(f"{name} must be a mapping, got {type(state[name]).__name__}")
    logs = _log_digests(state)
    if METRICS_FILE not in logs or PROGRESS_FILE not in logs:
        raise ValueError("the log digests are incomplete")
    kept = evaluations[: state["evaluations"]]
    if kept and kept[-1].get("metrics") != logs[METRICS_FILE].to_json():
        raise ValueError("its metrics digest differs from the manifest's last evaluation")


def _device_type(runtime: Runtime) -> str:
    return "cuda" if runtime.is_cuda else "cpu"


def _check_resume_device(state: dict[str, Any], runtime: Runtime, spec: RunSpec) -> None:
    """Refuse, in one line, to continue a resume point on another device type than the one that wrote it.

    A GPU draws from other random streams than the CPU (RL²'s SB3 samples from the device's generator) and
    rounds differently, so the continued run would be neither device's run. A point written before the
    device was recorded is not checked.
    """
    written_on = state.get("device")
    if written_on is not None and written_on != _device_type(runtime):
        raise BenchmarkError(
            f"run {spec.run_id} was checkpointed on {written_on} and would continue on {runtime.device}: "
            f"resume it with --device {written_on} (or start it again with --force)"
        )


def _log_digests(state: dict[str, Any]) -> dict[str, Digest]:
    logs = state["logs"]
    if not isinstance(logs, dict):
        raise TypeError(f"logs must be a mapping, got {type(logs).__name__}")
    return {str(name): Digest.from_json(value) for name, value in logs.items()}


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


def _save_checkpoint(run_dir: Path, agent: MetaAgent, env_steps: int) -> None:
    import torch  # torch.save handles tensors and numpy state alike

    checkpoint = {"env_steps": env_steps, "agent": _evaluation_state(agent)}
    atomic_write(run_dir / CHECKPOINT_FILE, lambda temporary: torch.save(checkpoint, temporary))


def _evaluation_state(agent: MetaAgent) -> dict[str, Any]:
    """The agent's state without replay buffers where it can leave them out (they live in resume.pt)."""
    return agent.state_dict(include_buffers=False)


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Load a run checkpoint; a missing or corrupt file raises a one-line :class:`BenchmarkError`."""
    try:
        checkpoint = safe_load(path)  # weights_only: a checkpoint from elsewhere cannot run code
    except FileNotFoundError:
        raise BenchmarkError(f"{path}: no such checkpoint") from None
    except Exception as exc:  # torch raises many types for a truncated or foreign file
        raise BenchmarkError(f"{path}: corrupt checkpoint ({type(exc).__name__})") from None
    if not isinstance(checkpoint, dict) or "agent" not in checkpoint:
        raise BenchmarkError(f"{path}: not a run checkpoint (no 'agent' entry)")
    return checkpoint


class RunClaim:
    """An exclusive claim on one run folder for the life of a process: two sweeps can share a runs folder.

    ``runs_dir/.claims/<run_id>.lock`` is locked with ``flock``; the kernel drops the lock when its process
    dies, however it dies, so a dead process's claim is simply taken over. The file names the holder (host
    and PID) for the error message. ``flock`` on network filesystems depends on the mount: on a cluster,
    put the runs folder on a filesystem with working locks (NFSv4, Lustre with ``flock``).
    """

    def __init__(self, runs_dir: Path, run_id: str) -> None:
        self.path = runs_dir / ".claims" / f"{run_id}.lock"
        self.run_id = run_id
        self._fd: int | None = None

    def __enter__(self) -> RunClaim:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise BenchmarkError(f"cannot claim run {self.run_id} in {self.path.parent}: {exc}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise RunLockedError(f"run {self.run_id} is being executed by {holder}") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"host {socket.gethostname()} pid {os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            os.close(self._fd)  # releases the lock; the file stays (unlinking would race a new claimer)
            self._fd = None


def _set_aside(run_dir: Path, reason: str | None) -> Path:
    """Move a run folder that cannot be continued to ``.incomplete/`` (nothing is deleted) and say why in
    one line on stderr (``reason`` None: the user asked for it with ``--force``)."""
    graveyard = run_dir.parent / ".incomplete"
    graveyard.mkdir(exist_ok=True)
    target = graveyard / f"{run_dir.name}-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}"
    shutil.move(str(run_dir), str(target))
    if reason is not None:
        print(
            f"benchmark: {run_dir.name}: cannot resume ({reason}); the folder was moved to {target}, "
            "starting again",
            file=sys.stderr,
            flush=True,
        )
    return target


def _progress_bar(spec: RunSpec, enabled: bool, initial: int = 0):
    from tqdm import tqdm

    return tqdm(
        total=spec.budget_env_steps,
        initial=initial,
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
