"""TrMRL's fast rollout collection (batched over rows) against the straightforward one it replaced.

``ReferenceTrMRLAgent`` keeps the original ``collect`` (one append per row per step); the agent's batched
version must give the identical :class:`~agents.trmrl.ppo.Batch` (arrays compared exactly) and training
return on the same inputs, including early terminations with top-up trials, token normalisation and the
trial-scope memory, and therefore the identical training run.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
import torch

from agents.trmrl.agent import TrMRLAgent
from agents.trmrl.ppo import Batch
from benchmark.agent import EnvSpec, Runtime, TrainingContext, TrialPlan
from benchmark.suites import make_suite
from benchmark.trial import TrialBatch
from tests.fakes import reveal
from tests.unit.test_trmrl_agent import TINY


@dataclass
class _TrialRecord:
    windows: list[np.ndarray] = field(default_factory=list)
    index: list[int] = field(default_factory=list)
    tokens: list[np.ndarray] = field(default_factory=list)
    actions: list[np.ndarray] = field(default_factory=list)
    rewards: list[float] = field(default_factory=list)


class ReferenceTrMRLAgent(TrMRLAgent):
    """The agent with the reference rollout collection, the one the batched version replaced.

    Verbatim but for the agent's public methods where they do the same: ``begin_trial`` sizes and empties
    the memory (its evaluation reseed is unused here) and ``end_episode`` marks the rows whose next token
    starts an episode.
    """

    def collect(self, batch: TrialBatch) -> tuple[Batch, float]:
        n = len(batch)
        target = n * self.config.episodes_per_trial * self.spec.horizon
        obs, infos = batch.reset()
        task_ids = [int(info["task_id"]) for info in infos]
        self.begin_trial(TrialPlan(n, self.config.episodes_per_trial))
        trials: list[_TrialRecord] = []
        episode_returns: list[float] = []
        trials += self.reference_trials(batch, obs, episode_returns)
        extra = 0
        while sum(len(t.rewards) for t in trials) < target:
            row = extra % n
            obs, _ = batch.reset(task_ids=[task_ids[row]], rows=[row])
            self.memory.reset(np.arange(n) == row)
            self.end_episode(np.arange(n) == row)
            trials += self.reference_trials(batch, obs, episode_returns)
            extra += 1
        train_return = float(np.mean(episode_returns)) if episode_returns else float("nan")

        def cat(name: str, dtype: Any) -> np.ndarray:
            return np.asarray([x for t in trials for x in getattr(t, name)], dtype=dtype)

        def tensor(name: str, dtype: Any) -> torch.Tensor:
            return torch.from_numpy(cat(name, dtype)).to(self.device)

        samples = Batch(
            windows=tensor("windows", np.float32),
            index=tensor("index", np.int64),
            tokens=tensor("tokens", np.float32),
            actions=tensor("actions", np.float32),
            rewards=cat("rewards", np.float64),
            trial_lengths=[len(t.rewards) for t in trials],
        )
        return samples, train_return

    def reference_trials(
        self, batch: TrialBatch, obs: np.ndarray, episode_returns: list[float]
    ) -> list[_TrialRecord]:
        records = {int(i): _TrialRecord() for i in np.flatnonzero(batch.active)}
        sample = np.zeros(len(batch), dtype=bool)
        while batch.active.any():
            active = batch.active.copy()
            # No public form of the training step (training noise, token statistics updated on active rows).
            self._training, self._rows_active = True, active
            raw, clipped = self._policy_step(obs, sample, self._action_generator)
            self._training = False
            step = batch.step(clipped)
            for i in np.flatnonzero(active):
                record = records[int(i)]
                record.windows.append(self.memory.windows[i].copy())
                record.index.append(int(self.memory.index[i]))
                record.tokens.append(self.memory.windows[i, self.memory.index[i]].copy())
                record.actions.append(raw[i])
                record.rewards.append(float(step.reward[i]))
                if step.episode_end[i]:
                    episode_returns.append(float(step.infos[i]["episode_return"]))
            self.end_episode(step.episode_end & ~step.trial_end)
            obs = step.obs
        return [records[i] for i in sorted(records)]


def collect_batches(agent_class, config, suite, spec, iterations: int) -> list[Batch]:
    agent = agent_class(config, spec, seed=5)
    batches: list[Batch] = []
    learner = agent.learner
    agent.learner = lambda batch, rng: (batches.append(batch), learner(batch, rng))[1]  # type: ignore
    ctx = TrainingContext(suite, spec, seed=5, budget_env_steps=10**9)
    loop = agent.meta_train(ctx)
    for _ in range(iterations):
        next(loop)
    batches.append(agent.last_stats["train_return"])  # type: ignore[arg-type]
    return batches


def assert_same_batches(fast: list, reference: list) -> None:
    assert fast[-1] == reference[-1] or (np.isnan(fast[-1]) and np.isnan(reference[-1]))  # train return
    for a, b in zip(fast[:-1], reference[:-1], strict=True):
        for name in ("windows", "index", "tokens", "actions"):
            x, y = getattr(a, name), getattr(b, name)
            assert x.dtype == y.dtype and x.shape == y.shape, name
            assert torch.equal(x, y), name
        assert a.rewards.dtype == b.rewards.dtype
        np.testing.assert_array_equal(a.rewards, b.rewards)
        assert a.trial_lengths == b.trial_lengths


CASES = {
    "early-termination-top-up": (dict(horizon=5, terminate_at=3), {}),
    "trial-memory-normalised": (dict(horizon=6), {"memory_scope": "trial", "normalize_tokens": True}),
    "no-termination": (dict(horizon=7), {"meta_batch_size": 3}),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_fast_collect_gives_the_reference_batches_on_fake_suites(case):
    suite_args, overrides = CASES[case]
    suite, spec = reveal(**suite_args)
    config = dataclasses.replace(TINY, **overrides)
    fast = collect_batches(TrMRLAgent, config, suite, spec, 3)
    reference = collect_batches(ReferenceTrMRLAgent, config, suite, spec, 3)
    assert_same_batches(fast, reference)


@pytest.mark.parametrize("suite_name", ["point-nav", "halfcheetah-vel"])
def test_fast_collect_gives_the_reference_batches_on_smoke_configs(suite_name):
    suite = make_suite(suite_name, seed=0)
    spec = EnvSpec.from_suite(suite)
    config = TrMRLAgent.default_config(suite_name, "smoke")
    fast = collect_batches(TrMRLAgent, config, suite, spec, 2)
    reference = collect_batches(ReferenceTrMRLAgent, config, suite, spec, 2)
    assert_same_batches(fast, reference)


def test_networks_and_rollouts_live_on_the_runtime_device():
    """The CUDA path on a CPU machine: every tensor follows ``runtime.torch_device()``."""
    suite, spec = reveal(horizon=4)
    runtime = Runtime(device="cpu")
    agent = TrMRLAgent(TINY, spec, seed=0, runtime=runtime)
    batches = collect_batches(TrMRLAgent, TINY, suite, spec, 1)
    for tensor in (*agent.policy.parameters(), *agent.value.parameters(), batches[0].windows):
        assert tensor.device == runtime.torch_device()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_rollouts_and_updates_match_the_cpu_within_float_error():
    suite, spec = reveal(horizon=5)
    results = {}
    for device in ("cpu", "cuda"):
        agent = TrMRLAgent(TINY, spec, seed=0, runtime=Runtime(device=device))
        ctx = TrainingContext(suite, spec, seed=0, budget_env_steps=10**9)
        loop = agent.meta_train(ctx)
        next(loop)
        next(loop)
        results[device] = {k: v.cpu() for k, v in agent.policy.state_dict().items()}
    for name, value in results["cpu"].items():
        torch.testing.assert_close(results["cuda"][name], value, rtol=1e-4, atol=1e-5)
