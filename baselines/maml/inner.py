"""MAML's inner step: a policy-gradient step per task, batched over tasks, differentiable when asked.

ProMP ``TRPOMAML`` with ``inner_type='log_likelihood'`` (``meta_policy_search/meta_algos/trpo_maml.py``,
``_adapt_objective_sym``): the inner loss of a task is ``-mean_t(log pi(a_t|s_t) * A_t)`` over all its steps,
and the adapted parameters are ``theta' = theta - inner_lr * grad``. With ``create_graph`` the step stays in
the autograd graph, so the outer objective's gradient with respect to ``theta`` is MAML's true
(second-order) meta-gradient.

One backward pass gives every task its own gradient: the parameters are expanded to a leading task axis
``B`` and the per-task losses are summed; since task ``b``'s loss depends only on slice ``b``, the gradient
with respect to the expanded tensor holds each task's gradient in its slice (what ``torch.func.vmap`` over
``torch.func.grad`` computes, without vmap's limits on double backward).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from baselines.maml.policy import Outputs, ParamDict, log_prob


@dataclass(frozen=True)
class TaskBatch:
    """Steps of ``B`` tasks, padded to ``N`` steps each; tensors have the task as their first axis.

    Attributes:
        obs: `(B, N, obs_dim)` policy observations.
        actions: `(B, N, act_dim)` the policy's (unclipped) actions.
        advantages: `(B, N)` processed advantages (zero at padding).
        mask: `(B, N)` 1.0 on real steps, 0.0 on padding.
        returns: `(B,)` mean undiscounted episode return per task (a diagnostic).
    """

    obs: torch.Tensor
    actions: torch.Tensor
    advantages: torch.Tensor
    mask: torch.Tensor
    returns: torch.Tensor

    @classmethod
    def from_arrays(
        cls,
        obs: np.ndarray,
        actions: np.ndarray,
        advantages: np.ndarray,
        mask: np.ndarray,
        rewards: np.ndarray,
        device: torch.device,
    ) -> TaskBatch:
        """From `(B, episodes, T, ...)` arrays: episodes and time are flattened into the step axis."""
        tasks = mask.shape[0]

        def tensor(x: np.ndarray, *tail: int) -> torch.Tensor:
            return torch.as_tensor(np.asarray(x, dtype=np.float32).reshape(tasks, -1, *tail), device=device)

        episode_returns = np.where(mask, rewards, 0.0).sum(-1).mean(-1)
        return cls(
            obs=tensor(obs, obs.shape[-1]),
            actions=tensor(actions, actions.shape[-1]),
            advantages=tensor(advantages).reshape(tasks, -1),
            mask=tensor(mask).reshape(tasks, -1),
            returns=torch.as_tensor(episode_returns, dtype=torch.float32, device=device),
        )

    def select(self, tasks: torch.Tensor | Sequence[int]) -> TaskBatch:
        """The sub-batch of the given tasks."""
        index = torch.as_tensor(tasks, dtype=torch.long, device=self.obs.device)
        return TaskBatch(
            *(x[index] for x in (self.obs, self.actions, self.advantages, self.mask, self.returns))
        )


def masked_task_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """`(B,)` mean of `(B, N)` values over each task's real steps."""
    return (values * mask).sum(-1) / mask.sum(-1).clamp(min=1.0)


def inner_losses(params: ParamDict, batch: TaskBatch, outputs: Outputs) -> torch.Tensor:
    """`(B,)` per-task inner losses ``-mean(log pi(a|s) * A)`` for task-batched ``params``."""
    logp = log_prob(params, batch.obs, batch.actions, outputs)
    return -masked_task_mean(logp * batch.advantages, batch.mask)


def adapt(
    params: ParamDict,
    batches: Sequence[TaskBatch],
    inner_lr: float,
    outputs: Outputs,
    create_graph: bool = False,
) -> ParamDict:
    """One inner SGD step per element of ``batches`` (step ``k`` on ``batches[k]``), batched over tasks.

    Args:
        params: task-batched parameters (leading axis ``B``; :func:`expand_params` of the meta-parameters).
        batches: the data of each inner step, each with ``B`` tasks.
        inner_lr: step size.
        outputs: the policy's output heads (tanh, log-std clamp).
        create_graph: keep the steps differentiable with respect to ``params`` (the meta-gradient); otherwise
            the result is detached.
    """
    current = params if create_graph else {k: v.detach().requires_grad_(True) for k, v in params.items()}
    for batch in batches:
        with torch.enable_grad():
            loss = inner_losses(current, batch, outputs).sum()
            grads = torch.autograd.grad(loss, list(current.values()), create_graph=create_graph)
        current = {
            name: value - inner_lr * g for (name, value), g in zip(current.items(), grads, strict=True)
        }
        if not create_graph:
            current = {k: v.detach().requires_grad_(True) for k, v in current.items()}
    if not create_graph:
        current = {k: v.detach() for k, v in current.items()}
    return current
