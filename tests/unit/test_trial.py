"""Trial wrapper semantics: augmented observations, episode and trial boundaries, counting, batching."""

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from benchmark.suites.base import META_TEST, META_TRAIN
from benchmark.trial import StepCounter, TrialBatch, TrialEnv, TrialLayout, augment, make_trial_env
from tests.fakes import build_reveal_suite


def reveal_trial(horizon=3, episodes=2, terminate_at=None, counter=None):
    suite = build_reveal_suite(horizon=horizon, terminate_at=terminate_at)
    return TrialEnv(suite.make_env(), suite.tasks(META_TRAIN), episodes, horizon, counter), suite


def test_layout_slices_the_augmented_observation():
    layout = TrialLayout(obs_dim=3, act_dim=2)
    token = augment(np.array([1, 2, 3]), np.array([4, 5]), 6.0, True)
    assert layout.dim == token.shape[0] == 7
    np.testing.assert_array_equal(layout.obs(token), [1, 2, 3])
    np.testing.assert_array_equal(layout.prev_action(token), [4, 5])
    assert layout.prev_reward(token) == 6.0 and layout.done(token) == 1.0


def test_trial_starts_with_zero_action_reward_and_done():
    env, suite = reveal_trial()
    obs, info = env.reset(seed=0, options={"task": suite.tasks(META_TEST)[1]})
    assert obs.shape == (4,) and obs.dtype == np.float32
    np.testing.assert_array_equal(obs[1:], [0.0, 0.0, 0.0])
    assert info["task_id"] == 1 and info["split"] == META_TEST


def test_step_token_carries_action_reward_and_no_done_on_time_limit():
    env, suite = reveal_trial(horizon=3, episodes=2)
    env.reset(seed=0, options={"task": suite.tasks(META_TRAIN)[1]})  # sign -1
    obs, reward, terminated, truncated, info = env.step(np.array([0.5]))
    assert reward == pytest.approx(-0.5)
    np.testing.assert_allclose(obs, [1.0, 0.5, -0.5, 0.0])
    assert not (terminated or truncated or info["episode_end"])


def test_inner_boundary_is_hidden_from_gym_and_signalled_in_info():
    env, suite = reveal_trial(horizon=3, episodes=2)
    env.reset(seed=0, options={"task": suite.tasks(META_TRAIN)[0]})
    env.step(np.array([1.0]))
    env.step(np.array([1.0]))
    obs, reward, terminated, truncated, info = env.step(np.array([0.25]))
    assert info["episode_end"] and not terminated and not truncated
    assert (
        info["episode_index"] == 0 and "episode" not in info and info["episode_return"] == pytest.approx(2.25)
    )
    assert info["episode_success"] == 1.0 and info["episode_length"] == 3
    # the true successor of the last step, and the next episode's first token carrying the last transition
    np.testing.assert_allclose(info["final_observation"], [3.0, 0.25, 0.25, 0.0])
    assert abs(obs[0]) < 0.011  # a fresh reset observation
    np.testing.assert_allclose(obs[1:], [0.25, 0.25, 0.0])
    assert env.episode_index == 1


def test_trial_ends_with_truncation_after_k_episodes():
    env, suite = reveal_trial(horizon=2, episodes=3)
    env.reset(seed=0, options={"task": suite.tasks(META_TRAIN)[0]})
    ends = []
    for _ in range(6):
        _, _, terminated, truncated, info = env.step(np.array([1.0]))
        ends.append((info["episode_end"], terminated, truncated))
    assert ends == [(False, False, False), (True, False, False)] * 2 + [
        (False, False, False),
        (True, False, True),
    ]
    with pytest.raises(RuntimeError):
        env.step(np.array([1.0]))


def test_done_flag_only_on_true_termination():
    env, suite = reveal_trial(horizon=5, episodes=2, terminate_at=2)
    env.reset(seed=0, options={"task": suite.tasks(META_TRAIN)[0]})
    env.step(np.array([1.0]))
    obs, _, terminated, truncated, info = env.step(np.array([1.0]))
    assert info["episode_end"] and info["episode_length"] == 2
    assert env.layout.done(info["final_observation"]) == 1.0
    assert env.layout.done(obs) == 1.0  # the next episode's first token tells how the last one ended
    env.step(np.array([1.0]))
    obs, _, terminated, truncated, _ = env.step(np.array([1.0]))
    assert terminated and not truncated  # the last episode's termination ends the trial


def test_every_step_is_counted_by_the_harness_counter():
    counter = StepCounter()
    env, suite = reveal_trial(horizon=3, episodes=2, counter=counter)
    env.reset(seed=0)
    for _ in range(6):
        env.step(np.array([0.0]))
    assert counter.env_steps == 6


def test_plain_reset_draws_tasks_from_the_pool_reproducibly():
    def drawn(seed):
        env, _ = reveal_trial()
        env.seed_generator(seed)
        return [env.reset()[1]["task_id"] for _ in range(20)]

    assert drawn(1) == drawn(1)
    assert drawn(1) != drawn(2)
    assert len(set(drawn(1))) > 1


@pytest.mark.filterwarnings("ignore:.*Box observation space m.*:UserWarning")
def test_trial_env_passes_gymnasium_check_env():
    env, _ = reveal_trial()
    check_env(env, skip_render_check=True)


def test_batch_masks_finished_trials_and_records_boundaries():
    suite = build_reveal_suite(horizon=3, terminate_at=None)
    short = build_reveal_suite(horizon=3, terminate_at=1)
    envs = [
        make_trial_env(suite, suite.tasks(META_TRAIN), 2),
        make_trial_env(short, short.tasks(META_TRAIN), 2),
    ]
    batch = TrialBatch(envs)
    obs, _ = batch.reset(list(suite.tasks(META_TEST)))
    assert obs.shape == (2, 4)
    steps = 0
    while batch.active.any():
        step = batch.step(np.ones((2, 1), dtype=np.float32))
        steps += 1
        if steps == 2:  # the short env finished both its one-step episodes with this step
            assert step.active[1] and step.trial_end[1] and not batch.active[1]
        if steps == 3:
            assert not step.active[1] and step.reward[1] == 0.0
    assert steps == 6
    # inactive rows were not stepped
    assert envs[1].counter.env_steps == 2 and envs[0].counter.env_steps == 6


def test_autoreset_batch_starts_new_trials():
    suite = build_reveal_suite(horizon=2)
    batch = TrialBatch([make_trial_env(suite, suite.tasks(META_TRAIN), 1, seed=3)], autoreset=True)
    batch.reset()
    trial_ends = 0
    for _ in range(10):
        step = batch.step(np.ones((1, 1), dtype=np.float32))
        trial_ends += int(step.trial_end[0])
        assert batch.active.all()
    assert trial_ends == 5
