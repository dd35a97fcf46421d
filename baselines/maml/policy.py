"""A functional Gaussian MLP policy: its parameters are a plain dict of tensors that the inner step replaces.

ProMP's ``MetaGaussianMLPPolicy`` (``meta_policy_search/policies/meta_gaussian_mlp_policy.py``): a tanh MLP
for the mean (Xavier/Glorot-uniform weights, zero biases, linear output) and a learned log-std per action
dimension, clamped below at ``log(min_std)``; every parameter, the log-std included, is adapted by the inner
step. There is no ``nn.Module``: the inner step produces new parameter tensors that are functions of the
meta-parameters (MAML's second-order gradient flows through them), which a dict of tensors expresses directly
(the same role ``torch.func.functional_call`` plays for a module).

Batched parameters: every tensor may carry a leading axis ``B`` (one parameter set per task or per
evaluation trial). Then observations are `(B, N, obs_dim)` and each row of the batch uses its own
parameters; unbatched parameters take observations `(N, obs_dim)`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from agents.common.gaussian import diag_gaussian_log_prob

ParamDict = dict[str, torch.Tensor]


def init_params(
    obs_dim: int,
    act_dim: int,
    hidden_sizes: Sequence[int],
    init_std: float,
    generator: torch.Generator,
) -> ParamDict:
    """Glorot-uniform weights ``(fan_in, fan_out)``, zero biases, ``log_std = log(init_std)``; CPU float32.

    Weights are stored input-major so that ``obs @ weight`` works for batched and unbatched parameters alike.
    """
    params: ParamDict = {}
    sizes = (obs_dim, *hidden_sizes, act_dim)
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        bound = math.sqrt(6.0 / (fan_in + fan_out))
        params[f"layer{i}.weight"] = (torch.rand(fan_in, fan_out, generator=generator) * 2 - 1) * bound
        params[f"layer{i}.bias"] = torch.zeros(fan_out)
    params["log_std"] = torch.full((act_dim,), math.log(init_std))
    return params


def is_batched(params: ParamDict) -> bool:
    """Whether the parameters carry a leading batch axis (one set per task or trial)."""
    return params["log_std"].dim() == 2


def expand_params(params: ParamDict, batch: int) -> ParamDict:
    """Unbatched parameters repeated along a new leading axis of size ``batch`` (a view: gradients flow)."""
    return {name: value.unsqueeze(0).expand(batch, *value.shape) for name, value in params.items()}


def num_layers(params: ParamDict) -> int:
    return sum(1 for name in params if name.endswith(".weight"))


def mean_and_log_std(
    params: ParamDict, obs: torch.Tensor, min_log_std: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """The Gaussian's mean `(..., N, act_dim)` and clamped log-std, broadcastable to the mean."""
    hidden = obs
    layers = num_layers(params)
    for i in range(layers):
        # bias `(out,)` -> `(1, out)`, batched `(B, out)` -> `(B, 1, out)`: broadcasts over the N samples.
        hidden = hidden @ params[f"layer{i}.weight"] + params[f"layer{i}.bias"].unsqueeze(-2)
        if i < layers - 1:
            hidden = torch.tanh(hidden)
    # ProMP: tf.maximum(log_std, min_log_std); below the clamp the log-std gets no gradient.
    log_std = params["log_std"].clamp(min=min_log_std).unsqueeze(-2)
    return hidden, log_std


def log_prob(params: ParamDict, obs: torch.Tensor, actions: torch.Tensor, min_log_std: float) -> torch.Tensor:
    """Log-likelihood `(..., N)` of ``actions`` under the policy with ``params``."""
    mean, log_std = mean_and_log_std(params, obs, min_log_std)
    return diag_gaussian_log_prob(actions, mean, log_std)


def kl_divergence(
    old_mean: torch.Tensor, old_log_std: torch.Tensor, new_mean: torch.Tensor, new_log_std: torch.Tensor
) -> torch.Tensor:
    """``KL(old || new)`` of diagonal Gaussians, summed over action dimensions (ProMP ``kl_sym``)."""
    old_var = torch.exp(2 * old_log_std)
    new_var = torch.exp(2 * new_log_std)
    per_dim = new_log_std - old_log_std + (old_var + (old_mean - new_mean).pow(2)) / (2 * new_var) - 0.5
    return per_dim.sum(-1)
