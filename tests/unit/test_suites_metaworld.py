"""Meta-World suites: held-out goals and classes, the task-switching env, success, the task-list cache.

ML1 cache tests build into a temporary directory; everything else uses the default cache, so ML10/ML45
(~10 s / ~30 s to build) are built once per machine.
"""

from __future__ import annotations

import logging
import pickle

import metaworld
import numpy as np
import pytest
from metaworld.env_dict import ALL_V3_ENVIRONMENTS

from benchmark.suites import META_TEST, META_TRAIN, make_suite
from benchmark.suites import metaworld_suites as mw


def _rand_vec(task) -> np.ndarray:
    """The goal/object placement vector Meta-World pickles into its task data."""
    return pickle.loads(task.data.data)["rand_vec"]


def _env_names(tasks) -> set[str]:
    return {task.data.env_name for task in tasks}


@pytest.mark.parametrize(
    ("suite_name", "env_name"),
    [("ml1-reach", "reach-v3"), ("ml1-push", "push-v3"), ("ml1-pick-place", "pick-place-v3")],
)
def test_ml1_test_goals_are_held_out(suite_name: str, env_name: str) -> None:
    suite = make_suite(suite_name, 0)
    assert set(suite.splits) == {META_TRAIN, META_TEST}
    assert (suite.horizon, suite.episodes_per_trial, suite.has_success) == (500, 10, True)
    train, test = suite.tasks(META_TRAIN), suite.tasks(META_TEST)
    assert len(train) == len(test) == 50
    assert _env_names(train) == _env_names(test) == {env_name}
    # Guards against gym.make_vec("Meta-World/ML1-train"), which hands out the test goals in 3.1.1.
    train_goals = {tuple(_rand_vec(task)) for task in train}
    assert train_goals.isdisjoint(tuple(_rand_vec(task)) for task in test)
    assert [task.task_id for task in train] == list(range(50))
    assert train[7].name == f"{env_name}#7" and train[7].param is None


def test_ml1_splits_are_deterministic_in_the_seed() -> None:
    goals = [_rand_vec(task) for task in make_suite("ml1-push", 0).tasks(META_TRAIN)]
    again = [_rand_vec(task) for task in make_suite("ml1-push", 0).tasks(META_TRAIN)]
    np.testing.assert_array_equal(goals, again)


def test_env_hides_the_goal_and_reports_success_as_float() -> None:
    suite = make_suite("ml1-push", 0)
    env = suite.make_env()
    env.set_task(suite.tasks(META_TRAIN)[0])
    observation, _ = env.reset(seed=0)
    assert observation.shape == (39,) and observation.dtype == np.float64
    assert env.observation_space.contains(observation)
    np.testing.assert_array_equal(observation[-3:], 0.0)  # partially_observable=True in ML benchmarks
    observation, reward, terminated, truncated, info = env.step(env.action_space.sample())
    assert isinstance(reward, float) and not terminated and not truncated
    assert info["success"] in (0.0, 1.0) and isinstance(info["success"], float)
    np.testing.assert_array_equal(observation[-3:], 0.0)


def test_reach_to_the_goal_reports_success() -> None:
    suite = make_suite("ml1-reach", 0)
    env = suite.make_env()
    task = suite.tasks(META_TEST)[0]
    env.set_task(task)
    observation, _ = env.reset(seed=0)
    # The goal is hidden from the agent, but the task's placement vector holds it for a test to steer the hand
    # there: reach-v3 puts it at the vector's last three entries (SawyerReachEnvV3.reset_model), as the
    # simulator's goal site shows.
    goal = _rand_vec(task)[-3:]
    np.testing.assert_array_equal(env.active_env.model.site("goal").pos, goal)
    successes = []
    for _ in range(150):
        action = np.append(np.clip(10.0 * (goal - observation[:3]), -1.0, 1.0), 0.0)
        observation, _, _, _, info = env.step(action)
        successes.append(info["success"])
    assert max(successes) == 1.0


def test_reset_is_reproducible_and_keeps_the_task() -> None:
    suite = make_suite("ml1-push", 0)
    env = suite.make_env()
    env.set_task(suite.tasks(META_TRAIN)[3])
    first, _ = env.reset(seed=1)
    env.step(env.action_space.sample())
    np.testing.assert_array_equal(env.reset(seed=2)[0], first)  # same task, deterministic placement
    env.set_task(suite.tasks(META_TRAIN)[4])
    assert not np.array_equal(env.reset()[0], first)


def test_stepping_past_the_500_step_cap_is_a_clear_error() -> None:
    suite = make_suite("ml1-reach", 0)
    env = suite.make_env()
    env.set_task(suite.tasks(META_TRAIN)[0])
    env.reset(seed=0)
    action = np.zeros(4, dtype=np.float32)
    for _ in range(500):
        _, _, _, truncated, _ = env.step(action)
        assert not truncated  # the trial wrapper owns the horizon
    with pytest.raises(RuntimeError, match="500 steps"):
        env.step(action)
    env.reset()
    env.step(action)


def test_reset_without_task_is_refused() -> None:
    with pytest.raises(RuntimeError, match="set_task"):
        mw.MetaWorldTaskEnv().reset(seed=0)


