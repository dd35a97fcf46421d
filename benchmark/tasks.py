"""Which tasks a run plays: the meta-training task stream and the evaluation protocol's task selection.

Both stratify over task classes where a suite has them (Meta-World lists its tasks class by class, so "the
first N" of a split would be one class):

* training (:class:`TaskSampler`): Meta-World tasks are drawn class-stratified and without replacement,
  cycling through a shuffled order of each class's fixed goal list, as garage's ``MetaWorldTaskSampler``
  did for the original TrMRL and RL² runs; suites without classes draw uniformly with replacement from
  their meta_train pool (the original sampled fresh continuous tasks every iteration).
* evaluation (:func:`evaluation_tasks`): round-robin over the classes in their listed order (garage's
  ``MetaWorldSetTaskEnv.sample_tasks``); N larger than the split repeats its tasks (the protocol gives each
  repetition its own reset seed).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from benchmark.suites.base import Task


def task_classes(tasks: Sequence[Task]) -> list[str]:
    """The distinct ``class_name`` values of ``tasks`` in order of first appearance (empty: no classes)."""
    seen: dict[str, None] = {}
    for task in tasks:
        if task.class_name is not None:
            seen.setdefault(task.class_name, None)
    return list(seen)


def _by_class(tasks: Sequence[Task]) -> list[list[Task]]:
    groups: dict[str, list[Task]] = {}
    for task in tasks:
        groups.setdefault(task.class_name or "", []).append(task)
    return list(groups.values())


class TaskSampler:
    """The meta-training task stream of one run.

    With classes, draws cycle over the classes in a shuffled order (reshuffled each cycle), and each class
    hands out its goals without replacement in a shuffled order (reshuffled when exhausted). Any
    ``num_classes`` consecutive draws aligned to a cycle therefore cover every class once, so a meta-batch
    that is a multiple of the number of classes is exactly stratified.

    Args:
        tasks: the meta_train split.
        seed: anything :class:`numpy.random.SeedSequence` accepts.
    """

    def __init__(self, tasks: Sequence[Task], seed: Any) -> None:
        if not tasks:
            raise ValueError("TaskSampler needs at least one task")
        self.tasks = list(tasks)
        self._rng = np.random.default_rng(np.random.SeedSequence(seed))
        self._classes = _by_class(self.tasks) if task_classes(self.tasks) else []
        self._class_queue: list[int] = []
        self._goal_queues: list[list[int]] = [[] for _ in self._classes]

    @property
    def num_classes(self) -> int:
        """Number of task classes (0 for a suite without classes)."""
        return len(self._classes)

    def draw(self) -> Task:
        """The next meta_train task."""
        if not self._classes:
            return self.tasks[int(self._rng.integers(len(self.tasks)))]
        if not self._class_queue:
            self._class_queue = [int(i) for i in self._rng.permutation(len(self._classes))]
        c = self._class_queue.pop(0)
        if not self._goal_queues[c]:
            self._goal_queues[c] = [int(i) for i in self._rng.permutation(len(self._classes[c]))]
        return self._classes[c][self._goal_queues[c].pop(0)]

    def draw_many(self, n: int) -> list[Task]:
        return [self.draw() for _ in range(n)]

    def state_dict(self) -> dict[str, Any]:
        return {
            "rng": self._rng.bit_generator.state,
            "class_queue": list(self._class_queue),
            "goal_queues": [list(q) for q in self._goal_queues],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._rng.bit_generator.state = state["rng"]
        self._class_queue = list(state["class_queue"])
        self._goal_queues = [list(q) for q in state["goal_queues"]]


def evaluation_tasks(tasks: Sequence[Task], n: int) -> list[Task]:
    """``n`` tasks of a split for the evaluation protocol, the same for every method and seed's suite.

    Round-robin over classes in listed order (first goal of each class, then the second, ...); a split
    without classes gives its first ``n`` tasks. When ``n`` exceeds the split, the selection repeats.
    """
    if n < 1:
        raise ValueError(f"need at least one evaluation task, got {n}")
    groups = _by_class(tasks)
    order: list[Task] = []
    depth = max(len(g) for g in groups)
    for i in range(depth):
        order.extend(g[i] for g in groups if i < len(g))
    return [order[j % len(order)] for j in range(n)]
