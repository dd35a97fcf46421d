"""Configuration values that were once taken from the wrong source or mis-set, pinned to the originals.

Each assertion names the file and line of the original it reproduces; the provenance records cite the same
lines (``python -m benchmark config``), and tests/contract/test_config_provenance.py checks every value.
"""

from __future__ import annotations

import pytest

from agents.trmrl.provenance import default_config as trmrl_config
from baselines.maml.provenance import default_config as maml_config
from baselines.rl2.provenance import default_config as rl2_config


@pytest.mark.parametrize("suite", ["ml1-reach", "ml1-push", "ml1-pick-place", "ml10", "ml45"])
def test_maml_metaworld_is_garage_pr_2287(suite: str) -> None:
    """rlworkgroup/garage@0849200 metaworld_examples/maml_trpo_metaworld_ml{1,10,45}.py."""
    config = maml_config(suite, "paper")
    assert config.inner_lr == 1e-4
    assert (config.output_tanh, config.std_head, config.min_std, config.max_std) == (
        True,
        "shared_network",
        0.5,
        1.5,
    )
    assert not config.normalize_advantages  # center_adv=False
    assert config.outer_objective == "log_likelihood"  # the meta-loss is VPG's
    expected = {"ml10": (20, 10), "ml45": (45, 20)}.get(suite, (25, 10))
    assert (config.meta_batch_size, config.rollouts_per_task) == expected


@pytest.mark.parametrize("suite", ["halfcheetah-vel", "halfcheetah-dir", "ant-dir"])
def test_maml_locomotion_is_promp(suite: str) -> None:
    """jonasrothfuss/ProMP@93ae339: CG reg_coeff 0 (conjugate_gradient_optimizer.py:127), normalize(env)
    with normalization_scale 10 (normalized_env.py:27), the likelihood-ratio surrogate (trpo_maml.py)."""
    config = maml_config(suite, "paper")
    assert (config.cg_damping, config.action_scale, config.inner_lr) == (0.0, 10.0, 0.1)
    assert (config.outer_objective, config.std_head, config.output_tanh) == (
        "likelihood_ratio",
        "parameter",
        False,
    )
    assert (config.meta_batch_size, config.rollouts_per_task, config.max_std) == (40, 20, None)


def test_rl2_locomotion_meta_batch_is_the_promp_sweep_at_our_horizon() -> None:
    """ProMP@9e7fc51 run_scripts/rl2_run_sweep.py:89, 93: meta_batch 100 at max_path_length 200."""
    config = rl2_config("halfcheetah-vel", "paper")
    assert (config.meta_batch, config.minibatch_trials) == (100, 100)


def test_trmrl_metaworld_row_decay_values() -> None:
    """luckeciano/transformers-metarl@5528cdb README.md:40 (inert: no schedule on Meta-World)."""
    config = trmrl_config("ml1-reach", "paper")
    assert (config.decay_epoch_init, config.decay_epoch_end, config.min_lr_factor) == (500, 3500, 1e-4)
    assert (config.policy_lr_schedule, config.value_lr_schedule) == ("none", "none")
