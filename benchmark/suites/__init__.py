"""The suite registry: name -> builder, imported lazily so that listing suites never starts a simulator.

Add a suite by writing ``build_<name>(seed: int) -> Suite`` in a module of this package and one line in
:data:`SUITES`.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from benchmark.errors import BenchmarkError
from benchmark.suites.base import META_TEST, META_TRAIN, OOD, SPLITS, Suite, Task, TaskEnv

__all__ = [
    "META_TEST",
    "META_TRAIN",
    "OOD",
    "SPLITS",
    "SUITES",
    "Suite",
    "SuiteEntry",
    "catalog_suite",
    "suites_of",
    "Task",
    "TaskEnv",
    "make_suite",
]


@dataclass(frozen=True)
class SuiteEntry:
    """Where a suite's builder lives, and the suite's facts that need no simulator (the one catalog).

    Attributes:
        builder: ``"module:function"`` returning the built :class:`Suite`.
        description: one line for ``benchmark list``.
        family: ``toy`` (point-nav), ``locomotion`` (MuJoCo bodies) or ``metaworld``.
        eval_action_mode: actions outside exploration episodes in the evaluation protocol: the original
            locomotion evaluator used the mean, Meta-World's ``MetaEvaluator`` sampled.
        train_classes: task classes of meta_train (0: the suite has no classes); meta-batches of
            class-stratified samplers are multiples of it.
        horizon: steps per episode (200 for locomotion, 500 for Meta-World, 20 for point-nav).
        episodes_per_trial: K, the episodes of a trial, for meta-training and for the evaluation protocol.
        param_name: what ``Task.param`` measures, with units, or ``None`` (no scalar parameter).
        train_range: the range of ``Task.param`` that ``meta_train`` covers (the OOD figure shades it).
        meta_train_tasks: the size of the meta_train split (a builder that draws another number fails), so a
            method that keeps a fixed set of training tasks (PEARL) is checked before anything runs.
        splits: the splits the suite has (a builder that draws others fails): Meta-World and the two-task
            suites have no ``ood``.
        obs_dim, act_dim: the environment's observation and action widths (a test builds every suite and
            compares), which the cost model (:mod:`benchmark.cost`) sizes the networks with.
    """

    builder: str  # "module:function"
    description: str
    family: Literal["toy", "locomotion", "metaworld"] = "locomotion"
    eval_action_mode: Literal["mean", "sample"] = "mean"
    train_classes: int = 0
    horizon: int = 200
    episodes_per_trial: int = 2
    param_name: str | None = None
    train_range: tuple[float, float] | None = None
    meta_train_tasks: int = 1000
    splits: tuple[str, ...] = SPLITS
    obs_dim: int = 17
    act_dim: int = 6

    @property
    def has_success(self) -> bool:
        """Whether episodes report a success flag (point-nav's goal, Meta-World's task)."""
        return self.family in ("toy", "metaworld")

    def train_bounds(self) -> tuple[float, float]:
        """:attr:`train_range`, for a suite that has one (its builder draws tasks from it)."""
        if self.train_range is None:
            raise ValueError("this suite has no scalar task parameter range")
        return self.train_range

    @property
    def score_metric(self) -> str:
        """The metric figures rank methods by: success rate on Meta-World, return elsewhere."""
        return "success" if self.family == "metaworld" else "return"

    def load(self):
        module_name, function_name = self.builder.split(":")
        return getattr(importlib.import_module(module_name), function_name)


SUITES: dict[str, SuiteEntry] = {
    "point-nav": SuiteEntry(
        "benchmark.suites.point_nav:build_point_nav",
        "2-D point robot, goal in the unit disc found from -distance reward; ood goals at radius 1-1.5",
        family="toy",
        horizon=20,
        param_name="goal distance from start",
        train_range=(0.0, 1.0),
        obs_dim=2,
        act_dim=2,
    ),
    "halfcheetah-vel": SuiteEntry(
        "benchmark.suites.locomotion:build_halfcheetah_vel",
        "HalfCheetah-v5 target velocity U[0,3]; ood U[3,4] (the paper's OOD experiment)",
        param_name="target velocity (m/s)",
        train_range=(0.0, 3.0),
    ),
    "halfcheetah-dir": SuiteEntry(
        "benchmark.suites.locomotion:build_halfcheetah_dir",
        "HalfCheetah-v5 run forward or backward (two tasks)",
        param_name="running direction (+1 forward, -1 backward)",
        train_range=(-1.0, 1.0),
        meta_train_tasks=2,
        splits=(META_TRAIN, META_TEST),
    ),
    "ant-dir": SuiteEntry(
        "benchmark.suites.locomotion:build_ant_dir",
        "Ant-v5 run forward or backward along x, directions {0, pi} (two tasks)",
        param_name="running direction angle (rad)",
        train_range=(0.0, math.pi),
        meta_train_tasks=2,
        splits=(META_TRAIN, META_TEST),
        obs_dim=27,
        act_dim=8,
    ),
    "ant-dir-2d": SuiteEntry(
        "benchmark.suites.locomotion:build_ant_dir_2d",
        "Ant-v5 run in direction theta ~ U[0, 2pi) minus a held-out 60-degree sector; ood = that sector",
        param_name="running direction angle (rad)",
        train_range=(0.0, 5.0 * math.pi / 3.0),
        obs_dim=27,
        act_dim=8,
    ),
    "ant-goal": SuiteEntry(
        "benchmark.suites.locomotion:build_ant_goal",
        "Ant-v5 reach a goal within radius 3 (oyster's AntGoal); ood goals at radius 3-4",
        param_name="goal distance from start (m)",
        train_range=(0.0, 3.0),
        obs_dim=29,
        act_dim=8,
    ),
    "ml1-reach": SuiteEntry(
        "benchmark.suites.metaworld_suites:build_ml1_reach",
        "Meta-World v3 ML1 reach-v3: 50 train goals, 50 held-out test goals",
        family="metaworld",
        eval_action_mode="sample",
        horizon=500,
        episodes_per_trial=10,
        train_classes=1,
        meta_train_tasks=50,
        splits=(META_TRAIN, META_TEST),
        obs_dim=39,
        act_dim=4,
    ),
    "ml1-push": SuiteEntry(
        "benchmark.suites.metaworld_suites:build_ml1_push",
        "Meta-World v3 ML1 push-v3: 50 train goals, 50 held-out test goals",
        family="metaworld",
        eval_action_mode="sample",
        horizon=500,
        episodes_per_trial=10,
        train_classes=1,
        meta_train_tasks=50,
        splits=(META_TRAIN, META_TEST),
        obs_dim=39,
        act_dim=4,
    ),
    "ml1-pick-place": SuiteEntry(
        "benchmark.suites.metaworld_suites:build_ml1_pick_place",
        "Meta-World v3 ML1 pick-place-v3: 50 train goals, 50 held-out test goals",
        family="metaworld",
        eval_action_mode="sample",
        horizon=500,
        episodes_per_trial=10,
        train_classes=1,
        meta_train_tasks=50,
        splits=(META_TRAIN, META_TEST),
        obs_dim=39,
        act_dim=4,
    ),
    "ml10": SuiteEntry(
        "benchmark.suites.metaworld_suites:build_ml10",
        "Meta-World v3 ML10: 10 train task classes, 5 held-out test classes",
        family="metaworld",
        eval_action_mode="sample",
        horizon=500,
        episodes_per_trial=10,
        train_classes=10,
        meta_train_tasks=500,
        splits=(META_TRAIN, META_TEST),
        obs_dim=39,
        act_dim=4,
    ),
    "ml45": SuiteEntry(
        "benchmark.suites.metaworld_suites:build_ml45",
        "Meta-World v3 ML45: 45 train task classes, 5 held-out test classes",
        family="metaworld",
        eval_action_mode="sample",
        horizon=500,
        episodes_per_trial=10,
        train_classes=45,
        meta_train_tasks=2250,
        splits=(META_TRAIN, META_TEST),
        obs_dim=39,
        act_dim=4,
    ),
}


def catalog_suite(
    name: str, seed: int, splits: dict[str, list[Task]], make_env: Callable[[], TaskEnv]
) -> Suite:
    """A built suite whose facts (horizon, K, success flag, task parameter and training range) are its
    catalog entry's: the builders supply only the splits and the environment."""
    entry = SUITES[name]
    if len(splits["meta_train"]) != entry.meta_train_tasks:
        raise RuntimeError(
            f"the builder of {name} drew {len(splits['meta_train'])} meta_train tasks; its catalog entry "
            f"says {entry.meta_train_tasks}"
        )
    if tuple(splits) != entry.splits:
        raise RuntimeError(
            f"the builder of {name} drew the splits {tuple(splits)}; its catalog entry says {entry.splits}"
        )
    return Suite(
        name=name,
        horizon=entry.horizon,
        episodes_per_trial=entry.episodes_per_trial,
        has_success=entry.has_success,
        splits=splits,
        make_env=make_env,
        param_name=entry.param_name,
        train_param_range=entry.train_range,
        seed=seed,
    )


def suites_of(*families: str) -> tuple[str, ...]:
    """The suites of the given families, in catalog order."""
    return tuple(name for name, entry in SUITES.items() if entry.family in families)


def check_suite_name(name: str) -> str:
    """Return ``name`` if it is a registered suite, else raise a one-line :class:`BenchmarkError`."""
    if name not in SUITES:
        raise BenchmarkError(f"unknown suite {name!r}; known suites: {', '.join(SUITES)}")
    return name


def make_suite(name: str, seed: int) -> Suite:
    """Build suite ``name`` with its splits drawn from ``seed``."""
    return SUITES[check_suite_name(name)].load()(seed)
