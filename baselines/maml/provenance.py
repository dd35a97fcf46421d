"""MAML-TRPO's configuration per suite and tier, every value with its source (:mod:`benchmark.provenance`).

Locomotion: ProMP's ``run_scripts/maml_run_mujoco.py`` (``TRPOMAML``), which the TrMRL paper took its
MuJoCo MAML baseline from. Meta-World: garage PR #2287's launchers
(``metaworld_examples/maml_trpo_metaworld_ml1.py``, ``_ml10``, ``_ml45``) with the defaults of
``src/garage/torch/algos/maml_trpo.py`` and its optimiser for what they omit. ``point-nav`` is ours.

garage's launchers also pass ``entropy_method='max'``, ``policy_ent_coeff=5e-5`` and
``stop_entropy_gradient=True``; at that commit the max-entropy bonus is added only in
``VPG._train_once`` (``vpg.py:154-156``), which MAML never calls (its inner and outer losses go through
``VPG._compute_loss``, ``maml.py:214, 263``), so the entropy term never reached training and has no
field here.
"""

from __future__ import annotations

from baselines.maml.config import MAMLConfig
from benchmark.originals import GARAGE_PR_2287, PROMP
from benchmark.profiles import check_config_tier
from benchmark.provenance import ConfigRecord, record
from benchmark.suites import SUITES, check_suite_name

_RUN = PROMP.file("run_scripts/maml_run_mujoco.py")
_POLICY = PROMP.file("meta_policy_search/policies/gaussian_mlp_policy.py")
_CG = PROMP.file("meta_policy_search/optimizers/conjugate_gradient_optimizer.py")

PROMP_LOCOMOTION = record(
    hidden_sizes=_RUN.cite((64, 64), 109),
    output_tanh=PROMP.file("meta_policy_search/policies/base.py").cite(
        False, 32, "output_nonlinearity None: a linear mean"
    ),
    std_head=_POLICY.cite("parameter", "63-69", "a learned log-std variable of shape (1, act_dim)"),
    init_std=_POLICY.cite(1.0, 31),
    min_std=_POLICY.cite(1e-6, "31,71", "tf.maximum(log_std, log(min_std))"),
    max_std=_POLICY.cite(None, 71, "only a lower clamp"),
    action_scale=PROMP.file("meta_policy_search/envs/normalized_env.py").cite(
        10.0, "27,113-114", "normalize(env) at maml_run_mujoco.py:27 maps [-10, 10] onto the action box"
    ),
    meta_batch_size=_RUN.cite(40, 117),
    rollouts_per_task=_RUN.cite(20, 99, "rollouts_per_meta_task"),
    discount=_RUN.cite(0.99, 104),
    gae_lambda=_RUN.cite(1.0, 105),
    normalize_advantages=_RUN.cite(True, 106, "normalize_adv; per task, samplers/base.py:117-118"),
    outer_objective=PROMP.file("meta_policy_search/meta_algos/trpo_maml.py").cite(
        "likelihood_ratio", "131-135"
    ),
    baseline_reg=PROMP.file("meta_policy_search/baselines/linear_baseline.py").cite(1e-5, 96),
    inner_lr=_RUN.cite(0.1, 113),
    num_inner_grad_steps=_RUN.cite(1, 118),
    max_kl=_RUN.cite(0.01, 115, "step_size"),
    cg_iters=_CG.cite(10, 126),
    cg_damping=_CG.cite(0.0, "127,101-102", "reg_coeff; TRPOMAML builds the optimiser with no arguments"),
    line_search_ratio=_CG.cite(0.8, 129),
    line_search_steps=_CG.cite(15, 130),
)

_EARLY_TERMINATION = (
    "ProMP's MetaSampler fills one step budget (meta-batch x rollouts x horizon) over all tasks and restarts "
    "an environment whose Ant fell (meta_sampler.py:38-40, 87; vectorized_env_executor.py:44-50), so the "
    "episodes per task vary; our protocol plays exactly this many whole episodes per task, the unit every "
    "method's trials use"
)
_ANT_SUITES = ("ant-dir", "ant-dir-2d", "ant-goal")

_MAML_TRPO = GARAGE_PR_2287.file("src/garage/torch/algos/maml_trpo.py")
_GARAGE_CG = GARAGE_PR_2287.file("src/garage/torch/optimizers/conjugate_gradient_optimizer.py")


