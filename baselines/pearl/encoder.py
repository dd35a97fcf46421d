"""PEARL's probabilistic context encoder (Rakelly et al. 2019, §4.1; oyster ``rlkit/torch/sac/agent.py``).

Each context transition ``c_i = (obs, action, reward)`` goes through one MLP that outputs the mean and the
(softplus) variance of a Gaussian factor ``Psi(z | c_i)``; the posterior ``q(z | c)`` is their product, which
does not depend on the order of the transitions:

    sigma^2 = 1 / sum_i (1 / sigma_i^2),    mu = sigma^2 * sum_i mu_i / sigma_i^2

(oyster ``_product_of_gaussians``, variances clamped below at 1e-7). The prior is N(0, I); the information
bottleneck adds ``kl_lambda * KL(q(z | c) || N(0, I))`` to the encoder's loss. As in oyster, the prior is
*not* one of the factors of the product.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from baselines.pearl.networks import oyster_mlp, standard_normal

MIN_VARIANCE = 1e-7
"""lower clamp of each factor's variance (oyster ``_product_of_gaussians``)"""


def product_of_gaussians(
    mu: torch.Tensor, variance: torch.Tensor, mask: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Combine Gaussian factors `(..., n, latent)` along ``n`` into one `(..., latent)` mean and variance.

    ``mask`` `(..., n)` marks the factors that exist (padding is ignored); a row without any factor gets the
    prior N(0, 1), which is what PEARL acts on before it has seen context.
    """
    precision = 1.0 / variance.clamp(min=MIN_VARIANCE)
    if mask is not None:
        precision = precision * mask.unsqueeze(-1).to(precision.dtype)
    total_precision = precision.sum(dim=-2)
    empty = total_precision == 0
    safe = torch.where(empty, torch.ones_like(total_precision), total_precision)
    post_variance = torch.where(empty, torch.ones_like(safe), 1.0 / safe)
    post_mu = torch.where(empty, torch.zeros_like(safe), post_variance * (precision * mu).sum(dim=-2))
    return post_mu, post_variance


def kl_to_standard_normal(mu: torch.Tensor, variance: torch.Tensor) -> torch.Tensor:
    """``KL(N(mu, variance) || N(0, I))`` summed over the last (latent) axis."""
    return 0.5 * (variance + mu.pow(2) - 1.0 - variance.log()).sum(dim=-1)


def sample_latent(mu: torch.Tensor, variance: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """A reparameterised draw ``z = mu + sqrt(variance) * eps`` with ``eps`` from ``generator``."""
    return mu + variance.sqrt() * standard_normal(mu.shape, generator, mu.device, mu.dtype)


class ContextEncoder(nn.Module):
    """``(obs, action, reward)`` per transition -> Gaussian factor -> posterior over the latent task ``z``.

    Args:
        context_dim: width of one context transition (``obs_dim + act_dim + 1``).
        latent_dim: dimensions of ``z`` (oyster ``latent_size``).
        hidden_sizes: the MLP's hidden widths (oyster: 200 x 3).
    """

    def __init__(self, context_dim: int, latent_dim: int, hidden_sizes: Sequence[int]) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.net = oyster_mlp(context_dim, 2 * latent_dim, hidden_sizes)

    def factors(self, context: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-transition means and variances `(..., n, latent)` (variance through softplus, as oyster)."""
        params = self.net(context).float()  # the product of the factors in float32, also under autocast
        return params[..., : self.latent_dim], F.softplus(params[..., self.latent_dim :])

    def posterior(
        self, context: torch.Tensor, mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and variance `(..., latent)` of ``q(z | context)`` for context `(..., n, context_dim)`."""
        mu, variance = self.factors(context)
        return product_of_gaussians(mu, variance, mask)
