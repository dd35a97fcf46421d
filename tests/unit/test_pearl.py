"""PEARL (baselines/pearl): the encoder's math, the buffers, the SAC step, checkpoints and determinism."""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Generator

import numpy as np
import pytest
import torch

from baselines.pearl.agent import PEARLAgent, stratified_task_ids, waves
from baselines.pearl.buffers import MultiTaskReplayBuffer
from baselines.pearl.config import PEARLConfig
from baselines.pearl.encoder import (
    ContextEncoder,
    kl_to_standard_normal,
    product_of_gaussians,
    sample_latent,
)
from baselines.pearl.provenance import PAPER, default_config
from baselines.pearl.sac import PEARLLearner, TrainingBatch, to_floats
from benchmark.agent import EnvSpec, Runtime, TrainingContext, Transition, TrialPlan
from benchmark.constraints import check_config
from benchmark.protocol import EvalSettings, evaluate
from benchmark.suites import make_suite
from tests.fakes import reveal


def point_nav(seed: int = 0):
    suite = make_suite("point-nav", seed)
    return suite, EnvSpec.from_suite(suite)


def smoke_agent(seed: int = 0, **changes) -> tuple:
    suite, spec = point_nav()
    config = dataclasses.replace(default_config("point-nav", "smoke"), **changes)
    return suite, spec, PEARLAgent(config, spec, seed)


def train(agent: PEARLAgent, suite, spec, iterations: int, ctx: TrainingContext | None = None):
    ctx = ctx or TrainingContext(suite, spec, seed=0, budget_env_steps=10**9)
    training: Generator[None, None, None] = agent.meta_train(ctx)  # type: ignore[assignment]
    for _ in range(iterations):
        next(training)
    training.close()
    return ctx


def flat_state(state) -> dict[str, np.ndarray]:
    """Every tensor/array/scalar leaf of a nested state, keyed by path, as numpy (for exact comparisons)."""
    out: dict[str, np.ndarray] = {}

    def walk(prefix: str, value) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}/{k}", v)
        elif isinstance(value, list | tuple):
            for i, v in enumerate(value):
                walk(f"{prefix}/{i}", v)
        elif isinstance(value, torch.Tensor):
            out[prefix] = value.detach().cpu().numpy().copy()
        elif value is not None:
            out[prefix] = np.asarray(value)

    walk("", state)
    return out


def assert_states_equal(a, b) -> None:
    fa, fb = flat_state(a), flat_state(b)
    assert fa.keys() == fb.keys()
    for key in fa:
        np.testing.assert_array_equal(fa[key], fb[key], err_msg=key)


# ------------------------------------------------------------------ encoder math


def test_product_of_gaussians_matches_hand_computed_values():
    mu = torch.tensor([[1.0, 0.0], [3.0, 2.0]])
    variance = torch.tensor([[1.0, 4.0], [1.0, 4.0]])
    post_mu, post_var = product_of_gaussians(mu, variance)
    # dim 0: precisions 1 + 1 -> var 1/2, mu = (1 + 3) / 2 = 2
    # dim 1: precisions 1/4 + 1/4 -> var 2, mu = 2 * (0 + 2/4) = 1
    torch.testing.assert_close(post_var, torch.tensor([0.5, 2.0]))
    torch.testing.assert_close(post_mu, torch.tensor([2.0, 1.0]))
    # Unequal variances: 1/(1/1 + 1/3) = 0.75, mu = 0.75 * (2/1 + 6/3) = 3
    post_mu, post_var = product_of_gaussians(torch.tensor([[2.0], [6.0]]), torch.tensor([[1.0], [3.0]]))
    torch.testing.assert_close(post_var, torch.tensor([0.75]))
    torch.testing.assert_close(post_mu, torch.tensor([3.0]))


def test_product_of_gaussians_clamps_variance_masks_padding_and_falls_back_to_prior():
    _, post_var = product_of_gaussians(torch.tensor([[0.0]]), torch.tensor([[0.0]]))
    torch.testing.assert_close(post_var, torch.tensor([1e-7]))
    mu = torch.tensor([[[1.0], [5.0]], [[1.0], [5.0]]])
    variance = torch.ones(2, 2, 1)
    mask = torch.tensor([[True, False], [False, False]])
    post_mu, post_var = product_of_gaussians(mu, variance, mask)
    torch.testing.assert_close(post_mu, torch.tensor([[1.0], [0.0]]))  # row 2 has no factor: the prior
    torch.testing.assert_close(post_var, torch.tensor([[1.0], [1.0]]))


