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
from baselines.maml.agent import MAMLAgent, meta_objective, to_env_action
from baselines.maml.baseline import baseline_features, discount_cumsum, fit_linear_baseline, task_advantages
from baselines.maml.config import MAMLConfig
from baselines.maml.inner import TaskBatch, adapt, inner_losses, masked_task_mean
from baselines.maml.policy import (
    Outputs,
    expand_params,
    init_params,
    is_batched,
    kl_divergence,
    log_prob,
    mean_and_log_std,
)
from baselines.maml.provenance import default_config
from baselines.maml.trpo import backtracking_line_search, conjugate_gradient, flatten, natural_step, unflatten
from benchmark.agent import EnvSpec, Transition, TrialPlan
from benchmark.constraints import check_config
from benchmark.protocol import EvalSettings, evaluate
from benchmark.suites import make_suite
from tests.fakes import train

OUT = Outputs(math.log(1e-6))


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


def tiny_params(gen: torch.Generator, hidden=(5,), dtype=torch.float64, std_head="parameter"):
    params = init_params(3, 2, hidden, 0.7, gen, std_head)
    # Non-zero biases and unequal log-stds exercise every parameter's gradient.
    params = {k: (v + 0.1 * torch.randn(v.shape, generator=gen)).to(dtype) for k, v in params.items()}
    return params


# --- the math ------------------------------------------------------------------------------------------


# The garage Meta-World policy: tanh on both heads of a shared network (no clamp binds at these scales).
GARAGE_OUT = Outputs(math.log(1e-6), math.log(1e3), tanh=True)


@pytest.mark.parametrize(
    "std_head, outputs, outer",
    [
        ("parameter", OUT, "likelihood_ratio"),
        ("shared_network", GARAGE_OUT, "likelihood_ratio"),
        ("shared_network", GARAGE_OUT, "log_likelihood"),
        ("parameter", Outputs(math.log(1e-6), tanh=True), "log_likelihood"),
    ],
)
def test_meta_gradient_equals_finite_differences(std_head, outputs, outer):
    """The second-order gradient of the post-update surrogate through the inner steps (float64)."""
    gen = torch.Generator().manual_seed(0)
    theta = tiny_params(gen, std_head=std_head)
    inner = [random_batch(gen, 3, 7, 3, 2), random_batch(gen, 3, 7, 3, 2)]
    post = random_batch(gen, 3, 6, 3, 2)
    old_logp = log_prob(adapt(expand_params(theta, 3), inner, 0.3, outputs), post.obs, post.actions, outputs)

    def objective(params, create_graph):
        adapted = adapt(expand_params(params, 3), inner, 0.3, outputs, create_graph=create_graph)
        logp = log_prob(adapted, post.obs, post.actions, outputs)
        return meta_objective(outer, logp, old_logp.detach(), post.advantages, post.mask)

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
        k: v.requires_grad_(True) for k, v in adapt(expand_params(theta, 3), inner, 0.3, outputs).items()
    }
    logp = log_prob(adapted, post.obs, post.actions, outputs)
    surrogate = meta_objective(outer, logp, old_logp.detach(), post.advantages, post.mask)
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
    adapted = adapt(expand_params(params, 1), [batch], lr, OUT)
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
    batched = adapt(expand_params(params, 5), [batch, batch], 0.2, OUT)
    for task in range(5):
        single = adapt(expand_params(params, 1), [batch.select([task])] * 2, 0.2, OUT)
        for name in params:
            torch.testing.assert_close(batched[name][task], single[name][0], rtol=1e-12, atol=1e-12)
    losses = inner_losses(expand_params(params, 5), batch, OUT)
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


@pytest.mark.parametrize("std_head, outputs", [("parameter", OUT), ("shared_network", GARAGE_OUT)])
def test_batched_policy_equals_each_rows_own_parameters(std_head, outputs):
    gen = torch.Generator().manual_seed(6)
    params = [tiny_params(gen, hidden=(4,), dtype=torch.float32, std_head=std_head) for _ in range(3)]
    stacked = {k: torch.stack([p[k] for p in params]) for k in params[0]}
    assert is_batched(stacked) and not is_batched(params[0])
    obs = torch.randn(3, 5, 3, generator=gen)
    mean, log_std = mean_and_log_std(stacked, obs, outputs)
    for i, p in enumerate(params):
        m, s = mean_and_log_std(p, obs[i], outputs)
        torch.testing.assert_close(mean[i], m)
        torch.testing.assert_close(log_std[i].expand_as(m), s.expand_as(m))


