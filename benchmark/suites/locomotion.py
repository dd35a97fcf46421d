"""MuJoCo locomotion suites on gymnasium's HalfCheetah-v5 and Ant-v5.

The meta-tasks of PEARL (katerakelly/oyster ``rlkit/envs``), variBAD (``environments/mujoco``), ProMP and the
TrMRL code (its garage fork, ``src/garage/envs/mujoco``), rebuilt on gymnasium v5 bodies:

* ``halfcheetah-vel``: run at a target velocity v* ~ U[0, 3]; reward ``-|v_x - v*| - 0.05 ||a||^2``.
  ``ood`` draws v* from (3, 4], the paper's out-of-distribution experiment (its Figure 7).
* ``halfcheetah-dir``: run forward (d = +1) or backward (d = -1); reward ``d v_x - 0.05 ||a||^2``.
* ``ant-dir``: run along the x-axis forward (theta = 0) or backward (theta = pi); reward
  ``v_x cos(theta) + v_y sin(theta) - 0.5 ||a||^2 - 5e-4 ||clip(cfrc_ext, -1, 1)||^2 + 1 (while healthy)``;
  the episode ends when the torso height leaves [0.2, 1.0].
* ``ant-dir-2d``: the same reward with theta ~ U[0, 2pi) minus a held-out 60-degree sector [5pi/3, 2pi),
  which is the ``ood`` split.
* ``ant-goal``: oyster's AntGoal, reach a goal within radius 3; reward
  ``-||xy - g||_1 - 0.1 ||a||^2 - 5e-4 ||clip(cfrc_ext, -1, 1)||^2``, no survival bonus, no termination.
  ``ood`` goals lie at a radius in (3, 4].

Every environment ignores the base environment's reward and recomputes the task reward from the
simulator state after the step; the terms are in ``info`` under gymnasium's names (``reward_ctrl``,
``reward_contact``, ``reward_survive``) plus the task term (``reward_velocity``, ``reward_forward``,
``reward_goal``). The base environments are built from their classes, not ``gym.make``: ``gym.make`` with
``max_episode_steps=None`` still adds the registered 1000-step ``TimeLimit``, and the trial wrapper owns
the horizon (200 steps, 2 episodes per trial, as in the TrMRL locomotion launcher).

The two-task suites (``halfcheetah-dir``, ``ant-dir``) have ``meta_test`` equal to ``meta_train`` by
design: the task distribution has only two members (as in oyster, ProMP and TrMRL); see DEVIATIONS.md.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.envs.mujoco.ant_v5 import AntEnv
from gymnasium.envs.mujoco.half_cheetah_v5 import HalfCheetahEnv

from benchmark.suites import SUITES, catalog_suite
from benchmark.suites.base import META_TEST, META_TRAIN, OOD, Suite, Task, split_seed

SPLIT_SIZES = {META_TRAIN: 1000, META_TEST: 40, OOD: 40}

# HalfCheetahVel/Dir control cost 0.5 * 1e-1 (oyster half_cheetah_vel.py, garage half_cheetah_vel_env.py);
# gymnasium's HalfCheetah-v5 default is 0.1, so the reward is recomputed.
CHEETAH_CTRL_COST_WEIGHT = 0.05
CHEETAH_VELOCITY_RANGE = SUITES["halfcheetah-vel"].train_bounds()
CHEETAH_OOD_VELOCITY_RANGE = (3.0, 4.0)

# Ant constants of oyster's ant_dir.py / ant_goal.py; Ant-v5's defaults agree except AntGoal's control cost.
ANT_DIR_CTRL_COST_WEIGHT = 0.5
ANT_GOAL_CTRL_COST_WEIGHT = 0.1
ANT_CONTACT_COST_WEIGHT = 5e-4
ANT_CONTACT_FORCE_RANGE = (-1.0, 1.0)
ANT_HEALTHY_REWARD = 1.0

ANT_DIR_2D_HELD_OUT_START = SUITES["ant-dir-2d"].train_bounds()[1]  # ood: [5pi/3, 2pi), 60 degrees wide
ANT_GOAL_RADIUS = SUITES["ant-goal"].train_bounds()[1]
ANT_GOAL_OOD_RADIUS = (3.0, 4.0)


class _TaskRewardWrapper(gym.Wrapper):
    """Shared plumbing of the locomotion task envs: holds the task and swaps the base reward for the task's.

    Subclasses read their task in :meth:`set_task` and return the signed reward terms in
    :meth:`_reward_terms`; the reward is their sum.
    """

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self._task: Task | None = None

    def set_task(self, task: Task) -> None:
        """Play ``task`` from the next reset on; it persists across resets until the next call."""
        self._task = task

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        """Reset the body; ``seed`` seeds MuJoCo's reset noise (gymnasium ``MujocoEnv.np_random``)."""
        if self._task is None:
            raise RuntimeError(f"{type(self).__name__}.set_task must be called before reset")
        return self.env.reset(seed=seed, options=options)

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        """Step the body and return the task reward; ``info`` holds its terms, not the base env's."""
        if self._task is None:
            raise RuntimeError(f"{type(self).__name__}.set_task must be called before step")
        observation, _base_reward, terminated, truncated, base_info = self.env.step(action)
        terms = self._reward_terms(np.asarray(action, dtype=np.float64), base_info)
        # Drop the base env's reward_* entries: they use gymnasium's weights, not the task's.
        info = {key: value for key, value in base_info.items() if not key.startswith("reward_")}
        info.update(terms)
        return observation, float(sum(terms.values())), terminated, truncated, info

    def _reward_terms(self, action: np.ndarray, base_info: dict[str, Any]) -> dict[str, float]:
        raise NotImplementedError