def test_kl_to_standard_normal_matches_torch_distributions():
    mu, variance = torch.tensor([[0.5, -1.0, 0.0]]), torch.tensor([[0.2, 2.0, 1.0]])
    expected = torch.distributions.kl_divergence(
        torch.distributions.Normal(mu, variance.sqrt()), torch.distributions.Normal(0.0, 1.0)
    ).sum(-1)
    torch.testing.assert_close(kl_to_standard_normal(mu, variance), expected)
    assert kl_to_standard_normal(torch.zeros(1, 4), torch.ones(1, 4)).item() == 0.0


def test_posterior_narrows_as_context_grows():
    torch.manual_seed(0)
    encoder = ContextEncoder(context_dim=5, latent_dim=3, hidden_sizes=(16,))
    context = torch.randn(1, 64, 5)
    variances = [encoder.posterior(context[:, :n])[1] for n in (1, 4, 16, 64)]
    for fewer, more in zip(variances, variances[1:], strict=False):
        assert (more < fewer).all()


def test_latent_sample_is_reparameterised_and_seeded():
    mu = torch.zeros(2, 3, requires_grad=True)
    z = sample_latent(mu, torch.ones(2, 3), torch.Generator().manual_seed(1))
    z.sum().backward()
    assert mu.grad is not None and torch.equal(mu.grad, torch.ones(2, 3))
    again = sample_latent(torch.zeros(2, 3), torch.ones(2, 3), torch.Generator().manual_seed(1))
    torch.testing.assert_close(z.detach(), again)


# ------------------------------------------------------------------ buffers


def test_buffers_keep_tasks_apart():
    buffer = MultiTaskReplayBuffer(3, capacity=100, fields={"obs": 2, "reward": 1})
    for task in range(3):
        buffer.add(task, obs=np.full((10 + task, 2), task), reward=np.full(10 + task, task))
    assert buffer.sizes.tolist() == [10, 11, 12]
    rng = np.random.default_rng(0)
    batch = buffer.sample([2, 0, 2, 1], batch_size=50, rng=rng)
    assert batch["obs"].shape == (4, 50, 2) and batch["reward"].shape == (4, 50, 1)
    for row, task in enumerate([2, 0, 2, 1]):
        assert (batch["obs"][row] == task).all() and (batch["reward"][row] == task).all()
    buffer.clear(1)
    with pytest.raises(ValueError, match="empty"):
        buffer.sample([1], 4, rng)
    assert buffer.sizes.tolist() == [10, 0, 12]


def test_buffer_grows_and_wraps_at_capacity():
    buffer = MultiTaskReplayBuffer(2, capacity=300, fields={"x": 1})
    buffer.add(0, x=np.arange(250))
    buffer.add(0, x=np.arange(250, 400))  # 400 > 300: the oldest 100 are overwritten
    assert buffer.sizes.tolist() == [300, 0] and buffer.data.shape[1] == 300
    assert sorted(buffer.task_data(0)["x"].ravel().tolist()) == list(range(100, 400))


def test_buffer_state_is_compact_and_round_trips():
    buffer = MultiTaskReplayBuffer(3, capacity=1000, fields={"obs": 2, "reward": 1})
    buffer.add(0, obs=np.ones((5, 2)), reward=np.ones(5))
    buffer.add(2, obs=np.zeros((7, 2)), reward=np.arange(7))
    state = buffer.state_dict()
    assert state["rows"].shape == (12, 3)  # only the filled rows, not the allocation
    fresh = MultiTaskReplayBuffer(3, capacity=1000, fields={"obs": 2, "reward": 1})
    fresh.load_state_dict(state)
    for task in range(3):
        for name in ("obs", "reward"):
            np.testing.assert_array_equal(fresh.task_data(task)[name], buffer.task_data(task)[name])