def test_default_layout_draws_what_it_always_drew():
    """``std_head='parameter'``: the same generator draws in the same order as before the shared head existed
    (so seeded runs reproduce), and ProMP's forward pass written out by hand."""
    params = init_params(3, 2, (4, 5), 0.7, torch.Generator().manual_seed(7))
    gen = torch.Generator().manual_seed(7)
    sizes = [(3, 4), (4, 5), (5, 2)]
    weights = [(torch.rand(i, o, generator=gen) * 2 - 1) * math.sqrt(6.0 / (i + o)) for i, o in sizes]
    assert list(params) == [f"layer{i}.{kind}" for i in range(3) for kind in ("weight", "bias")] + ["log_std"]
    for i, weight in enumerate(weights):
        assert torch.equal(params[f"layer{i}.weight"], weight)
        assert torch.equal(params[f"layer{i}.bias"], torch.zeros(weight.shape[1]))
    assert torch.equal(params["log_std"], torch.full((2,), math.log(0.7)))
    assert all(value.dtype == torch.float32 for value in params.values())
    obs = torch.randn(6, 3, generator=gen)
    mean, log_std = mean_and_log_std(params, obs, OUT)
    linear_mean = torch.tanh(torch.tanh(obs @ weights[0]) @ weights[1]) @ weights[2]
    assert torch.equal(mean, linear_mean)
    assert torch.equal(log_std, params["log_std"].unsqueeze(0))
    # tanh squashes the mean only: the log-std parameter is no output head.
    squashed, same_log_std = mean_and_log_std(params, obs, Outputs(OUT.min_log_std, tanh=True))
    assert torch.equal(squashed, torch.tanh(linear_mean)) and torch.equal(same_log_std, log_std)
    # The clamps: below at min_std (ProMP), above at max_std when given, without gradient where they bind.
    raw = torch.tensor([-20.0, 3.0], requires_grad=True)
    below = mean_and_log_std({**params, "log_std": raw}, obs, Outputs.from_stds(0.5))[1]
    torch.testing.assert_close(below, torch.tensor([[math.log(0.5), 3.0]]))
    both = mean_and_log_std({**params, "log_std": raw}, obs, Outputs.from_stds(0.5, 1.5))[1]
    torch.testing.assert_close(both, torch.tensor([[math.log(0.5), math.log(1.5)]]))
    assert torch.equal(torch.autograd.grad(both.sum(), raw)[0], torch.zeros(2))
    # The shared layout draws the mean's layers identically and its log-std head after them.
    shared = init_params(3, 2, (4, 5), 0.7, torch.Generator().manual_seed(7), "shared_network")
    gen = torch.Generator().manual_seed(7)
    for i, o in sizes:
        torch.rand(i, o, generator=gen)
    head = (torch.rand(5, 2, generator=gen) * 2 - 1) * math.sqrt(6.0 / 7)
    assert list(shared) == list(params)[:-1] + ["log_std_head.weight", "log_std_head.bias"]
    assert all(torch.equal(shared[name], params[name]) for name in list(params)[:-1])
    assert torch.equal(shared["log_std_head.weight"], head)


