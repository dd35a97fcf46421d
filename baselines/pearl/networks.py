"""PEARL's SAC networks as oyster builds them: twin Q, a V network with a target copy, a tanh-Gaussian policy.

Every network is a ReLU MLP from SB3's ``create_mlp`` with rlkit's initialisation (oyster
``rlkit/torch/networks.py`` ``Mlp``, ``rlkit/torch/pytorch_util.py`` ``fanin_init``): hidden weights uniform
in ``±1/sqrt(weight.size(0))`` (rlkit takes ``size(0)``, the *output* width of an ``nn.Linear`` weight, as
the fan-in; we keep that), hidden biases 0.1, last layer weights and biases uniform in ``±3e-3``
(``±1e-3`` for the policy's two heads). The inputs are concatenated as oyster's ``FlattenMlp`` does:
``[obs, action, z]`` for Q, ``[obs, z]`` for V and policy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from stable_baselines3.common.distributions import SquashedDiagGaussianDistribution
from stable_baselines3.common.torch_layers import create_mlp
from torch import nn

from agents.common.device import to_device

LOG_STD_MIN = -20.0
"""lower clamp of the policy's log-std (oyster ``rlkit/torch/sac/policies.py`` ``LOG_SIG_MIN``)"""
LOG_STD_MAX = 2.0
"""upper clamp of the policy's log-std (``LOG_SIG_MAX``)"""
LAST_LAYER_INIT = 3e-3
"""half-width of the uniform init of the Q, V and encoder last layers (rlkit ``Mlp`` ``init_w`` default)"""
POLICY_HEAD_INIT = 1e-3
"""half-width of the uniform init of the policy's mean and log-std heads (oyster
``rlkit/torch/sac/policies.py:41, 59-61``: ``TanhGaussianPolicy(init_w=1e-3)``)"""
HIDDEN_BIAS_INIT = 0.1
"""hidden biases (rlkit ``b_init_value``)"""


def _init_hidden(linear: nn.Linear) -> None:
    bound = 1.0 / math.sqrt(linear.weight.size(0))  # rlkit's fanin_init reads size(0), as the original
    nn.init.uniform_(linear.weight, -bound, bound)
    nn.init.constant_(linear.bias, HIDDEN_BIAS_INIT)


def _init_last(linear: nn.Linear, bound: float = LAST_LAYER_INIT) -> None:
    nn.init.uniform_(linear.weight, -bound, bound)
    nn.init.uniform_(linear.bias, -bound, bound)


def oyster_mlp(input_dim: int, output_dim: int, hidden_sizes: Sequence[int]) -> nn.Sequential:
    """A ReLU MLP ``input_dim -> hidden_sizes -> output_dim`` (linear output) with rlkit's initialisation."""
    net = nn.Sequential(*create_mlp(input_dim, output_dim, list(hidden_sizes), activation_fn=nn.ReLU))
    linears = [m for m in net if isinstance(m, nn.Linear)]
    for linear in linears[:-1]:
        _init_hidden(linear)
    _init_last(linears[-1])
    return net


def standard_normal(
    shape: Sequence[int], generator: torch.Generator, device: torch.device, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """N(0, 1) noise drawn on ``generator``'s device (PEARL's generators are CPU ones) and moved to
    ``device``: a seed gives the same draws on the CPU and on a GPU, whose own generators give another
    stream."""
    noise = torch.randn(shape, generator=generator, device=generator.device, dtype=dtype)
    return to_device(noise, device)  # without a host sync


class TanhGaussianPolicy(nn.Module):
    """``[obs, z] -> tanh(N(mean, std))``: oyster's ``TanhGaussianPolicy`` (a shared trunk, two linear heads).

    Sampling draws its noise from an explicit :class:`torch.Generator` (training and evaluation keep
    separate streams); the log-likelihood of the squashed sample is SB3's ``SquashedDiagGaussianDistribution``
    (the same ``log N(u) - sum log(1 - tanh(u)^2 + 1e-6)`` as oyster's ``TanhNormal``).
    """

    def __init__(self, input_dim: int, action_dim: int, hidden_sizes: Sequence[int]) -> None:
        super().__init__()
        self.trunk = nn.Sequential(*create_mlp(input_dim, 0, list(hidden_sizes), activation_fn=nn.ReLU))
        for module in self.trunk:
            if isinstance(module, nn.Linear):
                _init_hidden(module)
        width = hidden_sizes[-1] if hidden_sizes else input_dim
        self.mean = nn.Linear(width, action_dim)
        self.log_std = nn.Linear(width, action_dim)
        _init_last(self.mean, POLICY_HEAD_INIT)
        _init_last(self.log_std, POLICY_HEAD_INIT)
        self.distribution = SquashedDiagGaussianDistribution(action_dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Pre-tanh mean and clamped log-std, each `(batch, action_dim)`, float32 (also under autocast)."""
        h = self.trunk(x)
        return self.mean(h).float(), self.log_std(h).float().clamp(LOG_STD_MIN, LOG_STD_MAX)

    def sample(
        self, x: torch.Tensor, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """A reparameterised squashed sample ``(action, log_prob, mean, log_std)``; log_prob: `(batch,)`."""
        mean, log_std = self(x)
        noise = standard_normal(mean.shape, generator, mean.device, mean.dtype)
        gaussian_action = mean + log_std.exp() * noise
        action = torch.tanh(gaussian_action)
        log_prob = self.distribution.proba_distribution(mean, log_std).log_prob(action, gaussian_action)
        return action, log_prob, mean, log_std

    @torch.no_grad()
    def act(self, x: torch.Tensor, deterministic: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Actions in [-1, 1]: ``tanh(mean)`` where ``deterministic`` (a `(batch,)` bool), else a sample."""
        mean, log_std = self(x)
        noise = standard_normal(mean.shape, generator, mean.device, mean.dtype)
        sampled = mean + log_std.exp() * noise
        return torch.tanh(torch.where(deterministic[:, None], mean, sampled))
