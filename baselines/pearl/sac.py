"""PEARL's off-policy update: SAC of 2018 (V network with a target, twin Q) with a context encoder.

One gradient step follows oyster ``rlkit/torch/sac/sac.py`` (``PEARLSoftActorCritic._take_step``):

1. z ~ q(z | c) from each task's context batch (reparameterised), repeated over that task's RL batch;
2. encoder + Q: ``kl_lambda * KL(q(z|c) || N(0, I))`` (summed over tasks and latent dimensions) plus the twin
   Q loss ``mean((Q_i(s, a, z) - (reward_scale * r + (1 - terminal) * gamma * V_target(s', z)))^2)``; the
   encoder is trained by these two terms only (the policy and V see z detached);
3. V: ``mean((V(s, z) - (min_i Q_i(s, a~pi, z) - log pi(a|s, z)))^2)``, then the Polyak update of V_target;
4. policy: ``mean(log pi(a|s, z) - min_i Q_i(s, a~pi, z))`` plus 1e-3 L2 penalties on its mean and log-std.

There is no learned temperature: ``reward_scale`` sets the entropy's weight. ``terminal`` is a true
termination only; a time-limit cut bootstraps (Meta-World#43).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from baselines.pearl.config import PEARLConfig
from baselines.pearl.encoder import ContextEncoder, kl_to_standard_normal, sample_latent
from baselines.pearl.networks import TanhGaussianPolicy, oyster_mlp
from benchmark.agent import Runtime


@dataclass
class TrainingBatch:
    """One gradient step's data, tasks first: RL fields `(T, B, dim)`, context `(T, E, context_dim)`."""

    obs: torch.Tensor
    action: torch.Tensor
    reward: torch.Tensor  # `(T, B, 1)`
    next_obs: torch.Tensor
    terminal: torch.Tensor  # `(T, B, 1)`: 1.0 on a true termination
    context: torch.Tensor


@contextmanager
def frozen(*modules: nn.Module) -> Iterator[None]:
    """Compute through ``modules`` without accumulating gradients in their parameters."""
    params = [p for m in modules for p in m.parameters()]
    flags = [p.requires_grad for p in params]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(params, flags, strict=True):
            p.requires_grad_(flag)


