"""MAML-TRPO: the math (meta-gradient, conjugate gradient, line search, linear baseline, inner step) and the
agent's contract (checkpoints, determinism, evaluation that leaves training alone, per-trial adaptation)."""

from __future__ import annotations

import dataclasses
import io
import math

import numpy as np
import pytest
import torch

from agents.common.returns import discounted_returns, gae_advantages
from baselines.maml.agent import MAMLAgent
from baselines.maml.baseline import baseline_features, discount_cumsum, fit_linear_baseline, task_advantages
from baselines.maml.config import MAMLConfig, default_config
from baselines.maml.inner import TaskBatch, adapt, inner_losses, masked_task_mean
from baselines.maml.policy import expand_params, init_params, kl_divergence, log_prob, mean_and_log_std
from baselines.maml.trpo import backtracking_line_search, conjugate_gradient, flatten, natural_step, unflatten
from benchmark.agent import EnvSpec, Transition, TrialPlan
from benchmark.protocol import EvalSettings, evaluate
from benchmark.suites import make_suite
from tests.fakes import train

MIN_LOG_STD = math.log(1e-6)


def random_batch(
    gen: torch.Generator, tasks: int, steps: int, obs_dim: int, act_dim: int, dtype=torch.float64
):
    mask = (torch.rand(tasks, steps, generator=gen) > 0.2).to(dtype)
    mask[:, 0] = 1.0
    return TaskBatch(
        obs=torch.randn(tasks, steps, obs_dim, generator=gen, dtype=dtype),
        actions=torch.randn(tasks, steps, act_dim, generator=gen, dtype=dtype),
        advantages=torch.randn(tasks, steps, generator=gen, dtype=dtype) * mask,
        mask=mask,
        returns=torch.zeros(tasks, dtype=dtype),
    )


def tiny_params(gen: torch.Generator, hidden=(5,), dtype=torch.float64):
    params = init_params(3, 2, hidden, 0.7, gen)
    # Non-zero biases and unequal log-stds exercise every parameter's gradient.
    params = {k: (v + 0.1 * torch.randn(v.shape, generator=gen)).to(dtype) for k, v in params.items()}
    return params


# --- the math ------------------------------------------------------------------------------------------


def test_meta_gradient_equals_finite_differences():
    """The second-order gradient of the post-update surrogate through the inner steps (float64)."""
    gen = torch.Generator().manual_seed(0)
    theta = tiny_params(gen)
    inner = [random_batch(gen, 3, 7, 3, 2), random_batch(gen, 3, 7, 3, 2)]
    post = random_batch(gen, 3, 6, 3, 2)
    old_logp = log_prob(
        adapt(expand_params(theta, 3), inner, 0.3, MIN_LOG_STD), post.obs, post.actions, MIN_LOG_STD
    )

    def objective(params, create_graph):
        adapted = adapt(expand_params(params, 3), inner, 0.3, MIN_LOG_STD, create_graph=create_graph)
        ratio = torch.exp(log_prob(adapted, post.obs, post.actions, MIN_LOG_STD) - old_logp.detach())
        return -masked_task_mean(ratio * post.advantages, post.mask).mean()

    leaves = {k: v.clone().requires_grad_(True) for k, v in theta.items()}
    analytic = flatten(torch.autograd.grad(objective(leaves, True), list(leaves.values())))
    flat = flatten(theta)
    eps = 1e-6
    numeric = torch.zeros_like(flat)
    for i in range(flat.numel()):
        bump = torch.zeros_like(flat)
        bump[i] = eps
        plus = objective(unflatten(flat + bump, theta), False)
        minus = objective(unflatten(flat - bump, theta), False)
        numeric[i] = (plus - minus) / (2 * eps)
    np.testing.assert_allclose(analytic.numpy(), numeric.numpy(), rtol=1e-5, atol=1e-8)
    # First-order MAML (the inner step's Jacobian taken as the identity) is visibly different, so the
    # comparison above would catch a meta-gradient that stops at the adapted parameters.
    adapted = {
        k: v.requires_grad_(True) for k, v in adapt(expand_params(theta, 3), inner, 0.3, MIN_LOG_STD).items()
    }
    ratio = torch.exp(log_prob(adapted, post.obs, post.actions, MIN_LOG_STD) - old_logp.detach())
    surrogate = -masked_task_mean(ratio * post.advantages, post.mask).mean()
    first_order = flatten([g.sum(0) for g in torch.autograd.grad(surrogate, list(adapted.values()))])
    assert not np.allclose(first_order.numpy(), numeric.numpy(), rtol=1e-3, atol=1e-5)


