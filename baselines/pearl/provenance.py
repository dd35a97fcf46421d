"""PEARL's configuration per suite and tier, every value with its source (:mod:`benchmark.provenance`).

Locomotion and point-nav: oyster (PEARL's own code), ``configs/default.py`` deep-updated by the environment's
JSON (``launch_experiment.py:131-135``), with ``__init__`` defaults for what neither sets. Meta-World: the
launchers of garage PR #2287 (``metaworld_examples/pearl_metaworld_ml1.py``, ``_ml10``, ``_ml45``), which
the TrMRL paper ran, with ``src/garage/torch/algos/pearl.py``'s defaults for what they omit.
``python -m benchmark config --method pearl --suite S --tier T`` prints the resolved record.
"""

from __future__ import annotations

from baselines.pearl.config import PEARLConfig
from benchmark.originals import GARAGE_PR_2287, OYSTER
from benchmark.profiles import check_config_tier
from benchmark.provenance import ConfigRecord, record
from benchmark.suites import SUITES, check_suite_name

_DEFAULT_PY = OYSTER.file("configs/default.py")
_LAUNCH = OYSTER.file("launch_experiment.py")
_SAC = OYSTER.file("rlkit/torch/sac/sac.py")
_RL_ALGORITHM = OYSTER.file("rlkit/core/rl_algorithm.py")

OYSTER_DEFAULT = record(
    latent_dim=_DEFAULT_PY.cite(5, 7, "latent_size"),
    hidden_sizes=_DEFAULT_PY.cite(
        (300, 300, 300), 8, "net_size; three layers per network, launch_experiment.py:46-61"
    ),
    encoder_hidden_sizes=_LAUNCH.cite((200, 200, 200), 41),
    num_train_tasks=_DEFAULT_PY.cite(2, 5, "n_train_tasks"),
    num_initial_steps=_DEFAULT_PY.cite(2000, 17),
    num_tasks_sample=_DEFAULT_PY.cite(5, 18),
    num_steps_prior=_DEFAULT_PY.cite(400, 19),
    num_steps_posterior=_DEFAULT_PY.cite(0, 20),
    num_extra_rl_steps_posterior=_DEFAULT_PY.cite(400, 21),
    update_post_train=_DEFAULT_PY.cite(1, 40),
    replay_buffer_size=_RL_ALGORITHM.cite(1_000_000, 37, "per task and buffer, rl_algorithm.py:102-112"),
    num_train_steps_per_itr=_DEFAULT_PY.cite(2000, 22),
    meta_batch=_DEFAULT_PY.cite(16, 15),
    batch_size=_DEFAULT_PY.cite(256, 25),
    embedding_batch_size=_DEFAULT_PY.cite(64, 26),
    discount=_DEFAULT_PY.cite(0.99, 29),
    soft_target_tau=_DEFAULT_PY.cite(0.005, 30),
    policy_lr=_DEFAULT_PY.cite(3e-4, 31),
    qf_lr=_DEFAULT_PY.cite(3e-4, 32),
    vf_lr=_DEFAULT_PY.cite(3e-4, 33),
    context_lr=_DEFAULT_PY.cite(3e-4, 34),
    reward_scale=_DEFAULT_PY.cite(5.0, 35),
    kl_lambda=_DEFAULT_PY.cite(0.1, 37),
    policy_mean_reg_weight=_SAC.cite(1e-3, 27, "loss at sac.py:244"),
    policy_std_reg_weight=_SAC.cite(1e-3, 28, "loss at sac.py:245"),
    num_exp_traj_eval=_DEFAULT_PY.cite(1, 41),
)

_CHEETAH_VEL = OYSTER.file("configs/cheetah-vel.json")
_CHEETAH_DIR = OYSTER.file("configs/cheetah-dir.json")
_ANT_DIR = OYSTER.file("configs/ant-dir.json")
_ANT_GOAL = OYSTER.file("configs/ant-goal.json")
_POINT_ROBOT = OYSTER.file("configs/point-robot.json")