def _ant_contact_cost(ant: AntEnv) -> float:
    """Oyster's contact cost: 5e-4 times the squared external contact forces clipped to [-1, 1]."""
    contact_forces = np.clip(ant.data.cfrc_ext, *ANT_CONTACT_FORCE_RANGE)
    return ANT_CONTACT_COST_WEIGHT * float(np.sum(np.square(contact_forces)))


class HalfCheetahVelEnv(_TaskRewardWrapper):
    """HalfCheetah-v5 (17-d obs) paid for running at the task's target velocity (``Task.data``: v* in m/s)."""

    def __init__(self) -> None:
        super().__init__(HalfCheetahEnv())
        self._target_velocity = 0.0

    def set_task(self, task: Task) -> None:
        super().set_task(task)
        self._target_velocity = float(task.data)

    def _reward_terms(self, action: np.ndarray, base_info: dict[str, Any]) -> dict[str, float]:
        return {
            "reward_velocity": -abs(float(base_info["x_velocity"]) - self._target_velocity),
            "reward_ctrl": -CHEETAH_CTRL_COST_WEIGHT * float(np.sum(np.square(action))),
        }


class HalfCheetahDirEnv(_TaskRewardWrapper):
    """HalfCheetah-v5 paid for its x-velocity times the task's direction (``Task.data``: -1.0 or +1.0)."""

    def __init__(self) -> None:
        super().__init__(HalfCheetahEnv())
        self._direction = 1.0

    def set_task(self, task: Task) -> None:
        super().set_task(task)
        self._direction = float(task.data)

    def _reward_terms(self, action: np.ndarray, base_info: dict[str, Any]) -> dict[str, float]:
        return {
            "reward_forward": self._direction * float(base_info["x_velocity"]),
            "reward_ctrl": -CHEETAH_CTRL_COST_WEIGHT * float(np.sum(np.square(action))),
        }


