"""Shared RL math (agents/common) and TrMRL's PPO pieces on hand-computed arrays."""

import math
import warnings

import numpy as np
import pytest
import torch

from agents.common.gaussian import diag_gaussian_log_prob
from agents.common.losses import gaussian_nll_loss, ppo_clip_loss
from agents.common.returns import discounted_returns, gae_advantages
from agents.common.schedules import StepDecay, decay_milestones
from agents.trmrl.ppo import minibatches, steps_per_epoch, trial_advantages


def test_discounted_returns_by_hand():
    np.testing.assert_allclose(discounted_returns(np.array([1.0, 2.0, 3.0]), 0.5), [2.75, 3.5, 3.0])


def test_gae_by_hand_with_zero_bootstrap():
    # deltas: 1 + .9*1 - .5 = 1.4; 0 + .9*0 - 1 = -1; 2 + .9*0 - 0 = 2 (V_T = 0 at the trial's end)
    adv = gae_advantages(np.array([1.0, 0.0, 2.0]), np.array([0.5, 1.0, 0.0]), 0.9, 0.8)
    np.testing.assert_allclose(adv, [1.4 + 0.72 * 0.44, -1.0 + 0.72 * 2.0, 2.0])


def test_gae_with_lambda_one_is_return_minus_value():
    rng = np.random.default_rng(0)
    rewards, values = rng.normal(size=7), rng.normal(size=7)
    np.testing.assert_allclose(
        gae_advantages(rewards, values, 0.9, 1.0), discounted_returns(rewards, 0.9) - values
    )


def test_trial_advantages_flow_across_episodes_but_not_across_trials():
    rewards = np.array([1.0, 0.0, 2.0, 5.0, 5.0])  # trial A: 3 steps (2 episodes inside), trial B: 2 steps
    values = np.array([0.5, 1.0, 0.0, 0.0, 0.0])
    adv, ret = trial_advantages(rewards, values, [3, 2], 0.9, 0.8)
    np.testing.assert_allclose(adv[:3], gae_advantages(rewards[:3], values[:3], 0.9, 0.8))
    np.testing.assert_allclose(adv[3:], [5 + 0.72 * 5, 5])
    np.testing.assert_allclose(ret[:3], discounted_returns(rewards[:3], 0.9))
    with pytest.raises(ValueError):
        trial_advantages(rewards, values, [3, 3], 0.9, 0.8)


def test_ppo_clip_loss_by_hand():
    old = torch.zeros(3)
    new = torch.log(torch.tensor([1.5, 0.5, 1.05]))
    adv = torch.tensor([1.0, 1.0, -2.0])
    # r*A = [1.5, .5, -2.1]; clip(r)*A = [1.2, .8, -2.1]; min = [1.2, .5, -2.1]; loss = -mean
    assert ppo_clip_loss(new, old, adv, 0.2).item() == pytest.approx(-(1.2 + 0.5 - 2.1) / 3)


def test_ppo_clip_loss_gradient_vanishes_outside_the_clip():
    new = torch.log(torch.tensor([1.5])).requires_grad_()
    ppo_clip_loss(new, torch.zeros(1), torch.ones(1), 0.2).backward()
    assert new.grad.item() == 0.0


def test_gaussian_nll_matches_torch():
    mean, target = torch.tensor([0.0, 1.0]), torch.tensor([1.0, 3.0])
    log_std = torch.tensor([math.log(2.0)])
    expected = -torch.distributions.Normal(mean, 2.0).log_prob(target).mean()
    assert gaussian_nll_loss(mean, log_std, target).item() == pytest.approx(expected.item())
    assert gaussian_nll_loss(torch.zeros(1), torch.zeros(1), torch.ones(1)).item() == pytest.approx(
        0.5 + 0.5 * math.log(2 * math.pi)
    )


def test_diag_gaussian_log_prob_matches_independent_normal():
    mean, x = torch.randn(4, 3), torch.randn(4, 3)
    log_std = torch.tensor([-0.3])
    dist = torch.distributions.Independent(torch.distributions.Normal(mean, log_std.exp()), 1)
    torch.testing.assert_close(diag_gaussian_log_prob(x, mean, log_std), dist.log_prob(x))


def test_step_decay_by_hand():
    # spe 2, decay from iteration 1 to 3 down to x0.25: milestones [2, 4], gamma 0.5
    schedule = StepDecay(2, 1, 3, 0.25)
    np.testing.assert_array_equal(schedule.milestones, [2, 4])
    assert [schedule(k) for k in range(7)] == pytest.approx([1, 1, 0.5, 0.5, 0.25, 0.25, 0.25])


def test_step_decay_matches_torch_multisteplr_stepped_like_garage():
    spe, init, end, factor = 3, 2, 6, 0.1
    milestones = decay_milestones(spe, init, end)
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    gamma = factor ** (1 / len(milestones))
    scheduler = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=milestones.tolist(), gamma=gamma)
    schedule = StepDecay(spe, init, end, factor)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # step(epoch) is deprecated; garage called it exactly so
        for k in range(30):
            scheduler.step(k)  # LRDecayOptimizerWrapper.zero_grad: step(self._epoch) before each update
            assert opt.param_groups[0]["lr"] == pytest.approx(schedule(k))
    assert schedule(10_000) == pytest.approx(factor)


def test_steps_per_epoch_reproduces_the_originals_drift():
    # HalfCheetahVel: 10 * (200 * 2 * 20) // 256 = 312, while 10 * ceil(8000 / 256) = 320 updates happen.
    assert steps_per_epoch(10, 200, 2, 20, 256) == 312
    assert sum(1 for _ in minibatches(8000, 256, 10, np.random.default_rng(0))) == 320


def test_minibatches_cover_every_sample_once_per_epoch():
    batches = list(minibatches(10, 4, 2, np.random.default_rng(0)))
    assert [len(b) for b in batches] == [4, 4, 2, 4, 4, 2]
    assert sorted(np.concatenate(batches[:3])) == list(range(10))
    assert sorted(np.concatenate(batches[3:])) == list(range(10))
