"""TrMRL's PPO update, as garage's ``RL2PPO`` -> ``PPO`` -> ``VPG.train_once`` ran it.

Per training iteration (one meta-batch of trials):

1. values of every sample, before any update (``baselines``), then per trial the discounted returns
   (value targets) and GAE over the whole concatenated trial with a zero bootstrap at its end;
2. no advantage normalisation (``center_adv`` never passed), entropy coefficient 0 (so no entropy term);
3. ``opt_epochs`` shuffled passes of minibatches for the **policy** (clipped surrogate against the
   pre-update policy's log-likelihoods), **then** ``opt_epochs`` passes for the **value function**
   (Gaussian NLL of the returns); two AdamW optimisers, each with its own per-minibatch schedule;
4. the policy is trained on the windows stored during rollout, not by re-running whole trajectories.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from agents.common.device import to_device
from agents.common.gaussian import diag_gaussian_log_prob
from agents.common.losses import gaussian_nll_loss, ppo_clip_loss
from agents.common.returns import discounted_returns, gae_advantages
from agents.trmrl.networks import TransformerPolicy, ValueFunction


@dataclass
class Batch:
    """One iteration's samples, flattened over trials (``N`` = env steps of the meta-batch)."""

    windows: torch.Tensor  # `(N, wm_size, token_dim)`
    index: torch.Tensor  # `(N,)` int64 latest slot of each window
    tokens: torch.Tensor  # `(N, token_dim)` the single-step token (input of an unshared value function)
    actions: torch.Tensor  # `(N, act_dim)` the sampled (unclipped) actions
    rewards: np.ndarray  # `(N,)`
    trial_lengths: list[int]  # lengths of the consecutive trials making up the N samples

    def __len__(self) -> int:
        return int(self.actions.shape[0])


def trial_advantages(
    rewards: np.ndarray, values: np.ndarray, trial_lengths: list[int], discount: float, gae_lambda: float
) -> tuple[np.ndarray, np.ndarray]:
    """Advantages and discounted returns of every sample, each trial treated as one trajectory."""
    advantages = np.zeros(len(rewards))
    returns = np.zeros(len(rewards))
    start = 0
    for length in trial_lengths:
        segment = slice(start, start + length)
        advantages[segment] = gae_advantages(rewards[segment], values[segment], discount, gae_lambda, 0.0)
        returns[segment] = discounted_returns(rewards[segment], discount)
        start += length
    if start != len(rewards):
        raise ValueError(f"trial lengths sum to {start}, but there are {len(rewards)} samples")
    return advantages, returns


