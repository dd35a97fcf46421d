"""RL² baseline: memory across a trial's episodes, SB3 plumbing, checkpoints, determinism, configs."""

from __future__ import annotations

import dataclasses
import io

import numpy as np
import pandas as pd
import pytest
import torch
from sb3_contrib.common.recurrent.policies import RecurrentActorCriticPolicy
from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

from baselines.rl2.agent import RL2Agent, RL2LstmPolicy, TrialInfoForSB3
from baselines.rl2.config import RL2Config
from baselines.rl2.provenance import default_config
from benchmark import registry
from benchmark.agent import EnvSpec, MetaAgent, TrainingContext, TrialPlan
from benchmark.constraints import check_config
from benchmark.errors import BenchmarkError
from benchmark.protocol import EvalSettings, evaluate
from benchmark.request import resolve_run
from benchmark.results.store import METRICS_FILE
from benchmark.run import execute_run
from benchmark.suites.base import META_TEST, META_TRAIN
from benchmark.trial import TrialBatch, make_trial_env
from tests.fakes import reveal, train

TINY = RL2Config(
    episodes_per_trial=2,
    meta_batch=2,
    trials_per_env=1,
    lstm_hidden_size=8,
    n_epochs=1,
    minibatch_trials=2,
    max_grad_norm=0.5,
)


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# --- memory across the episodes of a trial --------------------------------------------------------------


def test_hidden_state_persists_across_inner_episodes_and_resets_at_begin_trial():
    suite, spec = reveal(horizon=5)
    agent = RL2Agent(TINY, spec, seed=0)
    tasks = list(suite.tasks(META_TEST))  # signs +1 and -1: only the rewards tell them apart
    batch = TrialBatch([make_trial_env(suite, tasks, 2, seed=i) for i in range(2)])
    obs, _ = batch.reset(tasks)
    agent.begin_trial(TrialPlan(2, 2))
    assert agent.hidden_state is None
    step = None
    while step is None or not step.episode_end.any():
        step = batch.step(agent.act(obs, deterministic=True))
        obs = step.obs
    assert step.episode_end.all() and not step.trial_end.any()
    h_after_episode_1 = tuple(x.copy() for x in agent.hidden_state)
    assert np.abs(h_after_episode_1[0]).max() > 0
    agent.end_episode(step.episode_end)
    for before, after in zip(h_after_episode_1, agent.hidden_state, strict=True):
        np.testing.assert_array_equal(before, after)  # RL²: end_episode keeps the memory

    # The same token at the start of episode 2 for both trials: only memory of episode 1 can tell them apart.
    token = np.repeat(obs[:1], 2, axis=0)
    with_memory = agent.act(token, deterministic=True)
    assert not np.allclose(with_memory[0], with_memory[1])

    # A new trial forgets: identical tokens give identical actions, equal to a fresh agent's.
    agent.begin_trial(TrialPlan(2, 2))
    after_reset = agent.act(token, deterministic=True)
    np.testing.assert_allclose(after_reset[0], after_reset[1])
    fresh = RL2Agent(TINY, spec, seed=0)
    fresh.begin_trial(TrialPlan(2, 2))
    np.testing.assert_allclose(after_reset, fresh.act(token, deterministic=True))


def test_memory_of_episode_1_changes_episode_2_in_the_protocol():
    """Two trials whose episode-1 rewards differ act differently in episode 2 even on the same token."""
    suite, spec = reveal(horizon=3)
    agent = RL2Agent(TINY, spec, seed=1)
    layout = spec.layout
    agent.begin_trial(TrialPlan(2, 2))
    for t in range(3):  # episode 1: same actions from the agent, opposite rewards fed back in the tokens
        tokens = np.zeros((2, layout.dim), dtype=np.float32)
        if t > 0:
            tokens[:, 0] = t
            tokens[:, 1] = 0.5
            tokens[:, 2] = [0.5, -0.5]
        agent.act(tokens, deterministic=True)
    agent.end_episode(np.ones(2, dtype=bool))
    same = np.zeros((2, layout.dim), dtype=np.float32)
    actions = agent.act(same, deterministic=True)
    assert not np.allclose(actions[0], actions[1])


def test_act_shapes_bounds_and_batch_mismatch():
    suite, spec = reveal(horizon=5)
    agent = RL2Agent(TINY, spec, seed=0)
    agent.begin_trial(TrialPlan(3, 2))
    obs = np.random.default_rng(0).normal(scale=10.0, size=(3, spec.aug_obs_dim)).astype(np.float32)
    for deterministic in (True, False):
        action = agent.act(obs, deterministic=deterministic)
        assert action.shape == (3, spec.act_dim) and action.dtype == np.float32
        assert np.all(action >= -1.0) and np.all(action <= 1.0)
    with pytest.raises(ValueError, match="2 observations for 3 trials"):
        agent.act(obs[:2], deterministic=True)


