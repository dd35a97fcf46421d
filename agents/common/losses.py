"""Policy and value losses as pure functions of tensors.

Why not SB3's: its clipped surrogate lives inside ``PPO.train`` (not a reusable function) and its value
loss is an MSE, while garage's value function, which TrMRL used, minimises a Gaussian negative
log-likelihood with a learned standard deviation.
"""

from __future__ import annotations

import math

import torch


def ppo_clip_loss(
    log_prob: torch.Tensor, old_log_prob: torch.Tensor, advantages: torch.Tensor, clip_range: float
) -> torch.Tensor:
    """Negative mean of PPO's clipped surrogate ``min(r A, clip(r, 1 - eps, 1 + eps) A)``.

    garage ``torch/algos/ppo.py:_compute_objective`` (ratio from log-likelihoods) and
    ``vpg.py:_compute_loss_with_adv`` (``-objectives.mean()``); no advantage normalisation here.

    Args:
        log_prob: `(B,)` log-likelihood of the taken actions under the current policy.
        old_log_prob: `(B,)` the same under the policy that collected the data (no gradient).
        advantages: `(B,)` advantages.
        clip_range: epsilon.
    """
    ratio = torch.exp(log_prob - old_log_prob)
    surrogate = ratio * advantages
    clipped = torch.clamp(ratio, 1.0 - clip_range, 1.0 + clip_range) * advantages
    return -torch.min(surrogate, clipped).mean()


def gaussian_nll_loss(mean: torch.Tensor, log_std: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean of ``-log N(target | mean, exp(log_std)^2)``: garage ``GaussianMLPValueFunction.compute_loss``.

    Args:
        mean: `(B,)` predicted means.
        log_std: scalar or `(B,)` log standard deviation.
        target: `(B,)` regression targets (discounted returns).
    """
    log_std = torch.as_tensor(log_std).expand_as(mean)
    z = (target - mean) * torch.exp(-log_std)
    return (0.5 * z.pow(2) + log_std + 0.5 * math.log(2 * math.pi)).mean()
