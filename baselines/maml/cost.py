"""What a MAML-TRPO configuration costs (the cost model's :class:`~benchmark.cost.MethodCost`; no torch).

Counted from :mod:`baselines.maml.agent`: a meta-iteration collects ``meta_batch_size`` tasks x
``rollouts_per_task`` episodes before each inner step and after the last (one batched forward of the
per-task policies per step), fits the linear baseline per task (:mod:`baselines.maml.baseline`: Python loops
over the horizon), takes the inner step(s), then the TRPO meta-update: the inner step(s) again with their
graph, the surrogate's gradient, ``cg_iters`` conjugate-gradient iterations of Hessian-vector products of
the KL through that second-order graph, and the line search (one evaluation when the first step is taken).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from baselines.maml.provenance import default_config
from benchmark.cost import Dense, SuiteShape, Training, Work, mlp

__all__ = ["default_config", "evaluation", "exploration_episodes", "training"]

ACT_OPS = 120.0
"""framework calls per acting step besides the policy's layers (per-task parameters, sampling, buffers)"""
HORIZON_OPS = 40.0
"""framework calls per step of the horizon when a batch is processed (the returns' and GAE's loops)"""
TASK_OPS = 300.0
"""framework calls per task when a batch is processed (the baseline's features and solve)"""
META_PASSES = 60.0
"""forward passes of the policy over the inner and the post-update data that the meta-update costs per
Hessian-vector product (its share of the gradients and the line search included), set from measured
updates (halfcheetah-vel, quick): the second-order graph through the per-task parameters (batched products,
tanh derivatives, their double backward) is elementwise-bound, far from the dense-layer rate"""


def exploration_episodes(suite: str) -> int:
    """ProMP and garage adapt on one exploration episode (``MAMLAgent.default_exploration_episodes``)."""
    return 1


def _policy(config: Mapping[str, Any], suite: SuiteShape, rows: float) -> Dense:
    outputs = suite.act_dim * (2 if config["std_head"] == "shared_network" else 1)
    return mlp(rows, (suite.obs_dim, *config["hidden_sizes"], outputs))


def _process(config: Mapping[str, Any], suite: SuiteShape, tasks: float, steps_per_task: float) -> Work:
    """The per-task baseline fit and advantages of a batch (numpy; the Gram product as a layer)."""
    features = 2 * suite.obs_dim + 4
    gram = Dense(steps_per_task, (features, features), tasks)
    return Work(forward=(gram,), ops=HORIZON_OPS * suite.horizon + TASK_OPS * tasks)


def training(config: Mapping[str, Any], suite: SuiteShape) -> Training:
    tasks, rollouts, horizon = config["meta_batch_size"], config["rollouts_per_task"], suite.horizon
    inner_steps = config["num_inner_grad_steps"]
    rows = tasks * rollouts
    samples = rows * horizon
    step = Work(env_steps=rows, forward=(_policy(config, suite, rows),), ops=ACT_OPS)
    collect = step.times(horizon) + Work(resets=rows)
    batch = collect + _process(config, suite, tasks, rollouts * horizon)
    inner = Work(train=(_policy(config, suite, samples),)).times(inner_steps)  # while collecting
    forward = Work(forward=(_policy(config, suite, samples * inner_steps), _policy(config, suite, samples)))
    meta = forward.times(META_PASSES * (config["cg_iters"] + 1))  # cg_iters + the step's curvature
    return Training(batch.times(inner_steps + 1) + inner + meta)


def evaluation(
    config: Mapping[str, Any], suite: SuiteShape, trials: int, episodes: int, exploration: int
) -> Work:
    acting = Work(forward=(_policy(config, suite, trials),), ops=ACT_OPS).times(episodes * suite.horizon)
    if not exploration:
        return acting
    samples = trials * exploration * suite.horizon
    adapt = Work(train=(_policy(config, suite, samples),)).times(config["num_inner_grad_steps"])
    return acting + adapt + _process(config, suite, trials, exploration * suite.horizon)