def test_cache_round_trip(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv(mw.CACHE_ENV_VAR, str(tmp_path))
    built = mw.build_ml1_push(5)
    assert mw.cache_path("ML1-push-v3", 5).parent == tmp_path
    assert mw.cache_path("ML1-push-v3", 5).exists()

    def no_build(*args, **kwargs):
        raise AssertionError("the cached task lists should have been used")

    monkeypatch.setattr(metaworld, "ML1", no_build)
    loaded = mw.build_ml1_push(5)
    for split in (META_TRAIN, META_TEST):
        assert [task.data for task in loaded.tasks(split)] == [task.data for task in built.tasks(split)]
    assert list(tmp_path.iterdir()) == [mw.cache_path("ML1-push-v3", 5)]  # no temporary files left behind


def test_corrupt_cache_is_rebuilt(tmp_path, monkeypatch, caplog) -> None:
    monkeypatch.setenv(mw.CACHE_ENV_VAR, str(tmp_path))
    path = mw.cache_path("ML1-reach-v3", 6)
    path.write_bytes(b"not a pickle")
    with caplog.at_level(logging.WARNING, logger=mw.__name__):
        suite = mw.build_ml1_reach(6)
    assert "rebuilding" in caplog.text
    assert len(suite.tasks(META_TRAIN)) == 50
    with path.open("rb") as file:
        train_tasks, _ = pickle.load(file)
    assert [task.data for task in suite.tasks(META_TRAIN)] == train_tasks


@pytest.mark.metaworld
@pytest.mark.parametrize(("suite_name", "n_train_classes"), [("ml10", 10), ("ml45", 45)])
def test_ml_test_classes_are_held_out(suite_name: str, n_train_classes: int) -> None:
    suite = make_suite(suite_name, 0)
    train_classes, test_classes = _env_names(suite.tasks(META_TRAIN)), _env_names(suite.tasks(META_TEST))
    assert (len(train_classes), len(test_classes)) == (n_train_classes, 5)
    assert train_classes.isdisjoint(test_classes)
    assert (len(suite.tasks(META_TRAIN)), len(suite.tasks(META_TEST))) == (50 * n_train_classes, 250)


@pytest.mark.metaworld
def test_set_task_switches_task_class() -> None:
    suite = make_suite("ml10", 0)
    env = suite.make_env()
    first_of_each_class = {}
    for task in suite.tasks(META_TRAIN)[::50] + suite.tasks(META_TEST)[::50]:
        first_of_each_class.setdefault(task.data.env_name, task)
    first_observations = {}
    for env_name, task in first_of_each_class.items():
        env.set_task(task)
        assert isinstance(env.active_env, ALL_V3_ENVIRONMENTS[env_name])
        first_observations[env_name], _ = env.reset(seed=0)
        observation, _, _, _, info = env.step(env.action_space.sample())
        assert observation.shape == (39,) and info["success"] in (0.0, 1.0)
        np.testing.assert_array_equal(observation[-3:], 0.0)
    assert len(first_of_each_class) == 15
    # Switching back reuses the class's instance and plays the task again from the same start.
    last_instance, last_task = env.active_env, task
    env.set_task(first_of_each_class["push-v3"])
    np.testing.assert_array_equal(env.reset(seed=0)[0], first_observations["push-v3"])
    env.set_task(last_task)
    assert env.active_env is last_instance
    env.close()


@pytest.mark.metaworld
def test_pooled_instances_replay_exactly_like_fresh_ones():
    """Trial envs reuse idle Meta-World instances; a reused one must behave exactly like a new one."""
    from benchmark.trial import make_trial_env

    suite = make_suite("ml1-push", seed=0)
    actions = np.random.default_rng(0).uniform(-1, 1, size=(30, 4)).astype(np.float32)

    def replay() -> tuple[list[float], object]:
        env = make_trial_env(suite, suite.tasks("meta_test")[:3], episodes_per_trial=1, seed=5)
        rewards = []
        for task in suite.tasks("meta_test")[:3]:
            env.reset(options={"task": task})
            rewards += [env.step(a)[1] for a in actions]
        instance = env.task_env.active_env
        env.close()  # hands the instance back to the pool
        return rewards, instance

    mw.INSTANCE_POOL.clear()
    first, built = replay()  # on a freshly built instance
    assert mw.INSTANCE_POOL.idle_count("push-v3") == 1
    again, reused = replay()
    assert reused is built  # the same instance, reused
    assert again == first


def test_a_cache_others_can_write_is_never_unpickled(tmp_path, monkeypatch, caplog) -> None:
    """Pickle runs code, so a task cache another user could have written is rebuilt, not read."""
    monkeypatch.setenv(mw.CACHE_ENV_VAR, str(tmp_path))
    mw.build_ml1_push(5)
    path = mw.cache_path("ML1-push-v3", 5)
    assert path.stat().st_mode & 0o077 == 0  # written owner-only
    path.chmod(0o666)
    loaded = []
    monkeypatch.setattr(mw.pickle, "load", lambda *a, **k: loaded.append(1))
    with caplog.at_level("WARNING"):
        rebuilt = mw.build_ml1_push(5)
    assert not loaded and "writable by other users" in caplog.text
    assert len(rebuilt.tasks(META_TRAIN)) == 50