def test_conjugate_gradient_solves_a_known_spd_system():
    gen = torch.Generator().manual_seed(1)
    a = torch.randn(6, 6, generator=gen, dtype=torch.float64)
    matrix = a @ a.T + 6 * torch.eye(6, dtype=torch.float64)
    b = torch.randn(6, generator=gen, dtype=torch.float64)
    x = conjugate_gradient(lambda v: matrix @ v, b, iterations=6)
    np.testing.assert_allclose(x.numpy(), torch.linalg.solve(matrix, b).numpy(), rtol=1e-8, atol=1e-10)


def test_natural_step_reaches_the_kl_bound_of_a_quadratic():
    """For KL(d) = d^T H d / 2 the full step has KL = max_kl exactly (TRPO's step length)."""
    hessian = torch.diag(torch.tensor([1.0, 4.0, 9.0], dtype=torch.float64))
    gradient = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    step = natural_step(gradient, lambda v: hessian @ v, max_kl=0.01, cg_iters=10)
    np.testing.assert_allclose(float(step @ hessian @ step) / 2, 0.01, rtol=1e-6)
    direction = torch.linalg.solve(hessian, gradient)
    np.testing.assert_allclose((step / direction).numpy(), float(step[0] / direction[0]), rtol=1e-8)


@pytest.mark.parametrize("case", range(20))
def test_line_search_never_accepts_a_worse_loss_or_a_kl_above_the_bound(case):
    rng = np.random.default_rng(case)
    old = torch.tensor(rng.normal(size=3))
    full_step = torch.tensor(rng.normal(size=3))
    curvature = float(rng.uniform(0.1, 10.0))
    slope = float(rng.normal())

    def evaluate(params):
        d = params - old
        # A loss that may rise or fall along the step, and a KL that may exceed the bound.
        return float(slope * d.sum() + d @ d), float(curvature * (d @ d))

    result = backtracking_line_search(old, full_step, evaluate, 0.0, max_kl=0.01, ratio=0.8, max_steps=15)
    loss, kl = evaluate(result.params)
    if result.accepted:
        assert loss < 0.0 and kl <= 0.01
        assert (loss, kl) == (result.loss, result.kl)
    else:
        assert torch.equal(result.params, old)
        for k in range(15):  # no candidate satisfied both conditions
            c_loss, c_kl = evaluate(old - 0.8**k * full_step)
            assert c_loss >= 0.0 or c_kl > 0.01


def test_line_search_rejects_nan_and_takes_the_first_good_step():
    old = torch.zeros(2)
    step = torch.ones(2)
    calls = []

    def evaluate(params):
        calls.append(float(params[0]))
        return (float("nan"), 0.0) if len(calls) == 1 else (-1.0, 0.001)

    result = backtracking_line_search(old, step, evaluate, 0.0, max_kl=0.01, ratio=0.5, max_steps=5)
    assert result.accepted and result.backtracks == 1 and calls == [-1.0, -0.5]


