"""The suite registry: name -> builder, imported lazily so that listing suites never starts a simulator.

Add a suite by writing ``build_<name>(seed: int) -> Suite`` in a module of this package and one line in
:data:`SUITES`.
"""

from __future__ import annotations

import importlib
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
            locomotion evaluator used the mean, Meta-World's ``MetaEvaluator`` sampled (issue #8).
        train_classes: task classes of meta_train (0: the suite has no classes); meta-batches of
            class-stratified samplers are multiples of it.
    """

    builder: str  # "module:function"
    description: str
    family: Literal["toy", "locomotion", "metaworld"] = "locomotion"
    eval_action_mode: Literal["mean", "sample"] = "mean"
    train_classes: int = 0

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
    ),
    "halfcheetah-vel": SuiteEntry(
        "benchmark.suites.locomotion:build_halfcheetah_vel",
        "HalfCheetah-v5 target velocity U[0,3]; ood U[3,4] (the paper's OOD experiment)",
    ),
    "halfcheetah-dir": SuiteEntry(
        "benchmark.suites.locomotion:build_halfcheetah_dir",
        "HalfCheetah-v5 run forward or backward (two tasks)",
    ),
    "ant-dir": SuiteEntry(
        "benchmark.suites.locomotion:build_ant_dir",
        "Ant-v5 run forward or backward along x, directions {0, pi} (two tasks)",
    ),
    "ant-dir-2d": SuiteEntry(
        "benchmark.suites.locomotion:build_ant_dir_2d",
        "Ant-v5 run in direction theta ~ U[0, 2pi) minus a held-out 60-degree sector; ood = that sector",
    ),
    "ant-goal": SuiteEntry(
        "benchmark.suites.locomotion:build_ant_goal",
        "Ant-v5 reach a goal within radius 3 (oyster's AntGoal); ood goals at radius 3-4",
    ),
    "ml1-reach": SuiteEntry(
        "benchmark.suites.metaworld_suites:build_ml1_reach",
        "Meta-World v3 ML1 reach-v3: 50 train goals, 50 held-out test goals",
        family="metaworld",
        eval_action_mode="sample",
        train_classes=1,
    ),
    "ml1-push": SuiteEntry(
        "benchmark.suites.metaworld_suites:build_ml1_push",
        "Meta-World v3 ML1 push-v3: 50 train goals, 50 held-out test goals",
        family="metaworld",
        eval_action_mode="sample",
        train_classes=1,
    ),
    "ml1-pick-place": SuiteEntry(
        "benchmark.suites.metaworld_suites:build_ml1_pick_place",
        "Meta-World v3 ML1 pick-place-v3: 50 train goals, 50 held-out test goals",
        family="metaworld",
        eval_action_mode="sample",
        train_classes=1,
    ),
    "ml10": SuiteEntry(
        "benchmark.suites.metaworld_suites:build_ml10",
        "Meta-World v3 ML10: 10 train task classes, 5 held-out test classes",
        family="metaworld",
        eval_action_mode="sample",
        train_classes=10,
    ),
    "ml45": SuiteEntry(
        "benchmark.suites.metaworld_suites:build_ml45",
        "Meta-World v3 ML45: 45 train task classes, 5 held-out test classes",
        family="metaworld",
        eval_action_mode="sample",
        train_classes=45,
    ),
}


def check_suite_name(name: str) -> str:
    """Return ``name`` if it is a registered suite, else raise a one-line :class:`BenchmarkError`."""
    if name not in SUITES:
        raise BenchmarkError(f"unknown suite {name!r}; known suites: {', '.join(SUITES)}")
    return name


def make_suite(name: str, seed: int) -> Suite:
    """Build suite ``name`` with its splits drawn from ``seed``."""
    return SUITES[check_suite_name(name)].load()(seed)