def _garage_launcher(
    name: str, policy_line: int, algo_line: int, meta_batch: tuple[int, int], rollouts: tuple[int, int]
) -> ConfigRecord:
    """One launcher of PR #2287: ``policy_line`` opens its ``GaussianMLPPolicy(``, ``algo_line`` its
    ``MAMLTRPO(``; ``meta_batch`` and ``rollouts`` are (value, line) of its click options."""
    launcher = GARAGE_PR_2287.file(f"metaworld_examples/maml_trpo_metaworld_{name}.py")
    return record(
        hidden_sizes=launcher.cite((128, 128), policy_line + 1),
        output_tanh=launcher.cite(True, policy_line + 3, "output_nonlinearity=torch.tanh, on both heads"),
        std_head=launcher.cite(
            "shared_network", policy_line + 6, "std_mlp_type='share_mean_std': GaussianMLPTwoHeadedModule"
        ),
        init_std=GARAGE_PR_2287.file("src/garage/torch/policies/gaussian_mlp_policy.py").cite(
            1.0, 64, "the log-std head's bias starts at log(init_std), gaussian_mlp_module.py:125, 555-558"
        ),
        min_std=launcher.cite(0.5, policy_line + 4),
        max_std=launcher.cite(1.5, policy_line + 5),
        action_scale=GARAGE_PR_2287.file("src/garage/experiment/task_sampler.py").cite(
            1.0, "352-353", "GymEnv without normalize(): Meta-World clips the action itself"
        ),
        meta_batch_size=launcher.cite(*meta_batch),
        rollouts_per_task=launcher.cite(*rollouts, "batch_size = rollouts x 500 steps per task and step"),
        discount=launcher.cite(0.99, algo_line + 7),
        gae_lambda=launcher.cite(1.0, algo_line + 8),
        normalize_advantages=launcher.cite(False, algo_line + 15, "center_adv=False"),
        outer_objective=GARAGE_PR_2287.file("src/garage/torch/algos/maml.py").cite(
            "log_likelihood", "250-269", "the meta-loss is the inner VPG's -log pi * A, vpg.py:469-471"
        ),
        baseline_reg=GARAGE_PR_2287.file("src/garage/np/baselines/linear_feature_baseline.py").cite(1e-5, 17),
        inner_lr=launcher.cite(1e-4, 28 if name == "ml1" else 27),
        num_inner_grad_steps=launcher.cite(1, algo_line + 10, "num_grad_updates"),
        max_kl=_MAML_TRPO.cite(0.01, 60, "max_kl_step"),
        cg_iters=_GARAGE_CG.cite(10, 128),
        cg_damping=_GARAGE_CG.cite(1e-5, 131, "hvp_reg_coeff"),
        line_search_ratio=_GARAGE_CG.cite(0.8, 130),
        line_search_steps=_GARAGE_CG.cite(15, 129, "max_backtracks"),
    )


ML1 = _garage_launcher("ml1", 61, 82, meta_batch=(25, 27), rollouts=(10, 26))
ML10 = _garage_launcher("ml10", 61, 82, meta_batch=(20, 26), rollouts=(10, 25))
ML45 = _garage_launcher("ml45", 58, 77, meta_batch=(45, 26), rollouts=(20, 25))

POINT_NAV = PROMP_LOCOMOTION.scaled(
    "point-nav is ours (no original): few rollouts because the protocol adapts on a single exploration "
    "episode (with 20 rollouts seed 0 reached -11.0 after 480k env steps, with 2 it reached -9.2 after "
    "160k); actions are clipped to [-1, 1] at scale 1 with init std 0.5",
    init_std=0.5,
    action_scale=1.0,
    meta_batch_size=20,
    rollouts_per_task=2,
)

PAPER: dict[str, ConfigRecord] = {
    "point-nav": POINT_NAV,
    "halfcheetah-vel": PROMP_LOCOMOTION,
    "halfcheetah-dir": PROMP_LOCOMOTION,
    **{
        suite: PROMP_LOCOMOTION.differs_in_meaning(_EARLY_TERMINATION, "rollouts_per_task")
        for suite in _ANT_SUITES
    },
    "ml1-reach": ML1,
    "ml1-push": ML1,
    "ml1-pick-place": ML1,
    "ml10": ML10,
    "ml45": ML45,
}

_QUICK_LOCOMOTION = (
    "quick tier: 10 tasks x 4 rollouts (16k env steps per iteration at horizon 200) so that the quick "
    "budget holds several meta-iterations; every other value is the paper's"
)
_QUICK_METAWORLD = (
    "quick tier: one 500-step episode is 25 times a locomotion step's cost; the smallest meta-batch that "
    "covers every training class (at least 4 tasks) with 2 rollouts per task on ML1, 1 on ML10/ML45"
)
_SMOKE = "smoke tier: a tiny network and 2 tasks (or one per class); proves the pipeline, measures nothing"


def config_record(suite: str, tier: str) -> ConfigRecord:
    """Every value of MAML's configuration of ``suite`` at ``tier``, with its source or deviation."""
    check_suite_name(suite)
    check_config_tier(tier)
    paper = PAPER[suite]
    classes = max(SUITES[suite].train_classes, 1)
    if tier == "paper" or (tier == "quick" and suite == "point-nav"):
        return paper
    if tier == "quick":
        if SUITES[suite].family == "metaworld":
            return paper.scaled(
                _QUICK_METAWORLD, meta_batch_size=max(4, classes), rollouts_per_task=1 if classes > 1 else 2
            )
        return paper.scaled(_QUICK_LOCOMOTION, meta_batch_size=10, rollouts_per_task=4)
    return paper.scaled(
        _SMOKE,
        hidden_sizes=(16, 16),
        meta_batch_size=2 if classes == 1 else classes,
        rollouts_per_task=2 if classes == 1 else 1,
        cg_iters=3,
    )


def default_config(suite: str, tier: str) -> MAMLConfig:
    """The configuration a run of MAML on ``suite`` at ``tier`` takes: :func:`config_record`, built."""
    config: MAMLConfig = config_record(suite, tier).build(MAMLConfig)
    return config