HALFCHEETAH_VEL = OYSTER_DEFAULT.read_from(
    _CHEETAH_VEL,
    num_train_tasks=(100, 3),
    num_initial_steps=(2000, 10),
    num_steps_prior=(400, 11),
    num_steps_posterior=(0, 12),
    num_extra_rl_steps_posterior=(600, 13),
    num_exp_traj_eval=(2, 16),
    embedding_batch_size=(100, 17),
)
HALFCHEETAH_DIR = OYSTER_DEFAULT.read_from(
    _CHEETAH_DIR,
    num_train_tasks=(2, 3),
    meta_batch=(4, 10),
    num_initial_steps=(2000, 11),
    num_steps_prior=(1000, 12),
    num_steps_posterior=(0, 13),
    num_extra_rl_steps_posterior=(1000, 14),
    num_exp_traj_eval=(2, 17),
    embedding_batch_size=(256, 18),
)
ANT_DIR = OYSTER_DEFAULT.read_from(
    _ANT_DIR,
    num_train_tasks=(2, 3),
    meta_batch=(4, 10),
    num_initial_steps=(2000, 11),
    num_steps_prior=(400, 12),
    num_steps_posterior=(0, 13),
    num_extra_rl_steps_posterior=(600, 14),
    num_train_steps_per_itr=(4000, 15),
    num_exp_traj_eval=(2, 18),
    embedding_batch_size=(256, 19),
)
ANT_GOAL = OYSTER_DEFAULT.read_from(
    _ANT_GOAL,
    num_train_tasks=(150, 3),
    meta_batch=(10, 10),
    num_initial_steps=(2000, 11),
    num_steps_prior=(400, 12),
    num_steps_posterior=(0, 13),
    num_extra_rl_steps_posterior=(600, 14),
    num_train_steps_per_itr=(4000, 15),
    num_exp_traj_eval=(2, 18),
    embedding_batch_size=(256, 19),
    kl_lambda=(1.0, 21),
)
ANT_DIR_2D = ANT_GOAL.scaled(
    "ant-dir-2d is ours (a continuous direction, no oyster config): ant-goal's task pool and schedule, "
    "with the KL weight of oyster's direction task (ant-dir, default.py:37)",
    kl_lambda=0.1,
)
POINT_NAV = OYSTER_DEFAULT.read_from(
    _POINT_ROBOT,
    num_train_tasks=(80, 3),
    num_initial_steps=(200, 10),
    num_steps_prior=(200, 11),
    num_steps_posterior=(0, 12),
    num_extra_rl_steps_posterior=(200, 13),
    num_train_steps_per_itr=(1000, 14),
    reward_scale=(100.0, 17),
    kl_lambda=(0.1, 18),
)

# --- Meta-World: garage PR #2287 ---------------------------------------------------------------------------

