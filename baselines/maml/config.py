"""MAML-TRPO configuration: one frozen dataclass and the per-suite defaults of what the originals ran.

The TrMRL paper took its MAML baselines from two code bases (see the reference notes on the originals):

* MuJoCo locomotion: ProMP ``run_scripts/maml_run_mujoco.py`` (``TRPOMAML``): Gaussian MLP (64, 64) with a
  learned per-dimension log-std, inner lr 0.1, one inner step on the log-likelihood objective, 40 tasks x 20
  rollouts per iteration, discount 0.99, GAE lambda 1, normalised advantages, trust region 0.01,
  ``LinearFeatureBaseline``, ``normalize(env)``.
* Meta-World: garage's ``maml_trpo_metaworld_ml1_push`` / ``_ml10`` / ``_ml45`` (PR #2287): MLP (128, 128),
  inner lr 0.1, meta-batch 20 / 20 / 45, rollouts per task 10 / 10 / 20, the same TRPO outer loop
  (``ConjugateGradientOptimizer``: 10 CG iterations, damping 1e-5, 15 backtracks of ratio 0.8).
* ``point-nav``: ours (no original exists for this suite).

Every difference from those launchers is listed in the MAML-TRPO section of ``DEVIATIONS.md``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from benchmark.profiles import check_config_tier

METAWORLD_TRAIN_CLASSES = {"ml1-reach": 1, "ml1-push": 1, "ml1-pick-place": 1, "ml10": 10, "ml45": 45}
"""Training task classes per Meta-World suite. The meta-batch must be a multiple of it: the harness's task
sampler cycles through the classes, so only then does every iteration see every class equally often (garage's
``MetaWorldTaskSampler`` did the same with meta-batch 20 on ML10 and 45 on ML45)."""


@dataclass(frozen=True, kw_only=True)
class MAMLConfig:
    """MAML-TRPO (defaults: ProMP's ``maml_run_mujoco.py``, the locomotion configuration)."""

    # --- policy (ProMP MetaGaussianMLPPolicy) ---
    hidden_sizes: tuple[int, ...] = (64, 64)
    """hidden layers of the Gaussian policy's mean (tanh); ProMP (64, 64), garage Meta-World (128, 128)"""
    init_std: float = 1.0
    """initial standard deviation of every action dimension (ProMP and garage: 1.0)"""
    min_std: float = 1e-6
    """lower clamp of the standard deviation (ProMP ``min_std``)"""
    # --- sampling (ProMP MetaSampler) ---
    meta_batch_size: int = 40
    """tasks per meta-iteration (ProMP 40; garage 20 ML1/ML10, 45 ML45)"""
    rollouts_per_task: int = 20
    """episodes collected per task before and after each inner step (ProMP 20; garage 10 / 10 / 20)"""
    # --- sample processing (ProMP MetaSampleProcessor) ---
    discount: float = 0.99
    """gamma of the returns the baseline is fitted to"""
    gae_lambda: float = 1.0
    """GAE lambda; 1 makes the advantage the return minus the linear baseline"""
    normalize_advantages: bool = True
    """standardise advantages per task (ProMP normalize_adv; garage center_adv)"""
    baseline_reg: float = 1e-5
    """ridge coefficient of the linear feature baseline, x10 up to 5 times while the fit is NaN"""
    # --- inner step (TRPOMAML inner_type='log_likelihood') ---
    inner_lr: float = 0.1
    """step size of the inner policy-gradient step (ProMP, garage PR #2287 examples: 0.1)"""
    num_inner_grad_steps: int = 1
    """inner policy-gradient steps; each collects fresh rollouts in meta-training (ProMP: 1)"""
    # --- TRPO outer step (ProMP ConjugateGradientOptimizer) ---
    max_kl: float = 0.01
    """trust region: mean KL(old || new) of the adapted policy on post-update data (``step_size``)"""
    cg_iters: int = 10
    """conjugate-gradient iterations for the natural-gradient direction"""
    cg_damping: float = 1e-5
    """added to the Hessian-vector product (``reg_coeff``)"""
    line_search_ratio: float = 0.8
    """backtracking factor of the line search (``backtrack_ratio``)"""
    line_search_steps: int = 15
    """maximum backtracking steps before the update is rejected (``max_backtracks``)"""

    def __post_init__(self) -> None:
        for name in ("meta_batch_size", "rollouts_per_task", "num_inner_grad_steps", "cg_iters"):
            if getattr(self, name) < 1:
                raise ValueError(f"MAMLConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.line_search_steps < 1:
            raise ValueError(f"MAMLConfig.line_search_steps must be >= 1, got {self.line_search_steps}")
        if not isinstance(self.hidden_sizes, tuple) or any(h < 1 for h in self.hidden_sizes):
            raise ValueError(
                f"MAMLConfig.hidden_sizes must be a tuple of positive ints, got {self.hidden_sizes}"
            )
        for name in ("init_std", "min_std", "inner_lr", "max_kl", "baseline_reg"):
            value = getattr(self, name)
            if not math.isfinite(value) or value <= 0:
                raise ValueError(f"MAMLConfig.{name} must be a positive finite number, got {value}")
        if not math.isfinite(self.cg_damping) or self.cg_damping < 0:
            raise ValueError(f"MAMLConfig.cg_damping must be >= 0, got {self.cg_damping}")
        if not 0.0 < self.discount <= 1.0:
            raise ValueError(f"MAMLConfig.discount must lie in (0, 1], got {self.discount}")
        if not 0.0 <= self.gae_lambda <= 1.0:
            raise ValueError(f"MAMLConfig.gae_lambda must lie in [0, 1], got {self.gae_lambda}")
        if not 0.0 < self.line_search_ratio < 1.0:
            raise ValueError(f"MAMLConfig.line_search_ratio must lie in (0, 1), got {self.line_search_ratio}")
        if self.min_std > self.init_std:
            raise ValueError(f"MAMLConfig.min_std {self.min_std} exceeds init_std {self.init_std}")


def check_config_for_suite(config: MAMLConfig, suite: str) -> None:
    """Raise ``ValueError`` when the meta-batch cannot cover a Meta-World suite's classes evenly."""
    classes = METAWORLD_TRAIN_CLASSES.get(suite, 1)
    if config.meta_batch_size % classes:
        raise ValueError(
            f"MAML meta_batch_size {config.meta_batch_size} on {suite} must be a multiple of its "
            f"{classes} training classes"
        )


# --- Per-suite defaults -------------------------------------------------------------------------------

PROMP_LOCOMOTION = MAMLConfig()
"""ProMP ``maml_run_mujoco.py``; at our horizon 200 an iteration takes 40 x 20 x 200 x 2 = 320k env steps."""

GARAGE_METAWORLD = MAMLConfig(hidden_sizes=(128, 128), meta_batch_size=20, rollouts_per_task=10)
"""garage ``maml_trpo_metaworld_ml1_push`` / ``_ml10`` (PR #2287); ML45 sets 45 tasks x 20 rollouts."""

POINT_NAV = MAMLConfig(hidden_sizes=(64, 64), init_std=0.5, meta_batch_size=20, rollouts_per_task=2)
"""Ours: 20 tasks x 2 rollouts (1,600 env steps per iteration at horizon 20). Few rollouts, because the
protocol adapts on a single exploration episode: with MAML's 20 rollouts per task (Finn et al. 2017 §5.2)
seed 0's adapted meta_test return was -11.0 after 480k env steps, against -9.2 after 160k with 2; with
1 rollout the per-task linear baseline nearly fits the single path and one seed of five diverged (README).
Init std 0.5 because actions are clipped to [-1, 1]."""

METAWORLD_SIZES = {"ml45": (45, 20)}
"""(meta_batch_size, rollouts_per_task) where a Meta-World suite differs from ML1/ML10's (20, 10)."""


def default_config(suite: str, profile: str) -> MAMLConfig:
    """The configuration the originals ran for ``suite`` (``paper``) or a scaled-down one.

    ``quick`` keeps every hyperparameter but the meta-batch and rollouts per task, shrunk so that the quick
    budgets (tens of thousands of env steps) hold a few meta-iterations; ``smoke`` is 2 tasks x 2 rollouts and
    a small network, which proves the plumbing in seconds. Meta-World keeps a meta-batch that is a multiple
    of its training classes in every profile (:data:`METAWORLD_TRAIN_CLASSES`). Suites this table does not
    know get ProMP's locomotion configuration.
    """
    check_config_tier(profile)
    if suite == "point-nav":
        config = POINT_NAV
    elif suite in METAWORLD_TRAIN_CLASSES:
        meta_batch, rollouts = METAWORLD_SIZES.get(suite, (20, 10))
        config = dataclasses.replace(GARAGE_METAWORLD, meta_batch_size=meta_batch, rollouts_per_task=rollouts)
        if profile == "quick":
            # ML1: 4 x 2 x 500 x 2 = 8k env steps per iteration (5 in the 40k quick budget); ML10/ML45: one
            # rollout per class, the least that keeps the meta-batch stratified.
            classes = METAWORLD_TRAIN_CLASSES[suite]
            config = dataclasses.replace(
                config, meta_batch_size=max(4, classes), rollouts_per_task=1 if classes > 1 else 2
            )
    else:
        config = PROMP_LOCOMOTION
        if profile == "quick":
            # 10 x 4 x 200 x 2 = 16k env steps per iteration: 4 iterations in the 64k quick budget.
            config = dataclasses.replace(config, meta_batch_size=10, rollouts_per_task=4)
    if profile == "smoke":
        classes = METAWORLD_TRAIN_CLASSES.get(suite, 1)
        config = dataclasses.replace(
            config,
            hidden_sizes=(16, 16),
            meta_batch_size=2 if classes == 1 else classes,
            rollouts_per_task=2 if classes == 1 else 1,
            cg_iters=3,
        )
    check_config_for_suite(config, suite)
    return config
