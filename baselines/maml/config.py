"""MAML-TRPO's configuration: one frozen dataclass; the values per suite and tier, each with its source, are
in :mod:`baselines.maml.provenance` (locomotion: ProMP ``run_scripts/maml_run_mujoco.py``; Meta-World:
garage PR #2287's ``metaworld_examples/maml_trpo_metaworld_ml{1,10,45}.py``; point-nav: ours).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal, get_args

from benchmark.constraints import (
    Relation,
    checked,
    flag,
    fraction,
    integer,
    layer_widths,
    number,
    one_of,
    optional,
)

StdHead = Literal["parameter", "shared_network"]
OuterObjective = Literal["likelihood_ratio", "log_likelihood"]


@dataclass(frozen=True, kw_only=True)
class MAMLConfig:
    """MAML-TRPO. The field defaults only make a bare ``MAMLConfig()`` valid (ProMP's values mostly, but no
    action scaling and garage's CG damping); every run takes its values from the provenance records."""

    # --- policy (ProMP MetaGaussianMLPPolicy) ---
    hidden_sizes: tuple[int, ...] = checked((64, 64), layer_widths())
    """hidden layers of the Gaussian policy's mean (tanh); ProMP (64, 64), garage Meta-World (128, 128)"""
    output_tanh: bool = checked(False, flag())
    """tanh on the policy's output heads (garage ``output_nonlinearity=torch.tanh``); ProMP: a linear mean"""
    std_head: StdHead = checked("parameter", one_of(*get_args(StdHead)))
    """``parameter``: a learned log-std per action dimension, independent of the state (ProMP);
    ``shared_network``: a second output head of the mean's MLP (garage ``std_mlp_type='share_mean_std'``)"""
    init_std: float = checked(1.0, number(above=0))
    """initial standard deviation: the log-std parameter, or the std head's bias, starts at log(init_std)"""
    min_std: float = checked(1e-6, number(above=0))
    """lower clamp of the standard deviation, applied to the log-std (ProMP and garage ``min_std``)"""
    max_std: float | None = checked(None, optional(number(above=0)))
    """upper clamp of the standard deviation (garage ``max_std``); None: no upper clamp (ProMP)"""
    action_scale: float = checked(1.0, number(above=0))
    """the env receives ``clip(action / action_scale)`` mapped onto its box (ProMP ``normalize(env)``'s
    ``normalization_scale``); log-probabilities are of the unscaled action"""
    # --- sampling (ProMP MetaSampler) ---
    meta_batch_size: int = checked(40, integer(at_least=1))
    """tasks per meta-iteration (ProMP 40; garage 20 ML1/ML10, 45 ML45)"""
    rollouts_per_task: int = checked(20, integer(at_least=1))
    """episodes collected per task before and after each inner step (ProMP 20; garage 10 / 10 / 20)"""
    # --- sample processing (ProMP MetaSampleProcessor) ---
    discount: float = checked(0.99, fraction(open_low=True))
    """gamma of the returns the baseline is fitted to"""
    gae_lambda: float = checked(1.0, fraction())
    """GAE lambda; 1 makes the advantage the return minus the linear baseline"""
    normalize_advantages: bool = checked(True, flag())
    """standardise advantages per task (ProMP normalize_adv; garage center_adv)"""
    outer_objective: OuterObjective = checked("likelihood_ratio", one_of(*get_args(OuterObjective)))
    """the TRPO meta-objective on post-update data: ``-mean(pi/pi_old * A)`` (ProMP) or ``-mean(log pi * A)``
    (garage, whose inner algorithm is VPG); the line search tests the same quantity"""
    baseline_reg: float = checked(1e-5, number(above=0))
    """ridge coefficient of the linear feature baseline, x10 up to 5 times while the fit is NaN"""
    # --- inner step (TRPOMAML inner_type='log_likelihood') ---
    inner_lr: float = checked(0.1, number(above=0))
    """step size of the inner policy-gradient step (ProMP, garage PR #2287 examples: 0.1)"""
    num_inner_grad_steps: int = checked(1, integer(at_least=1))
    """inner policy-gradient steps; each collects fresh rollouts in meta-training (ProMP: 1)"""
    # --- TRPO outer step (ProMP ConjugateGradientOptimizer) ---
    max_kl: float = checked(0.01, number(above=0))
    """trust region: mean KL(old || new) of the adapted policy on post-update data (``step_size``)"""
    cg_iters: int = checked(10, integer(at_least=1))
    """conjugate-gradient iterations for the natural-gradient direction"""
    cg_damping: float = checked(1e-5, number(at_least=0))
    """added to the Hessian-vector product (``reg_coeff``)"""
    line_search_ratio: float = checked(0.8, fraction(open_low=True, open_high=True))
    """backtracking factor of the line search (``backtrack_ratio``)"""
    line_search_steps: int = checked(15, integer(at_least=1))
    """maximum backtracking steps before the update is rejected (``max_backtracks``)"""

    relations: ClassVar[tuple[Relation, ...]] = (
        Relation(lambda c: c.min_std <= c.init_std, "min_std {min_std} exceeds init_std {init_std}"),
        Relation(
            lambda c: c.max_std is None or c.max_std >= c.init_std,
            "max_std {max_std} is below init_std {init_std}",
        ),
    )
