"""What an RL² configuration costs (the cost model's :class:`~benchmark.cost.MethodCost`; no torch).

Counted from :mod:`baselines.rl2.agent` on sb3-contrib's RecurrentPPO: an iteration steps ``meta_batch``
trial environments ``trials_per_env`` trials each (per step: the actor's and the critic's LSTM on every
environment, the heads, SB3's rollout bookkeeping), computes GAE in a Python loop over the rollout, then
trains ``n_epochs`` passes of minibatches of ``minibatch_trials`` whole trials (both LSTMs over each trial's
``K x horizon`` steps in one call, :class:`~baselines.rl2.agent.RL2LstmPolicy`). Evaluation steps the
actor's LSTM once per step (``predict``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from baselines.rl2.provenance import default_config
from benchmark.cost import Recurrent, SuiteShape, Training, Work, mlp

__all__ = ["default_config", "evaluation", "training"]

STEP_OPS = 600.0
"""framework calls per vectorised rollout step besides the layers (SB3's ``collect_rollouts``: tensors,
the distribution, clipping, callbacks, the buffer)"""
ENV_OPS = 15.0
"""framework calls per environment and rollout step (DummyVecEnv's loop, infos, the buffer's rows)"""
RETURN_OPS = 25.0
"""framework calls per rollout step of the GAE loop"""
MINIBATCH_OPS = 900.0
"""framework calls per minibatch (sequence padding, the distribution, losses, Adam, clipping)"""
PREDICT_OPS = 250.0
"""framework calls per evaluation step besides the layers (``predict``'s conversions and the RNG swap)"""


def _heads(config: Mapping[str, Any], suite: SuiteShape, rows: float) -> tuple:
    hidden, head = config["lstm_hidden_size"], config["head_hidden_sizes"]
    return (mlp(rows, (hidden, *head, suite.act_dim)), mlp(rows, (hidden, *head, 1)))


def training(config: Mapping[str, Any], suite: SuiteShape) -> Training:
    envs, hidden = config["meta_batch"], config["lstm_hidden_size"]
    trial_steps = config["episodes_per_trial"] * suite.horizon
    rollout = config["trials_per_env"] * trial_steps
    trials = envs * config["trials_per_env"]
    step = Work(
        env_steps=envs,
        forward=(Recurrent(envs, 1, suite.aug_dim, hidden, 2), *_heads(config, suite, envs)),
        ops=STEP_OPS + ENV_OPS * envs,
    )
    collect = step.times(rollout) + Work(
        resets=trials * config["episodes_per_trial"], ops=RETURN_OPS * rollout
    )
    per_minibatch = min(config["minibatch_trials"], trials)
    minibatches = config["n_epochs"] * math.ceil(trials / per_minibatch)
    train = Work(
        train=(
            Recurrent(per_minibatch, trial_steps, suite.aug_dim, hidden, 2),
            *_heads(config, suite, per_minibatch * trial_steps),
        ),
        ops=MINIBATCH_OPS,
    )
    return Training(collect + train.times(minibatches))


def evaluation(
    config: Mapping[str, Any], suite: SuiteShape, trials: int, episodes: int, exploration: int
) -> Work:
    hidden = config["lstm_hidden_size"]
    step = Work(
        forward=(Recurrent(trials, 1, suite.aug_dim, hidden), _heads(config, suite, trials)[0]),
        ops=PREDICT_OPS,
    )
    return step.times(episodes * suite.horizon)