def test_linear_baseline_recovers_known_coefficients():
    rng = np.random.default_rng(0)
    obs = rng.normal(size=(50, 2))
    t = np.arange(50)
    features = baseline_features(obs, t)
    assert features.shape == (50, 8)
    np.testing.assert_allclose(features[:, -1], 1.0)
    np.testing.assert_allclose(features[:, 4], t / 100)
    coeffs = rng.normal(size=8)
    fitted = fit_linear_baseline(features, features @ coeffs, reg=1e-10)
    np.testing.assert_allclose(fitted, coeffs, atol=1e-5)
    clipped = baseline_features(np.array([[20.0, -30.0]]), np.array([0]))
    np.testing.assert_allclose(clipped[0, :4], [10.0, -10.0, 100.0, 100.0])


def test_linear_baseline_escalates_regularisation_when_singular():
    features = np.zeros((4, 3))  # a singular Gram matrix; with reg 0 the solve has no unique answer
    coeffs = fit_linear_baseline(features, np.ones(4), reg=0.0)
    assert np.isfinite(coeffs).all()


def test_advantages_are_returns_minus_the_baseline_and_match_gae():
    rng = np.random.default_rng(3)
    tasks, episodes, horizon = 2, 3, 6
    obs = rng.normal(size=(tasks, episodes, horizon, 2))
    rewards = rng.normal(size=(tasks, episodes, horizon))
    mask = np.ones((tasks, episodes, horizon), dtype=bool)
    mask[1, 2, 4:] = False  # an episode that ended early
    adv = task_advantages(obs, rewards, mask, 0.9, 0.8, normalize=False)
    for task in range(tasks):
        real = mask[task]
        time = np.broadcast_to(np.arange(horizon), real.shape)[real]
        returns = np.concatenate(
            [discounted_returns(rewards[task, e][mask[task, e]], 0.9) for e in range(episodes)]
        )
        features = baseline_features(obs[task][real], time)
        values = features @ fit_linear_baseline(features, returns)
        offset = 0
        for e in range(episodes):
            length = int(mask[task, e].sum())
            expected = gae_advantages(rewards[task, e, :length], values[offset : offset + length], 0.9, 0.8)
            np.testing.assert_allclose(adv[task, e, :length], expected, atol=1e-9)
            offset += length
    assert adv[1, 2, 4:].tolist() == [0.0, 0.0]
    normalized = task_advantages(obs, rewards, mask, 0.9, 0.8, normalize=True)
    np.testing.assert_allclose(normalized[1][mask[1]].mean(), 0.0, atol=1e-9)
    np.testing.assert_allclose(normalized[1][mask[1]].std(), 1.0, atol=1e-6)
    np.testing.assert_allclose(discount_cumsum(np.array([[1.0, 1.0, 1.0]]), 0.5), [[1.75, 1.5, 1.0]])


def test_inner_step_equals_a_hand_written_policy_gradient_step():
    """Linear Gaussian policy: the gradient of -mean(log pi * A) written out by hand."""
    gen = torch.Generator().manual_seed(2)
    params = tiny_params(gen, hidden=())
    batch = random_batch(gen, 1, 9, 3, 2)
    lr = 0.05
    adapted = adapt(expand_params(params, 1), [batch], lr, MIN_LOG_STD)
    x, a, adv, m = batch.obs[0], batch.actions[0], batch.advantages[0], batch.mask[0]
    w, b, log_std = params["layer0.weight"], params["layer0.bias"], params["log_std"]
    mean, var = x @ w + b, torch.exp(2 * log_std)
    weight = (adv * m / m.sum())[:, None]  # d(-loss)/d(log pi) per step
    d_mean = weight * (a - mean) / var  # d log pi / d mean = (a - mean) / var
    grad_w, grad_b = -(x.T @ d_mean), -d_mean.sum(0)
    grad_log_std = -(weight * ((a - mean) ** 2 / var - 1)).sum(0)
    np.testing.assert_allclose(adapted["layer0.weight"][0], w - lr * grad_w, atol=1e-12)
    np.testing.assert_allclose(adapted["layer0.bias"][0], b - lr * grad_b, atol=1e-12)
    np.testing.assert_allclose(adapted["log_std"][0], log_std - lr * grad_log_std, atol=1e-12)


