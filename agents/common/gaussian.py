"""An MLP Gaussian head with a state-independent learned log-std: garage's ``GaussianMLPModule``.

garage (``torch/modules/gaussian_mlp_module.py``), which TrMRL's policy and value function both use:
hidden layers with a nonlinearity, Xavier-uniform weights and zero biases; an output layer with
Xavier-uniform weights of a configurable gain (TrMRL's ``output_weights_scale``); and a learned,
state-independent log-std with **one entry per output dimension** (garage's ``GaussianMLPBaseModule``:
``torch.Tensor([init_std] * output_dim).log()``), clamped below at ``log(min_std)`` and exponentiated
(``std_parameterization='exp'``). An earlier version of this suite kept one scalar for
all dimensions.

Why not SB3's ``DiagGaussianDistribution``: it has no minimum std and samples from the global RNG; we
sample with an explicit generator for reproducibility.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn


class GaussianMLPHead(nn.Module):
    """``x -> (mean, log_std)`` with ``mean = MLP(x)`` and a learned per-dimension ``log_std``.

    Args:
        input_dim: input features.
        output_dim: dimensions of the Gaussian.
        hidden_sizes: hidden layer widths.
        init_std: initial standard deviation (plain value).
        min_std: lower clamp of the standard deviation, or ``None``.
        output_gain: gain of the Xavier-uniform init of the output layer.
        learn_std: whether the log-std is trained.
        activation: hidden nonlinearity (garage passes ``torch.tanh``).
    """

    def __init__(
        self,
        input_dim: int,
        output_dim: int,
        hidden_sizes: Sequence[int] = (64, 64),
        init_std: float = 1.0,
        min_std: float | None = None,
        output_gain: float = 1.0,
        learn_std: bool = True,
        activation: type[nn.Module] = nn.Tanh,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = input_dim
        for size in hidden_sizes:
            linear = nn.Linear(width, size)
            nn.init.xavier_uniform_(linear.weight)
            nn.init.zeros_(linear.bias)
            layers += [linear, activation()]
            width = size
        out = nn.Linear(width, output_dim)
        nn.init.xavier_uniform_(out.weight, gain=output_gain)
        nn.init.zeros_(out.bias)
        layers.append(out)
        self.mean_net = nn.Sequential(*layers)
        log_std = torch.full((output_dim,), math.log(init_std), dtype=torch.float32)
        self.log_std = nn.Parameter(log_std, requires_grad=learn_std)
        self.min_log_std = None if min_std is None else math.log(min_std)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return `(..., output_dim)` means and the `(output_dim,)` log-std (clamped)."""
        log_std: torch.Tensor = self.log_std
        if self.min_log_std is not None:
            log_std = log_std.clamp(min=self.min_log_std)
        return self.mean_net(x), log_std


def diag_gaussian_log_prob(x: torch.Tensor, mean: torch.Tensor, log_std: torch.Tensor) -> torch.Tensor:
    """Log-density of ``x`` under ``Independent(Normal(mean, exp(log_std)), 1)``."""
    log_std = log_std.expand_as(mean)
    z = (x - mean) * torch.exp(-log_std)
    return (-0.5 * z.pow(2) - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)


def diag_gaussian_entropy(log_std: torch.Tensor, dim: int) -> torch.Tensor:
    """Entropy of a ``dim``-dimensional diagonal Gaussian (``log_std`` per dimension or broadcast)."""
    return (dim * (0.5 + 0.5 * math.log(2 * math.pi)) + log_std.expand(dim).sum()).reshape(())
