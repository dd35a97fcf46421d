"""RL²'s configuration: one frozen dataclass. The values per suite and tier, each with its source (ProMP's RL²
for locomotion, garage PR #2287's RL2-PPO launchers for Meta-World), are in :mod:`baselines.rl2.provenance`.

Units: a *trial* is ``episodes_per_trial`` episodes of the suite's horizon; rollouts and minibatches are
counted in trials so that they stay aligned with trials whatever the suite's horizon (see ``agent.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

from benchmark.constraints import checked, flag, fraction, integer, layer_widths, number, optional


@dataclass(frozen=True, kw_only=True)
class RL2Config:
    """RL² on sb3-contrib's RecurrentPPO (defaults: ProMP's locomotion configuration)."""

    episodes_per_trial: int = checked(2, integer(at_least=1))
    """K: episodes per meta-training trial; the hidden state spans them (ProMP: 2, garage MW: 10)"""
    meta_batch: int = checked(100, integer(at_least=1))
    """trials collected in parallel per iteration, one environment each (ProMP: 100 at horizon 200)"""
    trials_per_env: int = checked(1, integer(at_least=1))
    """consecutive trials each environment plays per iteration; rollout length = this x K x horizon"""
    lstm_hidden_size: int = checked(64, integer(at_least=1))
    """units of the recurrent cell; an LSTM where garage used a GRU (ProMP: LSTM 64, garage MW: GRU 256)"""
    head_hidden_sizes: tuple[int, ...] = checked((), layer_widths(allow_empty=True))
    """MLP layers between the recurrent cell and the Gaussian/value heads; () = linear heads (originals)"""
    log_std_init: float = checked(0.0, number())
    """initial log standard deviation of the state-independent Gaussian (garage init_std 1.0 -> 0.0)"""
    learning_rate: float = checked(1e-3, number(above=0))
    """Adam learning rate, constant (ProMP 1e-3, garage 5e-4)"""
    n_epochs: int = checked(5, integer(at_least=1))
    """PPO passes over each iteration's batch (ProMP 5, garage 10)"""
    minibatch_trials: int = checked(100, integer(at_least=1))
    """trials per PPO minibatch; capped at the batch (ProMP: the whole batch; garage: 32 paths)"""
    gamma: float = checked(0.99, fraction(open_low=True))
    """discount, applied across the inner episodes of a trial (RL²: the trial is the episode)"""
    gae_lambda: float = checked(1.0, fraction())
    """GAE λ (ProMP 1.0, garage 0.95)"""
    clip_range: float = checked(0.2, number(above=0))
    """PPO ratio clip ε (both originals 0.2)"""
    ent_coef: float = checked(0.0, number(at_least=0))
    """entropy bonus in the loss (ProMP none; garage max-entropy 5e-6, mapped onto SB3's loss term)"""
    vf_coef: float = checked(0.5, number(at_least=0))
    """weight of the value loss; SB3 trains actor and critic with one optimizer (originals: separate fits)"""
    max_grad_norm: float | None = checked(None, optional(number(above=0)))
    """global gradient-norm clip; None = no clipping, as in both originals"""
    normalize_advantage: bool = checked(True, flag())
    """standardise advantages per minibatch (ProMP normalize_adv True; garage center_adv False)"""
    normalize_reward: bool = checked(False, flag())
    """scale training rewards by a running return std (SB3 VecNormalize); garage MW normalize_reward=True"""
    bootstrap_trial_end: bool = checked(False, flag())
    """bootstrap the value at the end of a trial; False = the trial is a finite episode (garage RL2)"""
