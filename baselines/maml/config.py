"""MAML-TRPO's configuration: one frozen dataclass; the values per suite and tier, each with its source, are
in :mod:`baselines.maml.provenance` (locomotion: ProMP ``run_scripts/maml_run_mujoco.py``; Meta-World:
garage PR #2287's ``metaworld_examples/maml_trpo_metaworld_ml{1,10,45}.py``; point-nav: ours).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from benchmark.suites import SUITES


@dataclass(frozen=True, kw_only=True)
class MAMLConfig:
    """MAML-TRPO. The field defaults only make a bare ``MAMLConfig()`` valid (ProMP's values mostly, but no
    action scaling and garage's CG damping); every run takes its values from the provenance records."""

    # --- policy (ProMP MetaGaussianMLPPolicy) ---
    hidden_sizes: tuple[int, ...] = (64, 64)
    """hidden layers of the Gaussian policy's mean (tanh); ProMP (64, 64), garage Meta-World (128, 128)"""
    output_tanh: bool = False
    """tanh on the policy's output heads (garage ``output_nonlinearity=torch.tanh``); ProMP: a linear mean"""
    std_head: Literal["parameter", "shared_network"] = "parameter"
    """``parameter``: a learned log-std per action dimension, independent of the state (ProMP);
    ``shared_network``: a second output head of the mean's MLP (garage ``std_mlp_type='share_mean_std'``)"""
    init_std: float = 1.0
    """initial standard deviation: the log-std parameter, or the std head's bias, starts at log(init_std)"""
    min_std: float = 1e-6
    """lower clamp of the standard deviation, applied to the log-std (ProMP and garage ``min_std``)"""
    max_std: float | None = None
    """upper clamp of the standard deviation (garage ``max_std``); None: no upper clamp (ProMP)"""
    action_scale: float = 1.0
    """the env receives ``clip(action / action_scale)`` mapped onto its box (ProMP ``normalize(env)``'s
    ``normalization_scale``); log-probabilities are of the unscaled action"""
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
    outer_objective: Literal["likelihood_ratio", "log_likelihood"] = "likelihood_ratio"
    """the TRPO meta-objective on post-update data: ``-mean(pi/pi_old * A)`` (ProMP) or ``-mean(log pi * A)``
    (garage, whose inner algorithm is VPG); the line search tests the same quantity"""
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
        for name in ("init_std", "min_std", "inner_lr", "max_kl", "baseline_reg", "action_scale"):
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
        if self.max_std is not None and not (math.isfinite(self.max_std) and self.max_std >= self.init_std):
            raise ValueError(f"MAMLConfig.max_std must be None or >= init_std, got {self.max_std}")
        if self.std_head not in ("parameter", "shared_network"):
            raise ValueError(
                f"MAMLConfig.std_head must be 'parameter' or 'shared_network', got {self.std_head!r}"
            )
        if self.outer_objective not in ("likelihood_ratio", "log_likelihood"):
            raise ValueError(
                f"MAMLConfig.outer_objective must be 'likelihood_ratio' or 'log_likelihood', "
                f"got {self.outer_objective!r}"
            )


def check_config_for_suite(config: MAMLConfig, suite: str) -> None:
    """Raise ``ValueError`` when the meta-batch cannot cover a Meta-World suite's classes evenly."""
    classes = max(SUITES[suite].train_classes, 1)
    if config.meta_batch_size % classes:
        raise ValueError(
            f"MAML meta_batch_size {config.meta_batch_size} on {suite} must be a multiple of its "
            f"{classes} training classes"
        )
