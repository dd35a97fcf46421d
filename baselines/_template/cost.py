"""What the template's configuration costs: the cost model's :class:`~benchmark.cost.MethodCost` (no torch).

YOUR METHOD: count what one ``meta_train`` iteration does from the config's fields (read by name from the
mapping): the env steps and episode resets it collects, the layers it applies without gradient (acting) and
with one (updates; :func:`benchmark.cost.mlp`, :class:`~benchmark.cost.Attention`,
:class:`~benchmark.cost.Recurrent`) and its other framework calls (``ops``), and the agent's share of one
evaluation batch. Name this module in the registry entry (``MethodEntry(..., cost="baselines.<m>.cost")``);
``python -m benchmark.bench --sections compute suites check --check <m>/quick/point-nav`` prints the
estimate beside a measured run.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from benchmark.cost import SuiteShape, Training, Work, mlp

__all__ = ["default_config", "evaluation", "training"]

ACT_OPS = 30.0
"""framework calls per acting step besides the policy's layer (sampling, clipping)"""


def default_config(suite: str, tier: str) -> Any:
    from baselines._template.agent import TemplateAgent  # YOUR METHOD: your torch-free provenance module

    return TemplateAgent.default_config(suite, tier)


def _policy(suite: SuiteShape, rows: float) -> Any:
    return mlp(rows, (suite.aug_dim, suite.act_dim))  # the template's linear-Gaussian policy


def training(config: Mapping[str, Any], suite: SuiteShape) -> Training:
    rows = config["meta_batch_size"]
    step = Work(env_steps=rows, forward=(_policy(suite, rows),), ops=ACT_OPS)
    return Training(step.times(suite.horizon))  # one horizon of steps per iteration, no update


def evaluation(
    config: Mapping[str, Any], suite: SuiteShape, trials: int, episodes: int, exploration: int
) -> Work:
    return Work(forward=(_policy(suite, trials),), ops=ACT_OPS).times(episodes * suite.horizon)
