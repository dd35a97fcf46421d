"""Tiny fake suites for unit tests only (the real suites are tested in test_suites_*.py).

``reveal``: a one-dimensional task whose identity (+1 or -1) is revealed only by the first reward: the reward
is ``sign * action``, observations carry nothing. An agent with memory across episodes can exploit what
episode 1 taught it; a memoryless one cannot. Optionally terminates early to exercise the done flag.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from benchmark.agent import EnvSpec, MetaAgent, TrainingContext
from benchmark.suites.base import META_TEST, META_TRAIN, OOD, Suite, Task


class RevealEnv(gym.Env):
    def __init__(self, terminate_at: int | None = None) -> None:
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, shape=(1,), dtype=np.float64)
        self.action_space = gym.spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)
        self.terminate_at = terminate_at
        self.sign = 0.0
        self.t = 0

    def set_task(self, task: Task) -> None:
        self.sign = float(task.data)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.array([float(self.np_random.uniform(-0.01, 0.01))]), {}

    def step(self, action):
        self.t += 1
        reward = self.sign * float(np.clip(action[0], -1, 1))
        terminated = self.terminate_at is not None and self.t >= self.terminate_at
        return np.array([float(self.t)]), reward, terminated, False, {"success": float(reward > 0.5)}


def build_reveal_suite(seed: int = 0, horizon: int = 5, terminate_at: int | None = None) -> Suite:
    def tasks(split: str, signs: list[float]) -> list[Task]:
        return [Task(split, i, s, s, name=f"sign={s:+.0f}") for i, s in enumerate(signs)]

    return Suite(
        name="reveal",
        horizon=horizon,
        episodes_per_trial=2,
        has_success=True,
        splits={
            META_TRAIN: tasks(META_TRAIN, [1.0, -1.0] * 4),
            META_TEST: tasks(META_TEST, [1.0, -1.0]),
            OOD: tasks(OOD, [2.0, -2.0]),
        },
        make_env=lambda: RevealEnv(terminate_at),
        param_name="sign",
        train_param_range=(-1.0, 1.0),
        seed=seed,
    )


def reveal(horizon: int, terminate_at: int | None = None) -> tuple[Suite, EnvSpec]:
    """The reveal suite and its spec, for agent tests."""
    suite = build_reveal_suite(seed=0, horizon=horizon, terminate_at=terminate_at)
    return suite, EnvSpec.from_suite(suite)


def train(agent: MetaAgent, suite: Suite, spec: EnvSpec, iterations: int, seed: int = 0) -> TrainingContext:
    """Drive ``agent.meta_train`` for ``iterations`` yields on an unlimited budget; returns the context."""
    ctx = TrainingContext(suite, spec, seed, budget_env_steps=10**9)
    training = agent.meta_train(ctx)
    for _ in range(iterations):
        next(training)
    training.close()  # type: ignore[attr-defined]
    return ctx