def test_shared_head_is_a_state_dependent_clamped_second_head():
    """garage ``GaussianMLPTwoHeadedModule``: ``mu = tanh(h Wm + bm)``, ``log sigma = clamp(tanh(h Ws + bs),
    log min_std, log max_std)`` on one tanh trunk ``h``; ``bs`` starts at ``log(init_std)``."""
    init_std, min_std, max_std = 1.2, 0.5, 1.5
    gen = torch.Generator().manual_seed(8)
    params = init_params(3, 2, (32, 32), init_std, gen, "shared_network")
    assert "log_std" not in params and params["log_std_head.weight"].shape == (32, 2)
    assert torch.equal(params["log_std_head.bias"], torch.full((2,), math.log(init_std)))
    assert torch.equal(params["layer2.bias"], torch.zeros(2))  # the mean head's bias
    head = params["log_std_head.weight"]
    assert head.abs().max() <= math.sqrt(6.0 / 34) and head.std() > 0.1  # Xavier-uniform, not zero
    outputs = Outputs.from_stds(min_std, max_std, tanh=True)
    obs = 100 * torch.randn(500, 3, generator=gen)
    mean, log_std = mean_and_log_std(params, obs, outputs)
    assert mean.shape == log_std.shape == (500, 2)
    std = log_std.exp()
    assert std.min() >= min_std * (1 - 1e-6) and std.max() <= max_std * (1 + 1e-6)
    assert mean.abs().max() < 1.0
    linear_mean, raw_log_std = mean_and_log_std(params, obs, Outputs(-math.inf))  # no tanh, no clamp
    assert linear_mean.abs().max() > 1.0  # so the bound above is the tanh's doing
    torch.testing.assert_close(mean, torch.tanh(linear_mean))
    torch.testing.assert_close(log_std, torch.tanh(raw_log_std).clamp(math.log(min_std), math.log(max_std)))
    # Batched parameters and observations `(B, N, obs_dim)`.
    batched_mean, batched_log_std = mean_and_log_std(expand_params(params, 4), obs.view(4, 125, 3), outputs)
    assert batched_mean.shape == batched_log_std.shape == (4, 125, 2)
    torch.testing.assert_close(batched_log_std.reshape(500, 2), log_std)
    # State dependence: two observations, two standard deviations.
    two = torch.tensor([[0.3, -0.2, 0.5], [-0.4, 0.1, 0.2]])
    two_log_std = mean_and_log_std(params, two, outputs)[1]
    assert (two_log_std[0] - two_log_std[1]).abs().min() > 1e-4
    # With the head's weight zeroed the log-std is its bias, log(init_std), for every state.
    flat = mean_and_log_std(
        {**params, "log_std_head.weight": torch.zeros(32, 2)}, two, Outputs.from_stds(0.1)
    )[1]
    torch.testing.assert_close(flat, torch.full((2, 2), math.log(init_std)))
    # A hard clamp at both ends: no gradient where it binds.
    for bias, bound in ((5.0, max_std), (-5.0, min_std)):
        pushed = torch.full((2,), bias, requires_grad=True)
        clamped = mean_and_log_std({**params, "log_std_head.bias": pushed}, two, outputs)[1]
        torch.testing.assert_close(clamped.exp(), torch.full((2, 2), bound))
        assert torch.equal(torch.autograd.grad(clamped.sum(), pushed)[0], torch.zeros(2))


def test_log_likelihood_objective_by_hand_and_its_gradient_equals_the_ratios():
    """garage's meta-loss ``-mean_task mean_steps(log pi * A)``; at the sampling policy its gradient is the
    likelihood ratio's (ProMP), while their values differ."""
    gen = torch.Generator().manual_seed(12)
    batch = random_batch(gen, 2, 5, 3, 2)
    leaves = {k: v.requires_grad_(True) for k, v in tiny_params(gen).items()}
    params = expand_params(leaves, 2)
    logp = log_prob(params, batch.obs, batch.actions, OUT)
    mean, log_std = mean_and_log_std(params, batch.obs, OUT)
    expected = 0.0
    for task in range(2):
        total, steps = 0.0, 0.0
        for t in range(5):
            normal = torch.distributions.Normal(mean[task, t], log_std[task, 0].exp())
            total += float(normal.log_prob(batch.actions[task, t]).sum().detach()) * float(
                batch.advantages[task, t] * batch.mask[task, t]
            )
            steps += float(batch.mask[task, t])
        expected -= total / steps / 2
    junk = torch.randn(2, 5, generator=gen, dtype=torch.float64)  # old log-probs: unused by log_likelihood
    value = meta_objective("log_likelihood", logp, junk, batch.advantages, batch.mask)
    assert value.item() == pytest.approx(expected, rel=1e-10)
    ratio = meta_objective("likelihood_ratio", logp, logp.detach(), batch.advantages, batch.mask)
    assert ratio.item() == pytest.approx(-float(masked_task_mean(batch.advantages, batch.mask).mean()))
    assert ratio.item() != pytest.approx(value.item())
    for a, b in zip(
        torch.autograd.grad(value, list(leaves.values()), retain_graph=True),
        torch.autograd.grad(ratio, list(leaves.values())),
        strict=True,
    ):
        torch.testing.assert_close(a, b)


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
        check_config(MAMLConfig(**bad))


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
    with pytest.raises(ValueError, match="multiple of its 10 training classes"):
        MAMLAgent.validate_config(MAMLConfig(meta_batch_size=15), "ml10")


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


