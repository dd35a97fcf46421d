"""What a PEARL configuration costs (the cost model's :class:`~benchmark.cost.MethodCost`; no torch).

Counted from :mod:`baselines.pearl.agent` and :mod:`baselines.pearl.sac`: the first iteration collects the
initial pool (``num_initial_steps`` on every training task, ``INITIAL_POOL_ROWS`` tasks stepped together);
every iteration collects whole episodes on ``num_tasks_sample`` tasks stepped together (prior, posterior and
extra-RL phases; the posterior from ``embedding_batch_size`` context transitions per task, refreshed every
``update_post_train`` episodes), then ``num_train_steps_per_itr`` gradient steps. A gradient step trains
the encoder on ``meta_batch x embedding_batch_size`` context rows and, on ``meta_batch x batch_size`` RL
rows, the twin Q networks, V, the policy (through both Q networks again) and V's target (no gradient).
Evaluation acts on every row at every step and infers the posterior from the whole trial's context after
each episode past the exploration episodes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from baselines.pearl.provenance import default_config
from benchmark.cost import Dense, SuiteShape, Training, Work, mlp

__all__ = ["default_config", "evaluation", "exploration_episodes", "training"]

INITIAL_POOL_ROWS = 20
"""tasks stepped together while collecting the initial pool (``baselines.pearl.agent.INITIAL_POOL_ROWS``)"""
ACT_OPS = 80.0
"""framework calls per acting step besides the policy's layers (latents, action scaling, step records)"""
EPISODE_OPS = 60.0
"""framework calls per task and collected episode (stacking its steps, the two buffers' adds)"""
STEP_OPS = 400.0
"""framework calls per gradient step besides the layers (losses, five optimizers, the Polyak update)"""
TASK_OPS = 30.0
"""framework calls per task of a gradient step (sampling its RL and context batches from the buffers)"""


def exploration_episodes(suite: str) -> int:
    """oyster's ``num_exp_traj_eval`` (``PEARLAgent.default_exploration_episodes``)."""
    return int(default_config(suite, "paper").num_exp_traj_eval)


def _networks(config: Mapping[str, Any], suite: SuiteShape) -> dict[str, tuple[int, ...]]:
    obs, act, z, hidden = suite.obs_dim, suite.act_dim, config["latent_dim"], config["hidden_sizes"]
    return {
        "policy": (obs + z, *hidden, 2 * act),  # the trunk and its mean and log-std heads
        "q": (obs + act + z, *hidden, 1),
        "v": (obs + z, *hidden, 1),
        "encoder": (obs + act + 1, *config["encoder_hidden_sizes"], 2 * z),
    }


def _collect(
    config: Mapping[str, Any], suite: SuiteShape, tasks: int, rows: int, phases: list[tuple[int, bool]]
) -> Work:
    """Whole episodes on ``tasks`` tasks, ``rows`` at a time, for each ``(steps, posterior)`` phase."""
    nets = _networks(config, suite)
    chunks = math.ceil(tasks / rows)
    work = Work()
    for steps, posterior in phases:
        if steps <= 0:
            continue
        episodes = math.ceil(steps / suite.horizon)
        calls = episodes * suite.horizon
        act = Work(forward=(mlp(rows, nets["policy"]),), ops=ACT_OPS).times(calls * chunks)
        work += act + Work(
            env_steps=tasks * calls, resets=tasks * episodes, ops=EPISODE_OPS * tasks * episodes
        )
        if posterior:
            updates = (episodes - 1) // config["update_post_train"]
            encoder = mlp(rows * config["embedding_batch_size"], nets["encoder"], updates * chunks)
            work += Work(forward=(encoder,))
    return work


def training(config: Mapping[str, Any], suite: SuiteShape) -> Training:
    nets = _networks(config, suite)
    tasks = config["num_tasks_sample"]
    phases = [
        (config["num_steps_prior"], False),
        (config["num_steps_posterior"], True),
        (config["num_extra_rl_steps_posterior"], True),
    ]
    collect = _collect(config, suite, tasks, tasks, phases)
    rl_rows = config["meta_batch"] * config["batch_size"]
    context_rows = config["meta_batch"] * config["embedding_batch_size"]
    step = Work(
        train=(
            mlp(context_rows, nets["encoder"]),
            mlp(rl_rows, nets["q"], 4),  # twin Q on the batch, then on the policy's actions
            mlp(rl_rows, nets["v"]),
            mlp(rl_rows, nets["policy"]),
        ),
        forward=(mlp(rl_rows, nets["v"]),),  # the target V
        ops=STEP_OPS + TASK_OPS * config["meta_batch"],
    )
    iteration = collect + step.times(config["num_train_steps_per_itr"])
    train_tasks = config["num_train_tasks"]
    pool = [(config["num_initial_steps"], False)]
    setup = _collect(config, suite, train_tasks, min(train_tasks, INITIAL_POOL_ROWS), pool)
    return Training(iteration, setup)


def evaluation(
    config: Mapping[str, Any], suite: SuiteShape, trials: int, episodes: int, exploration: int
) -> Work:
    nets = _networks(config, suite)
    acting = Work(forward=(mlp(trials, nets["policy"]),), ops=ACT_OPS).times(episodes * suite.horizon)
    posteriors = tuple(
        Dense(trials * done * suite.horizon, nets["encoder"])
        for done in range(max(exploration, 1), episodes + 1)
    )
    return acting + Work(forward=posteriors)