def test_agent_is_registered_and_satisfies_the_contract():
    _, spec = reveal(horizon=5)
    factory = registry.load_method("rl2")
    assert factory is RL2Agent and factory.Config is RL2Config
    assert isinstance(RL2Agent(TINY, spec, seed=0), MetaAgent)


# --- SB3 plumbing -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("starts", ["first_only", "mid_sequence"])
def test_fast_lstm_path_equals_sb3_loop(starts):
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(3, 4)
    n_seq, length = 3, 6
    features = torch.randn(n_seq * length, 3)
    states = (torch.randn(1, n_seq, 4), torch.randn(1, n_seq, 4))
    episode_starts = torch.zeros(n_seq, length)
    episode_starts[[0, 2], 0] = 1.0
    if starts == "mid_sequence":
        episode_starts[1, 3] = 1.0
    episode_starts = episode_starts.flatten()
    fast = RL2LstmPolicy._process_sequence(features, states, episode_starts, lstm)
    slow = RecurrentActorCriticPolicy._process_sequence(features, states, episode_starts, lstm)
    torch.testing.assert_close(fast[0], slow[0])
    torch.testing.assert_close(fast[1][0], slow[1][0])
    torch.testing.assert_close(fast[1][1], slow[1][1])


def test_trial_info_adapter_drops_the_trial_end_bootstrap():
    suite, _ = reveal(horizon=2)
    env = make_trial_env(suite, suite.tasks(META_TRAIN), 2, seed=0)
    for bootstrap in (False, True):
        venv = TrialInfoForSB3(DummyVecEnv([lambda: env]), bootstrap_trial_end=bootstrap)
        venv.reset()
        infos = [venv.step(np.zeros((1, 1), dtype=np.float32))[3][0] for _ in range(4)]
        assert all("episode" not in info for info in infos)
        assert [info["episode_index"] for info in infos] == [0, 0, 1, 1]
        assert infos[-1].get("TimeLimit.truncated", False) is bootstrap  # the trial ended by truncation


def test_learn_continues_rollouts_across_iterations():
    """SB3 keeps the last observation, episode starts and LSTM states between
    `learn(reset_num_timesteps=False)` calls (what the checkpoint's ``rollout`` records, for resuming).

    Early terminations make trials (2 x 3 steps) shorter than a rollout (2 x 5 steps), so the second rollout
    begins inside a trial: it must start from where the first stopped, not from a reset.
    """
    suite, spec = reveal(horizon=5, terminate_at=3)
    agent = RL2Agent(TINY, spec, seed=0)
    ctx = TrainingContext(suite, spec, 0, budget_env_steps=10**9)
    training = agent.meta_train(ctx)
    next(training)
    model = agent.model
    assert model is not None and ctx.env_steps == agent.steps_per_iteration == 20
    stopped = agent.state_dict()["rollout"]
    last_obs = stopped["last_obs"].numpy().copy()
    last_starts = stopped["last_episode_starts"].numpy().copy()
    last_h = stopped["lstm_pi"][0].numpy()
    assert last_obs.shape == (TINY.meta_batch, spec.aug_obs_dim)
    assert not last_starts.all(), "the first rollout should stop inside a trial"
    next(training)
    buffer = model.rollout_buffer  # after train(): flattened env-major, `(n_envs * n_steps, ...)`
    first = np.arange(TINY.meta_batch) * model.n_steps
    np.testing.assert_array_equal(buffer.observations[first], last_obs)
    np.testing.assert_array_equal(buffer.episode_starts[first].ravel(), last_starts.astype(np.float32))
    np.testing.assert_allclose(buffer.hidden_states_pi[first][:, 0, :], last_h[0])
    assert ctx.env_steps == 40 and agent.iterations == 2
    training.close()


def test_reward_normalisation_statistics_are_kept_and_restored():
    suite, spec = reveal(horizon=5)
    config = dataclasses.replace(TINY, normalize_reward=True)
    agent = RL2Agent(config, spec, seed=0)
    assert agent.state_dict()["return_rms"] is None
    ctx = TrainingContext(suite, spec, 0, budget_env_steps=10**9)
    training = agent.meta_train(ctx)
    next(training)
    assert agent.model is not None and isinstance(agent.model.get_env(), VecNormalize)
    state = agent.state_dict()
    assert state["return_rms"]["count"] > 1
    next(training)
    training.close()
    other = RL2Agent(config, spec, seed=5)
    other.load_state_dict(state)
    restored = other.state_dict()["return_rms"]
    for key in ("mean", "var"):
        assert torch.equal(restored[key], state["return_rms"][key])
    assert restored["count"] == state["return_rms"]["count"]


