"""The agent contract: what every method (TrMRL, RL², MAML, PEARL, random, yours) implements.

A structural :class:`typing.Protocol` (Meta-World's evaluation protocols and Acme's ``Actor`` are the
models); the few members that have a default are declared once, in :class:`AgentBase`, which every agent
class inherits: there is no other base class. The harness constructs an agent as
``AgentClass(config, spec, seed)``, where ``config`` is the method's frozen dataclass from
``AgentClass.default_config(suite, tier)`` (``tier``: one of :data:`benchmark.profiles.CONFIG_TIERS`, named by
the run's profile).

Training: ``meta_train(ctx)`` is a generator. The agent owns its loop (on-policy, MAML, off-policy) but takes
every environment from ``ctx``, which counts env_steps itself, and ``yield``s after each iteration (a rollout
plus update, typically). At each yield the harness evaluates the agent if an evaluation grid point was
crossed, and closes the generator once the budget is spent.

Evaluation (one online interface for all four methods), driven by :mod:`benchmark.protocol`::

    agent.begin_trial(plan)              # new tasks: clear memory / context / fast weights of plan.num_trials
                                         # trials; reseed evaluation noise from plan.seed
    loop: a = agent.act(obs, deterministic)           # obs: (n, aug_dim); deterministic: (n,) bool per row
          agent.observe(Transition(...))               # what happened (batched, with an `active` mask)
          agent.end_episode(mask)                      # rows whose inner episode just ended
                                                       # (MAML: inner gradient step after the exploration
                                                       #  episodes; PEARL: posterior from the context;
                                                       #  RL²: keep hidden state; TrMRL: clear window)

The first ``plan.exploration_episodes`` episodes of a trial explore: the harness asks for sampled actions in
them (``deterministic`` False); MAML acts with its pre-update policy there and adapts after them, PEARL acts
on z from its prior. Later episodes act as the suite's protocol says (mean or sampled actions).

In evaluation the agent never sees task identities or parameters: only observations and rewards. In
meta-training it may learn an opaque task id (an index into the meta_train split, e.g. for PEARL's per-task
buffers), never the task's parameter.

Construction: ``AgentClass(config, spec, seed, runtime)``; :class:`Runtime` says where to compute (device,
threads) and at what precision. It is recorded in the run's manifest; of it only a precision other than fp32
is part of the run id (through the run's spec), since only that changes the results beyond float error.

Invariants every agent keeps (``tests/contract`` checks them over the whole registry): the same seed gives
the same rows; ``begin_trial`` forgets everything of earlier trials; evaluating never changes training
(evaluation draws no random numbers from the training streams and updates no training statistics);
``state_dict()`` holds everything a resumed run needs.
"""

from __future__ import annotations

import contextlib
from collections.abc import Generator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, ClassVar, Protocol, runtime_checkable

import gymnasium as gym
import numpy as np

from benchmark.provenance import ConfigRecord
from benchmark.suites.base import META_TRAIN, Suite
from benchmark.tasks import TaskSampler
from benchmark.trial import StepCounter, TrialBatch, TrialEnv, TrialLayout, make_trial_env
from benchmark.workers import EnvWorkerPool, RemoteTrialEnv, WorkerTrialBatch, start_method

PRECISIONS = ("fp32", "bf16")
"""what ``--precision`` takes; fp32 is the default and the only one every method supports"""


def check_precision(precision: str) -> None:
    from benchmark.errors import BenchmarkError

    if precision not in PRECISIONS:
        raise BenchmarkError(f"unknown precision {precision!r}; use {' or '.join(PRECISIONS)}")


