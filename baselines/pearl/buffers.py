"""Per-task replay buffers (oyster ``rlkit/data_management/env_replay_buffer.py`` ``MultiTaskReplayBuffer``).

PEARL keeps one buffer per training task, twice: the RL buffer feeds the SAC batch and the encoder buffer
feeds the context (oyster ``replay_buffer`` and ``enc_replay_buffer``). Here each is *one* float32 array of
shape `(num_tasks, allocated, width)` whose rows hold the fields side by side, with a size and a write
position per task: a task's transitions can only ever be read back for that task, and a checkpoint holds a few
arrays instead of pickled objects. The array grows by doubling up to ``capacity`` (oyster preallocates 1e6 per
task, which would be 17 GB for halfcheetah-vel's 100 tasks); when a task is full its oldest transitions are
overwritten (ring buffer). Sampling is uniform with replacement (oyster ``SimpleReplayBuffer.random_batch``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

INITIAL_ALLOCATION = 256
"""transitions per task allocated before the first growth"""


class MultiTaskReplayBuffer:
    """Transitions of ``num_tasks`` tasks, kept apart, each task a ring buffer of at most ``capacity`` rows.

    Args:
        num_tasks: tasks (training-task indices ``0 .. num_tasks - 1``).
        capacity: most transitions kept per task.
        fields: name -> width of each stored field, in storage order (e.g. ``{"obs": 17, "reward": 1}``).
    """

    def __init__(self, num_tasks: int, capacity: int, fields: Mapping[str, int]) -> None:
        if num_tasks < 1 or capacity < 1 or not fields or min(fields.values()) < 1:
            raise ValueError("a replay buffer needs >= 1 task, capacity >= 1 and fields of width >= 1")
        self.num_tasks = num_tasks
        self.capacity = capacity
        self.slices: dict[str, slice] = {}
        start = 0
        for name, width in fields.items():
            self.slices[name] = slice(start, start + width)
            start += width
        self.width = start
        self.data = np.zeros((num_tasks, min(capacity, INITIAL_ALLOCATION), self.width), dtype=np.float32)
        self.sizes = np.zeros(num_tasks, dtype=np.int64)
        self.positions = np.zeros(num_tasks, dtype=np.int64)

    @property
    def nbytes(self) -> int:
        """Bytes held by the storage array (allocated, not only filled)."""
        return int(self.data.nbytes)

    def _grow(self, needed: int) -> None:
        allocated = self.data.shape[1]
        if needed <= allocated or allocated == self.capacity:
            return
        new_allocated = min(self.capacity, max(needed, 2 * allocated))
        grown = np.zeros((self.num_tasks, new_allocated, self.width), dtype=np.float32)
        grown[:, :allocated] = self.data
        self.data = grown

    def add(self, task: int, **fields: np.ndarray) -> None:
        """Append ``n`` transitions of ``task``; each field is `(n, width)` (or `(n,)` for width 1)."""
        if set(fields) != set(self.slices):
            raise ValueError(f"expected fields {sorted(self.slices)}, got {sorted(fields)}")
        rows = np.concatenate(
            [
                np.asarray(fields[name], dtype=np.float32).reshape(-1, s.stop - s.start)
                for name, s in self.slices.items()
            ],
            axis=1,
        )
        rows = rows[-self.capacity :]  # only the last `capacity` rows can survive
        n = len(rows)
        if n == 0:
            return
        self._grow(min(self.capacity, int(self.sizes[task]) + n))
        position = int(self.positions[task])
        first = min(n, self.capacity - position)
        self.data[task, position : position + first] = rows[:first]
        if first < n:  # wrap around
            self.data[task, : n - first] = rows[first:]
        self.positions[task] = (position + n) % self.capacity
        self.sizes[task] = min(self.capacity, int(self.sizes[task]) + n)

    def clear(self, task: int) -> None:
        """Forget every transition of ``task`` (oyster clears an encoder buffer before re-collecting)."""
        self.sizes[task] = 0
        self.positions[task] = 0

    def sample(
        self, tasks: Sequence[int] | np.ndarray, batch_size: int, rng: np.random.Generator
    ) -> dict[str, np.ndarray]:
        """``batch_size`` transitions of each of ``tasks``, with replacement: name -> `(T, batch, width)`."""
        rows = self.sample_rows(tasks, batch_size, rng)
        return {name: rows[..., s] for name, s in self.slices.items()}

    def sample_rows(
        self,
        tasks: Sequence[int] | np.ndarray,
        batch_size: int,
        rng: np.random.Generator,
        out: np.ndarray | None = None,
    ) -> np.ndarray:
        """:meth:`sample` as one array `(T, batch, width)`, the fields side by side in storage order.

        The same draws from ``rng`` as :meth:`sample`. ``out`` (float32, that shape) receives the rows
        instead of a new array: a caller gathers straight into memory it prepared once (PEARL's staging
        tensor, pinned on a GPU).
        """
        tasks = np.asarray(tasks, dtype=np.int64)
        sizes = self.sizes[tasks]
        if (sizes == 0).any():
            raise ValueError(f"cannot sample from empty task buffer(s) {tasks[sizes == 0].tolist()}")
        index = rng.integers(0, sizes[:, None], size=(len(tasks), batch_size))
        flat = self.data.reshape(-1, self.width)  # a view: (task, slot) -> task * allocated + slot
        return np.take(flat, tasks[:, None] * self.data.shape[1] + index, axis=0, out=out)

    def task_data(self, task: int) -> dict[str, np.ndarray]:
        """Every stored transition of ``task`` (in storage order): name -> `(size, width)`."""
        rows = self.data[task, : int(self.sizes[task])]
        return {name: rows[:, s] for name, s in self.slices.items()}

    def state_dict(self) -> dict[str, Any]:
        """Compact state: the filled rows of every task, concatenated, plus sizes and write positions."""
        filled = [self.data[t, : int(self.sizes[t])] for t in range(self.num_tasks)]
        return {
            "rows": torch.from_numpy(np.concatenate(filled, axis=0).copy()),
            "sizes": torch.from_numpy(self.sizes.copy()),
            "positions": torch.from_numpy(self.positions.copy()),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        sizes = np.asarray(state["sizes"], dtype=np.int64)
        rows = np.asarray(state["rows"], dtype=np.float32)
        if sizes.shape != (self.num_tasks,) or rows.shape != (int(sizes.sum()), self.width):
            raise ValueError("replay buffer state does not match this buffer's tasks and fields")
        allocated = min(self.capacity, max(int(sizes.max()), INITIAL_ALLOCATION))
        self.data = np.zeros((self.num_tasks, allocated, self.width), dtype=np.float32)
        offsets = np.concatenate([[0], np.cumsum(sizes)])
        for t in range(self.num_tasks):
            self.data[t, : sizes[t]] = rows[offsets[t] : offsets[t + 1]]
        self.sizes = sizes.copy()
        self.positions = np.asarray(state["positions"], dtype=np.int64).copy()
