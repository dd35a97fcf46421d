"""Environment workers: ``--env-workers N`` gives the single-process results bit for bit.

The batch is compared step by step against :class:`~benchmark.trial.TrialBatch` (autoreset and explicit
resets); whole runs of TrMRL and the random agent are compared through :func:`benchmark.run.execute_run`
(metrics and traces files byte for byte); a worker-backed context's ``state_dict`` resumes exactly.
"""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch

import benchmark.run
from benchmark import registry
from benchmark.agent import EnvSpec, Runtime, TrainingContext
from benchmark.request import resolve_run
from benchmark.results.store import METRICS_FILE, TRACES_FILE
from benchmark.run import execute_run
from benchmark.suites import make_suite
from benchmark.workers import WorkerTrialBatch, start_method


def assert_same_step(a, b) -> None:
    for name in ("obs", "reward", "terminated", "episode_end", "trial_end", "active", "final_obs"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    for info_a, info_b in zip(a.infos, b.infos, strict=True):
        assert info_a.keys() == info_b.keys()
        assert info_a.get("task_id") == info_b.get("task_id")
        assert info_a.get("reset_info") == info_b.get("reset_info")


@pytest.mark.parametrize(
    ("suite_name", "device"), [("point-nav", "cpu"), ("halfcheetah-vel", "cpu"), ("point-nav", "cuda")]
)
@pytest.mark.parametrize("autoreset", [True, False])
def test_worker_batch_steps_like_the_in_process_batch(suite_name, device, autoreset):
    """Forked workers on the CPU; spawned ones for a run on a GPU (the context only reads the runtime's
    device, so this runs without one)."""
    suite = make_suite(suite_name, seed=3)
    spec = EnvSpec.from_suite(suite)
    runtime = Runtime(device=device)
    contexts = [TrainingContext(suite, spec, 3, 10**6, runtime, env_workers=workers) for workers in (1, 3)]
    batches = [ctx.trial_batch(5, episodes_per_trial=2, autoreset=autoreset) for ctx in contexts]
    assert isinstance(batches[1], WorkerTrialBatch) and not isinstance(batches[0], WorkerTrialBatch)
    assert batches[1].pool.method == ("spawn" if device == "cuda" else "fork")
    rng = np.random.default_rng(0)
    obs = [batch.reset()[0] for batch in batches]
    np.testing.assert_array_equal(obs[0], obs[1])
    for _ in range(2 * spec.horizon + 30):
        if not autoreset and not batches[0].active.any():
            rows = [0, 3]
            obs = [batch.reset(task_ids=[1, 2], rows=rows)[0] for batch in batches]
            np.testing.assert_array_equal(obs[0], obs[1])
        actions = rng.uniform(-1, 1, size=(5, spec.act_dim)).astype(np.float32)
        steps = [batch.step(actions) for batch in batches]
        assert_same_step(*steps)
        assert contexts[0].env_steps == contexts[1].env_steps
    assert (contexts[0].state_dict() is None) == (contexts[1].state_dict() is None)
    for ctx in contexts:
        ctx.close()


@pytest.mark.parametrize("suite_name", ["point-nav", "halfcheetah-vel"])
@pytest.mark.parametrize("method", ["trmrl", "random"])
def test_a_run_with_env_workers_equals_the_single_process_run(tmp_path, monkeypatch, method, suite_name):
    outcomes = {}
    for workers in (1, 2):
        # `run --env-workers N` reaches the run's context; the spy checks the batches really ran in workers.
        made: list[TrainingContext] = []

        def context(*args, made=made, **kwargs):
            made.append(TrainingContext(*args, **kwargs))
            return made[-1]

        monkeypatch.setattr(benchmark.run, "TrainingContext", context)
        spec, config = resolve_run(method, suite_name, 0, "smoke")
        outcomes[workers] = execute_run(
            spec, config, tmp_path / str(workers), progress=False, env_workers=workers
        )
        assert isinstance(made[0]._batches[0], WorkerTrialBatch) == (workers > 1)
        assert outcomes[workers].status == "completed"
        manifest = json.loads((outcomes[workers].run_dir / "manifest.json").read_text())
        assert manifest["env_workers"] == workers
    for name in (METRICS_FILE, TRACES_FILE):
        assert (outcomes[1].run_dir / name).read_bytes() == (outcomes[2].run_dir / name).read_bytes(), name


@pytest.mark.parametrize("method", ["trmrl", "random"])
def test_a_worker_context_resumes_exactly(method):
    """Train 2 iterations with workers, snapshot, resume in fresh worker and in-process contexts, compare."""

    suite = make_suite("point-nav", seed=0)
    spec = EnvSpec.from_suite(suite)
    factory = registry.load_method(method)
    config = factory.default_config("point-nav", "smoke")

    def train(ctx, agent, iterations):
        loop = agent.meta_train(ctx)
        for _ in range(iterations):
            next(loop)
        return loop

    ctx = TrainingContext(suite, spec, 0, 10**6, env_workers=2)
    agent = factory(config, spec, 0, Runtime())
    loop = train(ctx, agent, 2)
    # Copies: an agent's state_dict shares its live parameters, which the next iteration changes.
    ctx_state, agent_state = copy.deepcopy(ctx.state_dict()), copy.deepcopy(agent.state_dict())
    assert ctx_state is not None
    next(loop)  # the uninterrupted run's third iteration
    train_after = {0: (ctx.env_steps, agent.state_dict())}
    for workers in (1, 2):
        resumed_ctx = TrainingContext(suite, spec, 0, 10**6, env_workers=workers)
        resumed_ctx.load_state_dict(ctx_state)
        resumed = factory(config, spec, 0, Runtime())
        resumed.load_state_dict(agent_state)
        train(resumed_ctx, resumed, 1)
        train_after[workers] = (resumed_ctx.env_steps, resumed.state_dict())
        resumed_ctx.close()
    ctx.close()
    flat = {w: torch.utils._pytree.tree_flatten(train_after[w][1])[0] for w in (0, 1, 2)}
    for w in (1, 2):
        assert train_after[w][0] == train_after[0][0]
        assert_same_state(flat[0], flat[w])


def test_workers_are_spawned_not_forked_once_cuda_has_started(monkeypatch):
    assert start_method() == "fork" and start_method(cuda=True) == "spawn"
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: True)  # e.g. an earlier run used the GPU
    assert start_method() == "spawn"


def assert_same_state(a, b) -> None:
    for x, y in zip(a, b, strict=True):
        if isinstance(x, torch.Tensor):
            assert torch.equal(x, y)
        elif isinstance(x, np.ndarray):
            np.testing.assert_array_equal(x, y)
        else:
            assert x == y
