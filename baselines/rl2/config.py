"""RL² configuration: one frozen dataclass and the per-suite defaults of what the paper actually ran.

The TrMRL paper took its RL² numbers from two code bases (trmrl-original notes §1.8, §4):

* Meta-World: garage's RL2-PPO launchers of PR #2287
  (``metaworld_examples/rl2_ppo_metaworld_ml{1,10,45}.py``): GRU 256, PPO lr 5e-4, batch 32, 10 epochs,
  γ 0.99, λ 0.95, clip 0.2, max-entropy 5e-6, reward normalisation, 10 episodes per trial, meta-batch 25
  (ML1) / 10 (ML10) / 45 (ML45).
* MuJoCo locomotion: ProMP's RL² (branch ``full_code``, ``configs/rl2_config.json``): LSTM 64, meta-batch 200,
  2 rollouts per task, γ 0.99, λ 1.0, normalised advantages, lr 1e-3, 5 PPO epochs, 1 minibatch, clip 0.2
  (``maml_zoo/algos/ppo.py`` default), no reward normalisation (``rl2_run.py`` wraps the bare env).

Units: a *trial* is ``episodes_per_trial`` episodes of the suite's horizon; rollouts and minibatches are
counted in trials so that they stay aligned with trials whatever the suite's horizon (see ``agent.py``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from benchmark.profiles import check_config_tier

METAWORLD_META_BATCH = {"ml1-reach": 25, "ml1-push": 25, "ml1-pick-place": 25, "ml10": 10, "ml45": 45}
"""garage PR #2287: meta_batch 25 for ML1, 10 for ML10, 45 for ML45 (click defaults; trmrl-original §4.1)."""

LOCOMOTION_SUITES = ("halfcheetah-vel", "halfcheetah-dir", "ant-dir", "ant-dir-2d", "ant-goal")


@dataclass(frozen=True, kw_only=True)
class RL2Config:
    """RL² on sb3-contrib's RecurrentPPO (defaults: ProMP's locomotion configuration)."""

    episodes_per_trial: int = 2
    """K: episodes per meta-training trial; the hidden state spans them (ProMP: 2, garage MW: 10)"""
    meta_batch: int = 200
    """trials collected in parallel per iteration, one environment each (ProMP: 200)"""
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
    minibatch_trials: int = 200
    """trials per PPO minibatch; capped at the batch (ProMP: 1 minibatch = all 200; garage: 32 paths)"""
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


# --- Per-suite defaults -------------------------------------------------------------------------------

PROMP_LOCOMOTION = RL2Config()
"""ProMP RL² (``configs/rl2_config.json``); ProMP's horizon was 100, ours 200: 80k env steps per iteration."""

GARAGE_METAWORLD = RL2Config(
    episodes_per_trial=10,
    meta_batch=25,
    lstm_hidden_size=256,
    learning_rate=5e-4,
    n_epochs=10,
    # garage's TF FirstOrderOptimizer slices recurrent inputs of shape (paths, T, ...) along the first axis:
    # batch 32 = 32 whole trials per minibatch, i.e. one minibatch for ML1/ML10, two for ML45.
    minibatch_trials=32,
    gae_lambda=0.95,
    ent_coef=5e-6,
    normalize_advantage=False,  # center_adv=False in the launchers
    normalize_reward=True,  # RL2Env(normalize(env, normalize_reward=True))
)
"""garage RL2-PPO for Meta-World (PR #2287); meta_batch set per benchmark by :func:`default_config`."""

POINT_NAV = RL2Config(
    episodes_per_trial=2,
    meta_batch=16,
    trials_per_env=4,
    lstm_hidden_size=64,
    learning_rate=3e-3,  # 1e-3 needs ~1.5x the env steps before episode 2 beats episode 1 (README)
    n_epochs=5,
    minibatch_trials=16,
    gae_lambda=0.95,
    max_grad_norm=0.5,
    normalize_advantage=True,
    # Without it the critic needs ~1e5 steps to reach returns of about -25 and, through the shared clipped
    # gradient, stalls the policy; with it RL² starts adapting within ~3e5 env steps (README, "Learning").
    normalize_reward=True,
)
"""Our own configuration for the point-nav toy suite (no original exists): learns in minutes on a CPU."""


def default_config(suite: str, profile: str) -> RL2Config:
    """The configuration the paper ran for ``suite`` (``paper``) or a scaled-down one (``quick``, ``smoke``).

    ``quick`` keeps every hyperparameter but the meta-batch, which it shrinks so that the quick budgets
    (1e5-2e5 env steps) hold several PPO iterations; ``smoke`` is a tiny network that proves the plumbing.
    Suites this table does not know get ProMP's locomotion configuration.
    """
    check_config_tier(profile)
    if suite == "point-nav":
        config = POINT_NAV
        if profile == "smoke":
            config = dataclasses.replace(
                config, meta_batch=2, trials_per_env=1, lstm_hidden_size=16, n_epochs=1
            )
        return config
    if suite in METAWORLD_META_BATCH:
        config = dataclasses.replace(GARAGE_METAWORLD, meta_batch=METAWORLD_META_BATCH[suite])
        if profile == "quick":
            # 2 trials x 10 episodes x 500 steps = 10k env steps per iteration: 10 updates in the 1e5 budget.
            config = dataclasses.replace(config, meta_batch=2)
        elif profile == "smoke":
            config = dataclasses.replace(
                config, meta_batch=1, episodes_per_trial=1, lstm_hidden_size=16, n_epochs=1
            )
        return config
    config = PROMP_LOCOMOTION
    if profile == "quick":
        # 20 trials x 2 x 200 = 8k env steps per iteration (paper: 80k): 25 updates in the 2e5 budget.
        config = dataclasses.replace(config, meta_batch=20)
    elif profile == "smoke":
        config = dataclasses.replace(config, meta_batch=1, lstm_hidden_size=16, n_epochs=1)
    return config
