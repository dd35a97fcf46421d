"""Subprocess environment workers: one run steps its meta-batch's trials on several cores.

``--env-workers N`` (``Runtime.env_workers``) makes :meth:`TrainingContext.trial_batch
<benchmark.agent.TrainingContext.trial_batch>` return a :class:`WorkerTrialBatch`: its trial environments
live in ``N`` forked processes (row ``k`` of the context's env list in worker ``k mod N``), and one batch step
sends every worker its rows' actions at once and gathers the results, so the simulators run in parallel
(SB3's ``SubprocVecEnv`` and garage's ``RaySampler`` are the models).

Same results as the single-process path, bit for bit: each worker builds the very same
:class:`~benchmark.trial.TrialEnv` (same suite, same seed) as the context would have built in-process, and
everything that is shared between envs stays in the parent: the class-stratified task stream (the parent
draws each reset's task, in row order, exactly as the serial batch does, and sends its opaque id), and the
step counter. A worker env therefore never draws a task itself. Snapshots and restores (resume) are
remote calls, so :meth:`TrainingContext.state_dict` works unchanged.

Workers are forked (the suite, Meta-World's included, is inherited) where this process has no CUDA context.
A run on a GPU starts them with ``spawn`` instead (fresh interpreters; the suite is pickled): a fork of a
process whose CUDA driver runs threads can deadlock in the child even if the child never touches CUDA. Both
give the same environments, so the same results.
"""

from __future__ import annotations

import multiprocessing
import sys
import traceback
import weakref
from collections.abc import Sequence
from multiprocessing.connection import Connection
from typing import Any

import gymnasium as gym
import numpy as np

from benchmark.suites.base import META_TRAIN, Suite, Task
from benchmark.tasks import TaskSampler
from benchmark.trial import StepCounter, TrialBatch, TrialEnv, TrialLayout, make_trial_env


def _worker_main(conn: Connection, suite: Suite) -> None:
    """A worker's loop: build, step, reset, snapshot and restore its envs on request."""
    envs: dict[int, TrialEnv] = {}
    while True:
        try:
            command, payload = conn.recv()
        except EOFError:  # the parent went away
            break
        try:
            if command == "make":
                index, episodes_per_trial, seed = payload
                env = make_trial_env(
                    suite, suite.tasks(META_TRAIN), episodes_per_trial, StepCounter(), seed, reveal_task=False
                )
                envs[index] = env
                reply: Any = (env.layout, env.observation_space, env.action_space, env.horizon)
            elif command == "step":
                reply = [envs[index].step(action) for index, action in payload]
            elif command == "reset":
                reply = [envs[index].reset(options=options) for index, options in payload]
            elif command == "snapshot":
                reply = envs[payload].snapshot()
            elif command == "restore":
                index, snapshot = payload
                reply = envs[index].restore(snapshot)
            elif command == "close":
                envs.pop(payload).close()
                reply = None
            elif command == "stop":
                for env in envs.values():
                    env.close()
                conn.send(("ok", None))
                break
            else:
                raise ValueError(f"unknown worker command {command!r}")
            conn.send(("ok", reply))
        except Exception:  # noqa: BLE001 - sent back and raised in the parent
            conn.send(("error", traceback.format_exc()))
    conn.close()


def _shutdown(connections: list[Connection], processes: list[Any]) -> None:
    for conn in connections:
        try:
            conn.send(("stop", None))
            conn.recv()
        except (OSError, EOFError, BrokenPipeError):
            pass
        conn.close()
    for process in processes:
        process.join(timeout=5)
        if process.is_alive():
            process.terminate()


def start_method(cuda: bool = False) -> str:
    """How to start env workers: ``fork`` (fast, the suite inherited), or ``spawn`` for a run on a GPU
    (``cuda``) and in any process where CUDA has started (forking it risks a deadlock)."""
    torch = sys.modules.get("torch")  # not imported: no CUDA either
    started = torch is not None and torch.cuda.is_initialized()
    return "spawn" if cuda or started else "fork"


class EnvWorkerPool:
    """``num_workers`` processes holding trial environments of ``suite``.

    Args:
        suite: the built suite (inherited by forked workers, pickled to spawned ones).
        num_workers: processes; env ``k`` lives in worker ``k mod num_workers``.
        method: ``fork`` or ``spawn``; ``None``: :func:`start_method`.
    """

    def __init__(self, suite: Suite, num_workers: int, method: str | None = None) -> None:
        if num_workers < 1:
            raise ValueError(f"num_workers must be >= 1, got {num_workers}")
        self.num_workers = num_workers
        self.method = method or start_method()
        context: Any = multiprocessing.get_context(self.method)  # ForkContext or SpawnContext
        self._connections: list[Connection] = []
        processes = []
        for _ in range(num_workers):
            parent_end, child_end = context.Pipe()
            process = context.Process(target=_worker_main, args=(child_end, suite), daemon=True)
            process.start()
            child_end.close()
            self._connections.append(parent_end)
            processes.append(process)
        self._closer = weakref.finalize(self, _shutdown, self._connections, processes)

    def worker_of(self, env_index: int) -> int:
        return env_index % self.num_workers

    def send(self, worker: int, command: str, payload: Any) -> None:
        self._connections[worker].send((command, payload))

    def receive(self, worker: int) -> Any:
        status, reply = self._connections[worker].recv()
        if status != "ok":
            raise RuntimeError(f"environment worker {worker} failed:\n{reply}")
        return reply

    def call(self, worker: int, command: str, payload: Any) -> Any:
        self.send(worker, command, payload)
        return self.receive(worker)

    def close(self) -> None:
        """Stop the workers (also done when the pool is garbage-collected or the process exits)."""
        self._closer()


