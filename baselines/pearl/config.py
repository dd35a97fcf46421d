"""PEARL's configuration: one frozen dataclass and the per-suite settings of the code the paper ran.

Locomotion and point-nav follow oyster (katerakelly/oyster, commit ee4fe88): ``configs/default.py``
overridden by the environment's JSON (``cheetah-vel.json``, ``cheetah-dir.json``, ``ant-dir.json``,
``ant-goal.json``, ``point-robot.json``). Meta-World follows garage's PEARL examples
(``pearl_metaworld_ml1_push.py``, ``_ml10``, ``_ml45``). The defaults below are oyster's ``default.py``.
Profiles: ``paper`` is the original; ``quick`` shrinks the work per iteration for a CPU (see
:func:`default_config`); ``smoke`` is tiny and measures nothing.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from benchmark.errors import BenchmarkError
from benchmark.profiles import check_config_tier


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


DEFAULT = PEARLConfig()
# oyster configs/*.json (commit ee4fe88) over default.py.
HALFCHEETAH_VEL = dataclasses.replace(
    DEFAULT,
    num_train_tasks=100,
    num_extra_rl_steps_posterior=600,
    embedding_batch_size=100,
    num_exp_traj_eval=2,
)
HALFCHEETAH_DIR = dataclasses.replace(
    DEFAULT,
    num_train_tasks=2,
    meta_batch=4,
    num_steps_prior=1000,
    num_extra_rl_steps_posterior=1000,
    embedding_batch_size=256,
)
ANT_DIR = dataclasses.replace(
    DEFAULT,
    num_train_tasks=2,
    meta_batch=4,
    num_extra_rl_steps_posterior=600,
    num_train_steps_per_itr=4000,
    embedding_batch_size=256,
)
ANT_GOAL = dataclasses.replace(
    DEFAULT,
    num_train_tasks=150,
    meta_batch=10,
    num_extra_rl_steps_posterior=600,
    num_train_steps_per_itr=4000,
    kl_lambda=1.0,
)
# Ours: ant-dir-2d (continuous direction) takes AntGoal's task pool and meta-batch with AntDir's loss weights.
ANT_DIR_2D = dataclasses.replace(ANT_GOAL, kl_lambda=0.1)
POINT_NAV = dataclasses.replace(
    DEFAULT,
    num_train_tasks=80,
    num_initial_steps=200,
    num_steps_prior=200,
    num_extra_rl_steps_posterior=200,
    num_train_steps_per_itr=1000,
    reward_scale=100.0,
)
# Ours, for a CPU: point-robot's collection with 20 training tasks, two hidden layers of 256 for the SAC
# networks (oyster's encoder, 200 x 3), 200 gradient steps per iteration, a faster learning rate, a shorter
# discount (20-step episodes bootstrapped through the cut) and AntGoal's stronger bottleneck (kl_lambda 1.0;
# with 0.1 the encoder memorised the training tasks). With 64 x 2 networks the 20-task critic never fitted
# (Q loss ~1000 after 8k gradient steps against ~10 for one task) and 3 of 5 seeds did not adapt.
POINT_NAV_QUICK = dataclasses.replace(
    POINT_NAV,
    hidden_sizes=(256, 256),
    encoder_hidden_sizes=(200, 200, 200),
    num_train_tasks=20,
    num_train_steps_per_itr=200,
    meta_batch=16,
    batch_size=64,
    discount=0.9,
    kl_lambda=1.0,
    policy_lr=1e-3,
    qf_lr=1e-3,
    vf_lr=1e-3,
    context_lr=1e-3,
)
# garage's Meta-World PEARL examples (pearl_metaworld_ml1_push.py, _ml10, _ml45).
METAWORLD = dataclasses.replace(
    DEFAULT,
    latent_dim=7,
    num_train_tasks=50,
    num_initial_steps=4000,
    num_tasks_sample=15,
    num_steps_prior=750,
    num_extra_rl_steps_posterior=750,
    num_train_steps_per_itr=4000,
    reward_scale=10.0,
)

PAPER_CONFIGS: dict[str, PEARLConfig] = {
    "point-nav": POINT_NAV,
    "halfcheetah-vel": HALFCHEETAH_VEL,
    "halfcheetah-dir": HALFCHEETAH_DIR,
    "ant-dir": ANT_DIR,
    "ant-dir-2d": ANT_DIR_2D,
    "ant-goal": ANT_GOAL,
    "ml1-reach": METAWORLD,
    "ml1-push": METAWORLD,
    "ml1-pick-place": METAWORLD,
    # One goal per training class, as many tasks as garage's examples train on (10 and 45).
    "ml10": dataclasses.replace(METAWORLD, num_train_tasks=10),
    "ml45": dataclasses.replace(METAWORLD, num_train_tasks=45),
}

QUICK_TRAIN_STEPS = 100
"""gradient steps per iteration in the ``quick`` profile (a CPU cannot afford oyster's 2000-4000)"""


def default_config(suite: str, profile: str) -> PEARLConfig:
    """The configuration of ``suite`` under ``profile``.

    ``paper``: the original's values. ``quick``: the same networks and losses with less work per iteration so
    that the quick budgets hold many updates on a CPU: point-nav is :data:`POINT_NAV_QUICK`; the other suites
    take :data:`QUICK_TRAIN_STEPS` gradient steps per iteration with meta-batch 8 and batch 128, and at most
    20 training tasks with 400 initial steps each (so that the initial pool does not spend the whole budget).
    ``smoke``: tiny networks, 4 tasks, one episode per collection, 2 gradient steps.
    """
    if suite not in PAPER_CONFIGS:
        raise BenchmarkError(f"PEARL has no configuration for suite {suite!r}")
    check_config_tier(profile)
    config = PAPER_CONFIGS[suite]
    if profile == "quick":
        if suite == "point-nav":
            return POINT_NAV_QUICK
        return dataclasses.replace(
            config,
            num_train_tasks=min(config.num_train_tasks, 20),
            num_initial_steps=min(config.num_initial_steps, 400),
            num_train_steps_per_itr=QUICK_TRAIN_STEPS,
            meta_batch=min(config.meta_batch, 8),
            batch_size=128,
        )
    if profile == "smoke":
        return dataclasses.replace(
            config,
            hidden_sizes=(16,),
            encoder_hidden_sizes=(16,),
            num_train_tasks=min(config.num_train_tasks, 4),
            num_initial_steps=1,
            num_tasks_sample=2,
            num_steps_prior=1,
            num_extra_rl_steps_posterior=1,
            num_train_steps_per_itr=2,
            meta_batch=2,
            batch_size=8,
            embedding_batch_size=8,
        )
    return config