@dataclass(frozen=True)
class Runtime:
    """Where an agent computes. Kept out of the run id (results must not depend on it beyond float error,
    except RL²'s, whose SB3 policy samples from the device's generator; see the README's device paragraph).

    Attributes:
        device: a torch device string, already resolved (``"cpu"``, ``"cuda"``, ``"cuda:1"``).
        threads: torch intra-op threads of the run's process.
        precision: ``"fp32"``, or ``"bf16"``: the agent computes its updates' forward passes and losses
            under bfloat16 autocast (:meth:`autocast`). Unlike the device, it changes the results, so it is
            also a field of the run's spec (part of the run id when not fp32); the harness copies it from
            there (:func:`benchmark.run.execute_run`).
    """

    device: str = "cpu"
    threads: int = 1
    precision: str = "fp32"

    @classmethod
    def resolve(cls, device: str = "auto", threads: int = 1, precision: str = "fp32") -> Runtime:
        """``auto`` picks CUDA where torch sees a GPU, else the CPU; ``cuda`` without a GPU fails."""
        import torch

        from benchmark.errors import BenchmarkError

        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        elif device.startswith("cuda") and not torch.cuda.is_available():
            raise BenchmarkError(f"device {device!r} requested but torch sees no CUDA GPU")
        elif device != "cpu" and not device.startswith("cuda"):
            raise BenchmarkError(f"unknown device {device!r}; use auto, cpu or cuda[:N]")
        if threads < 1:
            raise BenchmarkError(f"threads must be >= 1, got {threads}")
        check_precision(precision)
        return cls(device=device, threads=threads, precision=precision)

    def autocast(self) -> AbstractContextManager[Any]:
        """Where an agent computes its update's forward passes and losses: ``torch.autocast`` to bfloat16
        on this device type under ``bf16`` (matrix products in bfloat16, accumulated in float32), nothing
        under ``fp32``. Backward passes and optimiser steps stay outside it, and acting never enters it."""
        if self.precision == "fp32":
            return contextlib.nullcontext()
        import torch

        return torch.autocast(device_type=self.torch_device().type, dtype=torch.bfloat16)

    def torch_device(self) -> Any:
        import torch

        return torch.device(self.device)

    @property
    def is_cuda(self) -> bool:
        return self.device.startswith("cuda")

    def cuda_devices(self) -> list[int]:
        """The CUDA device whose random generator this runtime's ops draw from, as a list for
        ``torch.random.fork_rng(devices=...)``: ``[]`` on the CPU, ``[index]`` on a GPU (plain ``cuda`` is
        torch's current device)."""
        if not self.is_cuda:
            return []
        import torch

        index = torch.device(self.device).index
        return [torch.cuda.current_device() if index is None else index]

    def make_deterministic(self) -> None:
        """Process-wide settings for repeatable CUDA results; nothing on the CPU (whose kernels already are).

        Call it before CUDA starts (the harness does, before it builds the agent): cuBLAS reads
        ``CUBLAS_WORKSPACE_CONFIG`` once. On CUDA it sets ``CUBLAS_WORKSPACE_CONFIG=:4096:8`` (unless
        set), ``torch.use_deterministic_algorithms(True, warn_only=True)`` (an op without a deterministic
        CUDA kernel warns instead of failing the run), cuDNN ``deterministic`` on and ``benchmark`` off, and
        TF32 off for matmuls and cuDNN (float32 stays float32). CUDA results still differ from the CPU's,
        and across GPU models and library versions, by float rounding (see the README's device paragraph).
        """
        if not self.is_cuda:
            return
        import os

        import torch

        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        torch.set_float32_matmul_precision("highest")


@dataclass(frozen=True)
class TrialPlan:
    """What :meth:`MetaAgent.begin_trial` is told about the trials that start.

    Attributes:
        num_trials: trials run together as one batch (one row each).
        episodes: K, episodes per trial.
        exploration_episodes: the first E episodes of each trial explore (sampled actions; MAML's
            pre-update policy, PEARL's prior z). ``0 <= E <= K``.
        seed: seeds the agent's evaluation noise, so a trial's sampled actions do not depend on what ran
            before it (and evaluation never draws from the training streams).
    """

    num_trials: int
    episodes: int
    exploration_episodes: int = 0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.num_trials < 1 or self.episodes < 1:
            raise ValueError(f"a trial plan needs >= 1 trial and episode, got {self}")
        if not 0 <= self.exploration_episodes <= self.episodes:
            raise ValueError(f"exploration_episodes must lie in [0, episodes], got {self}")

    def explores(self, episode_index: int | np.ndarray) -> Any:
        """Whether the (0-based) ``episode_index`` is an exploration episode; works on arrays too."""
        return np.asarray(episode_index) < self.exploration_episodes


