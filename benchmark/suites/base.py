"""What a suite is: a family of tasks with fixed, seeded splits and one environment that can play any of them.

A suite is plain data plus one environment factory (composition, not inheritance): every suite module
builds a :class:`Suite` with a ``build_<name>(seed)`` function, and ``benchmark.suites`` registers it.

Words: a *task* is one member of a suite (one target velocity, one Meta-World goal);
tasks are keyed by their index inside their *split* (``meta_train``, ``meta_test``, ``ood``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import gymnasium as gym
import numpy as np

META_TRAIN = "meta_train"
META_TEST = "meta_test"
OOD = "ood"
SPLITS: tuple[str, ...] = (META_TRAIN, META_TEST, OOD)


@dataclass(frozen=True)
class Task:
    """One member of a suite.

    Attributes:
        split: the split the task belongs to (one of ``SPLITS``).
        task_id: index of the task inside its split; results are keyed by it, never by a display name
            (Meta-World's own evaluator keys by name and miscounts ML1, Metaworld PR #577).
        param: the scalar task parameter written to the results table (target velocity, direction angle,
            goal radius), or ``None`` where a task has no meaningful scalar (Meta-World goals).
        data: the suite-specific payload the environment needs to play the task.
        name: a short human-readable label (``"v=1.23"``, ``"push-v3#7"``).
        class_name: the task's class where a suite has classes (the Meta-World environment name,
            ``"push-v3"``), else ``None``. Written to the results as ``task_name``; training samplers and
            the evaluation protocol stratify over it.
    """

    split: str
    task_id: int
    param: float | None
    data: Any = field(compare=False, repr=False)
    name: str = ""
    class_name: str | None = None


@runtime_checkable
class TaskEnv(Protocol):
    """A gymnasium environment that can be switched to any task of its suite.

    ``set_task`` must be called before ``reset``; the task then persists across resets until the next
    ``set_task``. ``step`` may put ``info["success"]`` (0.0 or 1.0) for suites that define success.
    The environment itself has no time limit: the trial wrapper cuts episodes at the suite's horizon.
    """

    observation_space: gym.spaces.Space
    action_space: gym.spaces.Space

    def set_task(self, task: Task) -> None: ...

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]: ...

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Suite:
    """A built, seeded suite: its fixed task splits and a factory for the environment that plays them.

    Attributes:
        name: the suite's registry name (``halfcheetah-vel``).
        horizon: steps per episode (200 for locomotion, 500 for Meta-World).
        episodes_per_trial: K used for meta-training by the paper's configuration of this suite.
        has_success: whether episodes report a success flag (success at any step of the episode).
        splits: the task list of each split this suite defines; ``ood`` only where a parameter can be
            extrapolated.
        make_env: builds a fresh :class:`TaskEnv` (one per trial environment; never shared).
        param_name: what ``Task.param`` measures, with units (``"target velocity (m/s)"``), or ``None``.
        train_param_range: the range of ``param`` covered by ``meta_train`` (shaded in OOD figures).
        seed: the seed the splits were drawn with.
    """

    name: str
    horizon: int
    episodes_per_trial: int
    has_success: bool
    splits: Mapping[str, Sequence[Task]]
    make_env: Callable[[], TaskEnv]
    param_name: str | None = None
    train_param_range: tuple[float, float] | None = None
    seed: int = 0

    def tasks(self, split: str) -> Sequence[Task]:
        """The fixed task list of ``split``; raises ``KeyError`` with the known splits otherwise."""
        if split not in self.splits:
            raise KeyError(f"suite {self.name!r} has no split {split!r}; it has {sorted(self.splits)}")
        return self.splits[split]


def split_seed(seed: int, split: str) -> np.random.Generator:
    """A generator for drawing one split's tasks, independent of the other splits' draws."""
    return np.random.default_rng([seed, SPLITS.index(split), 0x5EED])
