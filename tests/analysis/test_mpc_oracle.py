"""The computed upper reference of the locomotion suites (``analysis/scripts/mpc_oracle.py``).

The planner scores its candidate sequences with its own copy of each suite's reward; these tests hold that
copy to the suite's real reward, step by step, on the real simulator, and check that the planner beats the
random policy it is meant to bound from above.
"""

from __future__ import annotations

import mujoco
import numpy as np
import pytest
from mujoco import rollout

from analysis.scripts.mpc_oracle import (
    SETTINGS,
    STATE_SPEC,
    MppiOracle,
    PlannerSettings,
    planned_rewards,
    rollout_qpos,
)
from benchmark.suites import make_suite
from benchmark.suites.base import META_TEST


@pytest.mark.parametrize("suite_name", sorted(SETTINGS))
def test_planned_rewards_are_the_suite_reward_on_the_true_simulator(suite_name):
    """Roll a random 15-step sequence out with mujoco.rollout and play it in the suite's env: the planner's
    per-step rewards equal the env's, less the ants' contact cost (which a rollout cannot see). Exactly for
    HalfCheetah. The ants' rewards read the torso ``xpos`` of Ant's last RK4 stage where the planner reads
    ``qpos`` (the dynamics themselves agree to the last bit): ~1e-4 m, so a velocity differs by up to a few
    hundredths in a step, but velocities telescope and the sequence's return agrees to 1e-2."""
    suite = make_suite(suite_name, 0)
    task = suite.splits[META_TEST][-1]
    env = suite.make_env()
    env.set_task(task)
    env.reset(seed=3)
    base = env.unwrapped  # type: ignore[attr-defined]
    actions = np.random.default_rng(0).uniform(-1, 1, (1, 15, base.model.nu))
    state = np.empty(mujoco.mj_stateSize(base.model, STATE_SPEC))
    mujoco.mj_getState(base.model, base.data, state, STATE_SPEC)
    states, _ = rollout.rollout(
        base.model,
        mujoco.MjData(base.model),
        state,
        np.repeat(actions, base.frame_skip, axis=1),
        initial_warmstart=base.data.qacc_warmstart,
    )
    qpos = rollout_qpos(states, base.frame_skip, base.model.nq)
    planned, alive = planned_rewards(suite_name, task, base.data.qpos.copy(), qpos, actions, base.dt)

    paid = []
    for action in actions[0]:
        _, reward, terminated, _, info = env.step(action)
        paid.append(reward - info.get("reward_contact", 0.0))
        np.testing.assert_array_equal(base.data.qpos, qpos[0, len(paid) - 1])  # same dynamics, bit for bit
        if terminated:
            break
    assert alive[0, : len(paid)].all()
    exact = suite_name.startswith("halfcheetah")
    np.testing.assert_allclose(planned[0, : len(paid)], paid, rtol=0, atol=1e-9 if exact else 0.1)
    assert abs(planned[0, : len(paid)].sum() - sum(paid)) <= (1e-9 if exact else 1e-2)


def test_an_ant_dir_sequence_is_charged_from_the_step_after_its_fall():
    """The step on which the torso leaves [0.2, 1.0] is still paid (without the survival bonus), as the env
    pays it before terminating; later steps are not."""
    suite = make_suite("ant-dir", 0)
    task = suite.splits[META_TEST][0]
    qpos_after = np.zeros((1, 4, 15))
    qpos_after[0, :, 2] = [0.5, 0.5, 0.1, 0.5]  # falls on the third step
    rewards, alive = planned_rewards("ant-dir", task, np.zeros(15), qpos_after, np.zeros((1, 4, 8)), 0.05)
    assert alive.tolist() == [[True, True, True, False]]
    assert rewards[0, :3].tolist() == [1.0, 1.0, 0.0]


def test_the_planner_outruns_the_random_policy():
    """A small planner (32 sequences of 10 steps) runs HalfCheetah forward over 30 steps; the random policy,
    on the same reset, goes nowhere and pays its control cost."""
    suite = make_suite("halfcheetah-dir", 0)
    task = next(t for t in suite.splits[META_TEST] if float(t.data) == 1.0)
    returns = {}
    for who in ("planner", "random"):
        env = suite.make_env()
        env.set_task(task)
        env.reset(seed=0)
        oracle = MppiOracle(
            "halfcheetah-dir", env, PlannerSettings(samples=32, horizon=10, noise=0.5), seed=0
        )
        rng = np.random.default_rng(0)
        total = 0.0
        for _ in range(30):
            action = oracle.act(task) if who == "planner" else rng.uniform(-1, 1, 6)
            total += env.step(action)[1]
        returns[who] = total
    assert returns["planner"] > returns["random"] + 10.0, returns


def test_an_unknown_suite_has_no_planning_objective():
    with pytest.raises(ValueError, match="no planning objective"):
        planned_rewards("ml45", None, np.zeros(2), np.zeros((1, 1, 2)), np.zeros((1, 1, 1)), 0.1)  # type: ignore[arg-type]
