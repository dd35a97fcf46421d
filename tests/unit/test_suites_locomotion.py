"""Locomotion suites: rewards recomputed by hand from the MuJoCo state, splits, seeding."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from benchmark.suites import META_TEST, META_TRAIN, OOD, Task, make_suite
from benchmark.suites.locomotion import (
    AntDirEnv,
    AntGoalEnv,
    HalfCheetahDirEnv,
    HalfCheetahVelEnv,
    build_ant_dir,
    build_ant_dir_2d,
    build_ant_goal,
    build_halfcheetah_dir,
)

CONTINUOUS_SUITES = ["halfcheetah-vel", "ant-dir-2d", "ant-goal"]
TWO_TASK_SUITES = ["halfcheetah-dir", "ant-dir"]
N_STEPS = 25  # enough for the ant's legs to touch the floor, so contact forces are non-zero


def _random_actions(env, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    space = env.action_space
    # float64 so that the hand computation is not limited by float32 rounding of ||a||^2
    return [rng.uniform(space.low, space.high) for _ in range(N_STEPS)]


def _contact_cost(data) -> float:
    return 5e-4 * float(np.sum(np.square(np.clip(data.cfrc_ext, -1.0, 1.0))))


@pytest.mark.parametrize("target_velocity", [0.0, 1.7, 3.5])
def test_halfcheetah_vel_reward_matches_hand_computation(target_velocity: float) -> None:
    env = HalfCheetahVelEnv()
    env.set_task(Task(META_TEST, 0, target_velocity, target_velocity))
    env.reset(seed=0)
    data, dt = env.unwrapped.data, env.unwrapped.dt
    for action in _random_actions(env):
        x_before = data.qpos[0]
        _, reward, terminated, truncated, info = env.step(action)
        velocity = (data.qpos[0] - x_before) / dt
        expected = -abs(velocity - target_velocity) - 0.05 * np.sum(np.square(action))
        np.testing.assert_allclose(reward, expected, rtol=1e-10)
        np.testing.assert_allclose(info["reward_velocity"] + info["reward_ctrl"], reward)
        assert not terminated and not truncated


@pytest.mark.parametrize("task_index", [0, 1])
def test_halfcheetah_dir_reward_matches_hand_computation(task_index: int) -> None:
    task = build_halfcheetah_dir(0).tasks(META_TRAIN)[task_index]
    env = HalfCheetahDirEnv()
    env.set_task(task)
    env.reset(seed=1)
    data, dt = env.unwrapped.data, env.unwrapped.dt
    for action in _random_actions(env, seed=1):
        x_before = data.qpos[0]
        _, reward, terminated, _, info = env.step(action)
        velocity = (data.qpos[0] - x_before) / dt
        np.testing.assert_allclose(
            reward, task.param * velocity - 0.05 * np.sum(np.square(action)), rtol=1e-10
        )
        assert set(info) >= {"reward_forward", "reward_ctrl"} and not terminated


@pytest.mark.parametrize(
    ("suite_name", "split", "task_index"),
    [("ant-dir", META_TRAIN, 0), ("ant-dir", META_TRAIN, 1), ("ant-dir-2d", OOD, 3)],
)
def test_ant_dir_reward_matches_hand_computation(suite_name: str, split: str, task_index: int) -> None:
    task = make_suite(suite_name, 0).tasks(split)[task_index]
    env = AntDirEnv()
    env.set_task(task)
    env.reset(seed=2)
    data, dt = env.unwrapped.data, env.unwrapped.dt
    contact_costs = []
    for action in _random_actions(env, seed=2):
        xy_before = data.body("torso").xpos[:2].copy()
        _, reward, terminated, _, info = env.step(action)
        velocity = (data.body("torso").xpos[:2] - xy_before) / dt
        contact_costs.append(_contact_cost(data))
        healthy = 0.2 <= data.qpos[2] <= 1.0
        expected = (
            velocity[0] * np.cos(task.param)
            + velocity[1] * np.sin(task.param)
            - 0.5 * np.sum(np.square(action))
            - contact_costs[-1]
            + float(healthy)
        )
        np.testing.assert_allclose(reward, expected, rtol=1e-10)
        np.testing.assert_allclose(sum(v for k, v in info.items() if k.startswith("reward_")), reward)
        assert terminated == (not healthy)
        if terminated:
            break
    assert max(contact_costs) > 0.0, "the contact term was never exercised"


def test_ant_dir_directions_are_true_forward_and_backward() -> None:
    angles = [task.param for task in build_ant_dir(0).tasks(META_TRAIN)]
    np.testing.assert_allclose(angles, [0.0, np.pi])


def _lift_torso(env, height: float) -> None:
    """Put the ant's torso at ``height``, outside Ant-v5's healthy range [0.2, 1.0] when above 1.0."""
    qpos, qvel = env.unwrapped.data.qpos.copy(), env.unwrapped.data.qvel.copy()
    qpos[2] = height
    env.unwrapped.set_state(qpos, qvel)


def test_ant_dir_unhealthy_ant_terminates_without_survival_bonus() -> None:
    env = AntDirEnv()
    env.set_task(build_ant_dir(0).tasks(META_TRAIN)[0])
    env.reset(seed=0)
    _, _, terminated, _, info = env.step(np.zeros(8))
    assert not terminated and info["reward_survive"] == 1.0
    _lift_torso(env, 2.0)  # falls ~1 cm in one step: still above 1.0
    _, _, terminated, _, info = env.step(np.zeros(8))
    assert terminated and info["reward_survive"] == 0.0


def test_ant_goal_reward_matches_hand_computation() -> None:
    task = build_ant_goal(0).tasks(OOD)[0]
    env = AntGoalEnv()
    env.set_task(task)
    observation, _ = env.reset(seed=3)
    data = env.unwrapped.data
    assert observation.shape == (29,)
    contact_costs = []
    for action in _random_actions(env, seed=3):
        observation, reward, terminated, _, info = env.step(action)
        torso_xy = data.body("torso").xpos[:2]
        contact_costs.append(_contact_cost(data))
        expected = -np.sum(np.abs(torso_xy - task.data)) - 0.1 * np.sum(np.square(action)) - contact_costs[-1]
        np.testing.assert_allclose(reward, expected, rtol=1e-10)
        # The agent sees where it is: qpos x, y. MuJoCo's xpos comes from the kinematics of the last
        # sub-step, before its integration, so it trails qpos by micrometres (hence the tolerance).
        np.testing.assert_array_equal(observation[:2], data.qpos[:2])
        np.testing.assert_allclose(observation[:2], torso_xy, atol=1e-3)
        assert "reward_survive" not in info and not terminated
    assert max(contact_costs) > 0.0


def test_ant_goal_never_terminates_when_unhealthy() -> None:
    env = AntGoalEnv()
    env.set_task(build_ant_goal(0).tasks(META_TRAIN)[0])
    env.reset(seed=0)
    _lift_torso(env, 2.0)
    _, _, terminated, truncated, _ = env.step(np.zeros(8))
    assert not terminated and not truncated


@pytest.mark.parametrize(
    ("suite_name", "observation_dim"),
    [("halfcheetah-vel", 17), ("halfcheetah-dir", 17), ("ant-dir", 27), ("ant-dir-2d", 27), ("ant-goal", 29)],
)
def test_reset_seed_reproduces_the_episode(suite_name: str, observation_dim: int) -> None:
    suite = make_suite(suite_name, 0)
    task = suite.tasks(META_TEST)[0]

    def rollout(seed: int) -> tuple[np.ndarray, list[float]]:
        env = suite.make_env()
        env.set_task(task)
        first_observation, _ = env.reset(seed=seed)
        rewards = [env.step(action)[1] for action in _random_actions(env)[:5]]
        return first_observation, rewards

    observation, rewards = rollout(7)
    assert observation.shape == (observation_dim,)
    np.testing.assert_array_equal(rollout(7)[0], observation)
    assert rollout(7)[1] == rewards
    assert not np.array_equal(rollout(8)[0], observation)


@pytest.mark.parametrize("env_class", [HalfCheetahVelEnv, AntDirEnv, AntGoalEnv])
def test_reset_without_task_is_refused(env_class) -> None:
    with pytest.raises(RuntimeError, match="set_task"):
        env_class().reset(seed=0)


@pytest.mark.filterwarnings("ignore::UserWarning")  # check_env dislikes wrappers and unbounded boxes
@pytest.mark.parametrize("suite_name", ["halfcheetah-vel", "ant-dir"])
def test_env_passes_gymnasium_checker(suite_name: str) -> None:
    suite = make_suite(suite_name, 0)
    env = suite.make_env()
    env.set_task(suite.tasks(META_TRAIN)[0])
    check_env(env, skip_render_check=True)


@pytest.mark.parametrize("suite_name", CONTINUOUS_SUITES)
def test_continuous_suite_splits(suite_name: str) -> None:
    suite = make_suite(suite_name, 0)
    assert {split: len(tasks) for split, tasks in suite.splits.items()} == {
        META_TRAIN: 1000,
        META_TEST: 40,
        OOD: 40,
    }
    for split, tasks in suite.splits.items():
        assert [task.task_id for task in tasks] == list(range(len(tasks)))
        assert all(task.split == split for task in tasks)
    train_params = {task.param for task in suite.tasks(META_TRAIN)}
    assert train_params.isdisjoint(task.param for task in suite.tasks(META_TEST))
    low, high = suite.train_param_range
    for split in (META_TRAIN, META_TEST):
        assert all(low <= task.param < high for task in suite.tasks(split))
    assert all(task.param > high or task.param < low for task in suite.tasks(OOD))
    assert (suite.horizon, suite.episodes_per_trial, suite.has_success) == (200, 2, False)


@pytest.mark.parametrize("suite_name", TWO_TASK_SUITES)
def test_two_task_suites_test_on_the_training_tasks(suite_name: str) -> None:
    suite = make_suite(suite_name, 0)
    assert set(suite.splits) == {META_TRAIN, META_TEST}
    train_params = [task.param for task in suite.tasks(META_TRAIN)]
    assert len(train_params) == 2
    assert [task.param for task in suite.tasks(META_TEST)] == train_params


@pytest.mark.parametrize("suite_name", CONTINUOUS_SUITES + TWO_TASK_SUITES)
def test_splits_are_deterministic_in_the_seed(suite_name: str) -> None:
    def params(seed: int) -> dict[str, list[float]]:
        return {
            split: [t.param for t in tasks] for split, tasks in make_suite(suite_name, seed).splits.items()
        }

    assert params(0) == params(0)
    if suite_name in CONTINUOUS_SUITES:
        assert params(0)[META_TRAIN] != params(1)[META_TRAIN]


def test_ant_dir_2d_held_out_sector_is_the_ood_split() -> None:
    suite = build_ant_dir_2d(0)
    sector_start = 5 * np.pi / 3
    assert all(task.param < sector_start for task in suite.tasks(META_TRAIN) + suite.tasks(META_TEST))
    assert all(sector_start <= task.param < 2 * np.pi for task in suite.tasks(OOD))


def test_ant_goal_task_param_is_the_goal_radius() -> None:
    suite = build_ant_goal(0)
    for split in (META_TRAIN, OOD):
        goals = np.array([task.data for task in suite.tasks(split)])
        np.testing.assert_allclose(np.linalg.norm(goals, axis=1), [task.param for task in suite.tasks(split)])
    assert all(task.param <= 3.0 for task in suite.tasks(META_TRAIN))
    assert all(3.0 < task.param <= 4.0 for task in suite.tasks(OOD))