class AntDirEnv(_TaskRewardWrapper):
    """Ant-v5 (27-d obs) paid for its torso velocity along the task's direction (``Task.data``: angle in rad).

    The observation leaves out the contact forces (``include_cfrc_ext_in_observation=False``), as oyster and
    variBAD did; the episode terminates when the torso height leaves [0.2, 1.0] (Ant-v5's default, oyster's
    ``notdone`` test).
    """

    def __init__(self) -> None:
        self._ant = AntEnv(include_cfrc_ext_in_observation=False)
        super().__init__(self._ant)
        self._direction = np.array([1.0, 0.0])

    def set_task(self, task: Task) -> None:
        super().set_task(task)
        angle = float(task.data)
        self._direction = np.array([np.cos(angle), np.sin(angle)])

    def _reward_terms(self, action: np.ndarray, base_info: dict[str, Any]) -> dict[str, float]:
        # Ant-v5's x/y_velocity are the torso's xy displacement over dt, as in oyster's ant_dir.py.
        velocity = np.array([base_info["x_velocity"], base_info["y_velocity"]])
        return {
            "reward_forward": float(velocity @ self._direction),
            "reward_ctrl": -ANT_DIR_CTRL_COST_WEIGHT * float(np.sum(np.square(action))),
            "reward_contact": -_ant_contact_cost(self._ant),
            "reward_survive": ANT_HEALTHY_REWARD * float(self._ant.is_healthy),
        }


class AntGoalEnv(_TaskRewardWrapper):
    """Ant-v5 paid the negative L1 distance from its torso to the task's goal (``Task.data``: xy array).

    The observation keeps the torso's x, y (29-d: full qpos + qvel) because the goal is a position; the
    ant never terminates and earns no survival bonus (oyster's ant_goal.py).
    """

    def __init__(self) -> None:
        self._ant = AntEnv(
            include_cfrc_ext_in_observation=False,
            exclude_current_positions_from_observation=False,
            terminate_when_unhealthy=False,
        )
        super().__init__(self._ant)
        self._goal = np.zeros(2)

    def set_task(self, task: Task) -> None:
        super().set_task(task)
        self._goal = np.asarray(task.data, dtype=np.float64)

    def _reward_terms(self, action: np.ndarray, base_info: dict[str, Any]) -> dict[str, float]:
        torso_xy = self._ant.data.body("torso").xpos[:2]
        return {
            "reward_goal": -float(np.sum(np.abs(torso_xy - self._goal))),
            "reward_ctrl": -ANT_GOAL_CTRL_COST_WEIGHT * float(np.sum(np.square(action))),
            "reward_contact": -_ant_contact_cost(self._ant),
        }


def _uniform_draws(seed: int, split: str, low: float, high: float) -> np.ndarray:
    """The split's ``SPLIT_SIZES[split]`` draws from U[low, high), from the split's own generator."""
    return split_seed(seed, split).uniform(low, high, SPLIT_SIZES[split])


def _scalar_tasks(split: str, values: np.ndarray, label: str) -> list[Task]:
    return [Task(split, i, float(v), float(v), name=f"{label}={v:.3f}") for i, v in enumerate(values)]


def build_halfcheetah_vel(seed: int) -> Suite:
    """HalfCheetahVel: v* ~ U[0, 3) in ``meta_train`` (1000), ``meta_test`` (40); (3, 4] in ``ood`` (40)."""
    low, high = CHEETAH_VELOCITY_RANGE
    splits = {
        split: _scalar_tasks(split, _uniform_draws(seed, split, low, high), "v")
        for split in (META_TRAIN, META_TEST)
    }
    ood_low, ood_high = CHEETAH_OOD_VELOCITY_RANGE
    # Mirror draws from [3, 4) onto (3, 4]: a target of exactly 3.0 would lie in the training range.
    ood_velocities = ood_high + ood_low - _uniform_draws(seed, OOD, ood_low, ood_high)
    splits[OOD] = _scalar_tasks(OOD, ood_velocities, "v")
    return catalog_suite("halfcheetah-vel", seed, splits, HalfCheetahVelEnv)