def test_training_never_hands_one_tasks_context_to_another():
    """Every stored transition of a training task was collected on that task (point-nav: the reward is
    minus the distance to that task's goal), in the RL buffer and in the encoder buffer."""
    suite, spec, agent = smoke_agent()
    train(agent, suite, spec, iterations=3)
    assert agent.train_tasks is not None and agent.rl_buffer is not None and agent.encoder_buffer is not None
    goals = {t.task_id: np.asarray(t.data) for t in suite.tasks("meta_train")}
    for index, task_id in enumerate(agent.train_tasks):
        for buffer, next_key in ((agent.rl_buffer, "next_obs"), (agent.encoder_buffer, None)):
            data = buffer.task_data(index)
            assert len(data["reward"]) > 0
            if next_key is not None:
                distance = np.linalg.norm(data[next_key] - goals[int(task_id)], axis=1)
                np.testing.assert_allclose(-distance, data["reward"].ravel(), rtol=1e-5, atol=1e-5)


# ------------------------------------------------------------------ SAC step


def tiny_learner(runtime: Runtime | None = None, **changes) -> PEARLLearner:
    torch.manual_seed(0)
    config = PEARLConfig(hidden_sizes=(8,), encoder_hidden_sizes=(8,), latent_dim=2, **changes)
    return PEARLLearner(config, obs_dim=3, act_dim=2, runtime=runtime)


def tiny_batch(tasks: int = 2, size: int = 4) -> TrainingBatch:
    g = torch.Generator().manual_seed(3)
    return TrainingBatch(
        obs=torch.randn(tasks, size, 3, generator=g),
        action=torch.rand(tasks, size, 2, generator=g) * 2 - 1,
        reward=torch.randn(tasks, size, 1, generator=g),
        next_obs=torch.randn(tasks, size, 3, generator=g),
        terminal=torch.zeros(tasks, size, 1),
        context=torch.randn(tasks, 5, 6, generator=g),
    )


def test_target_network_soft_update():
    learner = tiny_learner(soft_target_tau=0.25)
    with torch.no_grad():
        for p in learner.vf.parameters():
            p.fill_(1.0)
        for p in learner.target_vf.parameters():
            p.fill_(0.0)
    learner.soft_update_target()
    for p in learner.target_vf.parameters():
        torch.testing.assert_close(p, torch.full_like(p, 0.25))
    learner.soft_update_target()
    for p in learner.target_vf.parameters():
        torch.testing.assert_close(p, torch.full_like(p, 0.25 + 0.75 * 0.25))


def test_encoder_learns_only_from_the_q_loss_and_the_kl():
    learner = tiny_learner()
    before = {n: p.detach().clone() for n, p in learner.named_parameters()}
    learner.update(tiny_batch(), torch.Generator().manual_seed(0))
    changed = {n.split(".")[0] for n, p in learner.named_parameters() if not torch.equal(p, before[n])}
    assert changed == {"encoder", "policy", "qf1", "qf2", "vf", "target_vf"}
    # The encoder's gradient equals that of kl_lambda * KL + Q loss alone (policy and V see z detached).
    learner = tiny_learner()
    reference = tiny_learner()
    batch, g = tiny_batch(), torch.Generator().manual_seed(0)
    mu, variance = reference.encoder.posterior(batch.context)
    z = sample_latent(mu, variance, torch.Generator().manual_seed(0)).repeat_interleave(4, dim=0)
    obs, action = batch.obs.reshape(8, 3), batch.action.reshape(8, 2)
    with torch.no_grad():
        target_v = reference.target_vf(torch.cat([batch.next_obs.reshape(8, 3), z], -1))
    q_target = reference.config.reward_scale * batch.reward.reshape(8, 1) + 0.99 * target_v
    q_in = torch.cat([obs, action, z], -1)
    loss = reference.config.kl_lambda * kl_to_standard_normal(mu, variance).sum()
    loss = (
        loss + ((reference.qf1(q_in) - q_target) ** 2).mean() + ((reference.qf2(q_in) - q_target) ** 2).mean()
    )
    loss.backward()
    expected = [p.grad.clone() for p in reference.encoder.parameters() if p.grad is not None]
    learner.update(batch, g)
    for p, grad in zip(learner.encoder.parameters(), expected, strict=True):
        torch.testing.assert_close(p.grad, grad)


