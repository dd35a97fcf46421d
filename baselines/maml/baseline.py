"""The linear feature baseline and the per-task advantages of MAML's sample processing.

rllab / ProMP / garage ``LinearFeatureBaseline`` (ProMP ``meta_policy_search/baselines/linear_baseline.py``):
per task, a ridge regression of the discounted returns on the features
``[obs, obs², t/100, (t/100)², (t/100)³, 1]`` of every step (observations clipped to ±10), with
regularisation 1e-5 multiplied by 10 (at most 5 tries) while the solution has NaNs; refitted on every batch.
Advantages are GAE(gamma, lambda) on that baseline with a zero bootstrap after each episode, standardised per
task (ProMP ``SampleProcessor._compute_samples_data`` with ``normalize_adv=True``).

Arrays are padded: episodes along one axis, time along the last, with a boolean ``mask`` of real steps.
"""

from __future__ import annotations

import numpy as np


def baseline_features(obs: np.ndarray, t: np.ndarray) -> np.ndarray:
    """`(N, 2 obs_dim + 4)` features of steps with observations `(N, obs_dim)` at in-episode times `(N,)`."""
    obs = np.clip(np.asarray(obs, dtype=np.float64), -10, 10)
    time = np.asarray(t, dtype=np.float64)[:, None] / 100.0
    return np.concatenate([obs, obs**2, time, time**2, time**3, np.ones_like(time)], axis=1)


def fit_linear_baseline(features: np.ndarray, targets: np.ndarray, reg: float = 1e-5) -> np.ndarray:
    """Ridge-regression coefficients `(n_features,)` of ``targets`` on ``features`` (rllab's escalation)."""
    gram = features.T @ features
    rhs = features.T @ targets
    coeffs = np.full(features.shape[1], np.nan)
    for _ in range(5):
        coeffs = np.linalg.lstsq(gram + reg * np.identity(gram.shape[0]), rhs, rcond=-1)[0]
        if not np.any(np.isnan(coeffs)):
            break
        reg *= 10
    return coeffs


def discount_cumsum(x: np.ndarray, discount: float) -> np.ndarray:
    """``y_t = sum_k discount^k x_{t+k}`` along the last axis, vectorised over the leading axes."""
    out = np.zeros_like(x, dtype=np.float64)
    running = np.zeros(x.shape[:-1], dtype=np.float64)
    for t in range(x.shape[-1] - 1, -1, -1):
        running = x[..., t] + discount * running
        out[..., t] = running
    return out


def task_advantages(
    obs: np.ndarray,
    rewards: np.ndarray,
    mask: np.ndarray,
    discount: float,
    gae_lambda: float,
    normalize: bool,
    reg: float = 1e-5,
) -> np.ndarray:
    """Advantages `(tasks, episodes, T)` from one linear baseline fitted per task, zero at padding.

    Args:
        obs: `(tasks, episodes, T, obs_dim)` observations of the padded episodes.
        rewards: `(tasks, episodes, T)` rewards (padding ignored).
        mask: `(tasks, episodes, T)` true on real steps; each episode's real steps come first.
        discount: gamma.
        gae_lambda: lambda (1: return minus baseline).
        normalize: standardise each task's advantages over its real steps.
        reg: ridge coefficient of the baseline.
    """
    mask = np.asarray(mask, dtype=bool)
    rewards = np.where(mask, rewards, 0.0)
    returns = discount_cumsum(rewards, discount)
    horizon = mask.shape[-1]
    time = np.broadcast_to(np.arange(horizon), mask.shape[1:])
    values = np.zeros_like(returns)
    for task in range(mask.shape[0]):
        real = mask[task]
        if not real.any():
            continue
        features = baseline_features(obs[task][real], time[real])
        coeffs = fit_linear_baseline(features, returns[task][real], reg)
        values[task][real] = features @ coeffs
    # V(s_{t+1}), zero after an episode's last step (no bootstrap, as ProMP and garage).
    next_values = np.concatenate([values[..., 1:], np.zeros_like(values[..., :1])], axis=-1)
    next_values = np.where(
        np.concatenate([mask[..., 1:], np.zeros_like(mask[..., :1])], axis=-1), next_values, 0.0
    )
    deltas = np.where(mask, rewards + discount * next_values - values, 0.0)
    advantages = discount_cumsum(deltas, discount * gae_lambda)
    if normalize:
        for task in range(mask.shape[0]):
            real = mask[task]
            if real.any():
                adv = advantages[task][real]
                advantages[task][real] = (adv - adv.mean()) / (adv.std() + 1e-8)
    return np.where(mask, advantages, 0.0)