def explore(
    agent: MAMLAgent, spec: EnvSpec, lengths: list[int], rows: list[int] | None = None, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Drive the online interface by hand through one exploration episode per trial (sampled actions): row i
    explores for ``lengths[i]`` steps on observations and rewards from its own generator, the same whatever
    the other rows do; rows outside ``rows`` (default: every row) stay idle, inactive padding throughout.

    Returns the observations `(n, T, aug_obs_dim)`, the rewards `(n, T)` and the actions ``act`` returned
    `(n, T, act_dim)`, ``T = max(lengths)``."""
    n, steps = len(lengths), max(lengths)
    explorer = np.isin(np.arange(n), list(range(n)) if rows is None else rows)
    obs = np.zeros((n, steps, spec.aug_obs_dim), np.float32)
    rewards = np.zeros((n, steps))
    for row in range(n):
        stream = np.random.default_rng([seed, row])
        obs[row] = stream.normal(size=(steps, spec.aug_obs_dim))
        rewards[row] = stream.normal(size=steps)
    actions = np.zeros((n, steps, spec.act_dim), np.float32)
    agent.begin_trial(TrialPlan(num_trials=n, episodes=2, exploration_episodes=1, seed=seed))
    for t in range(steps):
        active = explorer & (t < np.array(lengths))
        end = explorer & (t == np.array(lengths) - 1)
        actions[:, t] = agent.act(obs[:, t], np.zeros(n, dtype=bool))
        agent.observe(
            Transition(obs[:, t], actions[:, t], rewards[:, t], obs[:, t], np.zeros(n, bool), end, active)
        )
        if end.any():
            agent.end_episode(end)
    return obs, rewards, actions


def test_per_trial_adaptation_equals_adapting_each_trial_alone(point_nav):
    """Rows finishing their exploration at different steps adapt on their own data only: each row ends with
    the parameters it gets exploring alone (the other trials idle), which are the inner step on the
    observations, actions and rewards of its exploration."""
    _, spec = point_nav
    lengths = [5, 9, 9, 3]
    # A small std keeps every sampled action inside the box, so what act returns is the policy's action (the
    # affine map onto [-1, 1] rounds it by at most one float32 ulp) and the test knows the data of each row.
    agent = smoke_agent(spec, init_std=0.2)
    obs, rewards, actions = explore(agent, spec, lengths)
    explored = np.arange(max(lengths))[None, :] < np.array(lengths)[:, None]
    assert np.abs(actions[explored]).max() < 1.0
    batched = {k: v.clone() for k, v in agent.adapted_params.items()}
    cfg, horizon = agent.config, spec.horizon
    outputs = Outputs.from_stds(cfg.min_std, cfg.max_std, cfg.output_tanh)
    for row, length in enumerate(lengths):
        assert not torch.equal(batched["log_std"][row], agent.params["log_std"])
        alone = smoke_agent(spec, init_std=0.2)
        _, _, alone_actions = explore(alone, spec, lengths, rows=[row])
        # A trial's draws do not depend on the other trials: alone, the row explored exactly as in the batch.
        np.testing.assert_array_equal(alone_actions[row, :length], actions[row, :length])
        # The row's exploration episode as the agent records it: `(1 task, 1 episode, horizon, ...)`.
        real = np.zeros((1, 1, horizon), dtype=bool)
        real[..., :length] = True
        row_obs = np.zeros((1, 1, horizon, spec.obs_dim), np.float32)
        row_obs[0, 0, :length] = spec.layout.obs(obs[row, :length])
        row_actions = np.zeros((1, 1, horizon, spec.act_dim), np.float32)
        row_actions[0, 0, :length] = actions[row, :length]
        row_rewards = np.zeros((1, 1, horizon))
        row_rewards[0, 0, :length] = rewards[row, :length]
        adv = task_advantages(
            row_obs,
            row_rewards,
            real,
            cfg.discount,
            cfg.gae_lambda,
            cfg.normalize_advantages,
            cfg.baseline_reg,
        )
        data = TaskBatch.from_arrays(row_obs, row_actions, adv, real, row_rewards, agent.device)
        by_hand = adapt(
            expand_params(agent.params, 1), [data] * cfg.num_inner_grad_steps, cfg.inner_lr, outputs
        )
        idle = [other for other in range(len(lengths)) if other != row]
        for name, value in by_hand.items():
            torch.testing.assert_close(
                alone.adapted_params[name][row], batched[name][row], rtol=1e-6, atol=1e-6
            )
            torch.testing.assert_close(batched[name][row], value[0], rtol=1e-5, atol=1e-6)
            # Trials that never explored never adapt: they play the meta-parameters.
            for other in idle:
                assert torch.equal(alone.adapted_params[name][other], agent.params[name])


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
    explore(agent, spec, [4, 4], seed=1)
    first = agent.act(np.ones((2, spec.aug_obs_dim), np.float32), np.zeros(2, bool))
    explore(agent, spec, [2, 6, 2], seed=7)  # another trial in between
    explore(agent, spec, [4, 4], seed=1)
    again = agent.act(np.ones((2, spec.aug_obs_dim), np.float32), np.zeros(2, bool))
    np.testing.assert_array_equal(first, again)


def test_actions_are_clipped_into_the_box(point_nav):
    _, spec = point_nav
    agent = smoke_agent(spec, init_std=5.0)
    agent.begin_trial(TrialPlan(num_trials=64, episodes=1))
    actions = agent.act(np.zeros((64, spec.aug_obs_dim), np.float32), np.zeros(64, bool))
    assert actions.min() >= -1.0 and actions.max() <= 1.0 and (np.abs(actions) == 1.0).any()
    assert agent.default_exploration_episodes("halfcheetah-vel") == 1


def promp_env_action(raw: np.ndarray, low: np.ndarray, high: np.ndarray, scale: float) -> np.ndarray:
    """ProMP's ``NormalizedEnv.step`` (``meta_policy_search/envs/normalized_env.py``) written out."""
    return np.clip(low + (raw + scale) * (high - low) / (2 * scale), low, high)


def test_action_scale_divides_before_clipping_onto_the_box(point_nav):
    """ProMP ``normalize(env)`` with ``normalization_scale``: ``clip(a / scale)`` mapped onto the box."""
    _, spec = point_nav
    assert spec.action_low == (-1.0, -1.0) and spec.action_high == (1.0, 1.0)
    low, high = np.array(spec.action_low, np.float32), np.array(spec.action_high, np.float32)
    raw = np.array([[-25.0, -5.0], [3.0, 0.5], [12.0, -10.0], [0.04, 9.99]], np.float32)
    # The affine map onto [-1, 1] is the identity up to float32 rounding (-1 + (u + 1) * 0.5 * 2).
    scaled = to_env_action(raw, low, high, 10.0)
    np.testing.assert_allclose(scaled, np.clip(raw / 10, -1, 1), rtol=0, atol=1e-7)
    assert scaled.min() == -1.0 and scaled.max() == 1.0
    plain = to_env_action(raw, low, high, 1.0)
    np.testing.assert_array_equal(
        plain, (-1.0 + (np.clip(raw, -1.0, 1.0) + 1.0) * 0.5 * 2.0).astype(np.float32)
    )
    np.testing.assert_allclose(plain, np.clip(raw, -1, 1), rtol=0, atol=1e-7)
    # An asymmetric box: ProMP's own formula at scale 10, and the mapping as it always was at scale 1.
    box = dataclasses.replace(spec, action_low=(0.0, -2.0), action_high=(4.0, 1.0))
    box_low, box_high = np.array(box.action_low, np.float32), np.array(box.action_high, np.float32)
    promp = promp_env_action(raw, box_low, box_high, 10.0)
    np.testing.assert_allclose(to_env_action(raw, box_low, box_high, 10.0), promp, rtol=1e-6, atol=1e-6)
    unscaled = (box_low + (np.clip(raw, -1.0, 1.0) + 1.0) * 0.5 * (box_high - box_low)).astype(np.float32)
    np.testing.assert_array_equal(to_env_action(raw, box_low, box_high, 1.0), unscaled)
    # The agent maps its policy's action with its config's scale onto its spec's box: acting deterministically
    # it plays the policy's mean, which the test computes from the public parameters. Large observations
    # saturate the hidden units, so some means leave [-1, 1]: clipping before dividing would differ.
    obs = (50 * np.random.default_rng(0).normal(size=(16, spec.aug_obs_dim))).astype(np.float32)
    for env_spec in (spec, box):
        for scale in (1.0, 10.0):
            agent = smoke_agent(env_spec, action_scale=scale)
            cfg = agent.config
            outputs = Outputs.from_stds(cfg.min_std, cfg.max_std, cfg.output_tanh)
            mean = mean_and_log_std(agent.params, torch.from_numpy(spec.layout.obs(obs)), outputs)[0].numpy()
            assert np.abs(mean).max() > 1.0 and np.abs(mean).max() < 10.0
            agent.begin_trial(TrialPlan(num_trials=16, episodes=1))
            env_low, env_high = np.array(env_spec.action_low), np.array(env_spec.action_high)
            expected = promp_env_action(mean, env_low, env_high, scale)
            np.testing.assert_allclose(agent.act(obs, np.ones(16, bool)), expected, rtol=1e-6, atol=1e-6)
    # The env gets the scaled action; the policy keeps (and computes log-probabilities of) the unscaled one.
    # Two agents alike but for the scale draw the same actions: scale 1 clips some of them onto the box where
    # scale 10 divides them into it, and both adapt on the unscaled draws, to the same parameters.
    one, ten = smoke_agent(spec, init_std=5.0), smoke_agent(spec, action_scale=10.0, init_std=5.0)
    _, _, to_env_one = explore(one, spec, [6, 6])
    _, _, to_env_ten = explore(ten, spec, [6, 6])
    np.testing.assert_allclose(np.clip(10 * to_env_ten, -1, 1), to_env_one, rtol=0, atol=1e-6)
    assert ((np.abs(to_env_one) == 1.0) & (np.abs(to_env_ten) < 0.99)).any()
    assert not torch.equal(one.adapted_params["log_std"][0], one.params["log_std"])
    for name, value in one.adapted_params.items():
        assert torch.equal(ten.adapted_params[name], value), name


@pytest.mark.parametrize("std_head", ["parameter", "shared_network"])
@pytest.mark.parametrize("outer", ["likelihood_ratio", "log_likelihood"])
def test_meta_update_lowers_the_chosen_objective(point_nav, std_head, outer):
    """One TRPO step on fixed pre- and post-update data: the reported objective before and after is the
    chosen one computed by hand, the step is accepted within the trust region and changes the parameters."""
    _, spec = point_nav
    shared = std_head == "shared_network"
    agent = smoke_agent(
        spec, std_head=std_head, outer_objective=outer, output_tanh=shared, max_std=1.5 if shared else None
    )
    cfg = agent.config
    gen = torch.Generator().manual_seed(13)
    tasks = cfg.meta_batch_size
    inner = [random_batch(gen, tasks, 12, spec.obs_dim, spec.act_dim, dtype=torch.float32)]
    post = random_batch(gen, tasks, 12, spec.obs_dim, spec.act_dim, dtype=torch.float32)
    before = {k: v.clone() for k, v in agent.params.items()}
    stats = agent.meta_update(inner, post)
    outputs = Outputs.from_stds(cfg.min_std, cfg.max_std, cfg.output_tanh)

    def objective(params: dict[str, torch.Tensor], old_logp: torch.Tensor) -> tuple[float, torch.Tensor]:
        adapted = adapt(expand_params(params, tasks), inner, cfg.inner_lr, outputs)
        logp = log_prob(adapted, post.obs, post.actions, outputs)
        return float(meta_objective(outer, logp, old_logp, post.advantages, post.mask)), logp

    _, old_logp = objective(before, torch.zeros(tasks, 12))
    value_before, _ = objective(before, old_logp)
    by_hand = -masked_task_mean(
        (old_logp if outer == "log_likelihood" else torch.ones_like(old_logp)) * post.advantages, post.mask
    ).mean()
    assert value_before == pytest.approx(float(by_hand), rel=1e-5, abs=1e-6)
    assert stats["surrogate_before"] == pytest.approx(value_before, rel=1e-5, abs=1e-6)
    assert stats["surrogate_after"] == pytest.approx(objective(agent.params, old_logp)[0], rel=1e-5, abs=1e-6)
    assert all(math.isfinite(value) for value in stats.values())
    assert stats["step_accepted"] == 1.0 and stats["surrogate_after"] < stats["surrogate_before"]
    assert 0.0 < stats["kl"] <= cfg.max_kl
    assert set(agent.params) == set(before)
    assert all(not torch.equal(before[name], agent.params[name]) for name in before if "weight" in name)
    if shared:
        log_std = mean_and_log_std(agent.params, post.obs, outputs)[1]
        expected_std = masked_task_mean(log_std.exp().mean(-1), post.mask).mean()
    else:
        expected_std = agent.params["log_std"].exp().mean()
    assert stats["policy_std"] == pytest.approx(float(expected_std), rel=1e-6)


GARAGE_METAWORLD_STYLE = {
    "output_tanh": True,
    "std_head": "shared_network",
    "min_std": 0.5,
    "max_std": 1.5,
    "init_std": 1.0,
    "normalize_advantages": False,
    "inner_lr": 1e-4,
    "outer_objective": "log_likelihood",
}


def test_garage_metaworld_style_agent_trains_evaluates_and_resumes(point_nav):
    suite, spec = point_nav
    agent = smoke_agent(spec, **GARAGE_METAWORLD_STYLE)
    assert "log_std" not in agent.params and torch.equal(agent.params["log_std_head.bias"], torch.zeros(2))
    initial = {k: v.clone() for k, v in agent.params.items()}
    ctx = train(agent, suite, spec, iterations=1)
    assert ctx.env_steps == agent.steps_per_iteration and agent.iterations == 1
    stats = agent.last_stats
    assert all(math.isfinite(value) for value in stats.values())
    assert 0.5 - 1e-6 <= stats["policy_std"] <= 1.5 + 1e-6
    assert stats["step_accepted"] == 1.0 and stats["surrogate_after"] < stats["surrogate_before"]
    assert all(not torch.equal(initial[name], agent.params[name]) for name in initial if "weight" in name)
    settings = EvalSettings(num_tasks=2, episodes=2, splits=("meta_test",), exploration_episodes=1)
    returns = [r.episode_return for r in evaluate(agent, suite, settings, seed=0)]
    assert returns and all(math.isfinite(value) for value in returns)
    assert not torch.equal(agent.adapted_params["layer0.weight"][0], agent.params["layer0.weight"])
    buffer = io.BytesIO()
    torch.save(agent.state_dict(), buffer)
    buffer.seek(0)
    resumed = smoke_agent(spec, seed=9, **GARAGE_METAWORLD_STYLE)
    resumed.load_state_dict(torch.load(buffer, weights_only=True))
    assert_same_state(resumed.state_dict(), agent.state_dict())
    train(agent, suite, spec, iterations=1, seed=1)
    train(resumed, suite, spec, iterations=1, seed=1)
    assert_same_state(resumed.state_dict(), agent.state_dict())