def build_halfcheetah_dir(seed: int) -> Suite:
    """HalfCheetahDir: the two directions d = -1, +1 in both ``meta_train`` and ``meta_test``; no ``ood``.

    The task distribution has two members, so the splits cannot be disjoint (oyster, ProMP and TrMRL test
    on the same two tasks); ``seed`` only labels the suite.
    """
    directions = np.array([-1.0, 1.0])
    splits = {split: _scalar_tasks(split, directions, "d") for split in (META_TRAIN, META_TEST)}
    return catalog_suite("halfcheetah-dir", seed, splits, HalfCheetahDirEnv)


def build_ant_dir(seed: int) -> Suite:
    """AntDir: true forward/backward, theta in {0, pi}, in both ``meta_train`` and ``meta_test``; no ``ood``.

    The original TrMRL/variBAD code fed +-1 to cos/sin as radians (+-57 degrees); see DEVIATIONS.md. As
    for HalfCheetahDir, the two splits hold the same two tasks by design; ``seed`` only labels the suite.
    """
    angles = np.array([0.0, np.pi])
    splits = {split: _scalar_tasks(split, angles, "theta") for split in (META_TRAIN, META_TEST)}
    return catalog_suite("ant-dir", seed, splits, AntDirEnv)


def build_ant_dir_2d(seed: int) -> Suite:
    """AntDir2D: theta ~ U[0, 5pi/3) for ``meta_train`` (1000) and ``meta_test`` (40); ``ood`` (40) from the
    held-out sector [5pi/3, 2pi)."""
    sector_start = ANT_DIR_2D_HELD_OUT_START
    splits = {
        split: _scalar_tasks(split, _uniform_draws(seed, split, 0.0, sector_start), "theta")
        for split in (META_TRAIN, META_TEST)
    }
    ood_angles = _uniform_draws(seed, OOD, sector_start, 2 * np.pi)
    splits[OOD] = _scalar_tasks(OOD, ood_angles, "theta")
    return catalog_suite("ant-dir-2d", seed, splits, AntDirEnv)


def _goal_tasks(split: str, radii: np.ndarray, angles: np.ndarray) -> list[Task]:
    tasks = []
    for i, (radius, angle) in enumerate(zip(radii, angles, strict=True)):
        goal = np.array([radius * np.cos(angle), radius * np.sin(angle)])
        goal.flags.writeable = False  # tasks are shared between envs; nobody may move a goal
        tasks.append(Task(split, i, float(radius), goal, name=f"goal=({goal[0]:.2f},{goal[1]:.2f})"))
    return tasks


def build_ant_goal(seed: int) -> Suite:
    """AntGoal: goals uniform over the disc of radius 3 for ``meta_train`` (1000) and ``meta_test`` (40);
    ``ood`` (40) uniform over the annulus of radius (3, 4]. ``Task.param`` is the goal's radius."""
    splits: dict[str, list[Task]] = {}
    for split in (META_TRAIN, META_TEST):
        rng = split_seed(seed, split)
        # oyster's sample_tasks: angle U[0, 2pi), radius 3 sqrt(U), uniform over the disc's area.
        angles = rng.uniform(0.0, 2 * np.pi, SPLIT_SIZES[split])
        radii = ANT_GOAL_RADIUS * np.sqrt(rng.uniform(0.0, 1.0, SPLIT_SIZES[split]))
        splits[split] = _goal_tasks(split, radii, angles)
    rng = split_seed(seed, OOD)
    inner, outer = ANT_GOAL_OOD_RADIUS
    angles = rng.uniform(0.0, 2 * np.pi, SPLIT_SIZES[OOD])
    # Uniform over the annulus' area, open at the inner edge so no goal lies on the training disc.
    radii = np.sqrt(outer**2 - rng.uniform(0.0, outer**2 - inner**2, SPLIT_SIZES[OOD]))
    splits[OOD] = _goal_tasks(OOD, radii, angles)
    return catalog_suite("ant-goal", seed, splits, AntGoalEnv)
