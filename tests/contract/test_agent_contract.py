"""Every registered method honours the agent contract of benchmark/agent.py (a new baseline gets this free).

Parametrized over the registry, on the cheapest real suite (point-nav) with the method's smoke config:
the protocol interface, determinism, ``begin_trial`` forgetting, evaluation leaving training unchanged,
checkpoint round trips through ``torch.load(weights_only=True)``, and no task parameter reaching an agent
during meta-training.
"""

from collections.abc import Mapping

import numpy as np
import pytest
import torch

from benchmark import registry
from benchmark.agent import AgentBase, EnvSpec, MetaAgent, Runtime, TrainingContext, Transition, TrialPlan
from benchmark.checkpoint import round_trip
from benchmark.protocol import EvalSettings, evaluate
from benchmark.suites import make_suite

# The template of baselines/_template/ is checked too, so that copying it starts from a working agent.
TEMPLATE = "baselines._template.agent:TemplateAgent"
METHODS = sorted(registry.METHODS) + [TEMPLATE]
CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU")


def factory_of(method):
    if method == TEMPLATE:
        return registry.MethodEntry(TEMPLATE, "").load()
    return registry.load_method(method)


def build(method, seed=0, runtime=None):
    suite = make_suite("point-nav", seed)
    spec = EnvSpec.from_suite(suite)
    factory = factory_of(method)
    config = factory.default_config("point-nav", "smoke")
    assert isinstance(config, factory.Config)
    return suite, spec, factory(config, spec, seed, runtime or Runtime())