# --- checkpoints and determinism --------------------------------------------------------------------------


def test_checkpoint_round_trip_gives_identical_actions():
    suite, spec = reveal(horizon=4)
    agent = RL2Agent(TINY, spec, seed=0)
    train(agent, suite, spec, iterations=2)
    buffer = io.BytesIO()
    torch.save(agent.state_dict(), buffer)
    buffer.seek(0)
    restored = RL2Agent(TINY, spec, seed=123)  # a different init, overwritten by the checkpoint
    restored.load_state_dict(torch.load(buffer, weights_only=False))
    settings = EvalSettings(num_tasks=2, episodes=2)
    assert evaluate(agent, suite, settings, seed=3) == evaluate(restored, suite, settings, seed=3)
    obs = np.random.default_rng(1).normal(size=(4, 6, spec.aug_obs_dim)).astype(np.float32)
    agent.begin_trial(TrialPlan(4, 2))
    restored.begin_trial(TrialPlan(4, 2))
    for t in range(6):
        np.testing.assert_array_equal(
            agent.act(obs[:, t], deterministic=True), restored.act(obs[:, t], deterministic=True)
        )
    assert restored.iterations == agent.iterations == 2


def test_same_seed_same_metrics_through_the_harness(tmp_path):
    def run(seed: int, folder: str) -> pd.DataFrame:
        spec, config = resolve_run("rl2", "point-nav", seed, "smoke", budget_env_steps=240)
        outcome = execute_run(spec, config, tmp_path / folder, progress=False)
        return pd.read_csv(outcome.run_dir / METRICS_FILE)

    first, second, other_seed = run(0, "a"), run(0, "b"), run(1, "c")
    assert len(first) > 0 and set(first["episode"]) == {1, 2}
    pd.testing.assert_frame_equal(first, second)
    returns = first[first.metric == "return"]["value"].to_numpy()
    assert not np.allclose(returns, other_seed[other_seed.metric == "return"]["value"].to_numpy())


# --- configurations ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("suite", "meta_batch"), [("ml1-push", 25), ("ml10", 10), ("ml45", 45)])
def test_metaworld_paper_config_is_garage_rl2_ppo(suite, meta_batch):
    config = default_config(suite, "paper")
    assert (config.lstm_hidden_size, config.learning_rate, config.n_epochs) == (256, 5e-4, 10)
    assert (config.minibatch_trials, config.gamma, config.gae_lambda) == (32, 0.99, 0.95)
    assert config.clip_range == 0.2
    assert config.normalize_reward and not config.normalize_advantage and config.ent_coef == 5e-6
    assert (config.episodes_per_trial, config.meta_batch) == (10, meta_batch)


@pytest.mark.parametrize("suite", ["halfcheetah-vel", "halfcheetah-dir", "ant-dir"])
def test_locomotion_paper_config_is_promp_rl2(suite):
    config = default_config(suite, "paper")
    # ProMP full_code run_scripts/rl2_run_sweep.py:89,93: 100 trials at our horizon 200 (not the 200 of
    # configs/rl2_config.json, which ran HalfCheetahDir at horizon 100)
    assert (config.meta_batch, config.lstm_hidden_size, config.episodes_per_trial) == (100, 64, 2)
    assert (config.learning_rate, config.n_epochs, config.gae_lambda) == (1e-3, 5, 1.0)
    assert config.minibatch_trials >= config.meta_batch  # one minibatch
    assert config.normalize_advantage and not config.normalize_reward


def test_quick_and_smoke_configs_are_smaller():
    for suite in ("halfcheetah-vel", "ml1-push", "ml45", "point-nav"):
        paper, quick, smoke = (default_config(suite, p) for p in ("paper", "quick", "smoke"))
        assert smoke.meta_batch <= quick.meta_batch <= paper.meta_batch
        assert smoke.lstm_hidden_size <= paper.lstm_hidden_size
    with pytest.raises(BenchmarkError, match="unknown configuration tier"):
        default_config("point-nav", "huge")
    with pytest.raises(ValueError, match="meta_batch"):
        check_config(RL2Config(meta_batch=0))


def test_policy_learns_one_log_std_per_action_dimension():
    """garage learns a log-std per action dimension; SB3's head already does."""
    from benchmark.suites import make_suite

    suite = make_suite("halfcheetah-vel", 0)
    spec = EnvSpec.from_suite(suite)
    agent = RL2Agent(RL2Agent.default_config("halfcheetah-vel", "smoke"), spec, seed=0)
    assert agent.policy.log_std.shape == (spec.act_dim,) == (6,)