class PEARLLearner(nn.Module):
    """The networks and optimisers of PEARL, and :meth:`update` (one gradient step).

    Args:
        config: hyperparameters.
        obs_dim: raw observation width.
        act_dim: action width (the policy acts in [-1, 1]^act_dim).
        runtime: its precision decides the autocast of :meth:`update` (default fp32: none).
    """

    def __init__(
        self, config: PEARLConfig, obs_dim: int, act_dim: int, runtime: Runtime | None = None
    ) -> None:
        super().__init__()
        self.config = config
        self.autocast = (runtime or Runtime()).autocast  # where update() computes forwards and losses
        z, hidden = config.latent_dim, config.hidden_sizes
        self.context_dim = (
            obs_dim + act_dim + 1
        )  # (obs, action, reward): oyster use_next_obs_in_context False
        self.encoder = ContextEncoder(self.context_dim, z, config.encoder_hidden_sizes)
        self.policy = TanhGaussianPolicy(obs_dim + z, act_dim, hidden)
        self.qf1 = oyster_mlp(obs_dim + act_dim + z, 1, hidden)
        self.qf2 = oyster_mlp(obs_dim + act_dim + z, 1, hidden)
        self.vf = oyster_mlp(obs_dim + z, 1, hidden)
        self.target_vf = copy.deepcopy(self.vf)
        self.target_vf.requires_grad_(False)
        # foreach: one call per step for all of a network's tensors instead of a Python loop over them; on the
        # CPU it computes exactly what the per-tensor loop does (fused=True does not: its CPU kernel rounds
        # differently), and on a GPU it is torch's default anyway.
        self.policy_optimizer = torch.optim.Adam(self.policy.parameters(), lr=config.policy_lr, foreach=True)
        self.qf1_optimizer = torch.optim.Adam(self.qf1.parameters(), lr=config.qf_lr, foreach=True)
        self.qf2_optimizer = torch.optim.Adam(self.qf2.parameters(), lr=config.qf_lr, foreach=True)
        self.vf_optimizer = torch.optim.Adam(self.vf.parameters(), lr=config.vf_lr, foreach=True)
        self.context_optimizer = torch.optim.Adam(
            self.encoder.parameters(), lr=config.context_lr, foreach=True
        )

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {
            "policy": self.policy_optimizer,
            "qf1": self.qf1_optimizer,
            "qf2": self.qf2_optimizer,
            "vf": self.vf_optimizer,
            "context": self.context_optimizer,
        }

    def soft_update_target(self) -> None:
        """``target <- tau * vf + (1 - tau) * target`` (oyster ``_update_target_network``).

        SB3's ``polyak_update`` as two foreach calls (``target *= 1 - tau``, then ``target += tau * vf``):
        the same arithmetic in the same order, without a Python loop over the tensors.
        """
        tau = self.config.soft_target_tau
        with torch.no_grad():
            targets = [p.data for p in self.target_vf.parameters()]
            torch._foreach_mul_(targets, 1 - tau)
            torch._foreach_add_(targets, [p.data for p in self.vf.parameters()], alpha=tau)

    def _min_q(self, obs: torch.Tensor, action: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        x = torch.cat([obs, action, z], dim=-1)
        return torch.min(self.qf1(x).float(), self.qf2(x).float())

    def update(self, batch: TrainingBatch, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """One gradient step on every network; returns the losses for logging as detached 0-d tensors on
        the networks' device (reading them is a host sync: :func:`to_floats` once per iteration, not per
        step)."""
        cfg = self.config
        num_tasks, rl_batch = batch.obs.shape[:2]

        def flat(x: torch.Tensor) -> torch.Tensor:
            return x.reshape(num_tasks * rl_batch, -1)

        obs, action, next_obs = flat(batch.obs), flat(batch.action), flat(batch.next_obs)
        reward, terminal = flat(batch.reward), flat(batch.terminal)

        # Forward passes and losses under the runtime's autocast (bf16, or nothing); every network's output
        # comes back as float32 (a no-op under fp32), so the heads' arithmetic, the noise and the losses stay
        # float32. Each autocast block ends before an optimiser step changes the weights it cast.
        with self.autocast():
            mu, variance = self.encoder.posterior(batch.context)  # `(T, latent)`
            task_z = sample_latent(mu, variance, generator).repeat_interleave(rl_batch, dim=0)
            z_detached = task_z.detach()
            policy_input = torch.cat([obs, z_detached], dim=-1)
            new_action, log_pi, policy_mean, policy_log_std = self.policy.sample(policy_input, generator)
            log_pi = log_pi.unsqueeze(-1)

            q_input = torch.cat([obs, action, task_z], dim=-1)
            q1_pred, q2_pred = self.qf1(q_input).float(), self.qf2(q_input).float()
            v_pred = self.vf(policy_input).float()
            with torch.no_grad():
                target_v = self.target_vf(torch.cat([next_obs, task_z], dim=-1)).float()

            # Encoder and Q networks: KL + Bellman error (the only losses that reach the encoder).
            kl = kl_to_standard_normal(mu, variance).sum()
            q_target = cfg.reward_scale * reward + (1.0 - terminal) * cfg.discount * target_v
            qf_loss = F.mse_loss(q1_pred, q_target) + F.mse_loss(q2_pred, q_target)
        for optimizer in (self.context_optimizer, self.qf1_optimizer, self.qf2_optimizer):
            optimizer.zero_grad()
        (cfg.kl_lambda * kl + qf_loss).backward()
        self.qf1_optimizer.step()
        self.qf2_optimizer.step()
        self.context_optimizer.step()

        # V network towards min Q of the policy's fresh action minus its log-likelihood (updated Q networks).
        with frozen(self.qf1, self.qf2), self.autocast():
            min_q_new = self._min_q(obs, new_action, z_detached)
        vf_loss = F.mse_loss(v_pred, (min_q_new - log_pi).detach())
        self.vf_optimizer.zero_grad()
        vf_loss.backward()
        self.vf_optimizer.step()
        self.soft_update_target()

        # Policy: reparameterised, through dQ/da.
        policy_loss = (log_pi - min_q_new).mean()
        policy_loss = policy_loss + cfg.policy_mean_reg_weight * policy_mean.pow(2).mean()
        policy_loss = policy_loss + cfg.policy_std_reg_weight * policy_log_std.pow(2).mean()
        self.policy_optimizer.zero_grad()
        policy_loss.backward()
        self.policy_optimizer.step()
        with torch.no_grad():
            return {
                "qf_loss": qf_loss.detach(),
                "vf_loss": vf_loss.detach(),
                "policy_loss": policy_loss.detach(),
                "kl": kl.detach(),
                "z_variance": variance.mean(),
                "log_pi": log_pi.mean(),
            }


def to_floats(stats: dict[str, torch.Tensor]) -> dict[str, float]:
    """0-d tensors -> floats with one device-to-host copy (the values ``.item()`` would give one by one)."""
    if not stats:
        return {}
    return dict(zip(stats, torch.stack([v.float() for v in stats.values()]).tolist(), strict=True))
