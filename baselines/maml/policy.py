"""A functional Gaussian MLP policy: its parameters are a plain dict of tensors that the inner step replaces.

Two layouts of the standard deviation, chosen by the parameters' keys (:func:`init_params`'s ``std_head``):

* ``parameter`` (ProMP's ``MetaGaussianMLPPolicy``,
  ``meta_policy_search/policies/meta_gaussian_mlp_policy.py``): a tanh MLP for the mean (Xavier/Glorot-uniform
  weights, zero biases, linear output) and a learned log-std per action dimension, independent of the state,
  clamped at ``log(min_std)`` (and at ``log(max_std)`` if given).
* ``shared_network`` (garage's ``GaussianMLPTwoHeadedModule``, ``std_mlp_type='share_mean_std'``:
  ``src/garage/torch/modules/gaussian_mlp_module.py`` on ``MultiHeadedMLPModule``,
  ``src/garage/torch/modules/multi_headed_mlp_module.py``): one tanh MLP trunk (the hidden layers) with two
  linear output heads, the mean and the log-std. Both heads' weights are Xavier-uniform; the mean head's
  bias starts at 0 and the log-std head's at ``log(init_std)``. The log-std is then a function of the state,
  clamped in log space to ``[log(min_std), log(max_std)]`` (a hard clamp: no gradient where it binds).

:class:`Outputs` says what happens to the output heads: garage's ``output_nonlinearity=torch.tanh`` squashes
every output head (``MultiHeadedMLPModule`` copies a single nonlinearity to each head), i.e. the mean and,
with the shared network, the raw log-std before its clamp; the ``parameter`` log-std is a parameter, not a
head, so only the clamp applies to it (as in garage's ``GaussianMLPModule``).

Every parameter, the log-std or its head included, is adapted by the inner step. There is no ``nn.Module``:
the inner step produces new parameter tensors that are functions of the meta-parameters (MAML's second-order
gradient flows through them), which a dict of tensors expresses directly (the same role
``torch.func.functional_call`` plays for a module).

Batched parameters: every tensor may carry a leading axis ``B`` (one parameter set per task or per
evaluation trial). Then observations are `(B, N, obs_dim)` and each row of the batch uses its own
parameters; unbatched parameters take observations `(N, obs_dim)`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import torch

from agents.common.gaussian import diag_gaussian_log_prob

ParamDict = dict[str, torch.Tensor]

LOG_STD_HEAD = "log_std_head"
"""Name prefix of the shared network's log-std head (``log_std_head.weight``, ``log_std_head.bias``)."""


@dataclass(frozen=True)
class Outputs:
    """How the output heads become the Gaussian's mean and log-std.

    Attributes:
        min_log_std: lower clamp of the log-std (ProMP and garage ``min_std``, in log space).
        max_log_std: upper clamp of the log-std (garage ``max_std``); None: none (ProMP).
        tanh: tanh on every output head (garage ``output_nonlinearity=torch.tanh``); False: linear (ProMP).
    """

    min_log_std: float
    max_log_std: float | None = None
    tanh: bool = False

    @classmethod
    def from_stds(cls, min_std: float, max_std: float | None = None, tanh: bool = False) -> Outputs:
        """From the clamps as standard deviations (the config's ``min_std`` / ``max_std``)."""
        return cls(math.log(min_std), None if max_std is None else math.log(max_std), tanh)

    def clamp(self, log_std: torch.Tensor) -> torch.Tensor:
        # ProMP: tf.maximum(log_std, min_log_std); garage: log_std.clamp(min=..., max=...). Where the clamp
        # binds the log-std gets no gradient.
        if self.max_log_std is None:
            return log_std.clamp(min=self.min_log_std)
        return log_std.clamp(min=self.min_log_std, max=self.max_log_std)


def _xavier_uniform(fan_in: int, fan_out: int, generator: torch.Generator) -> torch.Tensor:
    bound = math.sqrt(6.0 / (fan_in + fan_out))
    return (torch.rand(fan_in, fan_out, generator=generator) * 2 - 1) * bound


