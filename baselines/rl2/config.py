"""RL²'s configuration: one frozen dataclass. The values per suite and tier, each with its source (ProMP's RL²
for locomotion, garage PR #2287's RL2-PPO launchers for Meta-World), are in :mod:`baselines.rl2.provenance`.

Units: a *trial* is ``episodes_per_trial`` episodes of the suite's horizon; rollouts and minibatches are
counted in trials so that they stay aligned with trials whatever the suite's horizon (see ``agent.py``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class RL2Config:
    """RL² on sb3-contrib's RecurrentPPO (defaults: ProMP's locomotion configuration)."""

    episodes_per_trial: int = 2
    """K: episodes per meta-training trial; the hidden state spans them (ProMP: 2, garage MW: 10)"""
    meta_batch: int = 100
    """trials collected in parallel per iteration, one environment each (ProMP: 100 at horizon 200)"""
    trials_per_env: int = 1
    """consecutive trials each environment plays per iteration; rollout length = this x K x horizon"""
    lstm_hidden_size: int = 64
    """units of the recurrent cell; an LSTM where garage used a GRU (ProMP: LSTM 64, garage MW: GRU 256)"""
    head_hidden_sizes: tuple[int, ...] = ()
    """MLP layers between the recurrent cell and the Gaussian/value heads; () = linear heads (originals)"""
    log_std_init: float = 0.0
    """initial log standard deviation of the state-independent Gaussian (garage init_std 1.0 -> 0.0)"""
    learning_rate: float = 1e-3
    """Adam learning rate, constant (ProMP 1e-3, garage 5e-4)"""
    n_epochs: int = 5
    """PPO passes over each iteration's batch (ProMP 5, garage 10)"""
    minibatch_trials: int = 100
    """trials per PPO minibatch; capped at the batch (ProMP: the whole batch; garage: 32 paths)"""
    gamma: float = 0.99
    """discount, applied across the inner episodes of a trial (RL²: the trial is the episode)"""
    gae_lambda: float = 1.0
    """GAE λ (ProMP 1.0, garage 0.95)"""
    clip_range: float = 0.2
    """PPO ratio clip ε (both originals 0.2)"""
    ent_coef: float = 0.0
    """entropy bonus in the loss (ProMP none; garage max-entropy 5e-6, mapped onto SB3's loss term)"""
    vf_coef: float = 0.5
    """weight of the value loss; SB3 trains actor and critic with one optimizer (originals: separate fits)"""
    max_grad_norm: float | None = None
    """global gradient-norm clip; None = no clipping, as in both originals"""
    normalize_advantage: bool = True
    """standardise advantages per minibatch (ProMP normalize_adv True; garage center_adv False)"""
    normalize_reward: bool = False
    """scale training rewards by a running return std (SB3 VecNormalize); garage MW normalize_reward=True"""
    bootstrap_trial_end: bool = False
    """bootstrap the value at the end of a trial; False = the trial is a finite episode (garage RL2)"""

    def __post_init__(self) -> None:
        positive = ("episodes_per_trial", "meta_batch", "trials_per_env", "lstm_hidden_size", "n_epochs")
        for name in (*positive, "minibatch_trials"):
            if getattr(self, name) < 1:
                raise ValueError(f"RL2Config.{name} must be >= 1, got {getattr(self, name)}")
        if not 0.0 < self.gamma <= 1.0 or not 0.0 <= self.gae_lambda <= 1.0:
            raise ValueError(
                f"need 0 < gamma <= 1 and 0 <= gae_lambda <= 1, got {self.gamma}, {self.gae_lambda}"
            )
        if self.learning_rate <= 0 or self.clip_range <= 0:
            raise ValueError("learning_rate and clip_range must be positive")
        for name in ("vf_coef", "ent_coef"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"RL2Config.{name} must be >= 0, got {getattr(self, name)}")
        if self.max_grad_norm is not None and self.max_grad_norm <= 0:
            raise ValueError(f"max_grad_norm must be positive or None, got {self.max_grad_norm}")
