"""``point-nav``: a 2-D point robot that must find a hidden goal from its reward.

The toy task of MAML (Finn et al. 2017, §5.2 "2D Navigation") and PEARL's point robot (Rakelly et al.
2019): the agent starts at the origin, moves by at most 0.1 per axis and step, and is paid the negative
Euclidean distance to a goal it never observes. Cheap enough (pure NumPy) for every method to show
adaptation on a CPU in minutes.

Splits: goals uniform in the unit disc for ``meta_train``/``meta_test``; ``ood`` goals uniform in angle at a
radius in (1, 1.5], outside the training region. ``Task.param`` is the goal's distance from the origin.
Success: the point comes within 0.1 of the goal at some step of the episode.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from benchmark.suites import SUITES, catalog_suite
from benchmark.suites.base import META_TEST, META_TRAIN, OOD, Suite, Task, split_seed

HORIZON = SUITES["point-nav"].horizon
MAX_STEP = 0.1
SUCCESS_RADIUS = 0.1
TRAIN_RADIUS = SUITES["point-nav"].train_bounds()[1]
OOD_RADIUS = (1.0, 1.5)
SPLIT_SIZES = {META_TRAIN: 1000, META_TEST: 40, OOD: 40}


class PointNavEnv(gym.Env):
    """Point robot on the plane; ``action`` in [-1, 1]^2 scales to a displacement of at most ``MAX_STEP``."""

    metadata = {"render_modes": []}

    def __init__(self) -> None:
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, shape=(2,), dtype=np.float64)
        self.action_space = gym.spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
        self._goal: np.ndarray | None = None
        self._position = np.zeros(2)

    def set_task(self, task: Task) -> None:
        self._goal = np.asarray(task.data, dtype=np.float64)

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        if self._goal is None:
            raise RuntimeError("PointNavEnv.set_task must be called before reset")
        self._position = np.zeros(2)
        return self._position.copy(), {}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        assert self._goal is not None, "set_task must be called before step"
        displacement = MAX_STEP * np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0)
        self._position = self._position + displacement
        distance = float(np.linalg.norm(self._position - self._goal))
        info = {"success": float(distance <= SUCCESS_RADIUS), "distance": distance}
        return self._position.copy(), -distance, False, False, info


def _goal_task(split: str, task_id: int, radius: float, angle: float) -> Task:
    goal = (radius * np.cos(angle), radius * np.sin(angle))
    return Task(split, task_id, float(radius), goal, name=f"goal=({goal[0]:.2f},{goal[1]:.2f})")


def build_point_nav(seed: int) -> Suite:
    splits: dict[str, list[Task]] = {}
    for split in (META_TRAIN, META_TEST):
        rng = split_seed(seed, split)
        # sqrt of a uniform draw makes the goal uniform over the disc's area.
        radii = TRAIN_RADIUS * np.sqrt(rng.uniform(0.0, 1.0, SPLIT_SIZES[split]))
        angles = rng.uniform(0.0, 2 * np.pi, SPLIT_SIZES[split])
        splits[split] = [
            _goal_task(split, i, r, a) for i, (r, a) in enumerate(zip(radii, angles, strict=True))
        ]
    rng = split_seed(seed, OOD)
    # Open at the inner edge: a draw of exactly 1.0 would lie inside the training disc.
    radii = OOD_RADIUS[1] - rng.uniform(0.0, OOD_RADIUS[1] - OOD_RADIUS[0], SPLIT_SIZES[OOD])
    angles = rng.uniform(0.0, 2 * np.pi, SPLIT_SIZES[OOD])
    splits[OOD] = [_goal_task(OOD, i, r, a) for i, (r, a) in enumerate(zip(radii, angles, strict=True))]
    return catalog_suite("point-nav", seed, splits, PointNavEnv)
