"""TrMRL agent against the harness contract: training through the context, acting, memory semantics,
checkpoints, configuration table and determinism."""

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
import torch

from agents.trmrl.agent import TrMRLAgent
from agents.trmrl.config import TrMRLConfig
from agents.trmrl.provenance import PAPER, default_config
from benchmark import registry
from benchmark.agent import EnvSpec, MetaAgent, Runtime, TrainingContext, TrialPlan
from benchmark.errors import BenchmarkError
from benchmark.profiles import get_profile
from benchmark.request import resolve_run
from benchmark.run import execute_run
from benchmark.suites import SUITES
from benchmark.trial import TrialBatch
from tests.fakes import reveal, train

TINY = TrMRLConfig(
    d_model=8,
    n_heads=2,
    dim_ff=16,
    n_layers=1,
    wm_size=3,
    policy_hidden_sizes=(8,),
    value_hidden_sizes=(8,),
    meta_batch_size=2,
    minibatch_size=8,
    opt_epochs=2,
    policy_lr=1e-3,
    value_lr=1e-3,
    policy_lr_schedule="decay",
    decay_epoch_init=0,
    decay_epoch_end=2,
    init_std=0.5,
)


def test_meta_train_takes_every_env_from_the_context_and_yields_per_iteration():
    suite, spec = reveal(horizon=4)
    agent = TrMRLAgent(TINY, spec, seed=0)
    assert isinstance(agent, MetaAgent)
    ctx = train(agent, suite, spec, 2)
    # two iterations of meta_batch complete trials of 2 episodes x 4 steps
    assert ctx.env_steps == 2 * TINY.meta_batch_size * 2 * 4
    assert agent.iteration == 2 and np.isfinite(agent.last_stats["policy_loss"])
    assert agent.learner.policy_steps == 2 * 2 * 2  # 2 iterations x 2 epochs x ceil(16 / 8)
    assert agent.last_stats["policy_lr"] < TINY.policy_lr  # the decay is running


def test_bf16_autocasts_the_ppo_update_and_not_acting(monkeypatch):
    """Under precision bf16 the update's linear layers compute in bfloat16 (the attention kernel in float32,
    on the CPU) and its statistics stay close to float32's; the rollouts (acting) compute in float32, so
    both agents collect the same first batch."""
    suite, spec = reveal(horizon=4)
    dtypes: list[torch.dtype] = []
    attention_dtypes: list[torch.dtype] = []
    sdpa = torch.nn.functional.scaled_dot_product_attention

    def recording_sdpa(q, k, v, **options):
        attention_dtypes.append(q.dtype)
        return sdpa(q, k, v, **options)

    monkeypatch.setattr(torch.nn.functional, "scaled_dot_product_attention", recording_sdpa)
    agents = {p: TrMRLAgent(TINY, spec, seed=0, runtime=Runtime(precision=p)) for p in ("fp32", "bf16")}
    for module in agents["bf16"].policy.modules():
        if isinstance(module, torch.nn.Linear):
            module.register_forward_hook(lambda _m, _i, out: dtypes.append(out.dtype))
    stats, batches = {}, {}
    for precision, agent in agents.items():
        ctx = TrainingContext(suite, spec, seed=0, budget_env_steps=10**9)
        batch = ctx.trial_batch(TINY.meta_batch_size, TINY.episodes_per_trial, autoreset=False)
        batches[precision], _ = agent.collect(batch)
        if precision == "bf16":
            assert dtypes and set(dtypes) == {torch.float32}  # acting
            dtypes.clear()
        stats[precision] = agent.learner(batches[precision], np.random.default_rng(0))
    assert torch.equal(batches["fp32"].windows, batches["bf16"].windows)
    assert dtypes and set(dtypes) == {torch.bfloat16}
    assert attention_dtypes and set(attention_dtypes) == {torch.float32}
    assert stats["bf16"] != stats["fp32"]
    for name, value in stats["bf16"].items():
        assert value == pytest.approx(stats["fp32"][name], rel=0.1, abs=1e-2), name


