"""What a TrMRL configuration costs (the cost model's :class:`~benchmark.cost.MethodCost`; no torch).

Counted from :mod:`agents.trmrl.agent` and :mod:`agents.trmrl.ppo`: an iteration rolls out
``meta_batch_size`` trials of ``episodes_per_trial`` episodes in lockstep, one batched forward of the
transformer per step, then one PPO update: a no-grad forward of policy and value over every sample,
``opt_epochs`` passes of minibatches for the policy, then as many for the value function. The transformer
runs every layer on the ``wm_size`` window except the last, which attends from the latest slot only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from agents.trmrl.provenance import default_config
from benchmark.cost import Attention, Layer, SuiteShape, Training, Work, mlp

__all__ = ["default_config", "evaluation", "training"]

ACT_OPS = 250.0
"""framework calls per acting step besides the layers (window push and clear, token statistics, the
sampled noise, clipping, the rollout's per-step records)"""
STEP_OPS = 120.0
"""framework calls per minibatch step besides the layers (indexing, likelihoods and loss, schedule)"""


def transformer(config: Mapping[str, Any], token_dim: int, rows: float) -> list[Layer]:
    """The layers of :meth:`TransformerPolicy.memory` on ``rows`` windows."""
    length, d, heads, ff = config["wm_size"], config["d_model"], config["n_heads"], config["dim_ff"]
    head_dim = d // heads
    layers: list[Layer] = [mlp(rows * length, (token_dim, d))]
    for _ in range(config["n_layers"] - 1):
        layers += [
            mlp(rows * length, (d, 3 * d)),
            Attention(rows * heads, length, head_dim, length),
            mlp(rows * length, (d, d)),
            mlp(rows * length, (d, ff, d)),
        ]
    return layers + [
        mlp(rows, (d, d)),  # the latest slot's query
        mlp(rows * length, (d, 2 * d)),  # keys and values of the window
        Attention(rows * heads, length, head_dim, 1),
        mlp(rows, (d, d)),
        mlp(rows, (d, ff, d)),
    ]


def policy(config: Mapping[str, Any], suite: SuiteShape, rows: float) -> list[Layer]:
    head = mlp(rows, (config["d_model"], *config["policy_hidden_sizes"], suite.act_dim))
    return [*transformer(config, suite.aug_dim, rows), head]


def value(config: Mapping[str, Any], suite: SuiteShape, rows: float) -> list[Layer]:
    if config["share_network"]:
        head = mlp(rows, (config["d_model"], *config["value_hidden_sizes"], 1))
        return [*transformer(config, suite.aug_dim, rows), head]
    return [mlp(rows, (suite.aug_dim, *config["value_hidden_sizes"], 1))]


def acting(config: Mapping[str, Any], suite: SuiteShape, rows: int, steps: float) -> Work:
    """``steps`` batched forwards of the policy on ``rows`` windows."""
    return Work(forward=tuple(policy(config, suite, rows)), ops=ACT_OPS).times(steps)


def training(config: Mapping[str, Any], suite: SuiteShape) -> Training:
    trials, episodes = config["meta_batch_size"], config["episodes_per_trial"]
    samples = trials * episodes * suite.horizon
    collect = acting(config, suite, trials, episodes * suite.horizon)
    collect += Work(env_steps=samples, resets=trials * episodes)
    minibatch = config["minibatch_size"]
    steps = config["opt_epochs"] * math.ceil(samples / minibatch)
    update = Work(forward=(*policy(config, suite, samples), *value(config, suite, samples)))
    update += Work(train=tuple(policy(config, suite, minibatch)), ops=STEP_OPS).times(steps)
    update += Work(train=tuple(value(config, suite, minibatch)), ops=STEP_OPS).times(steps)
    return Training(collect + update)


def evaluation(
    config: Mapping[str, Any], suite: SuiteShape, trials: int, episodes: int, exploration: int
) -> Work:
    return acting(config, suite, trials, episodes * suite.horizon)
