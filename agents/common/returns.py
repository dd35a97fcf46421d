"""Discounted returns and generalised advantage estimation (GAE) over one trajectory.

RL²-style meta-RL (Duan et al. 2016) and TrMRL concatenate the episodes of a trial into one trajectory, so
returns and advantages flow across the inner episode boundaries: no done-masking inside the trajectory and a
zero bootstrap after its last step (garage ``RL2`` + ``torch/_functions.py:compute_advantages``).

Why not SB3's ``RolloutBuffer.compute_returns_and_advantage``: it stores fixed ``(n_steps, n_envs)`` blocks,
masks by ``episode_starts`` and bootstraps from a last value, whereas trials here have variable length
(an Ant can fall) and end with a zero bootstrap. The recursion below is the same one, written plainly.
"""

from __future__ import annotations

import numpy as np


def discounted_returns(rewards: np.ndarray, discount: float) -> np.ndarray:
    """``R_t = sum_k discount^k r_{t+k}`` over one trajectory (garage ``np.discount_cumsum``).

    Args:
        rewards: `(T,)` rewards of one trajectory.
        discount: gamma.

    Returns:
        `(T,)` float64 discounted returns-to-go.
    """
    rewards = np.asarray(rewards, dtype=np.float64)
    out = np.zeros_like(rewards)
    running = 0.0
    for t in range(len(rewards) - 1, -1, -1):
        running = rewards[t] + discount * running
        out[t] = running
    return out


def gae_advantages(
    rewards: np.ndarray, values: np.ndarray, discount: float, gae_lambda: float, last_value: float = 0.0
) -> np.ndarray:
    """GAE(gamma, lambda) over one trajectory, without done-masking (Schulman et al. 2016, Eq. 16).

    ``delta_t = r_t + gamma V_{t+1} - V_t`` with ``V_T = last_value`` (0: the trial ended), and
    ``A_t = sum_k (gamma lambda)^k delta_{t+k}``.

    Args:
        rewards: `(T,)` rewards.
        values: `(T,)` value estimates of the states the rewards followed.
        discount: gamma.
        gae_lambda: lambda.
        last_value: bootstrap value after the last step (0 at the end of a trial, as in the original).

    Returns:
        `(T,)` float64 advantages.
    """
    rewards = np.asarray(rewards, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    if rewards.shape != values.shape or rewards.ndim != 1:
        raise ValueError(f"rewards {rewards.shape} and values {values.shape} must be equal 1-D shapes")
    next_values = np.append(values[1:], last_value)
    deltas = rewards + discount * next_values - values
    out = np.zeros_like(deltas)
    running = 0.0
    for t in range(len(deltas) - 1, -1, -1):
        running = deltas[t] + discount * gae_lambda * running
        out[t] = running
    return out