class RemoteTrialEnv:
    """The parent's handle on a :class:`~benchmark.trial.TrialEnv` living in a worker.

    It draws its tasks from the parent's ``sampler`` and counts its steps on the parent's ``counter``, so the
    shared task stream and the step count are exactly those of the in-process path.
    """

    def __init__(
        self,
        pool: EnvWorkerPool,
        index: int,
        tasks: Sequence[Task],
        episodes_per_trial: int,
        seed: int,
        counter: StepCounter,
        sampler: TaskSampler | None,
    ) -> None:
        self.pool, self.index = pool, index
        self.worker = pool.worker_of(index)
        self.tasks = list(tasks)
        self.episodes_per_trial = episodes_per_trial
        self.counter = counter
        self.sampler = sampler
        layout, obs_space, act_space, horizon = pool.call(
            self.worker, "make", (index, episodes_per_trial, seed)
        )
        self.layout: TrialLayout = layout
        self.observation_space: gym.spaces.Box = obs_space
        self.action_space: gym.spaces.Box = act_space
        self.horizon: int = horizon

    def reset_options(self, options: dict | None) -> dict:
        """The worker env's reset options: the task is chosen here, in the parent (never drawn there)."""
        options = options or {}
        if options.get("task") is not None:
            task: Task = options["task"]
            if task.split == META_TRAIN and self.tasks[task.task_id] is task:
                return {"task_id": task.task_id}
            return {"task": task}
        if options.get("task_id") is not None:
            return {"task_id": int(options["task_id"])}
        if self.sampler is not None:
            return {"task_id": self.sampler.draw().task_id}
        raise ValueError("a worker env needs a task, a task id or the context's sampler")

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        if seed is not None:
            raise ValueError("worker envs are seeded by the training context, not at reset")
        return self.pool.call(self.worker, "reset", [(self.index, self.reset_options(options))])[0]

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        result = self.pool.call(self.worker, "step", [(self.index, np.asarray(action))])[0]
        self.counter.add(1)
        return result

    def snapshot(self) -> dict[str, Any] | None:
        return self.pool.call(self.worker, "snapshot", self.index)

    def restore(self, snapshot: dict[str, Any]) -> np.ndarray | None:
        return self.pool.call(self.worker, "restore", (self.index, snapshot))

    def close(self) -> None:
        self.pool.call(self.worker, "close", self.index)


class WorkerTrialBatch(TrialBatch):
    """A :class:`~benchmark.trial.TrialBatch` of :class:`RemoteTrialEnv` handles, stepped in parallel.

    Each step makes one round trip to every worker that holds an active row (plus one more, only at steps
    where trials end and ``autoreset`` restarts them). Outputs equal :class:`TrialBatch`'s bit for bit.
    """

    envs: list[RemoteTrialEnv]  # type: ignore[assignment]

    def __init__(self, envs: Sequence[RemoteTrialEnv], autoreset: bool = False) -> None:
        super().__init__(envs, autoreset=autoreset)  # type: ignore[arg-type]
        self.pool = self.envs[0].pool

    def _scatter(self, command: str, requests: dict[int, Any]) -> dict[int, Any]:
        """Send ``requests`` (row -> payload) grouped by worker, all workers at once; replies by row."""
        by_worker: dict[int, list[int]] = {}
        for row in requests:
            by_worker.setdefault(self.envs[row].worker, []).append(row)
        for worker, rows in by_worker.items():
            self.pool.send(worker, command, [(self.envs[row].index, requests[row]) for row in rows])
        replies: dict[int, Any] = {}
        for worker, rows in by_worker.items():
            replies.update(zip(rows, self.pool.receive(worker), strict=True))
        return {row: replies[row] for row in requests}  # in request (row) order, as TrialBatch's hooks

    def _reset_rows(self, requests: dict[int, dict | None]) -> dict[int, tuple[np.ndarray, dict]]:
        # Options resolved in row order in the parent (task draws as in TrialBatch), then one round trip.
        return self._scatter("reset", {i: self.envs[i].reset_options(o) for i, o in requests.items()})

    def _step_rows(self, actions: dict[int, np.ndarray]) -> dict[int, tuple]:
        replies = self._scatter("step", {i: np.asarray(a) for i, a in actions.items()})
        self.envs[0].counter.add(len(actions))  # the workers' envs count nothing: the parent does
        return replies
