"""Meta-World v3 suites: ML1 (reach, push, pick-place), ML10 and ML45.

Built from Meta-World's class API (``metaworld.ML1("push-v3", seed=seed)``, ``metaworld.ML10(seed=seed)``,
``metaworld.ML45(seed=seed)``), not from ``gym.make_vec("Meta-World/ML1-train")``, which in metaworld 3.1.1
hands out the *test* goals (its registration lambda binds the split late; open upstream PR
Farama-Foundation/Metaworld#573).

Splits: ``meta_train`` is the benchmark's ``train_tasks`` and ``meta_test`` its ``test_tasks``. For ML1 these
are 50 goals each of one task class, drawn with ``seed`` and ``seed + 1`` (``metaworld/__init__.py``); for
ML10/ML45, 50 goals per class of 10/45 training classes and 5 held-out test classes. There is no ``ood``
split: Meta-World goals live in fixed boxes that cannot be meaningfully extrapolated, and ML10/ML45's
``meta_test`` is already held-out task classes. ``Task.param`` is ``None``.

Building a benchmark instantiates and resets every environment 50 times (ML1 ~2 s, ML10 ~10 s, ML45 ~30 s on
a 2-core CPU), so the task lists are pickled once per (benchmark, seed, metaworld version) in the cache
directory ``$TRMRL_BENCH_CACHE`` (default ``~/.cache/trmrl-bench/metaworld``).

The goal is hidden from the agent: ML benchmarks set ``partially_observable=True``, which zeroes the last
3 of the 39 observation dimensions (``SawyerXYZEnv._get_obs``). Horizon 500 and 10 episodes per trial
follow the TrMRL Meta-World launcher (``episode_per_task=10``).
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import pickle
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import gymnasium as gym
import metaworld
import numpy as np
from metaworld.env_dict import ALL_V3_ENVIRONMENTS
from metaworld.sawyer_xyz_env import SawyerXYZEnv

from benchmark.suites import catalog_suite
from benchmark.suites.base import META_TEST, META_TRAIN, Suite, Task

logger = logging.getLogger(__name__)

CACHE_ENV_VAR = "TRMRL_BENCH_CACHE"
DEFAULT_CACHE_DIR = Path.home() / ".cache" / "trmrl-bench" / "metaworld"

MetaWorldTaskLists = tuple[list[metaworld.Task], list[metaworld.Task]]


def _observation_space() -> gym.spaces.Box:
    """The 39-d space of every Meta-World v3 env with the goal hidden (``sawyer_observation_space``).

    Hand xyz and gripper opening are bounded, the 14-d object block is not, both for the current and the
    previous frame; the 3 goal dimensions are pinned to 0 by ``partially_observable=True``.
    """
    hand = SawyerXYZEnv._HAND_SPACE
    objects_low, objects_high = np.full(14, -np.inf), np.full(14, np.inf)
    frame_low = np.hstack((hand.low, -1.0, objects_low))
    frame_high = np.hstack((hand.high, 1.0, objects_high))
    return gym.spaces.Box(
        np.hstack((frame_low, frame_low, np.zeros(3))),
        np.hstack((frame_high, frame_high, np.zeros(3))),
        dtype=np.float64,
    )


class MetaWorldTaskEnv(gym.Env):
    """One environment that plays any task of a Meta-World suite, switching task classes on ``set_task``.

    Instances come from a process-wide pool of idle Meta-World envs per task class (:data:`INSTANCE_POOL`):
    building one costs ~0.1-0.3 s, and a run switches classes at every ML10/ML45 trial and builds fresh trial
    environments at every evaluation point. Holding only the active instance keeps memory bounded by the
    number of trial environments alive at once, instead of one instance per class per trial environment.
    ``info["success"]`` is 0.0 or 1.0 at every step; an episode succeeds if it is 1.0 at any step
    (Meta-World ``docs/evaluation/evaluation.md``).

    Seeding: Meta-World's ``reset`` ignores its ``seed`` argument, and with a task set its reset is
    deterministic (object and goal positions come from the task's frozen ``rand_vec``). ``reset(seed=s)``
    still forwards ``s`` to the active instance's ``seed()``, which seeds its ``np_random`` and spaces.

    Time limit: Meta-World caps an episode at 500 steps (``max_path_length``), which equals the suite's
    horizon. The trial wrapper owns episode ends, so ``step`` reports ``truncated=False``; stepping past the
    cap without a reset raises a ``RuntimeError`` that says so.
    """

    metadata = {"render_modes": []}

    def __init__(self) -> None:
        self.observation_space = _observation_space()
        self.action_space = gym.spaces.Box(-1.0, 1.0, shape=(4,), dtype=np.float32)
        self._active: SawyerXYZEnv | None = None
        self._active_name: str | None = None

    @property
    def active_env(self) -> SawyerXYZEnv | None:
        """The Meta-World instance playing the current task (``None`` before the first ``set_task``)."""
        return self._active

    def set_task(self, task: Task) -> None:
        """Switch to ``task`` (its ``data`` is a ``metaworld.Task``); it persists across resets."""
        metaworld_task: metaworld.Task = task.data
        env_name = metaworld_task.env_name
        if env_name != self._active_name:
            self._release()
            self._active, self._active_name = INSTANCE_POOL.acquire(env_name), env_name
        assert self._active is not None
        self._active.set_task(metaworld_task)

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        """Reset the active instance to the start of its task (see the class docstring on seeding)."""
        super().reset(seed=seed)
        if self._active is None:
            raise RuntimeError("MetaWorldTaskEnv.set_task must be called before reset")
        if seed is not None:
            self._active.seed(seed)
        observation, info = self._active.reset()
        return observation, info

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        """Step the active instance; ``info["success"]`` is a float 0.0/1.0, ``truncated`` is always False."""
        if self._active is None:
            raise RuntimeError("MetaWorldTaskEnv.set_task must be called before step")
        if self._active.curr_path_length >= self._active.max_path_length:
            raise RuntimeError(
                f"Meta-World episodes last at most {self._active.max_path_length} steps (the suite horizon); "
                "reset before stepping further"
            )
        observation, reward, terminated, _truncated, info = self._active.step(action)
        info["success"] = float(info["success"])
        return observation, float(reward), bool(terminated), False, info

    def _release(self) -> None:
        if self._active is not None and self._active_name is not None:
            INSTANCE_POOL.release(self._active_name, self._active)
        self._active, self._active_name = None, None

    def close(self) -> None:
        """Hand the active instance back to the pool (reset and re-seeded by its next user)."""
        self._release()


class InstancePool:
    """Idle Meta-World instances by task class, shared by every :class:`MetaWorldTaskEnv` of the process.

    A reused instance carries no state into its next task: ``set_task`` replaces the task and every
    ``reset`` of the trial wrapper passes a fresh seed to the instance's ``seed()``.
    """

    def __init__(self) -> None:
        self._idle: dict[str, list[SawyerXYZEnv]] = {}

    def acquire(self, env_name: str) -> SawyerXYZEnv:
        """An idle instance of the task class ``env_name`` (the last released), or a newly built one."""
        idle = self._idle.get(env_name)
        return idle.pop() if idle else ALL_V3_ENVIRONMENTS[env_name]()

    def release(self, env_name: str, instance: SawyerXYZEnv) -> None:
        """Hand ``instance`` (of the task class ``env_name``) back for the next :meth:`acquire`."""
        self._idle.setdefault(env_name, []).append(instance)

    def idle_count(self, env_name: str) -> int:
        """How many instances of the task class ``env_name`` wait for reuse."""
        return len(self._idle.get(env_name, []))

    def clear(self) -> None:
        """Drop every idle instance (freeing their simulators); the next :meth:`acquire` builds anew."""
        self._idle.clear()


INSTANCE_POOL = InstancePool()
"""The pool every :class:`MetaWorldTaskEnv` of the process acquires from and releases to."""


def cache_dir() -> Path:
    """Where pickled Meta-World task lists live: ``$TRMRL_BENCH_CACHE`` if set, else the default."""
    configured = os.environ.get(CACHE_ENV_VAR)
    return Path(configured) if configured else DEFAULT_CACHE_DIR


def cache_path(benchmark_key: str, seed: int) -> Path:
    """One benchmark's cache file for ``seed``; named with the metaworld version, which may change goals."""
    version = importlib.metadata.version("metaworld")
    return cache_dir() / f"{benchmark_key}-seed{seed}-metaworld{version}.pkl"


def _read_cache(path: Path) -> MetaWorldTaskLists | None:
    """The cached task lists, or ``None`` if the file is missing, unreadable, not two lists of tasks, or
    not safe to unpickle (pickle runs code, so only a file and folder that this user owns and
    nobody else can write are read)."""
    if not path.exists():
        return None
    unsafe = _unsafe_reason(path)
    if unsafe is not None:
        logger.warning("ignoring the Meta-World task cache %s (%s); rebuilding the tasks", path, unsafe)
        return None
    try:
        with path.open("rb") as file:
            train_tasks, test_tasks = pickle.load(file)
        if not all(
            isinstance(tasks, list) and all(isinstance(t, metaworld.Task) for t in tasks)
            for tasks in (train_tasks, test_tasks)
        ):
            raise TypeError("cache does not hold two lists of metaworld.Task")
    # Any failure to read back means a damaged cache: rebuilding is always safe, only slower.
    except Exception as error:
        logger.warning("Meta-World task cache %s is unreadable (%s); rebuilding it", path, error)
        return None
    return train_tasks, test_tasks


def _unsafe_reason(path: Path) -> str | None:
    """Why ``path`` must not be unpickled: owned by another user, or writable by others; else ``None``."""
    for item in (path, path.parent):
        status = item.stat()
        if status.st_uid != os.getuid():
            return f"{item} belongs to another user"
        if status.st_mode & 0o022:
            return f"{item} is writable by other users"
    return None


def _write_cache(path: Path, tasks: MetaWorldTaskLists) -> None:
    """Write atomically (temporary file + rename) so a concurrent reader never sees a half-written file.

    A cache that cannot be written (read-only home, full disk) only costs a rebuild next time: warn, go on.
    """
    temporary: Path | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with tempfile.NamedTemporaryFile(
            dir=path.parent, prefix=path.name, suffix=".tmp", delete=False
        ) as file:
            temporary = Path(file.name)
            pickle.dump(tasks, file, protocol=pickle.HIGHEST_PROTOCOL)
        # NamedTemporaryFile creates 0600: the cache stays private to its owner (only such files are read).
        os.replace(temporary, path)
    except OSError as error:
        logger.warning(
            "could not write the Meta-World task cache %s (%s); it will be rebuilt next time", path, error
        )
        if temporary is not None:
            temporary.unlink(missing_ok=True)


def load_task_lists(
    benchmark_key: str, seed: int, build: Callable[[], metaworld.Benchmark]
) -> MetaWorldTaskLists:
    """The benchmark's (train_tasks, test_tasks), read from the cache or built with ``build`` and cached."""
    path = cache_path(benchmark_key, seed)
    cached = _read_cache(path)
    if cached is not None:
        return cached
    benchmark = build()
    tasks = (list(benchmark.train_tasks), list(benchmark.test_tasks))
    _write_cache(path, tasks)
    return tasks


def _wrap_tasks(split: str, metaworld_tasks: Sequence[metaworld.Task]) -> list[Task]:
    """Our tasks keyed by list index, named ``<class>#<goal index within the class>``."""
    goals_seen: dict[str, int] = {}
    tasks = []
    for task_id, metaworld_task in enumerate(metaworld_tasks):
        goal_index = goals_seen.get(metaworld_task.env_name, 0)
        goals_seen[metaworld_task.env_name] = goal_index + 1
        tasks.append(
            Task(
                split,
                task_id,
                None,
                metaworld_task,
                name=f"{metaworld_task.env_name}#{goal_index}",
                class_name=metaworld_task.env_name,
            )
        )
    return tasks


def _metaworld_suite(
    name: str, benchmark_key: str, seed: int, build: Callable[[], metaworld.Benchmark]
) -> Suite:
    train_tasks, test_tasks = load_task_lists(benchmark_key, seed, build)
    splits = {META_TRAIN: _wrap_tasks(META_TRAIN, train_tasks), META_TEST: _wrap_tasks(META_TEST, test_tasks)}
    return catalog_suite(name, seed, splits, MetaWorldTaskEnv)


def _ml1_suite(env_name: str, seed: int) -> Suite:
    suite_name = "ml1-" + env_name.removesuffix("-v3")
    return _metaworld_suite(suite_name, f"ML1-{env_name}", seed, lambda: metaworld.ML1(env_name, seed=seed))


def build_ml1_reach(seed: int) -> Suite:
    """ML1 reach-v3: 50 training goals and 50 held-out test goals of the reach task."""
    return _ml1_suite("reach-v3", seed)


def build_ml1_push(seed: int) -> Suite:
    """ML1 push-v3: 50 training goals and 50 held-out test goals of the push task."""
    return _ml1_suite("push-v3", seed)


def build_ml1_pick_place(seed: int) -> Suite:
    """ML1 pick-place-v3: 50 training goals and 50 held-out test goals of the pick-place task."""
    return _ml1_suite("pick-place-v3", seed)


def build_ml10(seed: int) -> Suite:
    """ML10: 10 training task classes (500 tasks) and 5 held-out test classes (250 tasks)."""
    return _metaworld_suite("ml10", "ML10", seed, lambda: metaworld.ML10(seed=seed))


def build_ml45(seed: int) -> Suite:
    """ML45: 45 training task classes (2250 tasks) and 5 held-out test classes (250 tasks)."""
    return _metaworld_suite("ml45", "ML45", seed, lambda: metaworld.ML45(seed=seed))
