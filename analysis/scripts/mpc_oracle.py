"""A computed upper reference for the MuJoCo locomotion suites: MPPI planning on the true simulator.

The oracle knows the task (the target velocity, the direction, the goal) and the exact simulator. At every
step it samples ``samples`` open-loop action sequences of ``horizon`` env steps around its current plan,
rolls each out from the simulator's exact current state with ``mujoco.rollout`` (the env's own model, so
the env's own dynamics), scores them with the task's reward, and plays the first action of the
softmax-weighted average (MPPI: Williams et al., "Information theoretic MPC for model-based reinforcement
learning", ICRA 2017). The score written out is the return the suite's own environment pays for the
actions played, not the planner's estimate.

This oracle is a lower bound on the optimum (finite lookahead, finite samples), so a learned policy may
score above 1 on the normalised scale; ``analysis/references.csv`` says so where it is used.

    OMP_NUM_THREADS=1 .venv/bin/python -m analysis.scripts.mpc_oracle --suites halfcheetah-dir ant-dir

Like ``random_references``, this script needs the simulators; the analysis itself never imports it.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass

import mujoco
import numpy as np
from mujoco import rollout

from benchmark.suites import make_suite
from benchmark.suites.base import META_TEST, Suite, Task
from benchmark.suites.locomotion import (
    ANT_DIR_CTRL_COST_WEIGHT,
    ANT_GOAL_CTRL_COST_WEIGHT,
    ANT_HEALTHY_REWARD,
    CHEETAH_CTRL_COST_WEIGHT,
)

# Ant-v5's healthy torso height (its ``healthy_z_range`` default), which ends an ant-dir episode.
ANT_HEALTHY_Z = (0.2, 1.0)
STATE_SPEC = mujoco.mjtState.mjSTATE_FULLPHYSICS
QPOS_OFFSET = 1  # mjSTATE_FULLPHYSICS is [time, qpos, qvel, act, ...]


@dataclass(frozen=True)
class PlannerSettings:
    """MPPI settings; ``temperature`` scales the softmax by the spread of the sampled returns."""

    samples: int
    horizon: int
    noise: float
    temperature: float = 0.1
    # Planning only: a sequence that falls is charged this much per step after the fall, so the planner
    # never trades the rest of the episode for a few fast steps. The score never sees it.
    fall_penalty: float = 50.0


# Chosen on one task each (halfcheetah-dir d=+1, ant-dir theta=0) as the largest settings that keep an
# episode near half a minute (cheetah) or 1.5 minutes (ant) on one core.
SETTINGS = {
    "halfcheetah-vel": PlannerSettings(samples=256, horizon=30, noise=0.5),
    "halfcheetah-dir": PlannerSettings(samples=256, horizon=30, noise=0.5),
    "ant-dir": PlannerSettings(samples=128, horizon=20, noise=0.5),
    "ant-dir-2d": PlannerSettings(samples=128, horizon=20, noise=0.5),
    "ant-goal": PlannerSettings(samples=128, horizon=20, noise=0.5),
}


def rollout_qpos(states: np.ndarray, frame_skip: int, nq: int) -> np.ndarray:
    """``(K, H, nq)`` positions after each env step, from rollout states ``(K, H * frame_skip, nstate)``."""
    return states[:, frame_skip - 1 :: frame_skip, QPOS_OFFSET : QPOS_OFFSET + nq]


def planned_rewards(
    suite_name: str,
    task: Task,
    qpos_before: np.ndarray,
    qpos_after: np.ndarray,
    actions: np.ndarray,
    dt: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-step task rewards of sampled sequences and whether the body is still up at each step.

    Args:
        suite_name: a locomotion suite.
        task: the task being played.
        qpos_before: ``(nq,)`` the current positions.
        qpos_after: ``(K, H, nq)`` positions after each env step of each sequence.
        actions: ``(K, H, nu)`` the actions.
        dt: the env's control period.

    Returns:
        ``(rewards, alive)``, both ``(K, H)``. The rewards are the suite's reward terms except the ants'
        contact cost (at most 5e-4 per clipped force component, a few hundredths per step), which needs the
        contact forces that a rollout does not return. The ants' rewards read the torso's ``xpos``, which
        Ant's RK4 integrator leaves at its last stage, up to ~1e-4 m from ``qpos``; this reads ``qpos``.
    """
    alive = np.ones(qpos_after.shape[:2], dtype=bool)
    squared_action = np.sum(np.square(actions), axis=-1)

    def velocity(now: np.ndarray, start: np.ndarray) -> np.ndarray:
        path = np.concatenate([np.broadcast_to(start, (len(now), 1, *np.shape(start))), now], axis=1)
        return np.diff(path, axis=1) / dt

    if suite_name in ("halfcheetah-vel", "halfcheetah-dir"):
        x_velocity = velocity(qpos_after[..., 0], qpos_before[0])
        if suite_name == "halfcheetah-vel":
            task_term = -np.abs(x_velocity - float(task.data))
        else:
            task_term = float(task.data) * x_velocity
        return task_term - CHEETAH_CTRL_COST_WEIGHT * squared_action, alive
    if suite_name in ("ant-dir", "ant-dir-2d"):
        direction = np.array([np.cos(float(task.data)), np.sin(float(task.data))])
        height = qpos_after[..., 2]
        healthy = (height >= ANT_HEALTHY_Z[0]) & (height <= ANT_HEALTHY_Z[1])
        # The episode ends at the first unhealthy step, which is itself paid (with no survival bonus).
        alive = np.concatenate([np.ones((len(healthy), 1), bool), np.cumprod(healthy, axis=1)[:, :-1] > 0], 1)
        speed = velocity(qpos_after[..., :2], qpos_before[:2]) @ direction
        reward = speed - ANT_DIR_CTRL_COST_WEIGHT * squared_action + ANT_HEALTHY_REWARD * healthy
        return reward, alive
    if suite_name == "ant-goal":
        distance = np.sum(np.abs(qpos_after[..., :2] - np.asarray(task.data)), axis=-1)
        return -distance - ANT_GOAL_CTRL_COST_WEIGHT * squared_action, alive
    raise ValueError(f"no planning objective for suite {suite_name!r}")


