"""gymnasium's check_env on the trial environment of every registered suite (real simulators)."""

import pytest
from gymnasium.utils.env_checker import check_env

from benchmark.suites import SUITES, make_suite
from benchmark.suites.base import META_TRAIN
from benchmark.trial import make_trial_env

METAWORLD = {name for name in SUITES if name.startswith("ml")}


# Augmented observations are unbounded by design (rewards and velocities have no fixed range).
@pytest.mark.filterwarnings("ignore:.*Box observation space m.*:UserWarning")
@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.metaworld) if n in METAWORLD else n for n in SUITES]
)
def test_trial_env_passes_check_env(name):
    suite = make_suite(name, seed=0)
    env = make_trial_env(suite, suite.tasks(META_TRAIN), episodes_per_trial=2, seed=0)
    check_env(env, skip_render_check=True)
    obs, info = env.reset(seed=1)
    assert obs.shape == env.observation_space.shape and info["split"] == META_TRAIN
    env.close()