_PEARL_PY = GARAGE_PR_2287.file("src/garage/torch/algos/pearl.py")
_META_EVALUATOR = GARAGE_PR_2287.file("src/garage/experiment/meta_evaluator.py")
_DEAD_REGULARISER = (
    "nominal 1e-3 (pearl.py:117-118), but the loss is computed on the policy's detached numpy outputs "
    "(context_conditioned_policy.py:191-192), so the weight that ran is 0"
)
# The defaults of PEARL.__init__; latent_dim, the network sizes and num_train_tasks have none (each launcher
# passes them).
GARAGE_DEFAULTS = record(
    num_initial_steps=_PEARL_PY.cite(100, 127),
    num_tasks_sample=_PEARL_PY.cite(100, 128),
    num_steps_prior=_PEARL_PY.cite(100, 129),
    num_steps_posterior=_PEARL_PY.cite(0, 130),
    num_extra_rl_steps_posterior=_PEARL_PY.cite(100, 131),
    update_post_train=_PEARL_PY.cite(1, 138),
    replay_buffer_size=_PEARL_PY.cite(1_000_000, 136),
    num_train_steps_per_itr=_PEARL_PY.cite(1000, 126),
    meta_batch=_PEARL_PY.cite(64, 125),
    batch_size=_PEARL_PY.cite(1024, 132),
    embedding_batch_size=_PEARL_PY.cite(1024, 133),
    discount=_PEARL_PY.cite(0.99, 135),
    soft_target_tau=_PEARL_PY.cite(0.005, 120),
    policy_lr=_PEARL_PY.cite(3e-4, 113),
    qf_lr=_PEARL_PY.cite(3e-4, 114),
    vf_lr=_PEARL_PY.cite(3e-4, 115),
    context_lr=_PEARL_PY.cite(3e-4, 116),
    reward_scale=_PEARL_PY.cite(1.0, 137),
    kl_lambda=_PEARL_PY.cite(0.1, 121),
    policy_mean_reg_weight=_PEARL_PY.cite(0.0, "409", _DEAD_REGULARISER),
    policy_std_reg_weight=_PEARL_PY.cite(0.0, "410", _DEAD_REGULARISER),
    num_exp_traj_eval=_META_EVALUATOR.cite(
        10, 43, "n_exploration_eps; PEARL builds its MetaEvaluator without it (pearl.py:183-187)"
    ),
)
_EXPLORATION_IN_A_TRIAL = (
    "garage's evaluator explores 10 episodes and then scores 1 adapted episode (meta_evaluator.py:43-45); "
    "our Meta-World trials hold the protocol's 10 episodes for every method, so 9 explore and the 10th adapts"
)


def _garage_launcher(name: str, lines: dict[str, tuple[object, int | str]]) -> ConfigRecord:
    launcher = GARAGE_PR_2287.file(f"metaworld_examples/pearl_metaworld_{name}.py")
    # num_steps_per_epoch counts both the collection rounds of an epoch and the gradient steps after each
    # round (pearl.py:292 and 333): one of our iterations is one round, so it takes num_steps_per_epoch steps.
    launched = GARAGE_DEFAULTS.read_from(launcher, **lines).in_field_order(PEARLConfig)  # type: ignore[arg-type]
    return launched.scaled(_EXPLORATION_IN_A_TRIAL, num_exp_traj_eval=9)


_LAUNCHER_COMMON_ML10_ML45 = {
    "latent_dim": (7, 28),
    "encoder_hidden_sizes": ((200, 200, 200), 29),
    "hidden_sizes": ((300, 300, 300), 30),
    "num_steps_prior": (2500, 32),
    "num_extra_rl_steps_posterior": (2500, 33),
    "batch_size": (1000, 34),
    "embedding_batch_size": (250, 35),
    "reward_scale": (1000.0, 37),
}
ML1 = _garage_launcher(
    "ml1",
    {
        "latent_dim": (7, 30),
        "encoder_hidden_sizes": ((200, 200, 200), 31),
        "hidden_sizes": ((300, 300, 300), 32),
        "num_initial_steps": (15000, 33),
        "num_steps_prior": (2500, 34),
        "num_extra_rl_steps_posterior": (2500, 35),
        "batch_size": (1000, 36),
        "embedding_batch_size": (250, 37),
        "reward_scale": (1000.0, 39),
        "num_train_steps_per_itr": (40, 72),
        "num_train_tasks": (15, 73),
        "num_tasks_sample": (15, 73),
        "meta_batch": (16, 74),
        "replay_buffer_size": (5_000_000, 138),
    },
)
ML10 = _garage_launcher(
    "ml10",
    {
        **_LAUNCHER_COMMON_ML10_ML45,
        "num_initial_steps": (5000, 31),
        "num_train_steps_per_itr": (60, 68),
        "num_train_tasks": (10, 69),
        "num_tasks_sample": (10, 69),
        "meta_batch": (10, 69),
    },
)
ML45 = _garage_launcher(
    "ml45",
    {
        **_LAUNCHER_COMMON_ML10_ML45,
        "num_initial_steps": (22500, 31),
        "num_train_steps_per_itr": (14, 68),
        "num_train_tasks": (45, 69),
        "num_tasks_sample": (45, 69),
        "meta_batch": (45, 70),
    },
)

