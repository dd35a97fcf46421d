"""PEARL's configuration: one frozen dataclass. The values per suite and tier, each with its source (oyster's
``configs/`` for locomotion and point-nav, garage PR #2287's launchers for Meta-World), are in
:mod:`baselines.pearl.provenance`. The field defaults only make a bare ``PEARLConfig()`` valid (mostly
oyster's ``default.py``); every run takes its values from the records.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class PEARLConfig:
    """PEARL (Rakelly et al. 2019) as oyster runs it: SAC with a probabilistic context encoder."""

    # --- networks (oyster launch_experiment.py) ---
    latent_dim: int = 5
    """dimensions of the latent task variable z (``latent_size``)"""
    hidden_sizes: tuple[int, ...] = (300, 300, 300)
    """hidden widths of the twin Q, the V network and the policy (``net_size`` x 3)"""
    encoder_hidden_sizes: tuple[int, ...] = (200, 200, 200)
    """hidden widths of the context encoder (200 x 3)"""
    # --- tasks and data collection (oyster rlkit/core/rl_algorithm.py) ---
    num_train_tasks: int = 100
    """fixed training tasks drawn once from meta_train (``n_train_tasks``)"""
    num_initial_steps: int = 2000
    """env steps per training task collected with z ~ prior before the first update"""
    num_tasks_sample: int = 5
    """training tasks collected on per iteration"""
    num_steps_prior: int = 400
    """env steps per sampled task with z ~ prior (to both buffers)"""
    num_steps_posterior: int = 0
    """env steps per sampled task with z ~ posterior (to both buffers)"""
    num_extra_rl_steps_posterior: int = 400
    """env steps per sampled task with z ~ posterior, to the RL buffer only"""
    update_post_train: int = 1
    """episodes between posterior updates while collecting with z ~ posterior"""
    replay_buffer_size: int = 1_000_000
    """most transitions kept per task in each buffer (storage grows on demand)"""
    # --- optimisation (oyster rlkit/torch/sac/sac.py) ---
    num_train_steps_per_itr: int = 2000
    """gradient steps per iteration"""
    meta_batch: int = 16
    """tasks per gradient step, drawn with replacement from the training tasks"""
    batch_size: int = 256
    """RL transitions per task per gradient step"""
    embedding_batch_size: int = 64
    """context transitions per task per gradient step"""
    discount: float = 0.99
    """gamma"""
    soft_target_tau: float = 0.005
    """Polyak rate of the target V network"""
    policy_lr: float = 3e-4
    """Adam learning rate of the policy"""
    qf_lr: float = 3e-4
    """Adam learning rate of each Q network"""
    vf_lr: float = 3e-4
    """Adam learning rate of the V network"""
    context_lr: float = 3e-4
    """Adam learning rate of the context encoder"""
    reward_scale: float = 5.0
    """multiplies rewards in the Bellman target; stands in for SAC's temperature (alpha = 1 / reward_scale)"""
    kl_lambda: float = 0.1
    """weight of KL(q(z|c) || N(0, I)) in the encoder's loss (information bottleneck)"""
    policy_mean_reg_weight: float = 1e-3
    """L2 penalty on the policy's pre-tanh mean"""
    policy_std_reg_weight: float = 1e-3
    """L2 penalty on the policy's log-std"""
    # --- evaluation (oyster default.py) ---
    num_exp_traj_eval: int = 1
    """episodes on z ~ prior at the start of an evaluation trial (the protocol's exploration episodes)"""

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ``ValueError`` with a one-line message for any out-of-range field."""
        positive = (
            "latent_dim",
            "num_train_tasks",
            "num_tasks_sample",
            "update_post_train",
            "replay_buffer_size",
            "meta_batch",
            "batch_size",
            "embedding_batch_size",
        )
        for name in positive:
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"PEARLConfig.{name} must be an integer >= 1, got {getattr(self, name)!r}")
        counts = (
            "num_initial_steps",
            "num_steps_prior",
            "num_steps_posterior",
            "num_extra_rl_steps_posterior",
            "num_train_steps_per_itr",
            "num_exp_traj_eval",
        )
        for name in counts:
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 0:
                raise ValueError(f"PEARLConfig.{name} must be an integer >= 0, got {getattr(self, name)!r}")
        if self.num_initial_steps + self.num_steps_prior + self.num_steps_posterior == 0:
            raise ValueError("PEARLConfig needs context: num_initial_steps + num_steps_prior + posterior > 0")
        for name in ("hidden_sizes", "encoder_hidden_sizes"):
            sizes = getattr(self, name)
            if (
                not isinstance(sizes, tuple)
                or not sizes
                or any(not isinstance(s, int) or s < 1 for s in sizes)
            ):
                raise ValueError(
                    f"PEARLConfig.{name} must be a non-empty tuple of positive ints, got {sizes!r}"
                )
        for name in ("policy_lr", "qf_lr", "vf_lr", "context_lr", "reward_scale"):
            value = getattr(self, name)
            if not math.isfinite(value) or value <= 0:
                raise ValueError(f"PEARLConfig.{name} must be a positive finite number, got {value!r}")
        for name in ("kl_lambda", "policy_mean_reg_weight", "policy_std_reg_weight"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"PEARLConfig.{name} must be a finite number >= 0, got {value!r}")
        if not 0 < self.discount <= 1:  # also rejects NaN
            raise ValueError(f"PEARLConfig.discount must lie in (0, 1], got {self.discount!r}")
        if not 0 < self.soft_target_tau <= 1:
            raise ValueError(f"PEARLConfig.soft_target_tau must lie in (0, 1], got {self.soft_target_tau!r}")