def test_bf16_autocasts_the_gradient_step_and_not_acting():
    """Under precision bf16 every linear layer of the gradient step computes in bfloat16 and the losses
    stay close to float32's; acting computes in float32 (the same actions as an fp32 learner's)."""
    dtypes: list[torch.dtype] = []

    def learners() -> tuple[PEARLLearner, PEARLLearner]:
        fp32, bf16 = tiny_learner(), tiny_learner(Runtime(precision="bf16"))
        for module in bf16.modules():
            if isinstance(module, torch.nn.Linear):
                module.register_forward_hook(lambda _m, _i, out: dtypes.append(out.dtype))
        return fp32, bf16

    fp32, bf16 = learners()
    stats = to_floats(bf16.update(tiny_batch(), torch.Generator().manual_seed(0)))
    assert dtypes and set(dtypes) == {torch.bfloat16}
    reference = to_floats(fp32.update(tiny_batch(), torch.Generator().manual_seed(0)))
    assert stats.keys() == reference.keys() and stats != reference
    for name, value in stats.items():
        assert value == pytest.approx(reference[name], rel=0.1, abs=1e-3), name
    dtypes.clear()
    fp32, bf16 = learners()
    x, deterministic = torch.randn(4, 5), torch.tensor([True, False, True, False])
    acts = [net.policy.act(x, deterministic, torch.Generator().manual_seed(1)) for net in (fp32, bf16)]
    assert set(dtypes) == {torch.float32} and torch.equal(*acts)


def test_time_limit_cuts_bootstrap_and_terminations_do_not():
    """Transitions stored at a horizon cut keep terminal 0 (bootstrap); a true termination stores 1."""
    suite, spec = reveal(horizon=4, terminate_at=3)
    config = dataclasses.replace(
        default_config("point-nav", "smoke"), num_train_tasks=2, num_initial_steps=6, num_tasks_sample=1
    )
    agent = PEARLAgent(config, spec, seed=0)
    train(agent, suite, spec, iterations=1)
    assert agent.rl_buffer is not None
    data = agent.rl_buffer.task_data(0)
    terminal = data["terminal"].ravel()
    # Episodes end by termination at step 3 (before the horizon 4): every third transition is terminal.
    assert terminal.tolist()[:6] == [0, 0, 1, 0, 0, 1]
    suite, spec = reveal(horizon=2)  # no termination: the horizon cuts every episode
    agent = PEARLAgent(config, spec, seed=0)
    train(agent, suite, spec, iterations=1)
    assert agent.rl_buffer is not None and (agent.rl_buffer.task_data(0)["terminal"] == 0).all()


# ------------------------------------------------------------------ the agent


def test_config_validation_rejects_bad_values():
    for bad in (
        {"policy_lr": -1.0},
        {"discount": 1.5},
        {"discount": float("nan")},
        {"batch_size": 0},
        {"hidden_sizes": ()},
        {"encoder_hidden_sizes": (0,)},
        {"kl_lambda": float("nan")},
        {"soft_target_tau": 0.0},
    ):
        with pytest.raises(ValueError, match="PEARLConfig"):
            check_config(PEARLConfig(**bad))  # type: ignore[arg-type]


def test_every_suite_has_a_config_and_exploration_default():
    for suite in PAPER:
        for profile in ("smoke", "quick", "paper"):
            check_config(default_config(suite, profile))
    # oyster configs/*.json: num_exp_traj_eval 2 for every locomotion task, the default 1 for the point robot
    for suite in ("halfcheetah-vel", "halfcheetah-dir", "ant-dir", "ant-goal", "ant-dir-2d"):
        assert PEARLAgent.default_exploration_episodes(suite) == 2, suite
    assert PEARLAgent.default_exploration_episodes("point-nav") == 1
    # garage's evaluator explores 10 episodes and scores the 11th; our Meta-World trials hold 10
    assert PEARLAgent.default_exploration_episodes("ml1-push") == 9


def test_oyster_and_garage_values_that_were_wrong():
    assert default_config("ant-goal", "paper").embedding_batch_size == 256  # oyster ant-goal.json:19
    ml1, ml10, ml45 = (default_config(s, "paper") for s in ("ml1-reach", "ml10", "ml45"))
    for config in (ml1, ml10, ml45):  # garage PR #2287 metaworld_examples/pearl_metaworld_ml*.py
        assert (config.reward_scale, config.batch_size, config.embedding_batch_size) == (1000.0, 1000, 250)
        assert (config.num_steps_prior, config.num_extra_rl_steps_posterior, config.latent_dim) == (
            2500,
            2500,
            7,
        )
    assert (ml1.num_train_tasks, ml1.num_initial_steps, ml1.num_train_steps_per_itr, ml1.meta_batch) == (
        15,
        15000,
        40,
        16,
    )
    assert (ml10.num_train_tasks, ml10.num_tasks_sample, ml10.num_train_steps_per_itr, ml10.meta_batch) == (
        10,
        10,
        60,
        10,
    )
    assert (ml45.num_initial_steps, ml45.num_train_steps_per_itr, ml45.meta_batch) == (22500, 14, 45)