PAPER: dict[str, ConfigRecord] = {
    "point-nav": POINT_NAV,
    "halfcheetah-vel": HALFCHEETAH_VEL,
    "halfcheetah-dir": HALFCHEETAH_DIR,
    "ant-dir": ANT_DIR,
    "ant-dir-2d": ANT_DIR_2D,
    "ant-goal": ANT_GOAL,
    "ml1-reach": ML1,
    "ml1-push": ML1,
    "ml1-pick-place": ML1,
    "ml10": ML10,
    "ml45": ML45,
}

# --- tiers below paper -------------------------------------------------------------------------------------

QUICK_TRAIN_STEPS = 100
"""gradient steps per iteration in the ``quick`` tier (a CPU cannot afford oyster's 2000-4000)"""

_QUICK = (
    "quick tier: the original's work per iteration does not fit a CPU's quick budget; fewer training "
    "tasks, a smaller initial pool and fewer, smaller gradient steps give several updates within it"
)
_QUICK_METAWORLD = (
    "quick tier: garage's 5,000 env steps per task per round (75k-225k per iteration) exceed the whole "
    "quick budget; one 500-step episode per phase on at most 5 tasks"
)
_QUICK_POINT_NAV = (
    "quick tier, point-nav (ours, for a CPU): with oyster's 300x3 networks and 80 tasks nothing adapted "
    "in minutes; with 64x2 networks the 20-task critic never fitted (Q loss ~1000 vs ~10 for one task) and "
    "3 of 5 seeds did not adapt; with kl_lambda 0.1 the encoder memorised the training tasks; 20-step "
    "episodes bootstrapped through the cut need the shorter discount"
)
_SMOKE = "smoke tier: tiny networks and one episode per phase; proves the pipeline, measures nothing"


def config_record(suite: str, tier: str) -> ConfigRecord:
    """Every value of PEARL's configuration of ``suite`` at ``tier``, with its source or deviation."""
    check_suite_name(suite)
    check_config_tier(tier)
    paper = PAPER[suite]
    if tier == "paper":
        return paper
    if tier == "quick":
        if suite == "point-nav":
            return paper.scaled(
                _QUICK_POINT_NAV,
                hidden_sizes=(256, 256),
                num_train_tasks=20,
                num_train_steps_per_itr=200,
                batch_size=64,
                discount=0.9,
                kl_lambda=1.0,
                policy_lr=1e-3,
                qf_lr=1e-3,
                vf_lr=1e-3,
                context_lr=1e-3,
            )
        quick = paper.scaled(
            _QUICK,
            num_train_tasks=min(paper["num_train_tasks"].value, 20),
            num_initial_steps=min(paper["num_initial_steps"].value, 400),
            num_train_steps_per_itr=QUICK_TRAIN_STEPS,
            meta_batch=min(paper["meta_batch"].value, 8),
            batch_size=128,
        )
        if SUITES[suite].family == "metaworld":
            quick = quick.scaled(
                _QUICK_METAWORLD,
                num_tasks_sample=min(paper["num_tasks_sample"].value, 5),
                num_steps_prior=500,
                num_extra_rl_steps_posterior=500,
            )
        return quick
    return paper.scaled(
        _SMOKE,
        hidden_sizes=(16,),
        encoder_hidden_sizes=(16,),
        num_train_tasks=min(paper["num_train_tasks"].value, 4),
        num_initial_steps=1,
        num_tasks_sample=2,
        num_steps_prior=1,
        num_extra_rl_steps_posterior=1,
        num_train_steps_per_itr=2,
        meta_batch=2,
        batch_size=8,
        embedding_batch_size=8,
    )


def default_config(suite: str, tier: str) -> PEARLConfig:
    """The configuration a run of PEARL on ``suite`` at ``tier`` takes: :func:`config_record`, built."""
    config: PEARLConfig = config_record(suite, tier).build(PEARLConfig)
    return config