@dataclass(frozen=True)
class EnvSpec:
    """What an agent may know about a suite: shapes, bounds, horizon and trial length. No task information."""

    suite: str
    obs_dim: int
    act_dim: int
    action_low: tuple[float, ...]
    action_high: tuple[float, ...]
    horizon: int
    episodes_per_trial: int
    has_success: bool

    @classmethod
    def from_suite(cls, suite: Suite) -> EnvSpec:
        env = suite.make_env()
        try:
            obs_space, act_space = env.observation_space, env.action_space
            assert isinstance(obs_space, gym.spaces.Box) and isinstance(act_space, gym.spaces.Box)
            return cls(
                suite=suite.name,
                obs_dim=int(np.prod(obs_space.shape)),
                act_dim=int(np.prod(act_space.shape)),
                action_low=tuple(float(x) for x in np.ravel(act_space.low)),
                action_high=tuple(float(x) for x in np.ravel(act_space.high)),
                horizon=suite.horizon,
                episodes_per_trial=suite.episodes_per_trial,
                has_success=suite.has_success,
            )
        finally:
            env.close()

    @property
    def layout(self) -> TrialLayout:
        """Slices of the augmented observation ``[obs | prev_action | prev_reward | done]``."""
        return TrialLayout(self.obs_dim, self.act_dim)

    @property
    def aug_obs_dim(self) -> int:
        return self.layout.dim

    @property
    def observation_space(self) -> gym.spaces.Box:
        return gym.spaces.Box(-np.inf, np.inf, shape=(self.aug_obs_dim,), dtype=np.float32)

    @property
    def action_space(self) -> gym.spaces.Box:
        return gym.spaces.Box(np.array(self.action_low, np.float32), np.array(self.action_high, np.float32))


@dataclass(frozen=True)
class Transition:
    """One batched step of evaluation trials; arrays have the trials as their first axis.

    ``next_obs`` is the true successor (the terminal observation at an episode boundary), whereas the next
    ``act`` call receives the first observation of the next episode.
    """

    obs: np.ndarray  # `(n, aug_dim)`
    action: np.ndarray  # `(n, act_dim)`
    reward: np.ndarray  # `(n,)`
    next_obs: np.ndarray  # `(n, aug_dim)`
    terminated: np.ndarray  # `(n,)` true termination (not a time-limit cut)
    episode_end: np.ndarray  # `(n,)` the inner episode ended with this step
    active: np.ndarray  # `(n,)` rows that really stepped; others are padding to ignore


def row_mask(deterministic: bool | np.ndarray, n: int) -> np.ndarray:
    """``act``'s ``deterministic`` as a `(n,)` bool array (a plain bool applies to every row)."""
    return np.broadcast_to(np.asarray(deterministic, dtype=bool), (n,))


