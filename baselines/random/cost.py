"""What the random agent costs (the cost model's :class:`~benchmark.cost.MethodCost`; no torch): the
harness's steps and resets, and one uniform draw per step of a batch (:mod:`baselines.random.agent`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from benchmark.cost import SuiteShape, Training, Work

__all__ = ["default_config", "evaluation", "training"]

ACT_OPS = 10.0
"""framework calls per step of a batch (the uniform draw and its cast)"""


def default_config(suite: str, tier: str) -> Any:
    from baselines.random.agent import RandomAgent  # numpy only

    return RandomAgent.default_config(suite, tier)


def training(config: Mapping[str, Any], suite: SuiteShape) -> Training:
    trials = config["num_trials"]
    step = Work(env_steps=trials, ops=ACT_OPS).times(suite.horizon)
    return Training(step + Work(resets=trials))


def evaluation(
    config: Mapping[str, Any], suite: SuiteShape, trials: int, episodes: int, exploration: int
) -> Work:
    return Work(ops=ACT_OPS).times(episodes * suite.horizon)
