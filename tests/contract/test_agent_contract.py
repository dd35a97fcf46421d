"""Every registered method honours the agent contract of benchmark/agent.py (a new baseline gets this free).

Parametrized over the registry, on the cheapest real suite (point-nav) with the method's smoke config.
"""

import numpy as np
import pytest

from benchmark import registry
from benchmark.agent import EnvSpec, MetaAgent, TrainingContext, Transition
from benchmark.protocol import EvalSettings, evaluate
from benchmark.suites import make_suite

# The template of baselines/_template/ is checked too, so that copying it starts from a working agent.
TEMPLATE = "baselines._template.agent:TemplateAgent"
METHODS = sorted(registry.METHODS) + [TEMPLATE]


def build(method, seed=0):
    suite = make_suite("point-nav", seed)
    spec = EnvSpec.from_suite(suite)
    factory = (
        registry.MethodEntry(TEMPLATE, "").load() if method == TEMPLATE else registry.load_method(method)
    )
    config = factory.default_config("point-nav", "smoke")
    assert isinstance(config, factory.Config)
    return suite, spec, factory(config, spec, seed)


def rollout_actions(agent, spec, steps=6, n=3):
    """Deterministic actions on a fixed observation stream, through the online interface."""
    rng = np.random.default_rng(0)
    agent.begin_trial(n)
    actions = []
    obs = rng.normal(size=(n, spec.aug_obs_dim)).astype(np.float32)
    for t in range(steps):
        action = agent.act(obs, deterministic=True)
        actions.append(np.asarray(action).copy())
        next_obs = rng.normal(size=(n, spec.aug_obs_dim)).astype(np.float32)
        end = np.full(n, t == steps // 2)
        agent.observe(Transition(obs, action, np.ones(n), next_obs, np.zeros(n, bool), end, np.ones(n, bool)))
        if end.any():
            agent.end_episode(end)
        obs = next_obs
    return np.stack(actions)


@pytest.mark.parametrize("method", METHODS)
def test_agent_is_a_meta_agent_with_bounded_actions(method):
    _, spec, agent = build(method)
    assert isinstance(agent, MetaAgent)
    actions = rollout_actions(agent, spec)
    assert actions.shape == (6, 3, spec.act_dim) and np.isfinite(actions).all()
    assert (actions >= np.array(spec.action_low) - 1e-6).all() and (
        actions <= np.array(spec.action_high) + 1e-6
    ).all()


@pytest.mark.parametrize("method", METHODS)
def test_meta_train_takes_its_steps_from_the_context_and_yields(method):
    suite, spec, agent = build(method)
    ctx = TrainingContext(suite, spec, seed=0, budget_env_steps=10**9)
    training = agent.meta_train(ctx)
    next(training)
    first = ctx.env_steps
    next(training)
    training.close()
    assert 0 < first < ctx.env_steps  # every step the agent took went through the harness's counter


@pytest.mark.parametrize("method", METHODS)
def test_state_dict_round_trip_reproduces_behaviour(method):
    suite, spec, agent = build(method, seed=0)
    ctx = TrainingContext(suite, spec, seed=0, budget_env_steps=10**9)
    training = agent.meta_train(ctx)
    next(training)
    training.close()
    state = agent.state_dict()
    expected = rollout_actions(agent, spec)
    _, _, fresh = build(method, seed=1)
    fresh.load_state_dict(state)
    agent.load_state_dict(state)
    np.testing.assert_allclose(rollout_actions(fresh, spec), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("method", METHODS)
def test_protocol_runs_on_the_agent(method):
    suite, _, agent = build(method)
    results = evaluate(agent, suite, EvalSettings(num_tasks=2, episodes=2, splits=("meta_test",)), seed=0)
    assert len(results) == 4 and all(np.isfinite(r.episode_return) for r in results)