def test_policy_heads_start_within_oyster_init_w():
    """oyster rlkit/torch/sac/policies.py:41, 59-61: TanhGaussianPolicy(init_w=1e-3) for both heads."""
    _, _, agent = smoke_agent()
    policy = agent.learner.policy
    for head in (policy.mean, policy.log_std):
        for tensor in (head.weight, head.bias):
            assert tensor.abs().max() <= 1e-3
    assert (
        max(float(policy.mean.weight.detach().abs().max()), float(policy.log_std.weight.detach().abs().max()))
        > 5e-4
    )


def test_stratified_task_ids_and_waves():
    rng = np.random.default_rng(0)
    ids = stratified_task_ids(500, 10, rng)  # ML10: 10 classes x 50 goals, listed class by class
    assert sorted(ids // 50) == list(range(10))
    np.testing.assert_array_equal(stratified_task_ids(7, 7, rng), np.arange(7))
    with pytest.raises(ValueError):
        stratified_task_ids(5, 6, rng)
    groups = waves(np.array([1, 0, 1, 1, 2]))
    assert [g.tolist() for g in groups] == [[1, 0, 2], [1], [1]]


def test_same_seed_same_training_and_evaluation():
    runs = []
    for _ in range(2):
        suite, spec, agent = smoke_agent(seed=3)
        train(agent, suite, spec, iterations=2)
        settings = EvalSettings(num_tasks=3, episodes=2, splits=("meta_test",), exploration_episodes=1)
        returns = [r.episode_return for r in evaluate(agent, suite, settings, seed=5)]
        runs.append((agent.state_dict(), returns))
    assert_states_equal(runs[0][0], runs[1][0])
    assert runs[0][1] == runs[1][1]


def test_evaluation_does_not_change_training():
    suite, spec, evaluated = smoke_agent(seed=1)
    _, _, plain = smoke_agent(seed=1)
    ctx_a = TrainingContext(suite, spec, seed=0, budget_env_steps=10**9)
    ctx_b = TrainingContext(suite, spec, seed=0, budget_env_steps=10**9)
    training_a, training_b = evaluated.meta_train(ctx_a), plain.meta_train(ctx_b)
    next(training_a)
    next(training_b)
    settings = EvalSettings(num_tasks=2, episodes=3, splits=("meta_test",), exploration_episodes=1)
    evaluate(evaluated, suite, settings, seed=9)
    next(training_a)
    next(training_b)
    training_a.close()
    training_b.close()
    assert_states_equal(evaluated.state_dict(), plain.state_dict())


def test_begin_trial_forgets_earlier_trials():
    suite, spec, agent = smoke_agent()
    train(agent, suite, spec, iterations=1)
    settings = EvalSettings(num_tasks=2, episodes=3, splits=("meta_test",), exploration_episodes=1)
    first = [r.episode_return for r in evaluate(agent, suite, settings, seed=4)]
    evaluate(agent, suite, settings, seed=11)
    assert [r.episode_return for r in evaluate(agent, suite, settings, seed=4)] == first


def test_checkpoint_round_trip_with_buffers_resumes_bit_for_bit():
    suite, spec, agent = smoke_agent()
    ctx = TrainingContext(suite, spec, seed=0, budget_env_steps=10**9)
    training = agent.meta_train(ctx)
    next(training)
    training.close()
    buffer = io.BytesIO()
    torch.save(agent.state_dict(), buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)
    assert {"rl_buffer", "encoder_buffer"} <= state.keys()
    _, _, resumed = smoke_agent(seed=7)
    resumed.load_state_dict(state)
    assert_states_equal(resumed.state_dict(), agent.state_dict())
    # Both continue on equal contexts: the same data, the same updates.
    for who in (agent, resumed):
        ctx_copy = TrainingContext(suite, spec, seed=0, budget_env_steps=10**9)
        ctx_copy.counter.env_steps = ctx.env_steps
        train(who, suite, spec, iterations=2, ctx=ctx_copy)
    assert_states_equal(resumed.state_dict(), agent.state_dict())


def test_state_without_buffers_is_small_and_still_acts():
    suite, spec, agent = smoke_agent()
    train(agent, suite, spec, iterations=2)
    light = agent.state_dict(include_buffers=False)
    assert "rl_buffer" not in light and "encoder_buffer" not in light
    _, _, fresh = smoke_agent(seed=2)
    fresh.load_state_dict(light)
    settings = EvalSettings(num_tasks=2, episodes=2, splits=("meta_test",), exploration_episodes=1)
    expected = [r.episode_return for r in evaluate(agent, suite, settings, seed=0)]
    assert [r.episode_return for r in evaluate(fresh, suite, settings, seed=0)] == expected
    assert not fresh.initial_pool_collected  # resuming training refills the pool first


def test_batched_posterior_equals_a_per_row_loop():
    """The evaluation posterior of trials of different lengths, in one padded batch, is each trial's own
    posterior: that of the encoder on exactly the transitions observe was given for that row while active."""
    suite, spec, agent = smoke_agent()
    train(agent, suite, spec, iterations=1)
    n, rng = 4, np.random.default_rng(0)
    agent.begin_trial(TrialPlan(num_trials=n, episodes=3, exploration_episodes=1, seed=0))
    contexts: list[list[np.ndarray]] = [[] for _ in range(n)]
    for t in range(9):
        active = np.array([True, t < 3, t < 6, t % 2 == 0])
        obs = rng.normal(size=(n, spec.aug_obs_dim)).astype(np.float32)
        # Actions in eighths: the box [-1, 1] maps onto the policy's [-1, 1] without rounding, so the test
        # knows each row's context to the bit.
        action = (rng.integers(-8, 9, size=(n, spec.act_dim)) / 8).astype(np.float32)
        reward = rng.normal(size=n)
        agent.observe(Transition(obs, action, reward, obs, np.zeros(n, bool), np.zeros(n, bool), active))
        for i in np.flatnonzero(active):
            contexts[i].append(np.concatenate([spec.layout.obs(obs[i]), action[i], [reward[i]]]))
    assert [len(c) for c in contexts] == [9, 3, 6, 5]
    rows = np.arange(n)
    mu, variance = agent.trial_posterior(rows)
    with torch.no_grad():
        for i in rows:
            mu_i, var_i = agent.learner.encoder.posterior(torch.from_numpy(np.array(contexts[i], np.float32)))
            torch.testing.assert_close(mu[i], mu_i, rtol=1e-5, atol=1e-6)
            torch.testing.assert_close(variance[i], var_i, rtol=1e-5, atol=1e-6)
    # A subset of the rows: the same posteriors.
    some_mu, some_variance = agent.trial_posterior(np.array([3, 1]))
    torch.testing.assert_close(some_mu, mu[[3, 1]], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(some_variance, variance[[3, 1]], rtol=1e-5, atol=1e-6)


def test_each_exploration_episode_draws_its_own_prior_z_then_the_posterior():
    """oyster resamples z after every trajectory (rlkit/samplers/in_place.py, resample=1) and infers the
    posterior only once num_exp_traj_eval trajectories are done (rl_algorithm.py, collect_paths). Seen from
    outside: a trial's deterministic action is a function of its z (and the observation, held fixed)."""
    suite, spec, agent = smoke_agent()
    train(agent, suite, spec, iterations=1)
    n = 2
    obs = np.zeros((n, spec.aug_obs_dim), np.float32)
    ones = np.ones(n, bool)

    def played() -> np.ndarray:
        return agent.act(obs, ones)

    draws = []
    for reward in (np.ones(n), -5 * np.ones(n)):  # two contexts, the same evaluation seed
        agent.begin_trial(TrialPlan(num_trials=n, episodes=3, exploration_episodes=2, seed=0))
        first = played()
        agent.observe(Transition(obs, np.zeros((n, 2), np.float32), reward, obs, ~ones, ones, ones))
        agent.end_episode(ones)  # exploration episode 1 of 2 ended: a new draw from the prior
        draws.append((first, played()))
    (first, second), (_, second_other_context) = draws
    assert (second != first).any(axis=1).all()  # every row drew anew
    np.testing.assert_array_equal(second, second_other_context)  # the prior: the context does not enter
    agent.end_episode(np.array([True, False]))  # row 0 finished its exploration: the posterior
    after = played()
    assert (after[0] != second[0]).any()
    np.testing.assert_array_equal(after[1], second[1])