def rollout_actions(agent, spec, steps=6, n=3, plan_seed=0, explore=1, deterministic=True):
    """Actions on a fixed observation stream through the online interface (one episode boundary)."""
    rng = np.random.default_rng(0)
    agent.begin_trial(TrialPlan(n, episodes=2, exploration_episodes=explore, seed=plan_seed))
    actions = []
    obs = rng.normal(size=(n, spec.aug_obs_dim)).astype(np.float32)
    for t in range(steps):
        episode = 0 if t <= steps // 2 else 1
        mask = np.full(n, deterministic and episode >= explore)
        action = agent.act(obs, mask)
        actions.append(np.asarray(action).copy())
        next_obs = rng.normal(size=(n, spec.aug_obs_dim)).astype(np.float32)
        end = np.full(n, t == steps // 2)
        agent.observe(Transition(obs, action, np.ones(n), next_obs, np.zeros(n, bool), end, np.ones(n, bool)))
        if end.any():
            agent.end_episode(end)
        obs = next_obs
    return np.stack(actions)


def train_some(agent, suite, spec, iterations=1, seed=0, evaluate_between=False):
    ctx = TrainingContext(suite, spec, seed=seed, budget_env_steps=10**9)
    training = agent.meta_train(ctx)
    for _ in range(iterations):
        next(training)
        if evaluate_between:
            evaluate(agent, suite, EvalSettings(2, 2, ("meta_test",), exploration_episodes=1), seed=5)
    training.close()
    return ctx


def flat_tensors(state, prefix=""):
    """Every tensor/array leaf of a nested state dict, by path (to compare two agents' states exactly)."""
    out = {}
    if isinstance(state, dict):
        for key, value in state.items():
            out.update(flat_tensors(value, f"{prefix}/{key}"))
    elif isinstance(state, (list, tuple)):
        for i, value in enumerate(state):
            out.update(flat_tensors(value, f"{prefix}/{i}"))
    elif isinstance(state, torch.Tensor):
        out[prefix] = state.detach().cpu().numpy()
    elif isinstance(state, (np.ndarray, int, float, bool, str)) or state is None:
        out[prefix] = state
    return out


def assert_same_state(a, b):
    fa, fb = flat_tensors(a), flat_tensors(b)
    assert fa.keys() == fb.keys()
    for key in fa:
        if isinstance(fa[key], np.ndarray):
            np.testing.assert_array_equal(fa[key], fb[key], err_msg=key)
        else:
            assert fa[key] == fb[key], key


@pytest.mark.parametrize("method", METHODS)
def test_agent_is_a_meta_agent_with_bounded_actions(method):
    _, spec, agent = build(method)
    assert isinstance(agent, MetaAgent)
    for deterministic in (True, False):
        actions = rollout_actions(agent, spec, deterministic=deterministic)
        assert actions.shape == (6, 3, spec.act_dim) and np.isfinite(actions).all()
        assert (actions >= np.array(spec.action_low) - 1e-6).all()
        assert (actions <= np.array(spec.action_high) + 1e-6).all()


@pytest.mark.parametrize("method", METHODS)
def test_declared_hooks_have_their_contract_types(method):
    """The members with defaults (AgentBase) are there for every agent, with the types the harness reads."""
    factory = factory_of(method)
    assert issubclass(factory, AgentBase)
    for suite in ("point-nav", "halfcheetah-vel", "ml45"):
        explore = factory.default_exploration_episodes(suite)
        assert isinstance(explore, int) and explore >= 0
        for tier in ("smoke", "paper"):
            assert factory.validate_config(factory.default_config(suite, tier), suite) is None
    suite, spec, agent = build(method)
    train_some(agent, suite, spec, iterations=1)
    assert isinstance(agent.last_stats, Mapping)
    assert all(isinstance(k, str) and isinstance(v, (int, float)) for k, v in agent.last_stats.items())
    train_some(agent, suite, spec, iterations=2)  # an iteration that completes episodes reports something
    assert agent.last_stats, f"{method} reports no training statistics (progress.csv would be empty)"
    without_buffers = agent.state_dict(include_buffers=False)
    assert set(without_buffers) <= set(agent.state_dict(include_buffers=True))


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
def test_same_seed_gives_identical_rows(method):
    rows = []
    for _ in range(2):
        suite, spec, agent = build(method, seed=3)
        train_some(agent, suite, spec, seed=3)
        results = evaluate(agent, suite, EvalSettings(3, 2, ("meta_test",), exploration_episodes=1), seed=3)
        rows.append([(r.task_id, r.episode, r.episode_return) for r in results])
    assert rows[0] == rows[1]


@pytest.mark.parametrize("method", METHODS)
def test_begin_trial_forgets_earlier_trials(method):
    """A trial run after another gives the actions it gives alone (sampled ones too: noise is per plan)."""
    _, spec, agent = build(method)
    alone = rollout_actions(agent, spec, deterministic=False, plan_seed=7)
    rollout_actions(agent, spec, deterministic=False, plan_seed=8, n=3)
    after = rollout_actions(agent, spec, deterministic=False, plan_seed=7)
    np.testing.assert_allclose(after, alone, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("method", METHODS)
def test_evaluation_does_not_change_training(method):
    """A run evaluated between iterations trains exactly as one that is not (same final state)."""
    suite, spec, quiet = build(method)
    train_some(quiet, suite, spec, iterations=2)
    suite, spec, evaluated = build(method)
    train_some(evaluated, suite, spec, iterations=2, evaluate_between=True)
    assert_same_state(quiet.state_dict(), evaluated.state_dict())


@pytest.mark.parametrize("method", METHODS)
def test_evaluation_checkpoint_loads_with_a_plain_weights_only_torch_load(method):
    """What ``checkpoint.pt`` holds (the state without buffers) is tensors and plain Python values only:
    ``torch.load(path, weights_only=True)`` reads it with no allow-list (the README's promise)."""
    import io

    suite, spec, agent = build(method, seed=0)
    train_some(agent, suite, spec)
    buffer = io.BytesIO()
    torch.save({"env_steps": 1, "agent": agent.state_dict(include_buffers=False)}, buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=True)
    _, _, other = build(method, seed=1)
    other.load_state_dict(loaded["agent"])
    np.testing.assert_allclose(
        rollout_actions(other, spec, deterministic=False),
        rollout_actions(agent, spec, deterministic=False),
        rtol=1e-5,
        atol=1e-6,
    )


@pytest.mark.parametrize("method", METHODS)
def test_state_dict_round_trip_through_a_safe_load_reproduces_behaviour(method):
    suite, spec, agent = build(method, seed=0)
    train_some(agent, suite, spec)
    state = round_trip({"agent": agent.state_dict()})["agent"]  # weights_only: no code in checkpoints
    expected = rollout_actions(agent, spec, deterministic=False)
    _, _, other = build(method, seed=1)
    other.load_state_dict(state)
    np.testing.assert_allclose(
        rollout_actions(other, spec, deterministic=False), expected, rtol=1e-5, atol=1e-6
    )
    # ... and a fresh agent of the same run (what a resumed run builds) trains on exactly as this one.
    _, _, resumed = build(method, seed=0)
    resumed.load_state_dict(state)
    train_some(agent, suite, spec, seed=4)
    train_some(resumed, suite, spec, seed=4)
    assert_same_state(agent.state_dict(), resumed.state_dict())


@pytest.mark.parametrize("method", METHODS)
def test_protocol_runs_on_the_agent(method):
    suite, _, agent = build(method)
    settings = EvalSettings(num_tasks=2, episodes=2, splits=("meta_test",), exploration_episodes=1)
    results = evaluate(agent, suite, settings, seed=0)
    assert len(results) == 4 and all(np.isfinite(r.episode_return) for r in results)


@pytest.mark.parametrize("method", METHODS)
def test_no_task_parameter_reaches_the_agent_in_training(method, monkeypatch):
    """Every info an agent can read from a training env carries an opaque task id, never the parameter."""
    from benchmark import trial

    seen: list[dict] = []
    original_reset, original_step = trial.TrialEnv.reset, trial.TrialEnv.step

    def reset(self, **kwargs):
        obs, info = original_reset(self, **kwargs)
        seen.append(info)
        return obs, info

    def step(self, action):
        out = original_step(self, action)
        seen.append(out[-1])
        return out

    monkeypatch.setattr(trial.TrialEnv, "reset", reset)
    monkeypatch.setattr(trial.TrialEnv, "step", step)
    suite, spec, agent = build(method)
    train_some(agent, suite, spec)
    assert seen
    leaked = {"task_param", "split", "task_name", "task"} & set().union(*(info.keys() for info in seen))
    assert not leaked


@CUDA
@pytest.mark.parametrize("method", METHODS)
def test_agent_runs_on_cuda(method):
    suite, spec, agent = build(method, runtime=Runtime.resolve("cuda"))
    train_some(agent, suite, spec)
    results = evaluate(agent, suite, EvalSettings(2, 2, ("meta_test",), exploration_episodes=1), seed=0)
    assert all(np.isfinite(r.episode_return) for r in results)


@pytest.mark.parametrize("method", METHODS)
def test_training_resumed_from_a_checkpoint_continues_the_uninterrupted_run(method):
    """Resume: agent + context + global RNG state at a yield let a fresh process continue bit for bit."""
    from benchmark.run import capture_global_rngs, restore_global_rngs

    suite, spec, uninterrupted = build(method, seed=2)
    ctx = TrainingContext(suite, spec, seed=2, budget_env_steps=10**9)
    training = uninterrupted.meta_train(ctx)
    next(training)
    next(training)
    training.close()

    suite, spec, first = build(method, seed=2)
    ctx = TrainingContext(suite, spec, seed=2, budget_env_steps=10**9)
    training = first.meta_train(ctx)
    next(training)
    checkpoint = round_trip(
        {"agent": first.state_dict(), "context": ctx.state_dict(), "rngs": capture_global_rngs()}
    )
    assert checkpoint["context"] is not None, "the agent yields mid-episode: its runs cannot resume"
    next(training)  # the killed process may have gone on; nothing of that may leak into the resumed run
    training.close()

    suite, spec, resumed = build(method, seed=2)
    resumed.load_state_dict(checkpoint["agent"])
    ctx_resumed = TrainingContext(suite, spec, seed=2, budget_env_steps=10**9)
    ctx_resumed.load_state_dict(checkpoint["context"])
    restore_global_rngs(checkpoint["rngs"])
    training = resumed.meta_train(ctx_resumed)
    next(training)
    training.close()
    assert ctx_resumed.env_steps == ctx.env_steps
    assert_same_state(uninterrupted.state_dict(), resumed.state_dict())


@pytest.mark.parametrize("method", METHODS)
def test_every_config_field_declares_its_range_and_refuses_a_value_of_the_wrong_kind(method):
    """Ranges are declared once per field (benchmark.constraints) and checked by the harness; a field with
    no check, or one that accepts anything, would let a bad --set reach training."""
    import dataclasses

    from benchmark.constraints import check_config, field_check

    factory = factory_of(method)
    config = factory.default_config("point-nav", "smoke")
    for field in dataclasses.fields(config):
        assert field_check(field) is not None, f"{method}: {field.name} declares no range"
        with pytest.raises(ValueError, match=rf"\.{field.name} must be"):
            check_config(dataclasses.replace(config, **{field.name: "not-a-value"}))
    for suite in ("point-nav", "halfcheetah-vel", "ant-dir", "ml1-push", "ml10", "ml45"):
        for tier in ("smoke", "quick", "paper"):
            check_config(factory.default_config(suite, tier))


@pytest.mark.parametrize("method", sorted(registry.METHODS))
def test_every_numeric_config_field_refuses_nan_and_a_negative_value_at_resolution(method):
    """Bad values fail when the run is resolved, before anything is written."""
    import dataclasses

    from benchmark.errors import BenchmarkError
    from benchmark.request import resolve_run

    config = factory_of(method).default_config("point-nav", "smoke")
    numeric = [
        f.name
        for f in dataclasses.fields(config)
        if isinstance(getattr(config, f.name), (int, float)) and not isinstance(getattr(config, f.name), bool)
    ]
    for name in numeric:
        value = getattr(config, name)
        if isinstance(value, float):
            with pytest.raises(BenchmarkError):
                resolve_run(method, "point-nav", 0, "smoke", overrides=[f"{name}=nan"])
        if value > 0:  # sizes, rates, coefficients: a negative one is never meaningful
            with pytest.raises(BenchmarkError, match=name):
                resolve_run(method, "point-nav", 0, "smoke", overrides=[f"{name}=-1"])
