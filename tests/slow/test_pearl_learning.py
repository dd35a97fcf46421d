"""PEARL learns point-nav: after meta-training, on meta_test tasks its posterior episodes beat its prior
(exploration) episode, and its return beats its own untrained agent and the random agent, each with a 95%
Student-t interval over seeds that excludes zero.

Driven directly through :class:`benchmark.agent.TrainingContext` and :func:`benchmark.protocol.evaluate`
(20 meta_test tasks, trials of 3 episodes, the first on z ~ prior with sampled actions, the others on the
posterior with mean actions), with the ``quick`` point-nav configuration. The comparisons are paired per
seed. ``PEARL_SLOW_ITERATIONS`` changes the training length (default below); ``LEARNING_PRECISION=bf16``
trains with ``--precision bf16`` (bfloat16 autocast in the gradient steps).
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest
import torch

from baselines.pearl.agent import PEARLAgent
from baselines.random.agent import RandomAgent, RandomConfig
from benchmark.agent import EnvSpec, Runtime, TrainingContext
from benchmark.protocol import EpisodeResult, EvalSettings, evaluate
from benchmark.suites import make_suite
from tests.learning import PRECISION, t_interval

SEEDS = (0, 1, 2, 3, 4)
SUITE = "point-nav"
ITERATIONS = int(os.environ.get("PEARL_SLOW_ITERATIONS", "50"))
SETTINGS = EvalSettings(num_tasks=20, episodes=3, splits=("meta_test",), exploration_episodes=1)


def mean_return(results: list[EpisodeResult], episodes: tuple[int, ...]) -> float:
    return float(np.mean([r.episode_return for r in results if r.episode in episodes]))


def train_and_evaluate(seed: int) -> tuple[float, float, float, float, str]:
    """One seed: (prior, posterior, untrained, random) mean returns and a progress line."""
    torch.set_num_threads(1)
    start = time.perf_counter()
    suite = make_suite(SUITE, seed)
    spec = EnvSpec.from_suite(suite)
    agent = PEARLAgent(PEARLAgent.default_config(SUITE, "quick"), spec, seed, Runtime(precision=PRECISION))
    untrained = mean_return(evaluate(agent, suite, SETTINGS, seed), (2, 3))
    ctx = TrainingContext(suite, spec, seed, budget_env_steps=10**9)
    training = agent.meta_train(ctx)
    for _ in range(ITERATIONS):
        next(training)
    training.close()  # type: ignore[attr-defined]
    results = evaluate(agent, suite, SETTINGS, seed)
    prior, posterior = mean_return(results, (1,)), mean_return(results, (2, 3))
    baseline = RandomAgent(RandomConfig(), spec, seed)
    random = mean_return(evaluate(baseline, suite, SETTINGS, seed), (2, 3))
    line = (
        f"seed {seed} ({PRECISION}): {ctx.env_steps} env steps, {agent.train_steps} gradient steps, "
        f"{time.perf_counter() - start:.0f} s; prior {prior:.2f}, posterior {posterior:.2f}, "
        f"untrained {untrained:.2f}, random {random:.2f}"
    )
    return prior, posterior, untrained, random, line


@pytest.mark.slow
def test_pearl_adapts_on_point_nav_and_beats_untrained_and_random() -> None:
    # The seeds are independent: one process each, as many at a time as there are cores.
    with ProcessPoolExecutor(max_workers=min(len(SEEDS), os.cpu_count() or 1)) as pool:
        outcomes = list(pool.map(train_and_evaluate, SEEDS))
    for *_, line in outcomes:
        print(line)
    columns = list(zip(*outcomes, strict=True))
    prior, posterior, untrained, random = (np.array(column) for column in columns[:4])
    for name, baseline_returns in (("prior episode", prior), ("untrained", untrained), ("random", random)):
        diffs = posterior - baseline_returns
        mean, low, high = t_interval(diffs)
        per_seed = np.round(diffs, 2)
        print(f"posterior - {name}: per seed {per_seed}, mean {mean:.2f}, 95% CI [{low:.2f}, {high:.2f}]")
        assert low > 0, f"PEARL's posterior episodes do not beat {name} reliably: CI [{low:.2f}, {high:.2f}]"
