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
        self.masks = []

    def begin_trial(self, plan):
        self.calls.append(("begin_trial", plan.num_trials))
        self.plan = plan

    def act(self, obs, deterministic):
        assert deterministic.shape == (obs.shape[0],) and deterministic.dtype == bool
        self.masks.append(deterministic.copy())
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


def test_protocol_skips_splits_the_suite_lacks():
    suite = build_reveal_suite()
    splits = dict(suite.splits)
    del splits["ood"]
    suite = dataclasses.replace(suite, splits=splits)
    results = evaluate(ScriptedAgent(), suite, EvalSettings(num_tasks=2, episodes=1), seed=0)
    assert {r.split for r in results} == {"meta_train", "meta_test"}


def test_more_trials_than_tasks_repeat_the_tasks_with_distinct_reset_states():
    """Two-task suites: the paper ran 20 trials; repetitions of a task start from different states."""
    agent = ScriptedAgent()
    suite = build_reveal_suite(horizon=3)
    results = evaluate(agent, suite, EvalSettings(num_tasks=6, episodes=1, splits=("meta_test",)), seed=0)
    assert [(r.trial, r.task_id) for r in sorted(results, key=lambda r: r.trial)] == [
        (j, j % 2) for j in range(6)
    ]
    first = agent.observed[0][1][:, 0]
    assert len(set(np.round(first, 12))) == 6  # six distinct initial states


def test_exploration_episodes_sample_and_the_rest_follow_the_action_mode():
    suite = build_reveal_suite(horizon=2)
    for mode, later in (("mean", True), ("sample", False)):
        agent = ScriptedAgent()
        settings = EvalSettings(2, 3, ("meta_test",), exploration_episodes=1, action_mode=mode)
        evaluate(agent, suite, settings, seed=0)
        assert agent.plan.exploration_episodes == 1 and agent.plan.episodes == 3
        per_step = [bool(m.all()) for m in agent.masks]  # 2 steps per episode, rows in lockstep
        assert per_step == [False, False, later, later, later, later]


def test_meta_world_samples_and_locomotion_uses_the_mean_by_default():
    from benchmark.protocol import resolved_action_mode
    from benchmark.suites import SUITES

    settings = EvalSettings(2, 2)
    assert resolved_action_mode(settings, "ml45") == "sample"
    assert resolved_action_mode(settings, "halfcheetah-vel") == "mean"
    assert {SUITES[s].family for s in SUITES if SUITES[s].eval_action_mode == "sample"} == {"metaworld"}


def test_traces_hold_every_steps_reward_with_its_episode():
    from benchmark.protocol import TrialTrace

    suite = build_reveal_suite(horizon=3)
    traces: list[TrialTrace] = []
    results = evaluate(ScriptedAgent(), suite, EvalSettings(2, 2, ("meta_test",)), seed=0, traces=traces)
    assert [(t.trial, t.task_id) for t in traces] == [(0, 0), (1, 1)]
    assert traces[0].episodes == [1, 1, 1, 2, 2, 2]
    assert traces[0].rewards == [1.0] * 6 and traces[1].rewards == [-1.0] * 6  # sign * action
    for r in results:
        trace = traces[r.trial]
        steps = [x for x, e in zip(trace.rewards, trace.episodes, strict=True) if e == r.episode]
        assert sum(steps) == pytest.approx(r.episode_return)


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
