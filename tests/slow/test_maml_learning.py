"""MAML-TRPO learns to adapt on point-nav: after meta-training, on meta_test tasks, the post-adaptation
episode beats the pre-adaptation one, and the adapted policy beats its untrained self and the random agent,
each with a 95% Student-t interval over five seeds that excludes zero.

Training runs through :class:`benchmark.agent.TrainingContext` and evaluation through
:func:`benchmark.protocol.evaluate` directly (20 meta_test tasks, 2 episodes, the first one exploring), the
random agent on the same tasks and evaluation seed. The pre-adaptation episode samples its actions and the
post-adaptation one plays the mean (point-nav's protocol), so "post beats pre" holds partly without learning;
the test therefore also checks the *adaptation gain* (post minus pre) against the untrained agent's gain.
About 1.7 minutes on the shared 2-core machine (measured: 102 s).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from baselines.maml.agent import MAMLAgent
from baselines.random.agent import RandomAgent, RandomConfig
from benchmark.agent import EnvSpec, TrainingContext
from benchmark.protocol import EpisodeResult, EvalSettings, evaluate
from benchmark.suites import make_suite
from tests.learning import t_interval

SEEDS = (0, 1, 2, 3, 4)
BUDGET = 160_000  # 100 meta-iterations of 20 tasks x 2 rollouts x 20 steps x (pre + post)
SUITE = "point-nav"
SETTINGS = EvalSettings(num_tasks=20, episodes=2, splits=("meta_test",), exploration_episodes=1)


def episode_mean(results: list[EpisodeResult], episode: int | None = None) -> float:
    return float(np.mean([r.episode_return for r in results if episode is None or r.episode == episode]))


@pytest.mark.slow
def test_maml_adapts_on_point_nav() -> None:
    torch.set_num_threads(1)
    columns: dict[str, list[float]] = {
        k: [] for k in ("pre", "post", "untrained_pre", "untrained_post", "random", "env_steps")
    }
    for seed in SEEDS:
        suite = make_suite(SUITE, seed)
        spec = EnvSpec.from_suite(suite)
        agent = MAMLAgent(MAMLAgent.default_config(SUITE, "quick"), spec, seed)
        untrained = evaluate(agent, suite, SETTINGS, seed)
        ctx = TrainingContext(suite, spec, seed, budget_env_steps=BUDGET)
        for _ in agent.meta_train(ctx):
            pass
        trained = evaluate(agent, suite, SETTINGS, seed)
        random = evaluate(RandomAgent(RandomConfig(), spec, seed), suite, SETTINGS, seed)
        for name, value in (
            ("pre", episode_mean(trained, 1)),
            ("post", episode_mean(trained, 2)),
            ("untrained_pre", episode_mean(untrained, 1)),
            ("untrained_post", episode_mean(untrained, 2)),
            ("random", episode_mean(random)),
            ("env_steps", float(ctx.env_steps)),
        ):
            columns[name].append(value)
    c = {k: np.array(v) for k, v in columns.items()}
    comparisons = {
        "post - pre": c["post"] - c["pre"],
        "post - untrained post": c["post"] - c["untrained_post"],
        "post - random": c["post"] - c["random"],
        "gain - untrained gain": (c["post"] - c["pre"]) - (c["untrained_post"] - c["untrained_pre"]),
    }
    print({k: np.round(v, 3).tolist() for k, v in c.items()})
    failures = []
    for name, diffs in comparisons.items():
        mean, low, high = t_interval(diffs)
        print(f"maml {name}: per seed {np.round(diffs, 3)}, mean {mean:.3f}, 95% CI [{low:.3f}, {high:.3f}]")
        if low <= 0:
            failures.append(f"{name}: CI [{low:.3f}, {high:.3f}]")
    assert not failures, f"MAML does not adapt reliably: {failures}"
