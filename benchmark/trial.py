"""Trials: K consecutive episodes of one task, seen by the agent as one stream of augmented observations.

The agent observes ``[obs, previous action, previous reward, done]`` (RL², Duan et al. 2016; TrMRL §4.1).
``done`` is 1 only on a true termination (an Ant falling), never on a time-limit cut, as in the original
``RL2Env``. A trial starts with zeros in the previous-action/reward/done slots; at an inner episode boundary
the first observation of the next episode carries the last transition's action, reward and done, so an
agent that keeps memory across episodes (RL²) sees how the previous episode ended.

Boundaries are signalled in ``info``: ``episode_end`` (an inner episode ended at this step; the next
observation starts a new episode) with the finished episode's return/success/length, and the trial's end as
gymnasium's ``terminated``/``truncated``. To SB3 a whole trial is one episode, so a recurrent policy's
hidden state survives inner episodes (ecosystem notes §3.2).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np

from benchmark.suites.base import Suite, Task, TaskEnv
from benchmark.tasks import TaskSampler


class StepCounter:
    """Counts environment steps for the harness; every trial environment it hands out reports here."""

    def __init__(self) -> None:
        self.env_steps = 0

    def add(self, n: int = 1) -> None:
        self.env_steps += n


def augment(obs: np.ndarray, prev_action: np.ndarray, prev_reward: float, done: bool) -> np.ndarray:
    """The trial token ``[obs, previous action, previous reward, done]`` as one float32 vector."""
    return np.concatenate(
        [
            np.asarray(obs, dtype=np.float32).ravel(),
            np.asarray(prev_action, dtype=np.float32).ravel(),
            np.array([prev_reward, float(done)], dtype=np.float32),
        ]
    )


@dataclass(frozen=True)
class TrialLayout:
    """Where each part lives in an augmented observation: ``[obs | prev_action | prev_reward | done]``."""

    obs_dim: int
    act_dim: int

    @property
    def dim(self) -> int:
        return self.obs_dim + self.act_dim + 2

    def obs(self, augmented: np.ndarray) -> np.ndarray:
        return augmented[..., : self.obs_dim]

    def prev_action(self, augmented: np.ndarray) -> np.ndarray:
        return augmented[..., self.obs_dim : self.obs_dim + self.act_dim]

    def prev_reward(self, augmented: np.ndarray) -> np.ndarray:
        return augmented[..., self.obs_dim + self.act_dim]

    def done(self, augmented: np.ndarray) -> np.ndarray:
        return augmented[..., self.obs_dim + self.act_dim + 1]


class TrialEnv(gym.Env):
    """One task env played as trials of ``episodes_per_trial`` episodes of at most ``horizon`` steps.

    ``reset(options={"task": task})`` starts a trial on ``task``; a plain ``reset()`` draws a task uniformly
    from ``tasks`` with the env's own seeded generator (so SB3's auto-reset samples a new task per trial).

    Args:
        task_env: the suite's environment (switched with ``set_task``).
        tasks: the pool plain ``reset()`` draws from (usually the ``meta_train`` split).
        episodes_per_trial: K.
        horizon: the suite's episode length; the episode is truncated when it is reached.
        counter: the harness's step counter; every ``step`` adds one.
        sampler: where plain ``reset()`` draws tasks (meta-training's class-stratified stream); without
            one, it draws uniformly from ``tasks``.
        reveal_task: whether ``info`` carries the task's parameter, split and class. Training envs do not
            (an agent may see an opaque ``task_id``, never the task's parameter).
    """

    metadata = {"render_modes": []}

    def __init__(
        self,
        task_env: TaskEnv,
        tasks: Sequence[Task],
        episodes_per_trial: int,
        horizon: int,
        counter: StepCounter | None = None,
        sampler: TaskSampler | None = None,
        reveal_task: bool = True,
    ) -> None:
        if episodes_per_trial < 1 or horizon < 1:
            raise ValueError("episodes_per_trial and horizon must be positive")
        self.task_env = task_env
        self.tasks = list(tasks)
        self.episodes_per_trial = episodes_per_trial
        self.horizon = horizon
        self.counter = counter if counter is not None else StepCounter()
        self.sampler = sampler
        self.reveal_task = reveal_task
        obs_space = task_env.observation_space
        act_space = task_env.action_space
        assert isinstance(obs_space, gym.spaces.Box) and isinstance(act_space, gym.spaces.Box)
        self.layout = TrialLayout(int(np.prod(obs_space.shape)), int(np.prod(act_space.shape)))
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, shape=(self.layout.dim,), dtype=np.float32)
        self.action_space: gym.spaces.Box = act_space
        self.task: Task | None = None
        self._episode = 0
        self._t = 0
        self._episode_return = 0.0
        self._episode_success = False
        self._needs_reset = True
        # For snapshots (resume): the generator before the current episode's reset and the tail
        # [prev action, prev reward, done] of the episode's first token.
        self._pre_reset_rng: Any = None
        self._start_tail = np.zeros(self.layout.act_dim + 2, dtype=np.float32)

    def seed_generator(self, seed: int) -> None:
        """Seed the generator that draws tasks and inner-reset seeds, without starting a trial."""
        self._np_random, self._np_random_seed = gym.utils.seeding.np_random(seed)

    @property
    def episode_index(self) -> int:
        """0-based index of the current episode inside the trial."""
        return self._episode

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        options = options or {}
        task = options.get("task")
        if task is None and options.get("task_id") is not None:
            task = self.tasks[int(options["task_id"])]
        if task is None:
            if self.sampler is not None:
                task = self.sampler.draw()
            elif self.tasks:
                task = self.tasks[int(self.np_random.integers(len(self.tasks)))]
            else:
                raise ValueError("TrialEnv.reset needs options={'task': ...} when it has no task pool")
        self.task = task
        self.task_env.set_task(task)
        self._episode = 0
        obs = self._reset_episode()
        self._start_tail[:] = 0.0
        info: dict = {"task_id": task.task_id, "episode_index": 0}
        if self.reveal_task:
            info.update(task_param=task.param, split=task.split, task_name=task.class_name)
        return augment(obs, np.zeros(self.layout.act_dim), 0.0, False), info

    def _reset_episode(self) -> np.ndarray:
        # Inner resets draw their seeds from this env's generator: one seed at the trial's reset fixes all.
        self._pre_reset_rng = self.np_random.bit_generator.state  # a fresh dict each read: no copy
        obs, _ = self.task_env.reset(seed=int(self.np_random.integers(2**31 - 1)))
        self._t = 0
        self._episode_return = 0.0
        self._episode_success = False
        self._needs_reset = False
        return obs

    def close(self) -> None:
        self.task_env.close()

    # ---- snapshots: an env at an episode boundary can be saved and restored exactly (resume)

    def snapshot(self) -> dict[str, Any] | None:
        """This env's state as plain data, or ``None`` in the middle of an episode (not restorable).

        At an episode start the simulator's state is a function of the task and the reset seed, so the
        snapshot keeps the generator as it was before that reset and :meth:`restore` replays the reset.
        """
        if self.task is None or self._needs_reset:
            return {"kind": "idle", "rng": copy.deepcopy(self.np_random.bit_generator.state)}
        if self._t != 0:
            return None
        return {
            "kind": "episode_start",
            "task_id": self.task.task_id,
            "episode": self._episode,
            "rng": copy.deepcopy(self._pre_reset_rng),
            "start_tail": self._start_tail.copy(),
        }

    def restore(self, snapshot: dict[str, Any]) -> np.ndarray | None:
        """Put this env back into ``snapshot``'s state; returns the observation to act on (None when idle)."""
        if snapshot["kind"] == "idle":
            self.np_random.bit_generator.state = snapshot["rng"]
            self._needs_reset = True
            return None
        task = self.tasks[int(snapshot["task_id"])]
        self.task = task
        self.task_env.set_task(task)
        self._episode = int(snapshot["episode"])
        self.np_random.bit_generator.state = snapshot["rng"]
        obs = self._reset_episode()
        self._start_tail = np.asarray(snapshot["start_tail"], dtype=np.float32).copy()
        return np.concatenate([np.asarray(obs, dtype=np.float32).ravel(), self._start_tail])

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        if self._needs_reset:
            raise RuntimeError("TrialEnv.step called after the trial ended; call reset()")
        action = np.asarray(action, dtype=np.float32).reshape(self.action_space.shape)
        obs, reward, terminated, truncated, info = self.task_env.step(action)
        reward = float(reward)
        self.counter.add(1)
        self._t += 1
        self._episode_return += reward
        self._episode_success = self._episode_success or bool(info.get("success", 0.0))
        truncated = bool(truncated) or self._t >= self.horizon
        terminated = bool(terminated)
        next_obs = augment(obs, action, reward, terminated)
        # Not "episode": SB3 reads that key as Monitor's episode statistics.
        info["episode_index"] = self._episode
        info["episode_end"] = terminated or truncated
        if not info["episode_end"]:
            return next_obs, reward, False, False, info
        info["episode_return"] = self._episode_return
        info["episode_success"] = float(self._episode_success)
        info["episode_length"] = self._t
        info["final_observation"] = next_obs
        if self._episode + 1 < self.episodes_per_trial:
            # Inner boundary: hidden from SB3 (no terminated/truncated), visible through info and the token.
            self._episode += 1
            first_obs = self._reset_episode()
            self._start_tail = augment(np.zeros(0), action, reward, terminated)
            return augment(first_obs, action, reward, terminated), reward, False, False, info
        self._needs_reset = True
        return next_obs, reward, terminated, truncated and not terminated, info


def make_trial_env(
    suite: Suite,
    tasks: Sequence[Task],
    episodes_per_trial: int | None = None,
    counter: StepCounter | None = None,
    seed: int | None = None,
    sampler: TaskSampler | None = None,
    reveal_task: bool = True,
) -> TrialEnv:
    """A :class:`TrialEnv` on a fresh environment of ``suite``, drawing from ``tasks`` (or ``sampler``)."""
    env = TrialEnv(
        suite.make_env(),
        tasks,
        episodes_per_trial or suite.episodes_per_trial,
        suite.horizon,
        counter,
        sampler=sampler,
        reveal_task=reveal_task,
    )
    if seed is not None:
        env.seed_generator(seed)
    return env


@dataclass
class BatchStep:
    """What one step of a :class:`TrialBatch` returns; arrays have the batch as their first axis."""

    obs: (
        np.ndarray
    )  # `(n, aug_dim)`: the next observation to act on (first obs of a new episode at a boundary)
    reward: np.ndarray  # `(n,)`
    terminated: np.ndarray  # `(n,)` true termination of the inner episode
    episode_end: np.ndarray  # `(n,)` an inner episode ended at this step
    trial_end: np.ndarray  # `(n,)` the trial ended at this step
    active: np.ndarray  # `(n,)` rows that were stepped (inactive rows are padding)
    final_obs: np.ndarray  # `(n, aug_dim)` the true successor observation (terminal obs at a boundary)
    infos: list[dict] = field(default_factory=list)


class TrialBatch:
    """Steps several trial environments in lockstep, one task each ("vectorized over tasks").

    With ``autoreset`` a finished trial immediately starts a new one on a task drawn from the env's pool
    (training); without it, finished rows go inactive until every trial is done (evaluation: trials of
    different length, e.g. an Ant that falls, simply wait).
    """

    def __init__(self, envs: Sequence[TrialEnv], autoreset: bool = False) -> None:
        if not envs:
            raise ValueError("TrialBatch needs at least one environment")
        self.envs = list(envs)
        self.autoreset = autoreset
        self.layout = self.envs[0].layout
        self.active = np.zeros(len(self.envs), dtype=bool)
        self._obs = np.zeros((len(self.envs), self.layout.dim), dtype=np.float32)

    def __len__(self) -> int:
        return len(self.envs)

    def close(self) -> None:
        for env in self.envs:
            env.close()

    def snapshot(self) -> dict[str, Any]:
        """The batch's own state (its envs are snapshotted by the training context that made them)."""
        return {"obs": self._obs.copy(), "active": self.active.copy()}

    def restore(self, snapshot: dict[str, Any]) -> None:
        self._obs[:] = snapshot["obs"]
        self.active[:] = snapshot["active"]

    def reset(
        self,
        tasks: Sequence[Task] | None = None,
        *,
        task_ids: Sequence[int] | None = None,
        rows: Sequence[int] | None = None,
    ) -> tuple[np.ndarray, list[dict]]:
        """Start a trial in every env, or only in ``rows`` (the others stay inactive until the next reset).

        The task of row ``i`` is ``tasks[i]`` (evaluation), meta_train task ``task_ids[i]`` (an agent that
        picks its training tasks by opaque id), or else a draw from the env's sampler or pool. ``tasks``
        and ``task_ids`` are indexed like ``rows`` when ``rows`` is given.
        """
        chosen = list(range(len(self.envs))) if rows is None else [int(r) for r in rows]
        for given in (tasks, task_ids):
            if given is not None and len(given) != len(chosen):
                raise ValueError(f"{len(given)} tasks for {len(chosen)} environments")
        requests: dict[int, dict | None] = {}
        for k, i in enumerate(chosen):
            requests[i] = None
            if tasks is not None:
                requests[i] = {"task": tasks[k]}
            elif task_ids is not None:
                requests[i] = {"task_id": task_ids[k]}
        infos: list[dict] = [{} for _ in self.envs]
        self.active[:] = False
        for i, (obs, info) in self._reset_rows(requests).items():
            self._obs[i], infos[i] = obs, info
            self.active[i] = True
        return self._obs.copy(), infos

    def _reset_rows(self, requests: dict[int, dict | None]) -> dict[int, tuple[np.ndarray, dict]]:
        """Reset each row with its options, in row order (task draws happen in that order)."""
        return {i: self.envs[i].reset(options=options) for i, options in requests.items()}

    def _step_rows(self, actions: dict[int, np.ndarray]) -> dict[int, tuple]:
        """Step each row's env with its action; replies by row."""
        return {i: self.envs[i].step(action) for i, action in actions.items()}

    def step(self, actions: np.ndarray) -> BatchStep:
        n = len(self.envs)
        reward = np.zeros(n, dtype=np.float64)
        terminated = np.zeros(n, dtype=bool)
        episode_end = np.zeros(n, dtype=bool)
        trial_end = np.zeros(n, dtype=bool)
        stepped = self.active.copy()
        final_obs = self._obs.copy()
        infos: list[dict] = [{} for _ in range(n)]
        replies = self._step_rows({int(i): actions[i] for i in np.flatnonzero(stepped)})
        restarts: dict[int, dict | None] = {}
        for i, (obs, r, term, trunc, info) in replies.items():
            reward[i] = r
            episode_end[i] = info["episode_end"]
            terminated[i] = bool(self.layout.done(info.get("final_observation", obs)))
            final_obs[i] = info.get("final_observation", obs)
            infos[i] = info
            self._obs[i] = obs
            if term or trunc:
                trial_end[i] = True
                if self.autoreset:
                    restarts[i] = None  # a finished trial restarts on the env's next task
                else:
                    self.active[i] = False
        # Restarts after every row stepped: envs draw nothing while stepping, so the task draws keep their
        # row order, and a worker batch needs one round trip for all of them.
        for i, (obs, reset_info) in self._reset_rows(restarts).items():
            self._obs[i] = obs
            infos[i]["reset_info"] = reset_info
        return BatchStep(
            self._obs.copy(), reward, terminated, episode_end, trial_end, stepped, final_obs, infos
        )