# --- the GPU's random stream (checked without a GPU: fake GPUs, tests/fake_device.py) -------------------


def _names(calls, *indices):
    """The logged ``torch.cuda`` RNG calls, as names, asserting that each went to one of ``indices``."""
    assert {index for _, index in calls} <= set(indices), calls
    return [name for name, _ in calls]


@pytest.mark.filterwarnings("ignore:PyTorch was compiled without cuDNN")
def test_evaluation_forks_and_resume_points_save_the_gpu_random_stream(monkeypatch):
    """On ``cuda:1`` SB3 samples from GPU 1's generator: evaluation swaps in its own state of that generator
    (seeded by the plan) and gives the training one back; ``state_dict`` saves it and a resumed run restores
    it. GPU 0's generator is never touched."""
    from benchmark.agent import Runtime
    from benchmark.checkpoint import round_trip
    from tests.fake_device import FakeCuda, fake_cuda_runtime

    fake = fake_cuda_runtime(monkeypatch, count=2)
    runtime = Runtime(device="cuda:1")
    suite, spec = reveal(horizon=5)
    obs = np.zeros((2, spec.aug_obs_dim), dtype=np.float32)
    with FakeCuda(count=2):
        agent = RL2Agent(TINY, spec, seed=0, runtime=runtime)
        before = fake.states()
        fake.calls.clear()
        agent.begin_trial(TrialPlan(2, 2, seed=5))
        assert _names(fake.calls, 1) == ["get_rng_state", "manual_seed", "get_rng_state", "set_rng_state"]
        seeded = agent._eval_cuda_rng_state
        fake.calls.clear()
        agent.act(obs, np.array([False, True]))  # a sampled row: the evaluation stream is used
        assert _names(fake.calls, 1) == ["get_rng_state", "set_rng_state", "get_rng_state", "set_rng_state"]
        assert all(torch.equal(a, b) for a, b in zip(fake.states(), before, strict=True))  # training's back
        agent.begin_trial(TrialPlan(2, 2, seed=5))
        assert torch.equal(agent._eval_cuda_rng_state, seeded)  # a plan's stream depends on its seed only
        fake.calls.clear()
        agent.act(obs, np.array([True, True]))  # no sampled row: no stream is touched
        assert fake.calls == []

        ctx = TrainingContext(suite, spec, seed=0, budget_env_steps=10**9)
        training = agent.meta_train(ctx)
        next(training)
        fake.generators[1].manual_seed(77)  # where GPU 1's training stream stands at the resume point
        at_yield = fake.generators[1].get_state()
        fake.calls.clear()
        state = round_trip({"agent": agent.state_dict(), "context": ctx.state_dict()})
        training.close()
        assert _names(fake.calls, 1) == ["get_rng_state"]
        assert torch.equal(state["agent"]["rollout"]["cuda_rng"], at_yield)

        resumed = RL2Agent(TINY, spec, seed=0, runtime=runtime)
        resumed.load_state_dict(state["agent"])
        ctx = TrainingContext(suite, spec, seed=0, budget_env_steps=10**9)
        ctx.load_state_dict(state["context"])
        fake.generators[1].manual_seed(3)
        fake.calls.clear()
        training = resumed.meta_train(ctx)
        next(training)  # RecurrentPPO reseeds every generator, then the rollout state is restored
        training.close()
        assert ("set_rng_state", 1) in fake.calls
        assert torch.equal(fake.generators[1].get_state(), at_yield)  # (fake GPUs draw nothing meanwhile)


def test_on_the_cpu_no_gpu_random_stream_is_touched(monkeypatch):
    """With a GPU present but a CPU runtime, evaluation and checkpoints leave every CUDA generator alone
    (and the state holds no GPU stream)."""
    from tests.fake_device import fake_cuda_runtime

    fake = fake_cuda_runtime(monkeypatch, count=1)
    suite, spec = reveal(horizon=5)
    agent = RL2Agent(TINY, spec, seed=0)
    ctx = TrainingContext(suite, spec, seed=0, budget_env_steps=10**9)
    training = agent.meta_train(ctx)
    next(training)
    fake.calls.clear()
    agent.begin_trial(TrialPlan(2, 2, seed=5))
    agent.act(np.zeros((2, spec.aug_obs_dim), dtype=np.float32), np.array([False, False]))
    state = agent.state_dict()
    training.close()
    assert fake.calls == [] and "cuda_rng" not in state["rollout"]
