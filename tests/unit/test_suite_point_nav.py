"""point-nav: the reward is the negative distance, success within 0.1, ood goals outside the unit disc."""

from __future__ import annotations

import numpy as np
import pytest

from benchmark.suites import META_TEST, META_TRAIN, OOD, Task, make_suite
from benchmark.suites.point_nav import PointNavEnv, build_point_nav


def _env_with_goal(goal: tuple[float, float]) -> PointNavEnv:
    env = PointNavEnv()
    env.set_task(Task(META_TEST, 0, float(np.hypot(*goal)), goal))
    env.reset(seed=0)
    return env


def test_reward_is_negative_distance_to_goal() -> None:
    goal = (0.3, -0.4)
    env = _env_with_goal(goal)
    position = np.zeros(2)
    for action in np.random.default_rng(0).uniform(-1.0, 1.0, size=(10, 2)):
        position = position + 0.1 * action
        observation, reward, terminated, truncated, info = env.step(action)
        np.testing.assert_allclose(observation, position)
        np.testing.assert_allclose(reward, -np.hypot(*(position - goal)))
        assert info["distance"] == -reward and not terminated and not truncated


def test_actions_are_clipped_to_a_step_of_at_most_0_1() -> None:
    env = _env_with_goal((1.0, 0.0))
    observation, *_ = env.step(np.array([5.0, -5.0]))
    np.testing.assert_allclose(observation, [0.1, -0.1])


def test_success_within_0_1_of_the_goal() -> None:
    env = _env_with_goal((0.25, 0.0))
    successes = [env.step(np.array([1.0, 0.0]))[4]["success"] for _ in range(3)]
    assert successes == [0.0, 1.0, 1.0]  # positions 0.1 (distance 0.15), 0.2 (0.05), 0.3 (0.05)


def test_reset_without_task_is_refused() -> None:
    with pytest.raises(RuntimeError, match="set_task"):
        PointNavEnv().reset(seed=0)


def test_splits() -> None:
    suite = build_point_nav(0)
    assert {split: len(tasks) for split, tasks in suite.splits.items()} == {
        META_TRAIN: 1000,
        META_TEST: 40,
        OOD: 40,
    }
    for split, tasks in suite.splits.items():
        goals = np.array([task.data for task in tasks])
        np.testing.assert_allclose(np.linalg.norm(goals, axis=1), [task.param for task in tasks])
        assert all(task.split == split for task in tasks)
    assert all(task.param <= 1.0 for task in suite.tasks(META_TRAIN) + suite.tasks(META_TEST))
    assert all(1.0 < task.param <= 1.5 for task in suite.tasks(OOD))
    train_goals = {task.data for task in suite.tasks(META_TRAIN)}
    assert train_goals.isdisjoint(task.data for task in suite.tasks(META_TEST))


def test_splits_are_deterministic_in_the_seed() -> None:
    def goals(seed: int) -> list:
        return [task.data for task in make_suite("point-nav", seed).tasks(META_TRAIN)]

    assert goals(0) == goals(0)
    assert goals(0) != goals(1)
