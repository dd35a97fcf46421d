"""PEARL's configuration: one frozen dataclass. The values per suite and tier, each with its source (oyster's
``configs/`` for locomotion and point-nav, garage PR #2287's launchers for Meta-World), are in
:mod:`baselines.pearl.provenance`. The field defaults only make a bare ``PEARLConfig()`` valid (mostly
oyster's ``default.py``); every run takes its values from the records.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from benchmark.constraints import Relation, checked, fraction, integer, layer_widths, number


@dataclass(frozen=True, kw_only=True)
class PEARLConfig:
    """PEARL (Rakelly et al. 2019) as oyster runs it: SAC with a probabilistic context encoder."""

    # --- networks (oyster launch_experiment.py) ---
    latent_dim: int = checked(5, integer(at_least=1))
    """dimensions of the latent task variable z (``latent_size``)"""
    hidden_sizes: tuple[int, ...] = checked((300, 300, 300), layer_widths())
    """hidden widths of the twin Q, the V network and the policy (``net_size`` x 3)"""
    encoder_hidden_sizes: tuple[int, ...] = checked((200, 200, 200), layer_widths())
    """hidden widths of the context encoder (200 x 3)"""
    # --- tasks and data collection (oyster rlkit/core/rl_algorithm.py) ---
    num_train_tasks: int = checked(100, integer(at_least=1))
    """fixed training tasks drawn once from meta_train (``n_train_tasks``)"""
    num_initial_steps: int = checked(2000, integer())
    """env steps per training task collected with z ~ prior before the first update"""
    num_tasks_sample: int = checked(5, integer(at_least=1))
    """training tasks collected on per iteration"""
    num_steps_prior: int = checked(400, integer())
    """env steps per sampled task with z ~ prior (to both buffers)"""
    num_steps_posterior: int = checked(0, integer())
    """env steps per sampled task with z ~ posterior (to both buffers)"""
    num_extra_rl_steps_posterior: int = checked(400, integer())
    """env steps per sampled task with z ~ posterior, to the RL buffer only"""
    update_post_train: int = checked(1, integer(at_least=1))
    """episodes between posterior updates while collecting with z ~ posterior"""
    replay_buffer_size: int = checked(1_000_000, integer(at_least=1))
    """most transitions kept per task in each buffer (storage grows on demand)"""
    # --- optimisation (oyster rlkit/torch/sac/sac.py) ---
    num_train_steps_per_itr: int = checked(2000, integer())
    """gradient steps per iteration"""
    meta_batch: int = checked(16, integer(at_least=1))
    """tasks per gradient step, drawn with replacement from the training tasks"""
    batch_size: int = checked(256, integer(at_least=1))
    """RL transitions per task per gradient step"""
    embedding_batch_size: int = checked(64, integer(at_least=1))
    """context transitions per task per gradient step"""
    discount: float = checked(0.99, fraction(open_low=True))
    """gamma"""
    soft_target_tau: float = checked(0.005, fraction(open_low=True))
    """Polyak rate of the target V network"""
    policy_lr: float = checked(3e-4, number(above=0))
    """Adam learning rate of the policy"""
    qf_lr: float = checked(3e-4, number(above=0))
    """Adam learning rate of each Q network"""
    vf_lr: float = checked(3e-4, number(above=0))
    """Adam learning rate of the V network"""
    context_lr: float = checked(3e-4, number(above=0))
    """Adam learning rate of the context encoder"""
    reward_scale: float = checked(5.0, number(above=0))
    """multiplies rewards in the Bellman target; stands in for SAC's temperature (alpha = 1 / reward_scale)"""
    kl_lambda: float = checked(0.1, number(at_least=0))
    """weight of KL(q(z|c) || N(0, I)) in the encoder's loss (information bottleneck)"""
    policy_mean_reg_weight: float = checked(1e-3, number(at_least=0))
    """L2 penalty on the policy's pre-tanh mean"""
    policy_std_reg_weight: float = checked(1e-3, number(at_least=0))
    """L2 penalty on the policy's log-std"""
    # --- evaluation (oyster default.py) ---
    num_exp_traj_eval: int = checked(1, integer())
    """episodes on z ~ prior at the start of an evaluation trial (the protocol's exploration episodes)"""

    relations: ClassVar[tuple[Relation, ...]] = (
        Relation(
            lambda c: c.num_initial_steps + c.num_steps_prior + c.num_steps_posterior > 0,
            "needs context: num_initial_steps + num_steps_prior + num_steps_posterior must be > 0",
        ),
    )
    """the encoder infers z from context, which only the initial, prior and posterior steps collect"""