def test_batched_inner_step_equals_a_per_task_loop():
    gen = torch.Generator().manual_seed(4)
    params = tiny_params(gen, hidden=(4, 4))
    batch = random_batch(gen, 5, 8, 3, 2)
    batched = adapt(expand_params(params, 5), [batch, batch], 0.2, MIN_LOG_STD)
    for task in range(5):
        single = adapt(expand_params(params, 1), [batch.select([task])] * 2, 0.2, MIN_LOG_STD)
        for name in params:
            torch.testing.assert_close(batched[name][task], single[name][0], rtol=1e-12, atol=1e-12)
    losses = inner_losses(expand_params(params, 5), batch, MIN_LOG_STD)
    assert losses.shape == (5,)


def test_kl_divergence_matches_torch_distributions():
    gen = torch.Generator().manual_seed(5)
    m0, m1 = torch.randn(4, 3, generator=gen), torch.randn(4, 3, generator=gen)
    s0, s1 = torch.randn(1, 3, generator=gen), torch.randn(1, 3, generator=gen)
    expected = torch.distributions.kl_divergence(
        torch.distributions.Independent(torch.distributions.Normal(m0, s0.exp()), 1),
        torch.distributions.Independent(torch.distributions.Normal(m1, s1.exp()), 1),
    )
    torch.testing.assert_close(kl_divergence(m0, s0, m1, s1), expected)
    assert torch.allclose(kl_divergence(m0, s0, m0, s0), torch.zeros(4), atol=1e-6)


def test_batched_policy_equals_each_rows_own_parameters():
    gen = torch.Generator().manual_seed(6)
    params = [tiny_params(gen, hidden=(4,), dtype=torch.float32) for _ in range(3)]
    stacked = {k: torch.stack([p[k] for p in params]) for k in params[0]}
    obs = torch.randn(3, 5, 3, generator=gen)
    mean, log_std = mean_and_log_std(stacked, obs, MIN_LOG_STD)
    for i, p in enumerate(params):
        m, s = mean_and_log_std(p, obs[i], MIN_LOG_STD)
        torch.testing.assert_close(mean[i], m)
        torch.testing.assert_close(log_std[i].expand_as(m), s.expand_as(m))


# --- configuration --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        {"inner_lr": -0.1},
        {"inner_lr": float("nan")},
        {"discount": 0.0},
        {"discount": 1.5},
        {"gae_lambda": 1.1},
        {"max_kl": 0.0},
        {"meta_batch_size": 0},
        {"rollouts_per_task": 0},
        {"num_inner_grad_steps": 0},
        {"hidden_sizes": (64, 0)},
        {"hidden_sizes": [64]},
        {"line_search_ratio": 1.0},
        {"cg_damping": -1.0},
        {"init_std": float("inf")},
    ],
)
def test_config_rejects_out_of_range_values(bad):
    with pytest.raises(ValueError, match="MAMLConfig"):
        MAMLConfig(**bad)


SUITE_NAMES = ["point-nav", "halfcheetah-vel", "ant-dir", "ml1-push", "ml10", "ml45"]


@pytest.mark.parametrize("suite", SUITE_NAMES)
@pytest.mark.parametrize("profile", ["smoke", "quick", "paper"])
def test_default_configs_validate_and_stratify_meta_world(suite, profile):
    config = default_config(suite, profile)
    classes = {"ml10": 10, "ml45": 45}.get(suite, 1)
    assert config.meta_batch_size % classes == 0
    if profile == "smoke" and classes == 1:
        assert config.meta_batch_size * config.rollouts_per_task <= 4


def test_originals_configs():
    promp = default_config("halfcheetah-vel", "paper")
    assert (promp.hidden_sizes, promp.meta_batch_size, promp.rollouts_per_task, promp.inner_lr) == (
        (64, 64),
        40,
        20,
        0.1,
    )
    assert (promp.discount, promp.gae_lambda, promp.max_kl, promp.normalize_advantages) == (
        0.99,
        1.0,
        0.01,
        True,
    )
    ml45 = default_config("ml45", "paper")
    assert (ml45.hidden_sizes, ml45.meta_batch_size, ml45.rollouts_per_task) == ((128, 128), 45, 20)
    ml10 = default_config("ml10", "paper")
    assert (ml10.meta_batch_size, ml10.rollouts_per_task) == (20, 10)