class MppiOracle:
    """Plans on a scratch copy of an env's simulator; :meth:`act` returns the next action."""

    def __init__(self, suite_name: str, env: object, settings: PlannerSettings, seed: int) -> None:
        base = env.unwrapped  # type: ignore[attr-defined]
        self._suite_name = suite_name
        self._model = base.model
        self._data = base.data
        self._scratch = mujoco.MjData(self._model)
        self._frame_skip = int(base.frame_skip)
        self._dt = float(base.dt)
        self._settings = settings
        self._rng = np.random.default_rng(seed)
        self._plan = np.zeros((settings.horizon, self._model.nu))
        self._state = np.empty(mujoco.mj_stateSize(self._model, STATE_SPEC))

    def act(self, task: Task) -> np.ndarray:
        """One MPPI update from the simulator's current state; returns the plan's first action."""
        settings = self._settings
        mujoco.mj_getState(self._model, self._data, self._state, STATE_SPEC)
        noise = self._rng.normal(0.0, settings.noise, (settings.samples, *self._plan.shape))
        noise[0] = 0.0  # keep the current plan among the candidates
        candidates = np.clip(self._plan[None] + noise, -1.0, 1.0)
        controls = np.repeat(candidates, self._frame_skip, axis=1)  # the env holds an action frame_skip steps
        # The solver's warm start is part of what the env's next step starts from (contacts converge to it).
        states, _ = rollout.rollout(
            self._model, self._scratch, self._state, controls, initial_warmstart=self._data.qacc_warmstart
        )
        qpos = rollout_qpos(states, self._frame_skip, self._model.nq)
        rewards, alive = planned_rewards(
            self._suite_name, task, self._data.qpos.copy(), qpos, candidates, self._dt
        )
        returns = np.where(alive, rewards, -settings.fall_penalty).sum(axis=1)
        scale = settings.temperature * max(float(returns.std()), 1e-8)
        weights = np.exp((returns - returns.max()) / scale)
        self._plan = np.einsum("k,khu->hu", weights / weights.sum(), candidates)
        action = self._plan[0].copy()
        self._plan = np.concatenate([self._plan[1:], np.zeros((1, self._model.nu))])
        return action


def play_episode(suite: Suite, task: Task, reset_seed: int, settings: PlannerSettings) -> float:
    """The return ``suite``'s env pays a fresh oracle over one episode (the suite's horizon) on ``task``."""
    env = suite.make_env()
    try:
        env.set_task(task)
        env.reset(seed=reset_seed)
        oracle = MppiOracle(suite.name, env, settings, seed=reset_seed)
        total = 0.0
        for _ in range(suite.horizon):
            _, reward, terminated, _, _ = env.step(oracle.act(task))
            total += reward
            if terminated:
                break
        return total
    finally:
        env.close()


def measure(suite_name: str, seed: int, num_tasks: int, resets: int) -> dict[str, object]:
    """Mean oracle return over the first ``num_tasks`` meta_test tasks of suite seed ``seed``, ``resets``
    episodes each."""
    suite = make_suite(suite_name, seed)
    tasks = suite.splits[META_TEST][:num_tasks]
    returns = [
        play_episode(suite, task, reset_seed, SETTINGS[suite_name])
        for task in tasks
        for reset_seed in range(resets)
    ]
    values = np.asarray(returns)
    return {
        "suite": suite_name,
        "metric": "return",
        "mean": float(values.mean()),
        "sem": float(values.std(ddof=1) / np.sqrt(values.size)) if values.size > 1 else float("nan"),
        "min": float(values.min()),
        "max": float(values.max()),
        "episodes": int(values.size),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suites", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument("--seed", type=int, default=0, help="suite seed whose meta_test tasks are played")
    parser.add_argument("--tasks", type=int, default=10, help="meta_test tasks (the two-task suites have 2)")
    parser.add_argument("--resets", type=int, default=1, help="episodes per task, reset seeds 0..N-1")
    args = parser.parse_args(argv)
    print("suite,metric,mean,sem,min,max,episodes,seconds", flush=True)
    for name in args.suites:
        start = time.perf_counter()
        row = measure(name, args.seed, args.tasks, args.resets)
        values = ",".join(f"{v:.6g}" if isinstance(v, float) else str(v) for v in row.values())
        print(f"{values},{time.perf_counter() - start:.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