def test_early_terminating_trials_are_collected_whole_and_the_batch_is_topped_up():
    """garage's sampler rolls out more trials until meta_batch x episodes x horizon steps."""
    suite, spec = reveal(horizon=5, terminate_at=3)  # every episode ends by termination after 3 steps
    agent = TrMRLAgent(TINY, spec, seed=0)
    batches = []
    learner = agent.learner
    agent.learner = lambda batch, rng: (batches.append(batch), learner(batch, rng))[1]  # type: ignore
    ctx = train(agent, suite, spec, 1)
    target = TINY.meta_batch_size * 2 * 5
    trials = -(-target // 6)  # each trial holds 2 episodes of 3 steps
    assert ctx.env_steps == 6 * trials > TINY.meta_batch_size * 6
    assert batches[0].trial_lengths == [6] * trials


def test_full_length_trials_are_not_topped_up():
    suite, spec = reveal(horizon=5)
    ctx = train(TrMRLAgent(TINY, spec, seed=0), suite, spec, 1)
    assert ctx.env_steps == TINY.meta_batch_size * 2 * 5


def test_act_shapes_and_bounds():
    suite, spec = reveal(horizon=4)
    agent = TrMRLAgent(dataclasses.replace(TINY, output_gain=100.0, init_std=5.0), spec, seed=0)
    agent.begin_trial(TrialPlan(3, 2))
    obs = np.random.default_rng(0).normal(size=(3, spec.aug_obs_dim)).astype(np.float32)
    for deterministic in (True, False):
        action = agent.act(obs, deterministic=deterministic)
        assert action.shape == (3, spec.act_dim) and action.dtype == np.float32
        assert np.all(action >= -1.0) and np.all(action <= 1.0)


def _rollout_samples(memory_scope):
    suite, spec = reveal(horizon=4)
    agent = TrMRLAgent(dataclasses.replace(TINY, memory_scope=memory_scope), spec, seed=0)
    ctx = TrainingContext(suite, spec, 0, 10**9)
    batch = TrialBatch([ctx.trial_env(2) for _ in range(2)], autoreset=False)
    samples, _ = agent.collect(batch)
    return samples, spec


def test_faithful_memory_clears_the_window_and_zeroes_the_first_token_of_each_episode():
    samples, spec = _rollout_samples("episode")
    assert samples.trial_lengths == [8, 8]
    first_of_second_episode = 4
    np.testing.assert_array_equal(samples.index[:8].numpy(), [0, 1, 2, 2, 0, 1, 2, 2])
    window = samples.windows[first_of_second_episode].numpy()
    np.testing.assert_array_equal(window[1:], 0.0)  # cleared window, one token
    np.testing.assert_array_equal(window[0, spec.obs_dim :], 0.0)  # [o_0, 0, 0, 0] as RL2Env.reset
    np.testing.assert_array_equal(samples.tokens[first_of_second_episode].numpy(), window[0])


def test_trial_memory_keeps_the_window_and_the_token_across_episodes():
    samples, spec = _rollout_samples("trial")
    np.testing.assert_array_equal(samples.index[:8].numpy(), [0, 1, 2, 2, 2, 2, 2, 2])
    window = samples.windows[4].numpy()
    token = window[-1]
    assert token[spec.obs_dim : spec.obs_dim + spec.act_dim] != 0.0  # previous episode's last action
    np.testing.assert_array_equal(window[:-1], samples.windows[3].numpy()[1:])  # FIFO continues


def test_evaluation_interface_clears_memory_at_episode_end_only_when_faithful():
    """After ``end_episode`` a faithful agent acts as on a fresh trial, from an empty window and the token
    ``[o_0, 0, 0, 0]`` (``RL2Worker.rollout`` resets the window, ``RL2Env.reset`` builds the token); a
    trial-scope agent keeps its window and the token as given. ``begin_trial`` empties every window."""
    _, spec = reveal(horizon=4)
    rng = np.random.default_rng(0)
    # Both rows see the same distinct tokens, so they act alike unless their memories differ.
    history = np.repeat(rng.normal(size=(2, 1, spec.aug_obs_dim)), 2, axis=1).astype(np.float32)
    history[0, :, spec.obs_dim :] = 0.0  # a trial starts on [o_0, 0, 0, 0] (the trial wrapper's reset)
    obs = np.repeat(rng.normal(size=(1, spec.aug_obs_dim)), 2, axis=0).astype(np.float32)
    first = obs.copy()
    first[:, spec.obs_dim :] = 0.0  # [o_0, 0, 0, 0]

    def agent(scope):  # the same weights for both scopes: the scope does not enter the initialisation
        # A small output layer keeps the means inside the action bounds, where clipping hides no difference.
        return TrMRLAgent(dataclasses.replace(TINY, memory_scope=scope, output_gain=0.01), spec, seed=0)

    def on_empty_windows(tokens):
        """A trial-scope agent changes no token, so on a fresh trial it acts on exactly ``tokens``."""
        fresh = agent("trial")
        fresh.begin_trial(TrialPlan(2, 2))
        return fresh.act(tokens, True)

    episode_start, unzeroed_start = on_empty_windows(first), on_empty_windows(obs)
    assert np.all(np.abs(episode_start) < 1.0) and np.all(np.abs(unzeroed_start) < 1.0)
    assert not np.array_equal(episode_start, unzeroed_start)  # zeroing the token shows in the action
    actions = {}
    for scope in ("episode", "trial"):
        actor = agent(scope)
        actor.begin_trial(TrialPlan(2, 2))
        for tokens in history:
            actor.act(tokens, True)
        actor.end_episode(np.array([True, False]))
        actions[scope] = actor.act(obs, True)
        actor.begin_trial(TrialPlan(2, 2))
        np.testing.assert_array_equal(
            actor.act(obs, True), episode_start if scope == "episode" else unzeroed_start
        )
    assert all(np.all(np.abs(a) < 1.0) for a in actions.values())
    continued = actions["trial"][1]  # row 1's episode goes on: its window holds the history
    assert not np.array_equal(continued, unzeroed_start[1])  # the history shows in the action
    np.testing.assert_array_equal(actions["episode"][0], episode_start[0])
    np.testing.assert_array_equal(actions["episode"][1], continued)
    np.testing.assert_array_equal(actions["trial"][0], continued)


def test_state_dict_round_trip_gives_identical_actions_and_training():
    suite, spec = reveal(horizon=4)
    agent = TrMRLAgent(TINY, spec, seed=0)
    train(agent, suite, spec, 1)
    state = agent.state_dict()
    clone = TrMRLAgent(TINY, spec, seed=123)
    clone.load_state_dict(state)
    obs = np.random.default_rng(1).normal(size=(2, spec.aug_obs_dim)).astype(np.float32)
    for deterministic in (True, False):
        agent.begin_trial(TrialPlan(2, 2))
        clone.begin_trial(TrialPlan(2, 2))
        np.testing.assert_array_equal(agent.act(obs, deterministic), clone.act(obs, deterministic))
    # Continuing training from the checkpoint reproduces the original's next iteration.
    a, b = TrMRLAgent(TINY, spec, seed=0), TrMRLAgent(TINY, spec, seed=7)
    a.load_state_dict(state)
    b.load_state_dict(state)
    train(a, suite, spec, 1, seed=5)
    train(b, suite, spec, 1, seed=5)
    for p, q in zip(a.policy.parameters(), b.policy.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=0, atol=0)


@pytest.mark.parametrize("shared", [True, False])
def test_shared_value_network_trains_the_transformer_from_the_value_loss(shared):
    """With --share_network the value loss moves the encoder; without it only the policy loss does."""
    suite, spec = reveal(horizon=4)
    config = dataclasses.replace(TINY, share_network=shared, opt_epochs=1)
    agent = TrMRLAgent(config, spec, seed=0)
    agent.learner.policy_optimizer.step = lambda *args, **kwargs: None  # the policy loss moves nothing
    before = [p.detach().clone() for p in agent.policy.layers.parameters()]
    head_before = agent.policy.head.log_std.detach().clone()
    train(agent, suite, spec, 1)
    moved = any(not torch.equal(p, q) for p, q in zip(before, agent.policy.layers.parameters(), strict=True))
    assert moved == shared
    assert torch.equal(agent.policy.head.log_std, head_before)  # the value loss never reaches the head


def test_construction_does_not_touch_the_global_torch_rng():
    _, spec = reveal(horizon=4)
    torch.manual_seed(0)
    expected = torch.rand(1)
    torch.manual_seed(0)
    TrMRLAgent(TINY, spec, seed=3)
    assert torch.equal(torch.rand(1), expected)


def test_every_suite_has_a_config_and_the_paper_table_is_reproduced():
    assert set(PAPER) == set(SUITES)
    vel, cdir, ant = (default_config(s, "paper") for s in ("halfcheetah-vel", "halfcheetah-dir", "ant-dir"))
    mw = default_config("ml1-push", "paper")
    assert (vel.n_heads, vel.d_model, vel.dim_ff, vel.n_layers, vel.wm_size) == (16, 128, 512, 4, 5)
    assert (vel.clip_range, vel.value_lr, vel.share_network, vel.init_std, vel.n_epochs) == (
        0.1, 2.5e-4, False, 0.2, 2500,
    )  # fmt: skip
    assert (vel.decay_epoch_init, vel.decay_epoch_end, vel.min_lr_factor, vel.value_lr_schedule) == (
        100, 750, 0.1, "none",
    )  # fmt: skip
    assert (cdir.clip_range, cdir.value_lr, cdir.share_network, cdir.init_std, cdir.decay_epoch_end) == (
        0.2, 3e-5, True, 0.5, 3700,
    )  # fmt: skip
    assert cdir.min_lr_factor == 1e-4 and cdir.value_lr_schedule == "decay"
    assert (ant.discount, ant.decay_epoch_init, ant.decay_epoch_end, ant.output_gain) == (
        0.92,
        500,
        3500,
        0.01,
    )
    assert (mw.n_heads, mw.d_model, mw.dim_ff, mw.meta_batch_size, mw.episodes_per_trial) == (
        4,
        32,
        128,
        25,
        10,
    )
    assert (mw.gae_lambda, mw.policy_lr, mw.minibatch_size, mw.policy_lr_schedule, mw.init_std) == (
        0.95, 5e-5, 32, "none", 1.0,
    )  # fmt: skip
    # ML10/ML45: garage's sampler needs a multiple of the training classes (DEVIATIONS.md).
    assert default_config("ml10", "paper").meta_batch_size == 20
    assert default_config("ml45", "paper").meta_batch_size == 45
    for suite, classes in (("ml10", 10), ("ml45", 45)):
        for profile in ("smoke", "quick", "paper"):
            assert default_config(suite, profile).meta_batch_size % classes == 0, (suite, profile)
    with pytest.raises(ValueError, match="multiple of its 10 training classes"):
        TrMRLAgent.validate_config(
            dataclasses.replace(default_config("ml10", "paper"), meta_batch_size=25), "ml10"
        )
    with pytest.raises(BenchmarkError, match="unknown configuration tier 'huge'"):
        default_config("halfcheetah-vel", "huge")
    for config in (default_config(suite, "paper") for suite in PAPER):
        assert config.memory_scope == "episode" and config.weight_decay == 0.01 and config.opt_epochs == 10


def test_smoke_configs_fit_one_iteration_in_the_smoke_budget():
    import benchmark.suites as suites_module

    smoke = get_profile("smoke")
    for suite in SUITES:
        entry = suites_module.SUITES[suite]
        horizon = entry.horizon
        config = default_config(suite, "smoke")
        steps = config.meta_batch_size * config.episodes_per_trial * horizon
        if entry.train_classes > 1:  # one class-stratified meta-batch is the least an iteration can hold
            assert config.meta_batch_size == entry.train_classes, suite
            continue
        assert steps <= max(smoke.budget(suite).env_steps, 1_000), suite


def test_registry_entry_loads_the_agent():
    assert registry.load_method("trmrl") is TrMRLAgent


def _harness_run(tmp_path, name):
    spec, config = resolve_run("trmrl", "point-nav", 0, "smoke")
    outcome = execute_run(spec, config, runs_dir=tmp_path / name, progress=False)
    return pd.read_csv(outcome.run_dir / "metrics.csv")


def test_same_seed_twice_gives_identical_metrics(tmp_path):
    first, second = _harness_run(tmp_path, "a"), _harness_run(tmp_path, "b")
    assert len(first) > 0 and first["env_steps"].max() > 0
    pd.testing.assert_frame_equal(first, second)


def test_token_normalisation_learns_from_training_only_and_round_trips():
    suite, spec = reveal(horizon=4)
    config = dataclasses.replace(TINY, normalize_tokens=True)
    agent = TrMRLAgent(config, spec, seed=0)
    train(agent, suite, spec, 1)
    stats = agent.token_stats
    assert stats is not None and stats.count > 1
    count = stats.count
    agent.begin_trial(TrialPlan(2, 2))
    obs = np.full((2, spec.aug_obs_dim), 3.0, dtype=np.float32)
    agent.act(obs, deterministic=True)
    assert stats.count == count  # evaluation does not move the statistics
    clone = TrMRLAgent(config, spec, seed=9)
    clone.load_state_dict(agent.state_dict())
    clone.begin_trial(TrialPlan(2, 2))
    agent.begin_trial(TrialPlan(2, 2))
    np.testing.assert_array_equal(agent.act(obs, True), clone.act(obs, True))


def test_policy_learns_one_log_std_per_action_dimension():
    """A scalar log-std before; garage's GaussianMLPBaseModule keeps one per dimension."""
    from benchmark.suites import make_suite

    spec = EnvSpec.from_suite(make_suite("halfcheetah-vel", 0))
    agent = TrMRLAgent(default_config("halfcheetah-vel", "paper"), spec, seed=0)
    assert agent.policy.head.log_std.shape == (6,)
    assert torch.allclose(agent.policy.head.log_std, torch.full((6,), math.log(0.2)))


def test_token_statistics_travel_as_tensors_and_come_back_exactly():
    """With normalize_tokens the running statistics are in the checkpoint as tensors (a plain
    weights_only load reads it) and a loaded agent normalises exactly as the original."""
    import io

    suite, spec = reveal(horizon=4)
    config = dataclasses.replace(TINY, normalize_tokens=True)
    agent = TrMRLAgent(config, spec, seed=0)
    train(agent, suite, spec, 1)
    buffer = io.BytesIO()
    torch.save(agent.state_dict(include_buffers=False), buffer)
    buffer.seek(0)
    clone = TrMRLAgent(config, spec, seed=9)
    clone.load_state_dict(torch.load(buffer, weights_only=True))
    assert clone.token_stats is not None and agent.token_stats is not None
    np.testing.assert_array_equal(clone.token_stats.mean, agent.token_stats.mean)
    np.testing.assert_array_equal(clone.token_stats.var, agent.token_stats.var)
    assert clone.token_stats.count == agent.token_stats.count
    obs = np.random.default_rng(2).normal(size=(2, spec.aug_obs_dim)).astype(np.float32)
    agent.begin_trial(TrialPlan(2, 2))
    clone.begin_trial(TrialPlan(2, 2))
    np.testing.assert_array_equal(agent.act(obs, True), clone.act(obs, True))