def minibatches(n: int, size: int, epochs: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """garage ``BatchDataset``: ``epochs`` passes, a new permutation cut in ``ceil(n / size)`` parts."""
    for _ in range(epochs):
        ids = rng.permutation(n)
        for start in range(0, n, size):
            yield ids[start : start + size]


def steps_per_epoch(opt_epochs: int, horizon: int, episodes_per_trial: int, meta_batch: int, mb: int) -> int:
    """The schedule's step count per iteration exactly as the original computed it.

    ``max_opt_epochs * (T * episodes * meta_batch) // minibatch`` (312 for HalfCheetahVel) although the
    optimiser really takes ``max_opt_epochs * ceil(N / minibatch)`` (320) steps: the decay drifts slightly
    earlier than its nominal epochs, as in the original.
    """
    return opt_epochs * (horizon * episodes_per_trial * meta_batch) // mb


class PPOUpdate:
    """The optimisers, schedules and minibatch loop of one TrMRL learner.

    Args:
        policy: the transformer policy.
        value: the value function (sharing ``policy``'s transformer when ``value.shared``).
        policy_lr, value_lr, weight_decay: AdamW settings.
        policy_schedule, value_schedule: ``step -> multiplier`` of the base rate, or ``None``.
        clip_range, discount, gae_lambda, minibatch_size, opt_epochs: PPO settings.
        autocast: the context of the update's forward passes and losses (``Runtime.autocast``: bfloat16
            autocast under ``--precision bf16``); backward passes and optimiser steps run outside it.
    """

    def __init__(
        self,
        policy: TransformerPolicy,
        value: ValueFunction,
        *,
        policy_lr: float,
        value_lr: float,
        weight_decay: float,
        policy_schedule: Callable[[int], float] | None,
        value_schedule: Callable[[int], float] | None,
        clip_range: float,
        discount: float,
        gae_lambda: float,
        minibatch_size: int,
        opt_epochs: int,
        autocast: Callable[[], AbstractContextManager[Any]] = contextlib.nullcontext,
    ) -> None:
        self.policy = policy
        self.autocast = autocast
        self.value = value
        # foreach: one call per step for all tensors instead of a Python loop over them; on the CPU it
        # computes exactly what the per-tensor loop does, and on a GPU it is torch's default anyway.
        self.policy_optimizer = torch.optim.AdamW(
            policy.parameters(), lr=policy_lr, weight_decay=weight_decay, foreach=True
        )
        value_params = list(value.head.parameters())
        if value.shared:
            # --share_network: the value optimiser also updates the shared embedding and encoder.
            value_params += list(policy.embedding.parameters()) + list(policy.layers.parameters())
        self.value_optimizer = torch.optim.AdamW(
            value_params, lr=value_lr, weight_decay=weight_decay, foreach=True
        )
        self.policy_lr, self.value_lr = policy_lr, value_lr
        self.policy_schedule, self.value_schedule = policy_schedule, value_schedule
        self.clip_range, self.discount, self.gae_lambda = clip_range, discount, gae_lambda
        self.minibatch_size, self.opt_epochs = minibatch_size, opt_epochs
        self.policy_steps = 0  # minibatch steps so far: the schedules' clock (garage ``_epoch``)
        self.value_steps = 0

    def __call__(self, batch: Batch, rng: np.random.Generator) -> dict[str, float]:
        with torch.no_grad(), self.autocast():
            values, _ = self.value(batch.tokens, batch.windows, batch.index)
            mean, log_std = self.policy(batch.windows, batch.index)
            old_log_prob = diag_gaussian_log_prob(batch.actions, mean, log_std)
        adv_np, ret_np = trial_advantages(
            batch.rewards,
            values.double().cpu().numpy(),
            batch.trial_lengths,
            self.discount,
            self.gae_lambda,
        )
        device = batch.windows.device
        advantages = to_device(adv_np, device, torch.float32)
        returns = to_device(ret_np, device, torch.float32)

        # The losses stay on the device until the end (one host sync per update, not one per minibatch).
        policy_losses = []
        for ids in self._minibatches(len(batch), rng, device):
            self._set_lr(self.policy_optimizer, self.policy_lr, self.policy_schedule, self.policy_steps)
            self.policy_optimizer.zero_grad()
            with self.autocast():
                mean, log_std = self.policy(batch.windows[ids], batch.index[ids])
                log_prob = diag_gaussian_log_prob(batch.actions[ids], mean, log_std)
                loss = ppo_clip_loss(log_prob, old_log_prob[ids], advantages[ids], self.clip_range)
            loss.backward()
            self.policy_optimizer.step()
            self.policy_steps += 1
            policy_losses.append(loss.detach())

        value_losses = []
        for ids in self._minibatches(len(batch), rng, device):
            self._set_lr(self.value_optimizer, self.value_lr, self.value_schedule, self.value_steps)
            self.value_optimizer.zero_grad()
            with self.autocast():
                v_mean, v_log_std = self.value(batch.tokens[ids], batch.windows[ids], batch.index[ids])
                loss = gaussian_nll_loss(v_mean, v_log_std, returns[ids])
            loss.backward()
            self.value_optimizer.step()
            self.value_steps += 1
            value_losses.append(loss.detach())

        with torch.no_grad():
            std = self.policy.head.log_std.exp().mean()
            read = torch.stack([*policy_losses, *value_losses, std]).tolist()
        n_policy, n_value = len(policy_losses), len(value_losses)
        return {
            # np.mean of the floats .item() gave, as before: the same rounding.
            "policy_loss": float(np.mean(read[:n_policy])),
            "value_loss": float(np.mean(read[n_policy : n_policy + n_value])),
            "policy_lr": self.policy_optimizer.param_groups[0]["lr"],
            "value_lr": self.value_optimizer.param_groups[0]["lr"],
            "policy_std": float(read[-1]),
            "mean_advantage": float(adv_np.mean()),
        }

    def _minibatches(self, n: int, rng: np.random.Generator, device: torch.device) -> list[torch.Tensor]:
        """:func:`minibatches` (the same draws from ``rng``) as index tensors on ``device``, sent in one copy
        without a host sync: indexing a GPU tensor with a host array would copy and wait every minibatch."""
        parts = list(minibatches(n, self.minibatch_size, self.opt_epochs, rng))
        if not parts:
            return []
        ids = to_device(np.concatenate(parts), device)
        return list(ids.split([len(p) for p in parts]))

    @staticmethod
    def _set_lr(
        optimizer: torch.optim.Optimizer, base: float, schedule: Callable[[int], float] | None, step: int
    ) -> None:
        lr = base if schedule is None else base * schedule(step)
        for group in optimizer.param_groups:
            group["lr"] = lr

    def state_dict(self) -> dict:
        return {
            "policy_optimizer": self.policy_optimizer.state_dict(),
            "value_optimizer": self.value_optimizer.state_dict(),
            "policy_steps": self.policy_steps,
            "value_steps": self.value_steps,
        }

    def load_state_dict(self, state: dict) -> None:
        self.policy_optimizer.load_state_dict(state["policy_optimizer"])
        self.value_optimizer.load_state_dict(state["value_optimizer"])
        self.policy_steps = int(state["policy_steps"])
        self.value_steps = int(state["value_steps"])
