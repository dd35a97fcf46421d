"""The evaluation protocol, driven by a scripted agent on the fake reveal suite."""

import dataclasses

import numpy as np
import pytest

from benchmark.protocol import EvalSettings, evaluate
from tests.fakes import build_reveal_suite


class ScriptedAgent:
    """Always pushes +1; records every call of the online interface."""

    def __init__(self):
        self.calls = []
        self.observed = []

    def begin_trial(self, num_trials):
        self.calls.append(("begin_trial", num_trials))

    def act(self, obs, deterministic):
        assert deterministic
        if not self.calls or self.calls[-1][0] == "begin_trial":
            self.observed.append(("begin", obs.copy()))
        self.calls.append(("act", obs.shape))
        return np.ones((obs.shape[0], 1), dtype=np.float32)

    def observe(self, transition):
        self.calls.append(("observe", transition.active.copy(), transition.episode_end.copy()))

    def end_episode(self, mask):
        self.calls.append(("end_episode", mask.copy()))


def test_protocol_measures_every_episode_of_every_task():
    suite = build_reveal_suite(horizon=4)
    agent = ScriptedAgent()
    results = evaluate(
        agent, suite, EvalSettings(num_tasks=2, episodes=3, splits=("meta_test", "ood")), seed=0
    )
    assert len(results) == 2 * 2 * 3
    by_key = {(r.split, r.task_id, r.episode): r for r in results}
    assert set(by_key) == {(s, t, e) for s in ("meta_test", "ood") for t in (0, 1) for e in (1, 2, 3)}
    assert by_key[("meta_test", 0, 2)].episode_return == pytest.approx(4.0)  # sign +1, action +1, 4 steps
    assert by_key[("meta_test", 1, 3)].episode_return == pytest.approx(-4.0)
    assert by_key[("ood", 0, 1)].episode_return == pytest.approx(8.0)  # sign +2
    assert by_key[("meta_test", 0, 1)].success == 1.0 and by_key[("meta_test", 1, 1)].success == 0.0
    assert all(r.length == 4 for r in results)
    assert by_key[("ood", 1, 1)].task_param == -2.0


def test_protocol_calls_the_online_interface_in_order():
    suite = build_reveal_suite(horizon=2)
    agent = ScriptedAgent()
    evaluate(agent, suite, EvalSettings(num_tasks=2, episodes=2, splits=("meta_test",)), seed=0)
    names = [c[0] for c in agent.calls]
    assert names[0] == "begin_trial" and agent.calls[0][1] == 2
    assert names.count("act") == 4 and names.count("end_episode") == 2
    assert names == ["begin_trial"] + ["act", "observe", "act", "observe", "end_episode"] * 2


def test_protocol_waits_for_trials_of_different_length_and_masks_them():
    suite = build_reveal_suite(horizon=5, terminate_at=2)
    agent = ScriptedAgent()
    results = evaluate(agent, suite, EvalSettings(num_tasks=2, episodes=2, splits=("meta_test",)), seed=0)
    assert all(r.length == 2 for r in results)
    ends = [c[1] for c in agent.calls if c[0] == "end_episode"]
    assert [e.tolist() for e in ends] == [[True, True], [True, True]]


def test_protocol_skips_splits_the_suite_lacks_and_caps_task_count():
    suite = build_reveal_suite()
    splits = dict(suite.splits)
    del splits["ood"]
    suite = dataclasses.replace(suite, splits=splits)
    results = evaluate(ScriptedAgent(), suite, EvalSettings(num_tasks=99, episodes=1), seed=0)
    assert {r.split for r in results} == {"meta_train", "meta_test"}
    assert len([r for r in results if r.split == "meta_test"]) == 2


def test_a_splits_initial_states_do_not_depend_on_the_other_splits_evaluated():
    """The reveal env's reset observation is noise drawn from the reset seed: compare the first tokens."""

    def first_tokens(splits):
        agent = ScriptedAgent()
        evaluate(agent, build_reveal_suite(horizon=3), EvalSettings(2, 1, splits=splits), seed=7)
        firsts = [obs for name, obs in agent.observed if name == "begin"]
        return firsts[-1]  # the first observations of the last split evaluated (ood)

    alone, after_others = first_tokens(("ood",)), first_tokens(("meta_test", "ood"))
    assert np.abs(alone[:, 0]).max() > 0  # really noise, not a constant
    np.testing.assert_array_equal(alone, after_others)