def test_meta_batch_must_cover_the_classes_of_ml10():
    from baselines.maml.config import check_config_for_suite

    with pytest.raises(ValueError, match="multiple of its 10 training classes"):
        check_config_for_suite(MAMLConfig(meta_batch_size=15), "ml10")


# --- the agent --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def point_nav():
    suite = make_suite("point-nav", 0)
    return suite, EnvSpec.from_suite(suite)


def smoke_agent(spec, seed=0, **overrides) -> MAMLAgent:
    config = dataclasses.replace(default_config("point-nav", "smoke"), **overrides)
    return MAMLAgent(config, spec, seed)


def assert_same_state(a: dict, b: dict) -> None:
    assert a["iterations"] == b["iterations"]
    assert torch.equal(a["rng"], b["rng"])
    for name in a["params"]:
        assert torch.equal(a["params"][name], b["params"][name]), name


def test_meta_train_counts_pre_and_post_update_steps(point_nav):
    suite, spec = point_nav
    agent = smoke_agent(spec)
    ctx = train(agent, suite, spec, iterations=2)
    assert ctx.env_steps == 2 * agent.steps_per_iteration  # point-nav never terminates early
    assert agent.iterations == 2 and agent.last_stats["step_accepted"] in (0.0, 1.0)
    assert agent.last_stats["kl"] <= agent.config.max_kl


def test_two_inner_steps_collect_a_third_batch(point_nav):
    suite, spec = point_nav
    agent = smoke_agent(spec, num_inner_grad_steps=2)
    ctx = train(agent, suite, spec, iterations=1)
    assert ctx.env_steps == agent.steps_per_iteration == 2 * 2 * 20 * 3


def test_same_seed_same_training_and_evaluation(point_nav):
    suite, spec = point_nav
    settings = EvalSettings(num_tasks=3, episodes=2, splits=("meta_test",), exploration_episodes=1)
    runs = []
    for _ in range(2):
        agent = smoke_agent(spec, seed=3)
        train(agent, suite, spec, iterations=2)
        runs.append(
            (agent.state_dict(), [r.episode_return for r in evaluate(agent, suite, settings, seed=1)])
        )
    assert_same_state(runs[0][0], runs[1][0])
    assert runs[0][1] == runs[1][1]
    other = smoke_agent(spec, seed=4)
    assert not torch.equal(other.params["layer0.weight"], smoke_agent(spec, seed=3).params["layer0.weight"])


def test_evaluation_does_not_change_training(point_nav):
    suite, spec = point_nav
    settings = EvalSettings(num_tasks=3, episodes=2, splits=("meta_test",), exploration_episodes=1)
    plain, evaluated = smoke_agent(spec), smoke_agent(spec)
    train(plain, suite, spec, iterations=2)
    from benchmark.agent import TrainingContext

    ctx = TrainingContext(suite, spec, 0, budget_env_steps=10**9)
    training = evaluated.meta_train(ctx)
    next(training)
    evaluate(evaluated, suite, settings, seed=5)
    next(training)
    training.close()  # type: ignore[attr-defined]
    assert_same_state(plain.state_dict(), evaluated.state_dict())


def test_checkpoint_round_trip_resumes_bit_for_bit(point_nav):
    suite, spec = point_nav
    agent = smoke_agent(spec)
    train(agent, suite, spec, iterations=1)
    buffer = io.BytesIO()
    torch.save(agent.state_dict(), buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)
    resumed = smoke_agent(spec, seed=9)
    resumed.load_state_dict(state)
    assert_same_state(resumed.state_dict(), agent.state_dict())
    train(agent, suite, spec, iterations=1, seed=1)
    train(resumed, suite, spec, iterations=1, seed=1)
    assert_same_state(resumed.state_dict(), agent.state_dict())