def init_params(
    obs_dim: int,
    act_dim: int,
    hidden_sizes: Sequence[int],
    init_std: float,
    generator: torch.Generator,
    std_head: Literal["parameter", "shared_network"] = "parameter",
) -> ParamDict:
    """Glorot-uniform weights ``(fan_in, fan_out)``, zero biases and the log-std at ``log(init_std)``; CPU
    float32.

    ``layer0 .. layer{L-1}`` are the mean's MLP (its last layer is the mean head). ``std_head='parameter'``
    adds ``log_std = log(init_std)`` per action dimension; ``'shared_network'`` adds the log-std head
    ``log_std_head.weight`` (Glorot-uniform, drawn after every other layer, so the mean's layers are the same
    draws in both layouts) and ``log_std_head.bias = log(init_std)`` (garage ``GaussianMLPTwoHeadedModule``:
    ``output_b_inits=[zeros_, constant_(log(init_std))]``).

    Weights are stored input-major so that ``obs @ weight`` works for batched and unbatched parameters alike.
    """
    if std_head not in ("parameter", "shared_network"):
        raise ValueError(f"std_head must be 'parameter' or 'shared_network', got {std_head!r}")
    params: ParamDict = {}
    sizes = (obs_dim, *hidden_sizes, act_dim)
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        params[f"layer{i}.weight"] = _xavier_uniform(fan_in, fan_out, generator)
        params[f"layer{i}.bias"] = torch.zeros(fan_out)
    if std_head == "parameter":
        params["log_std"] = torch.full((act_dim,), math.log(init_std))
    else:
        params[f"{LOG_STD_HEAD}.weight"] = _xavier_uniform(sizes[-2], act_dim, generator)
        params[f"{LOG_STD_HEAD}.bias"] = torch.full((act_dim,), math.log(init_std))
    return params


def has_std_head(params: ParamDict) -> bool:
    """Whether the log-std is a head of the shared network (else a state-independent parameter)."""
    return f"{LOG_STD_HEAD}.weight" in params


def is_batched(params: ParamDict) -> bool:
    """Whether the parameters carry a leading batch axis (one set per task or trial)."""
    return params["layer0.bias"].dim() == 2


def expand_params(params: ParamDict, batch: int) -> ParamDict:
    """Unbatched parameters repeated along a new leading axis of size ``batch`` (a view: gradients flow)."""
    return {name: value.unsqueeze(0).expand(batch, *value.shape) for name, value in params.items()}


def num_layers(params: ParamDict) -> int:
    """Layers of the mean's MLP (the log-std head is not counted)."""
    return sum(1 for name in params if name.startswith("layer") and name.endswith(".weight"))


def _linear(params: ParamDict, name: str, inputs: torch.Tensor) -> torch.Tensor:
    # bias `(out,)` -> `(1, out)`, batched `(B, out)` -> `(B, 1, out)`: broadcasts over the N samples.
    return inputs @ params[f"{name}.weight"] + params[f"{name}.bias"].unsqueeze(-2)


def mean_and_log_std(
    params: ParamDict, obs: torch.Tensor, outputs: Outputs
) -> tuple[torch.Tensor, torch.Tensor]:
    """The Gaussian's mean `(..., N, act_dim)` and clamped log-std, broadcastable to the mean: `(..., 1,
    act_dim)` for the ``parameter`` layout, `(..., N, act_dim)` for the shared network's head."""
    hidden = obs
    layers = num_layers(params)
    for i in range(layers - 1):
        hidden = torch.tanh(_linear(params, f"layer{i}", hidden))
    mean = _linear(params, f"layer{layers - 1}", hidden)
    if outputs.tanh:
        mean = torch.tanh(mean)
    if has_std_head(params):
        raw_log_std = _linear(params, LOG_STD_HEAD, hidden)
        if outputs.tanh:
            raw_log_std = torch.tanh(raw_log_std)
    else:
        raw_log_std = params["log_std"].unsqueeze(-2)
    return mean, outputs.clamp(raw_log_std)


def log_prob(params: ParamDict, obs: torch.Tensor, actions: torch.Tensor, outputs: Outputs) -> torch.Tensor:
    """Log-likelihood `(..., N)` of ``actions`` under the policy with ``params``."""
    mean, log_std = mean_and_log_std(params, obs, outputs)
    return diag_gaussian_log_prob(actions, mean, log_std)


def kl_divergence(
    old_mean: torch.Tensor, old_log_std: torch.Tensor, new_mean: torch.Tensor, new_log_std: torch.Tensor
) -> torch.Tensor:
    """``KL(old || new)`` of diagonal Gaussians, summed over action dimensions (ProMP ``kl_sym``)."""
    old_var = torch.exp(2 * old_log_std)
    new_var = torch.exp(2 * new_log_std)
    per_dim = new_log_std - old_log_std + (old_var + (old_mean - new_mean).pow(2)) / (2 * new_var) - 0.5
    return per_dim.sum(-1)