class TrainingContext:
    """Everything the harness lends an agent for meta-training, and the only source of its environments.

    Args:
        suite: the built suite; agents draw from its ``meta_train`` split only.
        spec: the suite's :class:`EnvSpec`.
        seed: the run's seed.
        budget_env_steps: the run's budget; :attr:`budget_exhausted` turns true when it is spent.
        runtime: where the agent computes (recorded, not hashed).
        env_workers: subprocesses stepping the environments of each :meth:`trial_batch` in parallel
            (:mod:`benchmark.workers`); 1 steps them in this process. Same results either way,
            so, like the device, it stays out of the run id.
    """

    def __init__(
        self,
        suite: Suite,
        spec: EnvSpec,
        seed: int,
        budget_env_steps: int,
        runtime: Runtime | None = None,
        env_workers: int = 1,
    ) -> None:
        if env_workers < 1:
            raise ValueError(f"env_workers must be >= 1, got {env_workers}")
        self._suite = suite
        self.env_workers = env_workers
        self.spec = spec
        self.seed = seed
        self.budget_env_steps = budget_env_steps
        self.runtime = runtime or Runtime()
        self.counter = StepCounter()
        # One task stream for every env handed out: class-stratified where the suite has classes.
        self.task_sampler = TaskSampler(suite.tasks(META_TRAIN), seed=[seed, 0x7A5])
        # Every env and batch handed out, in order: their snapshots make a run resumable.
        self._envs: list[TrialEnv | RemoteTrialEnv] = []
        self._batches: list[TrialBatch] = []
        self._pending: dict[str, Any] | None = None  # a loaded state, applied as the agent asks for envs
        self._worker_pool: EnvWorkerPool | None = None  # started by the first batch when env_workers > 1

    @property
    def env_steps(self) -> int:
        """Environment steps taken so far in all environments handed out by this context."""
        return self.counter.env_steps

    @property
    def budget_exhausted(self) -> bool:
        return self.env_steps >= self.budget_env_steps

    @property
    def num_train_tasks(self) -> int:
        """Size of the meta_train split; opaque task ids are ``0 .. num_train_tasks - 1``."""
        return len(self._suite.tasks(META_TRAIN))

    def draw_task_ids(self, n: int) -> list[int]:
        """The next ``n`` opaque meta_train task ids of the run's task stream, without resetting any env
        (play them with ``reset(task_ids=...)``)."""
        return [task.task_id for task in self.task_sampler.draw_many(n)]

    def trial_env(self, episodes_per_trial: int | None = None) -> TrialEnv:
        """A counted trial environment on meta_train tasks.

        ``reset()`` draws the next task from the context's :class:`~benchmark.tasks.TaskSampler`;
        ``reset(options={"task_id": i})`` plays meta_train task ``i``. ``info["task_id"]`` names the task
        (an opaque id); its parameter is never revealed.
        """
        index = len(self._envs)
        env = make_trial_env(
            self._suite,
            self._suite.tasks(META_TRAIN),
            episodes_per_trial,
            self.counter,
            self._env_seed(index),
            sampler=self.task_sampler,
            reveal_task=False,
        )
        self._envs.append(env)
        if self._pending is not None and index < len(self._pending["envs"]):
            env.restore(self._pending["envs"][index])
        return env

    def trial_batch(
        self, num_trials: int, episodes_per_trial: int | None = None, autoreset: bool = True
    ) -> TrialBatch:
        """``num_trials`` counted trial envs stepped together, drawing fresh meta_train tasks at each reset.

        With ``autoreset`` a finished trial restarts at once (a continuous stream); without it, finished rows
        wait until ``reset()``, so an iteration can collect exactly ``num_trials`` complete trials.
        """
        batch: TrialBatch
        if self.env_workers > 1:
            remote = [self._remote_trial_env(episodes_per_trial) for _ in range(num_trials)]
            batch = WorkerTrialBatch(remote, autoreset=autoreset)
        else:
            batch = TrialBatch([self.trial_env(episodes_per_trial) for _ in range(num_trials)], autoreset)
        index = len(self._batches)
        self._batches.append(batch)
        if self._pending is not None and index < len(self._pending["batches"]):
            batch.restore(self._pending["batches"][index])
        return batch

    def _env_seed(self, index: int) -> int:
        # The k-th env's seed is the k-th child of one sequence, independent of evaluation seeds.
        seed_sequence = np.random.SeedSequence([self.seed, 0x7A1], spawn_key=(index,))
        return int(seed_sequence.generate_state(1)[0])

    def _remote_trial_env(self, episodes_per_trial: int | None) -> RemoteTrialEnv:
        """:meth:`trial_env`'s env, built in a worker process (``env_workers > 1``)."""
        if self._worker_pool is None:
            method = start_method(cuda=self.runtime.is_cuda)  # spawn, not fork, next to a CUDA context
            self._worker_pool = EnvWorkerPool(self._suite, self.env_workers, method)
        index = len(self._envs)
        env = RemoteTrialEnv(
            self._worker_pool,
            index,
            self._suite.tasks(META_TRAIN),
            episodes_per_trial or self._suite.episodes_per_trial,
            self._env_seed(index),
            self.counter,
            self.task_sampler,
        )
        self._envs.append(env)
        if self._pending is not None and index < len(self._pending["envs"]):
            env.restore(self._pending["envs"][index])
        return env

    def close(self) -> None:
        """Stop the environment workers, if any (they also stop with the process)."""
        if self._worker_pool is not None:
            self._worker_pool.close()
            self._worker_pool = None

    # ---- resume ----------------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any] | None:
        """The context's state at an agent's yield, or ``None`` if some env is mid-episode (not resumable).

        A resumed run builds a fresh context, loads this, and starts the agent's ``meta_train`` again: the
        agent asks for its envs and batches in the same order as before, and each one comes back in the
        state it had (an env at an episode start replays its reset).
        """
        envs = [env.snapshot() for env in self._envs]
        if any(snapshot is None for snapshot in envs):
            return None
        return {
            "env_steps": self.counter.env_steps,
            "task_sampler": self.task_sampler.state_dict(),
            "envs": envs,
            "batches": [batch.snapshot() for batch in self._batches],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Load a :meth:`state_dict`; call before the agent's ``meta_train`` asks for environments."""
        if self._envs:
            raise RuntimeError("load the context's state before handing out environments")
        self.counter.env_steps = int(state["env_steps"])
        self.task_sampler.load_state_dict(state["task_sampler"])
        self._pending = state

    @property
    def resuming(self) -> bool:
        """Whether this context continues a checkpointed run (agents then restore their loop's state)."""
        return self._pending is not None


@runtime_checkable
class MetaAgent(Protocol):
    """The structural contract; see the module docstring for when the harness calls what."""

    def meta_train(self, ctx: TrainingContext) -> Generator[None, None, None]: ...

    def begin_trial(self, plan: TrialPlan) -> None: ...

    def act(self, obs: np.ndarray, deterministic: np.ndarray) -> np.ndarray: ...

    def observe(self, transition: Transition) -> None: ...

    def end_episode(self, mask: np.ndarray) -> None: ...

    def state_dict(self, include_buffers: bool = True) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...

    @property
    def last_stats(self) -> Mapping[str, float]: ...


class AgentFactory(Protocol):
    """What the registry points at: the agent class with its config type and per-suite defaults."""

    Config: ClassVar[type]

    def __call__(self, config: Any, spec: EnvSpec, seed: int, runtime: Runtime) -> MetaAgent: ...

    def default_config(self, suite: str, profile: str) -> Any:
        """The config dataclass for ``suite`` at configuration tier ``profile``: its record, built."""
        ...

    def config_record(self, suite: str, tier: str) -> ConfigRecord:
        """Every value of that configuration with its source in the original code, or a deviation with its
        reason (:mod:`benchmark.provenance`); refuses an unknown suite or tier with a one-line
        :class:`~benchmark.errors.BenchmarkError`."""
        ...

    def validate_config(self, config: Any, suite: str) -> None: ...

    def default_exploration_episodes(self, suite: str) -> int: ...


class AgentBase:
    """The contract's members that have a default, declared once; every agent class inherits this (it is the
    contract's only base class) and overrides what its method needs.

    * :meth:`validate_config`: the checks of a config that need the suite (the harness calls it on every
      resolved config, after ``--set``, once every field passed its declared range,
      :func:`benchmark.constraints.check_config`).
    * :meth:`default_exploration_episodes`: the evaluation trial's exploration episodes E.
    * :attr:`last_stats`: numbers about the latest training iteration, logged to ``progress.csv``.
    * ``state_dict(include_buffers=...)``: an agent with replay buffers leaves them out of the evaluation
      checkpoint when asked (the resume point always holds them).
    """

    last_stats: Mapping[str, float] = MappingProxyType({})
    """losses, rates, timings of the latest iteration; assign a new dict after each (read after each yield)"""

    precisions: ClassVar[tuple[str, ...]] = ("fp32",)
    """the ``Runtime.precision`` values the agent honours; a run asking for another is refused"""

    @classmethod
    def validate_config(cls, config: Any, suite: str) -> None:
        """Raise ``ValueError`` (one line) when ``config`` cannot run on ``suite``. Default: no such check."""

    @classmethod
    def default_exploration_episodes(cls, suite: str) -> int:
        """Episodes that explore at the start of an evaluation trial before the method adapts (MAML's
        pre-update rollouts, PEARL's prior episodes); the harness caps it at K - 1. Default 0."""
        return 0