def explore_then_act(agent: MAMLAgent, spec: EnvSpec, n: int, explore_len: list[int], seed: int = 0):
    """Drive the online interface by hand: row i explores for explore_len[i] steps, then acts once."""
    rng = np.random.default_rng(seed)
    agent.begin_trial(TrialPlan(num_trials=n, episodes=2, exploration_episodes=1, seed=seed))
    ended = np.zeros(n, dtype=bool)
    for t in range(max(explore_len)):
        obs = rng.normal(size=(n, spec.aug_obs_dim)).astype(np.float32)
        active = np.array([t < length for length in explore_len])
        action = agent.act(obs, np.zeros(n, dtype=bool))
        end = np.array([t == length - 1 for length in explore_len])
        reward = rng.normal(size=n)
        agent.observe(Transition(obs, action, reward, obs, np.zeros(n, bool), end, active))
        if end.any():
            ended |= end
            agent.end_episode(end)
    assert ended.all()


def test_per_trial_adaptation_equals_adapting_each_trial_alone(point_nav):
    """Rows finishing their exploration at different steps adapt on their own data only."""
    _, spec = point_nav
    agent = smoke_agent(spec)
    lengths = [5, 9, 9, 3]
    explore_then_act(agent, spec, 4, lengths)
    batched = {k: v.clone() for k, v in agent.adapted_params.items()}
    assert not torch.equal(batched["log_std"][0], agent.params["log_std"])
    obs_all, act_all, rew_all, mask_all = (
        agent._explore_obs,
        agent._explore_actions,
        agent._explore_rewards,
        agent._explore_mask,
    )
    assert mask_all.sum(axis=(1, 2)).tolist() == lengths
    cfg = agent.config
    for row in range(4):
        adv = task_advantages(
            obs_all[[row]], rew_all[[row]], mask_all[[row]], cfg.discount, cfg.gae_lambda, True
        )
        data = TaskBatch.from_arrays(
            obs_all[[row]], act_all[[row]], adv, mask_all[[row]], rew_all[[row]], agent.device
        )
        alone = adapt(expand_params(agent.params, 1), [data], cfg.inner_lr, math.log(cfg.min_std))
        for name in alone:
            torch.testing.assert_close(batched[name][row], alone[name][0], rtol=1e-6, atol=1e-6)


def test_no_exploration_episodes_means_no_adaptation(point_nav):
    suite, spec = point_nav
    agent = smoke_agent(spec)
    evaluate(
        agent, suite, EvalSettings(num_tasks=2, episodes=2, splits=("meta_test",), exploration_episodes=0), 0
    )
    for name, value in agent.adapted_params.items():
        assert torch.equal(value[0], agent.params[name])


def test_begin_trial_forgets_earlier_trials(point_nav):
    _, spec = point_nav
    agent = smoke_agent(spec)
    explore_then_act(agent, spec, 2, [4, 4], seed=1)
    first = agent.act(np.ones((2, spec.aug_obs_dim), np.float32), np.zeros(2, bool))
    explore_then_act(agent, spec, 3, [2, 6, 2], seed=7)  # another trial in between
    explore_then_act(agent, spec, 2, [4, 4], seed=1)
    again = agent.act(np.ones((2, spec.aug_obs_dim), np.float32), np.zeros(2, bool))
    np.testing.assert_array_equal(first, again)


def test_actions_are_clipped_into_the_box(point_nav):
    _, spec = point_nav
    agent = smoke_agent(spec, init_std=5.0)
    agent.begin_trial(TrialPlan(num_trials=64, episodes=1))
    actions = agent.act(np.zeros((64, spec.aug_obs_dim), np.float32), np.zeros(64, bool))
    assert actions.min() >= -1.0 and actions.max() <= 1.0 and (np.abs(actions) == 1.0).any()
    assert agent.default_exploration_episodes("halfcheetah-vel") == 1
