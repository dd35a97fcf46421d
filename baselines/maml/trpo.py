"""TRPO's pieces for the outer loop: conjugate gradient, the natural step size and the KL line search.

ProMP ``meta_policy_search/optimizers/conjugate_gradient_optimizer.py`` (the rllab optimizer garage also
uses): solve ``H x = g`` by conjugate gradient on Hessian-vector products of the KL (Pearlmutter, damped by
``reg_coeff``), scale the direction to the trust region, ``step = sqrt(2 max_kl / (x·Hx + 1e-8)) x``, then
backtrack ``ratio^k`` and accept the first step that lowers the loss while keeping the KL within the bound;
if none does, the parameters are left unchanged.

Why not sb3-contrib's ``conjugate_gradient_solver``: it starts from ``1e-4 * randn_like(b)``, a draw from
torch's global generator, which would make training depend on whatever else used that generator (and break
bit-for-bit resumption); ProMP starts from zero, as here.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from baselines.maml.policy import ParamDict


def flatten(tensors: ParamDict | list[torch.Tensor] | tuple[torch.Tensor, ...]) -> torch.Tensor:
    """All tensors as one flat vector (dict order)."""
    values = list(tensors.values()) if isinstance(tensors, dict) else list(tensors)
    return torch.cat([t.reshape(-1) for t in values])


def unflatten(vector: torch.Tensor, like: ParamDict) -> ParamDict:
    """Split a flat vector back into tensors shaped like ``like`` (inverse of :func:`flatten`)."""
    out: ParamDict = {}
    offset = 0
    for name, value in like.items():
        out[name] = vector[offset : offset + value.numel()].view_as(value)
        offset += value.numel()
    return out


def conjugate_gradient(
    matrix_vector: Callable[[torch.Tensor], torch.Tensor],
    b: torch.Tensor,
    iterations: int = 10,
    residual_tol: float = 1e-10,
) -> torch.Tensor:
    """Approximate solution of ``A x = b`` for symmetric positive-definite ``A`` given as ``x -> A x``."""
    x = torch.zeros_like(b)
    residual = b.clone()
    direction = b.clone()
    residual_norm = residual @ residual
    for _ in range(iterations):
        if residual_norm < residual_tol:
            break
        product = matrix_vector(direction)
        alpha = residual_norm / (direction @ product)
        x = x + alpha * direction
        residual = residual - alpha * product
        new_residual_norm = residual @ residual
        direction = residual + (new_residual_norm / residual_norm) * direction
        residual_norm = new_residual_norm
    return x


def natural_step(
    gradient: torch.Tensor,
    hessian_vector: Callable[[torch.Tensor], torch.Tensor],
    max_kl: float,
    cg_iters: int,
) -> torch.Tensor:
    """The full TRPO step (to subtract from the parameters): ``H^-1 g`` scaled to the KL bound."""
    direction = conjugate_gradient(hessian_vector, gradient, cg_iters)
    curvature = float(direction @ hessian_vector(direction))
    return math.sqrt(2.0 * max_kl / (max(curvature, 0.0) + 1e-8)) * direction


@dataclass(frozen=True)
class LineSearchResult:
    """What the backtracking line search chose.

    Attributes:
        params: the accepted flat parameters (the old ones when ``accepted`` is False).
        accepted: whether a step met both conditions.
        loss: the loss at ``params``.
        kl: the KL at ``params`` (0 when rejected).
        backtracks: steps shrunk before acceptance (``max_steps`` when rejected).
    """

    params: torch.Tensor
    accepted: bool
    loss: float
    kl: float
    backtracks: int


def backtracking_line_search(
    old_params: torch.Tensor,
    full_step: torch.Tensor,
    evaluate: Callable[[torch.Tensor], tuple[float, float]],
    loss_before: float,
    max_kl: float,
    ratio: float = 0.8,
    max_steps: int = 15,
) -> LineSearchResult:
    """Try ``old - ratio^k * full_step`` for ``k = 0 .. max_steps-1``; accept the first with a lower loss
    and ``KL <= max_kl`` (both finite). ``evaluate(params) -> (loss, kl)``."""
    for k in range(max_steps):
        candidate = old_params - ratio**k * full_step
        loss, kl = evaluate(candidate)
        if math.isfinite(loss) and math.isfinite(kl) and loss < loss_before and kl <= max_kl:
            return LineSearchResult(candidate, True, loss, kl, k)
    return LineSearchResult(old_params, False, loss_before, 0.0, max_steps)
